// The pipeline's stores in memory, for an audit that stores nothing (`audit --no-store`): same contracts, no tables.

import { randomUUID } from 'node:crypto';

import { runInfoOf, type RunProgress, type RunRecord, type RunScope, type RunStage } from '../core/run';
import type { ClusterResult, PoolResult, Report, RunStatus } from '../core/types';
import type { AcquireResult, LeaseTiming } from './leaseStore';
import type { PoolHistoryEntry, PoolState } from './poolStateStore';
import { RunRecordChangedError, type VersionedRun } from './runStore';
import { NO_SCHEDULE_STATE, type ScheduleState } from './scheduleStore';
import type { CompletionMarker, ShardOutcome, ShardRecord } from './shardStore';

const byId = (a: { id: string }, b: { id: string }) => a.id.toLowerCase().localeCompare(b.id.toLowerCase());
const clone = <T>(value: T): T => structuredClone(value);

export class MemoryRunStore {
  private readonly runs = new Map<string, VersionedRun>();

  putRun(run: RunRecord, condition: { etag?: string; ifNew?: boolean } = {}): Promise<string> {
    const current = this.runs.get(run.id);
    if ((condition.ifNew && current) || (condition.etag !== undefined && current?.etag !== condition.etag)) {
      return Promise.reject(new RunRecordChangedError(run.id));
    }
    const etag = randomUUID();
    this.runs.set(run.id, { run: clone(run), etag });
    return Promise.resolve(etag);
  }

  getVersionedRun(runId: string): Promise<VersionedRun | undefined> {
    const current = this.runs.get(runId);
    return Promise.resolve(current && { run: clone(current.run), etag: current.etag });
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    return (await this.getVersionedRun(runId))?.run;
  }

  noteProgress(runId: string, progress: RunProgress, stage: RunStage): Promise<void> {
    const current = this.runs.get(runId);
    if (current?.run.status === 'running') Object.assign(current.run, { progress: clone(progress), stage });
    return Promise.resolve();
  }

  noteEmail(runId: string, email: unknown): Promise<void> {
    const current = this.runs.get(runId);
    if (current) current.run.email = email;
    return Promise.resolve();
  }

  async *listRuns(opts: { top?: number; since?: Date } = {}): AsyncIterableIterator<RunRecord> {
    const runs = [...this.runs.values()]
      .map((v) => v.run)
      .filter((r) => !opts.since || Date.parse(r.startedAt) >= opts.since.getTime())
      .sort((a, b) => b.id.localeCompare(a.id));
    for (const run of runs.slice(0, opts.top ?? runs.length)) yield clone(run);
    await Promise.resolve();
  }

  async getLatestRun(opts: { statuses?: RunStatus[] } = {}): Promise<RunRecord | undefined> {
    for await (const run of this.listRuns())
      if (!opts.statuses || opts.statuses.includes(run.status)) return run;
    return undefined;
  }
}

export class MemoryLeaseStore {
  private lease: {
    holderRunId: string | null;
    generation: number;
    acquiredAt: string;
    expiresAt: number;
  } | null = null;

  acquire(runId: string, timing: LeaseTiming): Promise<AcquireResult> {
    const now = timing.now.getTime();
    const current = this.lease;
    if (current && current.holderRunId === runId && current.expiresAt > now) {
      return Promise.resolve({ acquired: true, generation: current.generation, tookOverFrom: null });
    }
    if (current?.holderRunId && current.expiresAt > now) {
      return Promise.resolve({
        acquired: false,
        holderRunId: current.holderRunId,
        generation: current.generation,
        expiresAt: new Date(current.expiresAt).toISOString(),
      });
    }
    const generation = (current?.generation ?? 0) + 1;
    const tookOverFrom =
      current?.holderRunId && current.holderRunId !== runId
        ? {
            runId: current.holderRunId,
            generation: current.generation,
            expiredAt: new Date(current.expiresAt).toISOString(),
          }
        : null;
    this.lease = {
      holderRunId: runId,
      generation,
      acquiredAt: timing.now.toISOString(),
      expiresAt: now + timing.ttlInMs,
    };
    return Promise.resolve({ acquired: true, generation, tookOverFrom });
  }

  renew(runId: string, generation: number, timing: LeaseTiming): Promise<'renewed' | 'lost'> {
    if (this.lease?.holderRunId !== runId || this.lease.generation !== generation)
      return Promise.resolve('lost');
    this.lease.expiresAt = timing.now.getTime() + timing.ttlInMs;
    return Promise.resolve('renewed');
  }

