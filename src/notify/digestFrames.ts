// A run's report as the digest reads it: the head at once, the pools a frame at a time from the run's snapshot.

import { BreakdownCounter } from '../core/breakdownCounter';
import { framesOf, selectedPools } from '../core/pagePools';
import { runInfoOf, type RunRecord } from '../core/run';
import type { Report, Summary } from '../core/types';
import type { FramedReportSource } from '../render/reportText';
import type { ReportSnapshot } from '../store/runReports';

/** What opening a run's report for the digest reads. */
export interface DigestReportSource {
  getReport(runId: string): Promise<Report | undefined>;
  /** The run's indexed snapshot, or null when it has none (a running run, or one stored before snapshots). */
  openReportSnapshot?(run: RunRecord): Promise<ReportSnapshot | null>;
}

/**
 * Run `run`'s report framed: from its indexed snapshot (memory holds a frame or two), or, for a run without one,
 * read whole and sliced into frames, as the report handler does. Undefined when the report cannot be read.
 */
export async function openDigestFrames(
  source: DigestReportSource,
  run: RunRecord,
): Promise<FramedReportSource | undefined> {
  const snapshot = (await source.openReportSnapshot?.(run)) ?? null;
  if (snapshot) {
    return {
      head: { schemaVersion: 1, run: runInfoOf(run), summary: run.summary, errors: run.errors },
      frames: snapshot,
      clusters: () => snapshot.clusters(),
    };
  }
  const report = await source.getReport(run.id);
  if (!report) return undefined;
  const { pools, clusters, ...head } = report;
  return { head, frames: framesOf(pools), clusters: () => Promise.resolve(clusters) };
}

/**
 * The run's summary with its breakdowns, as summaryWithBreakdowns gives it: stored with the run, or, for a run stored
 * before breakdowns were counted, counted now a frame at a time (the same counts, in the same order).
 */
export async function summaryOfFrames(report: FramedReportSource): Promise<Summary> {
  const { summary } = report.head;
  if (summary.byCode && summary.bySubscription) return summary;
  const counter = new BreakdownCounter();
  for await (const pools of selectedPools(report.frames)) counter.addPools(pools);
  counter.addClusters(await report.clusters());
  return counter.complete(summary);
}
