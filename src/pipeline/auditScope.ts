// The body of a shard: read the scope's clusters page by page, judge every pool, store results and pool states.

import type { FreshnessSource } from '../azure/nodeImageLookup';
import type { SourceEvent } from '../azure/resourceGraphSource';
import { applyExemptions } from '../core/applyExemptions';
import { BreakdownCounter } from '../core/breakdownCounter';
import { evaluateCluster, evaluatePool, unreadablePool } from '../core/evaluatePool';
import type { FipsMatrix } from '../core/fipsMatrix';
import { ClusterShapeError, normalizeCluster } from '../core/normalizeCluster';
import type { RunProgress } from '../core/run';
import { summarizeRun } from '../core/summarizeRun';
import type { ClusterRecord, ClusterResult, Exemption, PoolResult, ScopeError, Summary } from '../core/types';
import { PageWindow, type PageWindowStats, pageWindowStats } from './pageWindow';
import { PoolSpool, type SpooledPool } from './poolSpool';

/** Where a run's clusters come from: Resource Graph, or an export an auditor was given. */
export interface ClusterSource {
  readClusters(): AsyncIterable<SourceEvent>;
  readSubscriptionNames?(): Promise<Map<string, string>>;
}

/** A pool's last known state, for reporting pools of a scope that could not be read as unknown. */
export interface KnownPool {
  id: string;
  scope: string;
  snapshot: PoolResult;
}

/** What a shard writes; ResultStore and PoolStateStore implement it over Table Storage. */
export interface ScopeResultWriter {
  appendRunResults(runId: string, pools: PoolResult[], clusters: ClusterResult[]): Promise<unknown>;
  reportSnapshotWriter(
    runId: string,
    part: string,
  ): {
    addPools(pools: readonly PoolResult[]): Promise<void>;
    addClusters(clusters: readonly ClusterResult[]): Promise<void>;
    finish(): Promise<void>;
  };
}

export interface PoolStateWriter {
  updatePoolStates(
    runId: string,
    at: Date,
    pools: PoolResult[],
    scopeOf: (p: PoolResult) => string,
  ): Promise<unknown>;
}

export interface AuditScopeInput {
  runId: string;
  /** Exemptions and image freshness are judged as of the run's start. */
  startedAt: Date;
  /** The report snapshot part this shard writes (`run`, or `shardNNNNN`). */
  part: string;
  source: ClusterSource;
  freshness: FreshnessSource;
  matrix: FipsMatrix;
  nodeImageMaxAgeInDays: number;
  /** AUDIT_OWNER_TAG: the cluster tag copied to each pool's `owner`. */
  ownerTag: string | null;
  exemptions: readonly Exemption[];
  results: ScopeResultWriter;
  poolStates: PoolStateWriter;
  /** The last known states of the pools in this shard's scope (read only when a scope could not be read). */
  knownPools: () => AsyncIterable<KnownPool>;
  /** Called before every write: throws when the run lost its lease (the worker must stop writing). */
  beforeWrite: () => Promise<void>;
  onProgress?: (progress: RunProgress) => void;
  log?: (message: string) => void;
  /** The backpressure window's counters (its `limit`: pages read but not yet stored); DEFAULT_PAGES_IN_FLIGHT. */
  pageWindow?: PageWindowStats;
  /** Where judged pools wait for the pool-state step (the OS's temp folder by default). */
  spoolDirectory?: string;
}

/** Pages read but not yet stored: one being stored while the next is judged, so reading and storing overlap. */
export const DEFAULT_PAGES_IN_FLIGHT = 2;
/**
 * Pools whose states are updated together: one key-range read of their existing states and one group in memory.
 * Groups are of whole subscriptions, so a subscription larger than this is a group of its own.
 */
export const POOL_STATE_GROUP_POOLS = 10_000;
/** Pools of unreadable scopes reported unknown per write (and held in memory at once). */
const UNREADABLE_PAGE_POOLS = 1_000;

export interface ScopeOutcome {
  summary: Summary;
  errors: ScopeError[];
  progress: RunProgress;
  /** Whether any scope answered: a shard whose every scope failed has read nothing. */
  readAnything: boolean;
}

const SUBSCRIPTION_START = /^\/subscriptions\/(.{1,2})/i;
const SUBSCRIPTION_IN_ID = /^\/subscriptions\/([^/]+)/i;

/** The report's order: by ID, ignoring case (ARM IDs compare case-insensitively). */
const byId = (a: { id: string }, b: { id: string }) => a.id.toLowerCase().localeCompare(b.id.toLowerCase());

