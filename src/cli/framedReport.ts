// A stored run's report as the CLI reads it: its head at once, its pools a frame at a time from the snapshot.

import type { PoolFrames } from '../core/pagePools';
import { framesOf } from '../core/pagePools';
import { runInfoOf } from '../core/run';
import type { ClusterResult, PoolResult, Report } from '../core/types';
import type { ReportHead } from '../render/reportText';
import type { ReportSnapshot, RunReports } from '../store/runReports';

export type { ReportHead };

/**
 * A report whose pools are read a frame (1,000 pools) at a time, in the report's order, when the run has an indexed
 * snapshot: writing it as JSON or CSV holds one frame, never the run. A run without one (stored before snapshots,
 * or in memory with `--no-store`) is read whole, and its frames are slices of it.
 */
export interface FramedReport {
  head: ReportHead;
  frames: PoolFrames & { retainFrom?(index: number): void };
  clusters(): Promise<ClusterResult[]>;
  /** The whole report in memory: for the HTML file, which is one document of every pool. */
  whole(): Promise<Report>;
}

function fromWhole(report: Report): FramedReport {
  const { pools, clusters, ...head } = report;
  return {
    head,
    frames: framesOf(pools),
    clusters: () => Promise.resolve(clusters),
    whole: () => Promise.resolve(report),
  };
}

/** The stored report of run `runId`, framed; undefined when no such run is stored. */
export async function openFramedReport(
  reports: Pick<RunReports, 'getRun' | 'getReport' | 'openReportSnapshot'>,
  runId: string,
): Promise<FramedReport | undefined> {
  const run = await reports.getRun(runId);
  if (!run) return undefined;
  const snapshot: ReportSnapshot | null = await reports.openReportSnapshot(run);
  if (!snapshot) {
    const report = await reports.getReport(runId);
    return report ? fromWhole(report) : undefined;
  }
  const head: ReportHead = {
    schemaVersion: 1,
    run: runInfoOf(run),
    summary: run.summary,
    errors: run.errors,
  };
  return {
    head,
    frames: snapshot,
    clusters: () => snapshot.clusters(),
    whole: async () => (await reports.getReport(runId)) as Report,
  };
}

/**
 * The first `limit` pools that need attention (noncompliant or unknown) in the report's order, and how many there
 * are in all: the frames' counts say which frames to read, so a clean run reads none.
 */
export async function attentionOf(
  report: FramedReport,
  limit: number,
): Promise<{ pools: PoolResult[]; count: number }> {
  const pools: PoolResult[] = [];
  let count = 0;
  const { frames } = report.frames;
  for (let i = 0; i < frames.length; i++) {
    const { counts } = frames[i] as PoolFrames['frames'][number];
    const inFrame = counts.noncompliant + counts.unknown;
    count += inFrame;
    if (inFrame === 0 || pools.length >= limit) continue;
    for (const pool of await report.frames.pools(i)) {
      if (pools.length >= limit) break;
      if (pool.status === 'noncompliant' || pool.status === 'unknown') pools.push(pool);
    }
  }
  return { pools, count };
}
