// One audit run: read clusters → judge pools → store results and pool states. Dependencies are passed in.

import type { FreshnessSource } from './azure/nodeImageLookup';
import type { SourceEvent } from './azure/resourceGraphSource';
import { runInfoOf, type RunProgress, type RunRecord, startedRunRecord } from './azure/runStore';
import { applyExemptions } from './core/applyExemptions';
import { evaluateCluster, evaluatePool, unreadablePool } from './core/evaluatePool';
import type { FipsMatrix } from './core/fipsMatrix';
import { ClusterShapeError, normalizeCluster } from './core/normalizeCluster';
import { summarizeRun } from './core/summarizeRun';
import type {
  CloudName,
  ClusterRecord,
  ClusterResult,
  Exemption,
  PoolResult,
  Report,
  RunStatus,
  RunTrigger,
  ScopeError,
  Summary,
} from './core/types';
import { AuditInProgressError, describeError } from './errors';
import { PoolSpool, type SpooledPool } from './poolSpool';

export type { RunProgress, RunRecord };

export interface PoolStateLike {
  id: string;
  scope: string;
  snapshot: PoolResult;
}

/** What the audit needs of storage; RunStore implements it over Table Storage. */
export interface AuditStore {
  ensureTables(): Promise<void>;
  acquireAuditLease(
    runId: string,
    opts: { ttlInMs: number; now: Date },
  ): Promise<{ acquired: true } | { acquired: false; holderRunId: string }>;
  renewAuditLease(runId: string, opts: { ttlInMs: number; now: Date }): Promise<unknown>;
  releaseAuditLease(runId: string): Promise<unknown>;
  upsertRun(run: RunRecord): Promise<unknown>;
  deleteRunResults(runId: string): Promise<unknown>;
  appendRunResults(runId: string, pools: PoolResult[], clusters: ClusterResult[]): Promise<unknown>;
  updatePoolStates(
    runId: string,
    at: Date,
    pools: PoolResult[],
    scopeOf: (p: PoolResult) => string,
  ): Promise<unknown>;
  listPoolStates(opts?: { subscriptionId?: string }): AsyncIterable<PoolStateLike>;
  /** The run's report snapshot, so the report of a large run reads fast; optional for stores without one. */
  reportSnapshotWriter?(runId: string, part: string): ReportSnapshotPartWriter;
}

export interface ReportSnapshotPartWriter {
  addPools(pools: readonly PoolResult[]): Promise<void>;
  addClusters(clusters: readonly ClusterResult[]): Promise<void>;
  finish(): Promise<void>;
}

export interface ClusterSource {
  readClusters(): AsyncIterable<SourceEvent>;
  readSubscriptionNames?(): Promise<Map<string, string>>;
}

export interface AuditDependencies {
  source: ClusterSource;
  freshness: FreshnessSource;
  store: AuditStore | null;
  matrix: FipsMatrix;
  cloud: CloudName;
  nodeImageMaxAgeInDays: number;
  scope: RunRecord['scope'];
  /** Waivers to apply; only those active at the run's start count. */
  exemptions?: readonly Exemption[];
  /**
   * Whether the returned report lists every pool and cluster (default true). With `false` it carries the
   * run, summary and errors with empty `pools`/`clusters`: the results are in storage, and memory no longer
   * grows with the estate.
   */
  retainPools?: boolean;
  now?: () => Date;
  log?: (message: string) => void;
  onProgress?: (progress: RunProgress) => void;
  /** Called once the lease is held and the run record exists, before any clusters are read. */
  onStarted?: (run: RunRecord) => void;
  /** The evidence step of completing a stored run (src/evidence: seal, retain); it never throws. */
  evidence?: { onRunCompleted(runId: string, log?: (message: string) => void): Promise<unknown> };
}

export interface AuditRequest {
  runId: string;
  trigger: RunTrigger;
}

/** The lease outlives a stalled instance by this much; a live audit renews it as it goes. */
export const AUDIT_LEASE_TTL_IN_MS = 15 * 60_000;
const PROGRESS_WRITE_INTERVAL_IN_MS = 2_000;

function scopeMatches(failedScope: string, state: PoolStateLike): boolean {
  if (failedScope === '/') return true;
  const scope = failedScope.toLowerCase();
  return state.scope.toLowerCase() === scope || state.id.toLowerCase().startsWith(`${scope}/`);
}