/** Whether a failed scope covers a pool last seen through `state.scope`. */
export function scopeCovers(failedScope: string, state: { id: string; scope: string }): boolean {
  if (failedScope === '/') return true;
  const scope = failedScope.toLowerCase();
  return state.scope.toLowerCase() === scope || state.id.toLowerCase().startsWith(`${scope}/`);
}

/** The report summary counted page by page: the same figures summarizeRun gives for all pools at once. */
export class SummaryCounter {
  private readonly summary = summarizeRun([], []);
  private readonly subscriptions = new Set<string>();
  private readonly breakdown = new BreakdownCounter();

  add(pools: readonly PoolResult[], clusters: readonly ClusterResult[]): void {
    this.breakdown.addPools(pools);
    this.breakdown.addClusters(clusters);
    const page = summarizeRun(pools, []);
    for (const key of ['pools', 'compliant', 'noncompliant', 'exempt', 'unknown'] as const) {
      this.summary[key] += page[key];
    }
    this.summary.clusters += clusters.length;
    for (const pool of pools) this.subscriptions.add(pool.subscriptionId.toLowerCase());
    for (const cluster of clusters) {
      const match = SUBSCRIPTION_IN_ID.exec(cluster.id);
      if (match?.[1]) this.subscriptions.add(match[1].toLowerCase());
    }
  }

  value(): Summary {
    return this.breakdown.complete({ ...this.summary, subscriptions: this.subscriptions.size });
  }
}

/**
 * Where a row that could not be understood is reported: the cluster it names, so only that cluster's pools turn
 * unknown; a row naming none is an error of its own that covers no pool. Never a whole subscription or `/`, which
 * would turn every pool that vanished since the last run into a phantom unknown one.
 */