  release(runId: string, generation: number): Promise<boolean> {
    if (this.lease?.holderRunId !== runId || this.lease.generation !== generation)
      return Promise.resolve(false);
    this.lease.holderRunId = null;
    return Promise.resolve(true);
  }
}

interface MemoryPlan {
  shards: Map<number, ShardRecord>;
  planned?: number;
  planFailure: string | null;
  completed?: CompletionMarker;
}

export class MemoryShardStore {
  private readonly plans = new Map<string, MemoryPlan>();

  private plan(runId: string): MemoryPlan {
    let plan = this.plans.get(runId);
    if (!plan) this.plans.set(runId, (plan = { shards: new Map(), planFailure: null }));
    return plan;
  }

  createShards(runId: string, scopes: RunScope[]): Promise<void> {
    const plan = this.plan(runId);
    scopes.forEach((scope, index) => {
      if (plan.shards.has(index)) return;
      plan.shards.set(index, {
        runId,
        index,
        shards: scopes.length,
        scope: clone(scope),
        status: 'pending',
        summary: null,
        progress: null,
        errors: [],
        scopesRead: 0,
        fatal: false,
        finishedAt: null,
        lastError: null,
        etag: randomUUID(),
      });
    });
    plan.planned = scopes.length;
    return Promise.resolve();
  }

  getPlannedShards(runId: string): Promise<number | undefined> {
    return Promise.resolve(this.plans.get(runId)?.planned);
  }

  deleteShards(runId: string): Promise<void> {
    this.plans.get(runId)?.shards.clear();
    return Promise.resolve();
  }

  getShard(runId: string, index: number): Promise<ShardRecord | undefined> {
    const shard = this.plans.get(runId)?.shards.get(index);
    return Promise.resolve(shard && clone(shard));
  }

  listShards(runId: string): Promise<ShardRecord[]> {
    const shards = [...(this.plans.get(runId)?.shards.values() ?? [])].map(clone);
    return Promise.resolve(shards.sort((a, b) => a.index - b.index));
  }

  finishShard(shard: ShardRecord, outcome: ShardOutcome): Promise<boolean> {
    const current = this.plans.get(shard.runId)?.shards.get(shard.index);
    if (!current || current.etag !== shard.etag) return Promise.resolve(false);
    Object.assign(current, clone(outcome), { etag: randomUUID() });
    return Promise.resolve(true);
  }

  noteShardFailure(runId: string, index: number, reason: string): Promise<void> {
    const current = this.plans.get(runId)?.shards.get(index);
    if (current) current.lastError = reason;
    return Promise.resolve();
  }

  notePlanFailure(runId: string, reason: string): Promise<void> {
    this.plan(runId).planFailure = reason;
    return Promise.resolve();
  }

  getPlanFailure(runId: string): Promise<string | null> {
    return Promise.resolve(this.plans.get(runId)?.planFailure ?? null);
  }

  claimCompletion(
    runId: string,
    claimant: string,
    at: Date,
    options: { takeOver?: boolean } = {},
  ): Promise<{ claimed: boolean; completedAt: string }> {
    const plan = this.plan(runId);
    plan.completed ??= { claimant, completedAt: at.toISOString(), hookDone: false };
    if (options.takeOver && !plan.completed.hookDone) plan.completed.claimant = claimant;
    return Promise.resolve({
      claimed: plan.completed.claimant === claimant,
      completedAt: plan.completed.completedAt,
    });
  }

  getCompletion(runId: string): Promise<CompletionMarker | undefined> {
    const completed = this.plans.get(runId)?.completed;
    return Promise.resolve(completed && { ...completed });
  }

  noteCompletionHookDone(runId: string): Promise<void> {
    const completed = this.plans.get(runId)?.completed;
    if (completed) completed.hookDone = true;
    return Promise.resolve();
  }
}

/** Results in memory: the report of a run is every pool and cluster written for it, in the report's order. */
export class MemoryResultStore {
  private readonly runs = new Map<
    string,
    { pools: Map<string, PoolResult>; clusters: Map<string, ClusterResult> }
  >();

  private of(runId: string) {
    let run = this.runs.get(runId);
    if (!run) this.runs.set(runId, (run = { pools: new Map(), clusters: new Map() }));
    return run;
  }

  appendRunResults(runId: string, pools: PoolResult[], clusters: ClusterResult[]): Promise<void> {
    const run = this.of(runId);
    for (const pool of pools) run.pools.set(pool.id.toLowerCase(), pool);
    for (const cluster of clusters) run.clusters.set(cluster.id.toLowerCase(), cluster);
    return Promise.resolve();
  }

