// One audit run: read clusters → judge pools → store results and pool states. Dependencies are passed in.

import type { FreshnessSource } from './azure/nodeImageLookup';
import type { SourceEvent } from './azure/resourceGraphSource';
import type { RunProgress, RunRecord } from './azure/runStore';
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
  const run: RunRecord = {
    id: request.runId,
    trigger: request.trigger,
    status: 'running',
    startedAt: startedAt.toISOString(),
    finishedAt: null,
    cloud: deps.cloud,
    matrix: { version: deps.matrix.version, sources: deps.matrix.sources },
    summary: summarizeRun([], []),
    errors: [],
    progress: { pagesRead: 0, clustersRead: 0, poolsJudged: 0 },
    scope: deps.scope,
  };

  if (store) {
    await store.ensureTables();
    const lease = await store.acquireAuditLease(run.id, { ttlInMs: AUDIT_LEASE_TTL_IN_MS, now: startedAt });
    if (!lease.acquired) throw new AuditInProgressError(lease.holderRunId);
  }
  let leaseRenewedAt = startedAt.getTime();

  try {
    if (store) {
      await store.upsertRun(run);
      await store.deleteRunResults(run.id);
    }
    deps.onStarted?.({ ...run });
    // Names first, so every stored result carries its subscription's name (one small query).
    const names = (await deps.source.readSubscriptionNames?.()) ?? new Map<string, string>();
    const retain = deps.retainPools !== false;
    // Kept for the returned report only; the run's own bookkeeping never holds every pool.
    const pools: PoolResult[] = [];
    const clusters: ClusterResult[] = [];
    const summary = new SummaryCounter();
    // Judged pools wait here, deflated, for the pool states written at the end of a run that did not fail.
    // Bucketed by the subscription's first character: pool states are partitioned by subscription.
    const spool = store ? new PoolSpool((pool) => pool.subscriptionId.toLowerCase().slice(0, 1)) : null;
    const seenClusters = new Set<string>();
    const failures: ScopeError[] = [];
    const exemptions = deps.exemptions ?? [];
    const evaluation = {
      matrix: deps.matrix,
      asOf: startedAt,
      nodeImageMaxAgeInDays: deps.nodeImageMaxAgeInDays,
    };
    let lastProgressWrite = startedAt.getTime();
    // One page is written while the next is read and judged: storage and Resource Graph overlap.
    let writing: Promise<void> | null = null;
    const write = async (pagePools: PoolResult[], pageClusters: ClusterResult[]): Promise<void> => {
      if (!store) return;
      await store.appendRunResults(run.id, pagePools, pageClusters);
      const t = now().getTime();
      if (t - leaseRenewedAt > AUDIT_LEASE_TTL_IN_MS / 3) {
        await store.renewAuditLease(run.id, { ttlInMs: AUDIT_LEASE_TTL_IN_MS, now: new Date(t) });
        leaseRenewedAt = t;
      }
      if (t - lastProgressWrite > PROGRESS_WRITE_INTERVAL_IN_MS) {
        await store.upsertRun(run);
        lastProgressWrite = t;
      }
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
      log(
        `${failures.length} scope(s) could not be read; ${unreadable.length} pool(s) seen before are reported unknown`,
      );
    }

    const status: RunStatus = failures.length ? 'partial' : 'succeeded';
    if (store && spool) {
      // Only now, when the run did not fail, and only for pools read in it: a bucket of subscriptions at a time.
      log(`Updating the states and history of ${spool.pools} pools`);
      for await (const bucket of spool.readBuckets()) {
        const scopes = new Map<PoolResult, string>(bucket.map(({ pool, scope }) => [pool, scope]));
        await store.updatePoolStates(
          run.id,
          startedAt,
          bucket.map(({ pool }) => pool),
          (p) => scopes.get(p) ?? '/',
        );
      }
    }
    run.status = status;
    run.errors = failures;
    run.finishedAt = now().toISOString();
    run.summary = summary.value();
    if (store) await store.upsertRun(run);
    log(
      `Audit ${run.id} ${status}: ${run.summary.pools} pools in ${run.summary.clusters} clusters; ` +
        `${run.summary.compliant} compliant, ${run.summary.noncompliant} noncompliant, ${run.summary.exempt} exempt, ${run.summary.unknown} unknown`,
    );
    const byId = (a: { id: string }, b: { id: string }) => a.id.toLowerCase().localeCompare(b.id.toLowerCase());
    return {
      schemaVersion: 1,
      run: {
        id: run.id,
        trigger: run.trigger,
        status: run.status,
        startedAt: run.startedAt,
        finishedAt: run.finishedAt,
        cloud: run.cloud,
        matrix: run.matrix,
      },
      summary: run.summary,
      pools: retain ? [...pools, ...unreadable].sort(byId) : [],
      clusters: retain ? clusters.sort(byId) : [],
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