const SUBSCRIPTION_START = /^\/subscriptions\/(.)/i;

/** The report's order: by ID, ignoring case (ARM IDs compare case-insensitively). */
const byId = (a: { id: string }, b: { id: string }) => a.id.toLowerCase().localeCompare(b.id.toLowerCase());

/** The report summary counted page by page: the same figures summarizeRun gives for all pools at once. */
class SummaryCounter {
  private readonly summary = summarizeRun([], []);
  private readonly subscriptions = new Set<string>();

  add(pools: readonly PoolResult[], clusters: readonly ClusterResult[]): void {
    const page = summarizeRun(pools, []);
    for (const key of ['pools', 'compliant', 'noncompliant', 'exempt', 'unknown'] as const) {
      this.summary[key] += page[key];
    }
    this.summary.clusters += clusters.length;
    for (const pool of pools) this.subscriptions.add(pool.subscriptionId.toLowerCase());
    for (const cluster of clusters) {
      const match = /^\/subscriptions\/([^/]+)/i.exec(cluster.id);
      if (match?.[1]) this.subscriptions.add(match[1].toLowerCase());
    }
  }

  value(): Summary {
    return { ...this.summary, subscriptions: this.subscriptions.size };
  }
}

interface JudgeOutcome {
  summary: Summary;
  failures: ScopeError[];
  /** Sorted by ID; empty unless `retainPools`. */
  pools: PoolResult[];
  clusters: ClusterResult[];
}

/**
 * The body of a run (or of one shard of it): reads the source page by page, judges every pool, writes each
 * page's results while the next is read, reports pools of unreadable scopes as unknown from their last
 * state, and at the end updates pool states for the pools read. Leaves the run record and lease to the caller;
 * `afterPageWrite` is called after each page is stored (lease renewal, progress).
 */