  /** The snapshot is an optimisation of the table store; in memory the results themselves are the report. */
  reportSnapshotWriter(): {
    addPools(): Promise<void>;
    addClusters(): Promise<void>;
    finish(): Promise<void>;
  } {
    const done = () => Promise.resolve();
    return { addPools: done, addClusters: done, finish: done };
  }

  getReport(run: RunRecord): Promise<Report> {
    const results = this.runs.get(run.id);
    return Promise.resolve({
      schemaVersion: 1,
      run: runInfoOf(run),
      summary: run.summary,
      pools: [...(results?.pools.values() ?? [])].sort(byId),
      clusters: [...(results?.clusters.values() ?? [])].sort(byId),
      errors: run.errors,
    });
  }
}

/** Pool states in memory: within one process a later run compares with an earlier one, as with tables. */
export class MemoryPoolStateStore {
  private readonly states = new Map<string, PoolState>();
  private readonly history = new Map<string, PoolHistoryEntry[]>();

  updatePoolStates(
    runId: string,
    at: Date,
    pools: PoolResult[],
    scopeOf: (p: PoolResult) => string,
  ): Promise<void> {
    for (const pool of pools) {
      const key = pool.id.toLowerCase();
      const before = this.states.get(key);
      const codes = [...new Set(pool.findings.map((f) => f.code))].sort();
      if (!before || before.status !== pool.status || before.codes.join() !== codes.join()) {
        const entries = this.history.get(key) ?? [];
        entries.unshift({ runId, at: at.toISOString(), status: pool.status, codes });
        this.history.set(key, entries);
      }
      this.states.set(key, {
        id: pool.id,
        subscriptionId: pool.subscriptionId,
        scope: scopeOf(pool),
        status: pool.status,
        codes,
        firstSeen: before?.firstSeen ?? at.toISOString(),
        lastSeen: at.toISOString(),
        lastRunId: runId,
        noncompliantSince:
          pool.status === 'noncompliant'
            ? before?.status === 'noncompliant' && before.noncompliantSince
              ? before.noncompliantSince
              : at.toISOString()
            : null,
        snapshot: clone(pool),
      });
    }
    return Promise.resolve();
  }

  /** One pool's status changes, newest first. */
  getPoolHistory(poolId: string): Promise<PoolHistoryEntry[]> {
    return Promise.resolve(clone(this.history.get(poolId.toLowerCase()) ?? []));
  }

  /** When each pool that is noncompliant now became so (see PoolStateStore.listNoncompliantSince). */
  async *listNoncompliantSince(): AsyncIterableIterator<{ id: string; noncompliantSince: string | null }> {
    for (const state of this.states.values()) {
      if (state.status === 'noncompliant') yield { id: state.id, noncompliantSince: state.noncompliantSince };
    }
    await Promise.resolve();
  }

  async *listPoolStates(opts: { subscriptionId?: string } = {}): AsyncIterableIterator<PoolState> {
    const subscription = opts.subscriptionId?.toLowerCase();
    for (const state of this.states.values()) {
      if (subscription === undefined || state.subscriptionId.toLowerCase() === subscription)
        yield clone(state);
    }
    await Promise.resolve();
  }
}

export class MemoryScheduleStore {
  private state: ScheduleState = { ...NO_SCHEDULE_STATE };

  get(): Promise<ScheduleState> {
    return Promise.resolve({ ...this.state });
  }

  recordStarted(scheduledAt: Date, runId: string, at: Date): Promise<void> {
    this.state = {
      ...this.state,
      lastScheduledAt: scheduledAt.toISOString(),
      lastStartedRunId: runId,
      lastStartedAt: at.toISOString(),
      deferredSince: null,
      deferredBehindRunId: null,
      nextAttemptAt: null,
    };
    return Promise.resolve();
  }

  recordDeferred(scheduledAt: Date, behindRunId: string, since: Date, nextAttemptAt: Date): Promise<void> {
    this.state = {
      ...this.state,
      lastScheduledAt: scheduledAt.toISOString(),
      deferredSince: since.toISOString(),
      deferredBehindRunId: behindRunId,
      nextAttemptAt: nextAttemptAt.toISOString(),
    };
    return Promise.resolve();
  }

  recordMissed(scheduledAt: Date, at: Date): Promise<void> {
    this.state = {
      ...this.state,
      lastScheduledAt: scheduledAt.toISOString(),
      lastMissedAt: at.toISOString(),
      deferredSince: null,
      deferredBehindRunId: null,
      nextAttemptAt: null,
    };
    return Promise.resolve();
  }
}