function rowScope(row: unknown): string {
  const id = (row as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id.startsWith('/') ? id.slice(0, 400) : '(a row without a resource ID)';
}

/**
 * Reads the source page by page, judges every pool, writes each page's results while the next is read, reports
 * the pools of scopes that could not be read as unknown from their last state, and at the end updates the pool
 * states of the pools read. Errors of the source that are not a scope's (authentication, storage, a lost lease)
 * propagate: the caller decides whether the run fails or the delivery is retried.
 */
export async function auditScope(input: AuditScopeInput): Promise<ScopeOutcome> {
  const spool = new PoolSpool(spoolBucketOf, input.spoolDirectory ? { directory: input.spoolDirectory } : {});
  try {
    return await auditScopeWith(input, spool);
  } finally {
    await spool.close();
  }
}

/** Spool buckets: the first two characters of the subscription, so buckets in key order are ranges of the report. */
function spoolBucketOf(pool: PoolResult): string {
  return (SUBSCRIPTION_START.exec(pool.id)?.[1] ?? '').toLowerCase();
}

async function auditScopeWith(input: AuditScopeInput, spool: PoolSpool): Promise<ScopeOutcome> {
  const log = input.log ?? (() => undefined);
  const progress: RunProgress = { pagesRead: 0, clustersRead: 0, poolsJudged: 0 };
  // Names first, so every stored result carries its subscription's name (one small query).
  const names = (await input.source.readSubscriptionNames?.()) ?? new Map<string, string>();
  const summary = new SummaryCounter();
  const snapshot = input.results.reportSnapshotWriter(input.runId, input.part);
  const seenClusters = new Set<string>();
  const failures: ScopeError[] = [];
  const evaluation = {
    matrix: input.matrix,
    asOf: input.startedAt,
    nodeImageMaxAgeInDays: input.nodeImageMaxAgeInDays,
    ...(input.ownerTag === null ? {} : { ownerTag: input.ownerTag }),
  };
  // Backpressure: a page is in flight from being read until its findings, clusters and spool segment are stored,
  // and the next page is asked for only while fewer than the window's limit are. Pages are stored in order, one
  // after the other, so storage and Resource Graph overlap by up to limit - 1 pages and never run ahead further.
  const window = new PageWindow(input.pageWindow ?? pageWindowStats(DEFAULT_PAGES_IN_FLIGHT));
  let storing: Promise<void> = Promise.resolve();
  let storeFailed = false;
  const store = async (pagePools: PoolResult[], pageClusters: ClusterResult[], spooled: SpooledPool[]) => {
    await input.beforeWrite();
    await input.results.appendRunResults(input.runId, pagePools, pageClusters);
    await snapshot.addClusters(pageClusters);
    await spool.add(spooled);
  };

  try {
    for await (const event of input.source.readClusters()) {
      if (event.kind === 'scopeFailed') {
        failures.push({ scope: event.scope, code: event.code, message: event.message });
        continue;
      }
      progress.pagesRead += 1;
      const fresh: ClusterRecord[] = [];
      for (const row of event.rows) {
        let cluster: ClusterRecord;
        try {
          cluster = normalizeCluster(row);
        } catch (error) {
          if (!(error instanceof ClusterShapeError)) throw error;
          failures.push({ scope: rowScope(row), code: 'InvalidClusterRow', message: error.message });
          continue;
        }
        const key = cluster.id.toLowerCase();
        if (seenClusters.has(key)) continue;
        seenClusters.add(key);
        fresh.push(cluster);
      }
      const leave = window.enter(fresh.reduce((n, c) => n + c.pools.length, 0));
      await input.freshness.prepare(
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
            evaluatePool(cluster, pool, evaluation, input.freshness.freshnessOf(cluster, pool)),
            input.exemptions,
            input.startedAt,
          );
          const name = names.get(cluster.subscriptionId.toLowerCase());
          if (name !== undefined) result.subscriptionName = name;
          pagePools.push(result);
          spooled.push({ pool: result, scope });
        }
      }
      summary.add(pagePools, pageClusters);
      progress.clustersRead += fresh.length;
      progress.poolsJudged += pagePools.length;
      // After a failed store nothing else is stored (the chain stays rejected); the failure surfaces below.
      storing = storing.then(() => store(pagePools, pageClusters, spooled)).finally(leave);
      storing.catch(() => (storeFailed = true));
      input.onProgress?.({ ...progress });
      log(
        `Read page ${progress.pagesRead}: ${fresh.length} clusters; ${progress.clustersRead} clusters and ${progress.poolsJudged} pools judged so far`,
      );
      await window.ready();
      if (storeFailed) break;
    }
  } catch (error) {
    // Reading or judging failed (Azure refused the identity mid-run…): let the page being stored finish, so
    // nothing is written behind the caller's back once this returns, then fail with the first error.
    await storing.catch(() => undefined);
    throw error;
  }
  await storing;

  // Pools last seen in a scope that could not be read now are reported unknown, not dropped; a page at a time, so
  // a large scope that failed whole is never held in memory at once.
  let unreadableCount = 0;
  if (failures.length) {
    const seenPools = new Set<string>();
    for await (const group of spool.readGroups(POOL_STATE_GROUP_POOLS)) {
      for (const { pool } of group) seenPools.add(pool.id.toLowerCase());
    }
    let unreadable: PoolResult[] = [];
    const flush = async () => {
      if (unreadable.length === 0) return;
      await input.beforeWrite();
      await input.results.appendRunResults(input.runId, unreadable, []);
      summary.add(unreadable, []);
      // In the report (and its snapshot), not in pool states: they were not read in this run.
      await spool.add(unreadable.map((pool) => ({ pool, scope: null })));
      unreadableCount += unreadable.length;
      unreadable = [];
    };
    for await (const state of input.knownPools()) {
      if (seenPools.has(state.id.toLowerCase())) continue;
      const failure = failures.find((f) => scopeCovers(f.scope, state));
      if (!failure) continue;
      unreadable.push(unreadablePool(state.snapshot, failure.scope, failure.code));
      seenPools.add(state.id.toLowerCase());
      if (unreadable.length >= UNREADABLE_PAGE_POOLS) await flush();
    }
    await flush();
    log(
      `${failures.length} scope(s) could not be read; ${unreadableCount} pool(s) seen before are reported unknown`,
    );
  }

  // Only now, and only for pools read in this shard: a group of whole subscriptions at a time, in key order.
  log(`Updating the states and history of ${spool.pools - unreadableCount} pools`);
  for await (const group of spool.readGroups(POOL_STATE_GROUP_POOLS)) {
    const scopes = new Map<PoolResult, string>();
    for (const { pool, scope } of group) if (scope !== null) scopes.set(pool, scope);
    await input.beforeWrite();
    await input.poolStates.updatePoolStates(
      input.runId,
      input.startedAt,
      [...scopes.keys()],
      (p) => scopes.get(p) ?? '/',
    );
    // Groups come in key order, each sorted: the snapshot is in the report's order with no sort at read.
    await snapshot.addPools(group.map(({ pool }) => pool).sort(byId));
  }
  await input.beforeWrite();
  await snapshot.finish();
  return { summary: summary.value(), errors: failures, progress, readAnything: progress.pagesRead > 0 };
}
