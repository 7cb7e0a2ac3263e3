// Reading stored runs and their reports together: what the HTTP API, the digest and the CLI's `report` read.

import type { PoolFrames } from '../core/pagePools';
import type { RunRecord } from '../core/run';
import type { ClusterResult, Report, RunStatus } from '../core/types';

export interface RunReader {
  getRun(runId: string): Promise<RunRecord | undefined>;
  getLatestRun(opts?: { statuses?: RunStatus[]; abortSignal?: AbortSignal }): Promise<RunRecord | undefined>;
  listRuns(opts: { top?: number; since?: Date }): AsyncIterable<RunRecord>;
}

/** A run's pools as indexed frames, so a page reads only the frames it shows. */
export type ReportSnapshot = PoolFrames & {
  clusters(): Promise<ClusterResult[]>;
  /** Drops cached chunks that frame `index` and later ones do not need (reading the frames in order). */
  retainFrom?(index: number): void;
};

export interface ReportSource {
  getReport(run: RunRecord): Promise<Report>;
  /** Table Storage keeps an indexed snapshot; memory has none (the whole report is read then). */
  openReportSnapshot?(run: RunRecord): Promise<ReportSnapshot | null>;
}

/** Runs and their reports, from the run store and the result store. */
export class RunReports implements RunReader {
  constructor(
    private readonly runs: RunReader,
    private readonly results: ReportSource,
  ) {}

  getRun(runId: string): Promise<RunRecord | undefined> {
    return this.runs.getRun(runId);
  }

  getLatestRun(
    opts: { statuses?: RunStatus[]; abortSignal?: AbortSignal } = {},
  ): Promise<RunRecord | undefined> {
    return this.runs.getLatestRun(opts);
  }

  listRuns(opts: { top?: number; since?: Date }): AsyncIterable<RunRecord> {
    return this.runs.listRuns(opts);
  }

  /** The report of a stored run, or undefined when there is no such run. */
  async getReport(runId: string): Promise<Report | undefined> {
    const run = await this.runs.getRun(runId);
    return run ? this.results.getReport(run) : undefined;
  }

  /** The run's report snapshot opened for paging, or null when there is none to page (see ResultStore). */
  async openReportSnapshot(run: RunRecord): Promise<ReportSnapshot | null> {
    return this.results.openReportSnapshot ? this.results.openReportSnapshot(run) : null;
  }
}
