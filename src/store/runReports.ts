// Reading stored runs and their reports together: what the HTTP API, the digest and the CLI's `report` read.

import type { RunRecord } from '../core/run';
import type { Report, RunStatus } from '../core/types';

export interface RunReader {
  getRun(runId: string): Promise<RunRecord | undefined>;
  getLatestRun(opts?: { statuses?: RunStatus[] }): Promise<RunRecord | undefined>;
  listRuns(opts: { top?: number; since?: Date }): AsyncIterable<RunRecord>;
}

export interface ReportSource {
  getReport(run: RunRecord): Promise<Report>;
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

  getLatestRun(opts: { statuses?: RunStatus[] } = {}): Promise<RunRecord | undefined> {
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
}
