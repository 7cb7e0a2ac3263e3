// A run as recorded: its status, summary, errors and progress, and the report's `run` block derived from it.

import { matrixRefOf, type MatrixSource } from './matrixSources';
import { summarizeRun } from './summarizeRun';
import type { CloudName, RunInfo, RunStatus, RunTrigger, ScopeError, Summary } from './types';

export interface RunProgress {
  pagesRead: number;
  clustersRead: number;
  poolsJudged: number;
}

/** What a run audits: subscriptions and management groups, or (both null) every subscription the identity can read. */
export interface RunScope {
  subscriptions: string[] | null;
  managementGroups: string[] | null;
}

/** Where a running run is: waiting for a worker, splitting its scope, auditing its shards, or being completed. */
export type RunStage = 'queued' | 'planning' | 'auditing' | 'completing';

/** One run as stored: the report's run info plus what the audit tracks while it goes. */
export type RunRecord = RunInfo & {
  summary: Summary;
  errors: ScopeError[];
  progress: RunProgress;
  scope: RunScope;
  /** Outcome of the report email, as the mailer records it. */
  email?: unknown;
  /** The run's seal in the chain of runs, as the evidence step records it (src/evidence). */
  chain?: unknown;
  /** Where the run's evidence bundle was retained, or why not, as the evidence step records it. */
  retention?: unknown;
  /**
   * The generation of the audit lease the run was started under. Every write of the run checks that the lease
   * still has it, so a worker that lost the lease (stalled, or taken over) cannot write over a newer run.
   */
  leaseGeneration?: number;
  /** While the run is `running`. */
  stage?: RunStage;
  /** How many shards the run was split into (1 when unsharded); absent until planned. */
  shards?: number;
  /** Someone asked for this run's digest (`POST /api/audits` with `"email": true`); sent once it completes. */
  emailRequested?: boolean;
};

/** The statuses of a run that ended without results to report. */
export function isFailedStatus(status: RunStatus): boolean {
  return status === 'failed' || status === 'abandoned';
}

/** Runs whose report is served as "the latest": never a failed, abandoned or unfinished one. */
export const COMPLETED_STATUSES: RunStatus[] = ['succeeded', 'partial'];

/** True for a run that completed (succeeded or partial): one with a report to serve, compare with or seal. */
export function isCompleted(status: RunStatus): status is 'succeeded' | 'partial' {
  return COMPLETED_STATUSES.includes(status);
}

/** A run as recorded when it starts: running, nothing read yet. */
export function startedRunRecord(run: {
  id: string;
  trigger: RunTrigger;
  startedAt: string;
  cloud: CloudName;
  matrix: { version: string; sources: ReadonlyArray<MatrixSource | string> };
  scope: RunScope;
}): RunRecord {
  return {
    id: run.id,
    trigger: run.trigger,
    status: 'running',
    startedAt: run.startedAt,
    finishedAt: null,
    cloud: run.cloud,
    matrix: matrixRefOf(run.matrix),
    summary: summarizeRun([], []),
    errors: [],
    progress: { pagesRead: 0, clustersRead: 0, poolsJudged: 0 },
    scope: run.scope,
  };
}

/** The report's `run` block: the run record without what only the store and the audit track. */
export function runInfoOf(run: RunRecord): RunInfo {
  return {
    id: run.id,
    trigger: run.trigger,
    status: run.status,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    cloud: run.cloud,
    matrix: run.matrix,
  };
}