async function judgeAndStore(
  deps: AuditDependencies,
  run: RunRecord,
  startedAt: Date,
  snapshotPart: string,
  afterPageWrite: (nowInMs: number) => Promise<void>,
): Promise<JudgeOutcome> {
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? (() => undefined);
  const { store } = deps;
  // Names first, so every stored result carries its subscription's name (one small query).
  const names = (await deps.source.readSubscriptionNames?.()) ?? new Map<string, string>();
  const retain = deps.retainPools !== false;
  // Kept for the returned report only; the run's own bookkeeping never holds every pool.
  const pools: PoolResult[] = [];
  const clusters: ClusterResult[] = [];
  const summary = new SummaryCounter();
  // Judged pools wait here, deflated, for the pool states written at the end of a run that did not fail.
  // Bucketed by the first character of the pool ID's subscription: pool states are partitioned by
  // subscription, and the report is sorted by ID, so buckets in key order are ranges of the report.
  const spool = store
    ? new PoolSpool((pool) => (SUBSCRIPTION_START.exec(pool.id)?.[1] ?? '').toLowerCase())
    : null;
  const snapshot = store?.reportSnapshotWriter?.(run.id, snapshotPart) ?? null;
  const seenClusters = new Set<string>();
  const failures: ScopeError[] = [];
  const exemptions = deps.exemptions ?? [];
  const evaluation = {
    matrix: deps.matrix,
    asOf: startedAt,
    nodeImageMaxAgeInDays: deps.nodeImageMaxAgeInDays,
  };
  // One page is written while the next is read and judged: storage and Resource Graph overlap.
  let writing: Promise<void> | null = null;
  const write = async (pagePools: PoolResult[], pageClusters: ClusterResult[]): Promise<void> => {
    if (!store) return;
    await store.appendRunResults(run.id, pagePools, pageClusters);
    await snapshot?.addClusters(pageClusters);
    await afterPageWrite(now().getTime());
  };

  for await (const event of deps.source.readClusters()) {
    if (event.kind === 'scopeFailed') {
      failures.push({ scope: event.scope, code: event.code, message: event.message });
      continue;
    }
    run.progress.pagesRead += 1;
    const fresh: ClusterRecord[] = [];
    for (const row of event.rows) {
      let cluster: ClusterRecord;
      try {
        cluster = normalizeCluster(row);
      } catch (error) {
        if (!(error instanceof ClusterShapeError)) throw error;
        failures.push({ scope: event.scope ?? '/', code: 'InvalidClusterRow', message: error.message });
        continue;
      }
      const key = cluster.id.toLowerCase();
      if (seenClusters.has(key)) continue;
      seenClusters.add(key);
      fresh.push(cluster);
    }
    await deps.freshness.prepare(
      fresh.flatMap((cluster) => cluster.pools.map((pool) => ({ cluster, pool }))),
    );
    const pagePools: PoolResult[] = [];
    const pageClusters: ClusterResult[] = [];
    const spooled: SpooledPool[] = [];
    for (const cluster of fresh) {
      pageClusters.push(evaluateCluster(cluster));
      const scope = event.scope ?? `/subscriptions/${cluster.subscriptionId}`;
      for (const pool of cluster.pools) {
        const result = applyExemptions(
          evaluatePool(cluster, pool, evaluation, deps.freshness.freshnessOf(cluster, pool)),
          exemptions,
          startedAt,
        );
        const name = names.get(cluster.subscriptionId);
        if (name !== undefined) result.subscriptionName = name;
        pagePools.push(result);
        spooled.push({ pool: result, scope });
      }
    }
    summary.add(pagePools, pageClusters);
    spool?.add(spooled);
    if (retain) {
      pools.push(...pagePools);
      clusters.push(...pageClusters);
    }
    run.progress.clustersRead += fresh.length;
    run.progress.poolsJudged += pagePools.length;
    if (writing) await writing;
    writing = write(pagePools, pageClusters);
    // Observed when awaited; this only keeps a failed write from being reported as unhandled meanwhile.
    writing.catch(() => undefined);
    deps.onProgress?.({ ...run.progress });
    log(
      `Read page ${run.progress.pagesRead}: ${fresh.length} clusters; ${run.progress.clustersRead} clusters and ${run.progress.poolsJudged} pools judged so far`,
    );
  }
  if (writing) await writing;

  // Pools last seen in a scope that could not be read now are reported unknown, not dropped.
  const unreadable: PoolResult[] = [];
  if (store && spool && failures.length) {
    const seenPools = new Set<string>();
    for await (const bucket of spool.readBuckets()) {
      for (const { pool } of bucket) seenPools.add(pool.id.toLowerCase());
    }
    for await (const state of store.listPoolStates()) {
      if (seenPools.has(state.id.toLowerCase())) continue;
      const failure = failures.find((f) => scopeMatches(f.scope, state));
      if (!failure) continue;
      unreadable.push(unreadablePool(state.snapshot, failure.scope, failure.code));
      seenPools.add(state.id.toLowerCase());
    }
    if (unreadable.length) await store.appendRunResults(run.id, unreadable, []);
    summary.add(unreadable, []);
    // In the report (and its snapshot), not in pool states: they were not read in this run.
    spool.add(unreadable.map((pool) => ({ pool, scope: null })));
    log(
      `${failures.length} scope(s) could not be read; ${unreadable.length} pool(s) seen before are reported unknown`,
    );
  }

  if (store && spool) {
    // Only now, when the run did not fail, and only for pools read in it: a bucket of subscriptions at a time.
    log(`Updating the states and history of ${spool.pools - unreadable.length} pools`);
    for await (const bucket of spool.readBuckets()) {
      const scopes = new Map<PoolResult, string>();
      for (const { pool, scope } of bucket) if (scope !== null) scopes.set(pool, scope);
      await store.updatePoolStates(run.id, startedAt, [...scopes.keys()], (p) => scopes.get(p) ?? '/');
      // Buckets come in key order, each sorted: the snapshot is in the report's order with no sort at read.
      await snapshot?.addPools(bucket.map(({ pool }) => pool).sort(byId));
    }
    await snapshot?.finish();
  }
  return {
    summary: summary.value(),
    failures,
    pools: retain ? [...pools, ...unreadable].sort(byId) : [],
    clusters: retain ? clusters.sort(byId) : [],
  };
}

/**
 * One shard of a sharded run: judges and stores the pools of the shard's scope into the existing run
 * `run.id` (results, pool states), without taking the lease or touching the run record, which the
 * sharded run's coordinator and its last shard own. A retried shard overwrites its own results.
 */
export async function runAuditShard(
  deps: AuditDependencies,
  run: { id: string; startedAt: string },
  shard: number,
): Promise<{ summary: Summary; errors: ScopeError[]; progress: RunProgress }> {
  const startedAt = new Date(run.startedAt);
  const record = startedRunRecord({
    id: run.id,
    trigger: 'timer',
    startedAt: run.startedAt,
    cloud: deps.cloud,
    matrix: deps.matrix,
    scope: deps.scope,
  });
  const { store } = deps;
  let leaseRenewedAt = 0;
  const part = `shard${String(shard).padStart(5, '0')}`;
  const outcome = await judgeAndStore({ ...deps, retainPools: false }, record, startedAt, part, async (t) => {
    // The run's lease is the run's, whichever instance holds this shard: keep it alive while shards work.
    if (store && t - leaseRenewedAt > AUDIT_LEASE_TTL_IN_MS / 3) {
      await store.renewAuditLease(run.id, { ttlInMs: AUDIT_LEASE_TTL_IN_MS, now: new Date(t) });
      leaseRenewedAt = t;
    }
  });
  return { summary: outcome.summary, errors: outcome.failures, progress: record.progress };
}

/**
 * Runs one audit. With a store, it takes the audit lease first (AuditInProgressError when another
 * audit holds it), clears what an earlier attempt of the same run ID wrote, streams results to
 * storage page by page, and updates pool states only for pools read in this run, so a partial
 * run never overwrites good history with missing data.
 */
export async function runAudit(deps: AuditDependencies, request: AuditRequest): Promise<Report> {
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? (() => undefined);
  const { store } = deps;
  const startedAt = now();
  const run = startedRunRecord({
    id: request.runId,
    trigger: request.trigger,
    startedAt: startedAt.toISOString(),
    cloud: deps.cloud,
    matrix: deps.matrix,
    scope: deps.scope,
  });

  if (store) {
    await store.ensureTables();
    const lease = await store.acquireAuditLease(run.id, { ttlInMs: AUDIT_LEASE_TTL_IN_MS, now: startedAt });
    if (!lease.acquired) throw new AuditInProgressError(lease.holderRunId);
  }
  let leaseRenewedAt = startedAt.getTime();
  let lastProgressWrite = startedAt.getTime();

  try {
    if (store) {
      await store.upsertRun(run);
      await store.deleteRunResults(run.id);
    }
    deps.onStarted?.({ ...run });
    const outcome = await judgeAndStore(deps, run, startedAt, 'run', async (t) => {
      if (!store) return;
      if (t - leaseRenewedAt > AUDIT_LEASE_TTL_IN_MS / 3) {
        await store.renewAuditLease(run.id, { ttlInMs: AUDIT_LEASE_TTL_IN_MS, now: new Date(t) });
        leaseRenewedAt = t;
      }
      if (t - lastProgressWrite > PROGRESS_WRITE_INTERVAL_IN_MS) {
        await store.upsertRun(run);
        lastProgressWrite = t;
      }
    });
    const { failures } = outcome;
    const status: RunStatus = failures.length ? 'partial' : 'succeeded';
    run.status = status;
    run.errors = failures;
    run.finishedAt = now().toISOString();
    run.summary = outcome.summary;
    if (store) await store.upsertRun(run);
    if (store) await deps.evidence?.onRunCompleted(run.id, log);
    log(
      `Audit ${run.id} ${status}: ${run.summary.pools} pools in ${run.summary.clusters} clusters; ` +
        `${run.summary.compliant} compliant, ${run.summary.noncompliant} noncompliant, ${run.summary.exempt} exempt, ${run.summary.unknown} unknown`,
    );
    return {
      schemaVersion: 1,
      run: runInfoOf(run),
      summary: run.summary,
      pools: outcome.pools,
      clusters: outcome.clusters,
      errors: failures,
    };
  } catch (error) {
    run.status = 'failed';
    run.finishedAt = now().toISOString();
    run.errors = [...run.errors, { scope: '/', code: 'AuditFailed', message: describeError(error) }];
    if (store) {
      await store
        .upsertRun(run)
        .catch((e: unknown) => log(`Could not record the failed run: ${describeError(e)}`));
    }
    throw error;
  } finally {
    if (store) {
      await store
        .releaseAuditLease(run.id)
        .catch((e: unknown) => log(`Could not release the lease: ${describeError(e)}`));
    }
  }
}
