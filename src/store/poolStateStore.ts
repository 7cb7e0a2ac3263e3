// Stores each pool's latest state and the history of its changes, across runs.

import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';

import { runIdTime } from '../core/runId';
import type { PoolResult, PoolStatus } from '../core/types';
import {
  checkEntity,
  type Entity,
  optionalString,
  packJson,
  requireString,
  type StoredEntity,
  unpackJson,
} from './entityCodec';
import { requireRunId } from './runStore';
import type { StoreStats, TableClientFactory } from './tableClientFactory';
import { invertedTimeKey, KEY_SEPARATOR, KEY_SEPARATOR_END, resourceIdKey, stableHash } from './tableKeys';
import { forEachLimited, submitTransactionsTo, type TransactionTarget } from './tableTransactions';

export const POOLS_TABLE = 'pools';
export const POOL_HISTORY_TABLE = 'poolhistory';
/** updatePoolStates reads this many subscriptions one query each; more are read as one key range. */
const PER_SUBSCRIPTION_READS_UP_TO = 4;
/**
 * New pools of a subscription are spread over `{subscription}|NN` partitions once the subscription has more pools
 * than this: Table Storage's scalability target is about 2,000 entities a second per partition.
 */
export const POOLS_PER_STATE_PARTITION = 2000;
/** At most this many partitions per subscription (a power of two): the account's target is ~20,000 entities/s. */
export const MAX_STATE_PARTITIONS = 32;
/** Transactions in flight per partition: one keeps a partition within its target, and its writes in order. */
const TRANSACTIONS_PER_PARTITION = 1;

const SUBSCRIPTION_IN_ID = /^\/subscriptions\/([^/]+)(?:\/|$)/i;

/**
 * The subscription's key: a pool's partition in the pools and poolhistory tables is this key (every pool stored
 * before spreading, and every pool of a subscription of up to POOLS_PER_STATE_PARTITION pools) or this key, `|` and
 * two digits. Lowercased: IDs compare case-insensitively.
 */
function subscriptionKey(poolId: string, fallbackSubscriptionId?: string): string {
  const fromId = SUBSCRIPTION_IN_ID.exec(poolId)?.[1] ?? fallbackSubscriptionId;
  if (!fromId) throw new RangeError(`Pool ID has no /subscriptions/{id} segment: "${poolId}"`);
  return resourceIdKey(fromId);
}

/** The subscription a partition key belongs to (`sub` or `sub|NN`). */
function subscriptionOfPartition(partitionKey: string): string {
  const at = partitionKey.indexOf(KEY_SEPARATOR);
  return at < 0 ? partitionKey : partitionKey.slice(0, at);
}

/** Partitions a subscription of `pools` pools spreads its new pools over: 1, 2, 4 … MAX_STATE_PARTITIONS. */
export function statePartitionsFor(pools: number, perPartition = POOLS_PER_STATE_PARTITION): number {
  let partitions = 1;
  while (partitions < MAX_STATE_PARTITIONS && pools > partitions * perPartition) partitions *= 2;
  return partitions;
}

/** Where a pool seen for the first time goes: the subscription's own partition, or one of its spread partitions. */
function newPoolPartition(subscription: string, rowKey: string, partitions: number): string {
  if (partitions === 1) return subscription;
  return `${subscription}${KEY_SEPARATOR}${String(stableHash(rowKey) % partitions).padStart(2, '0')}`;
}

/** Every partition a pool of `subscription` with row key `rowKey` can be in, whatever spread it was stored under. */
function candidatePartitions(subscription: string, rowKey: string): string[] {
  const partitions = new Set([subscription]);
  for (let spread = 2; spread <= MAX_STATE_PARTITIONS; spread *= 2)
    partitions.add(newPoolPartition(subscription, rowKey, spread));
  return [...partitions];
}

/** The key range holding every partition of the subscriptions from `low` to `high`: `low` … `high|…`. */
function subscriptionRangeFilter(low: string, high: string): string {
  return odata`PartitionKey ge ${low} and PartitionKey lt ${high + KEY_SEPARATOR_END}`;
}

function codesOf(pool: PoolResult): string[] {
  return [...new Set(pool.findings.map((f) => f.code))].sort();
}

function sameCodes(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((code, i) => code === b[i]);
}

/** The latest known state of one pool, kept across runs. */
export interface PoolState {
  id: string;
  subscriptionId: string;
  /** The scope the pool was read through (a subscription or management group ID, or `/`). */
  scope: string;
  status: PoolStatus;
  /** Sorted, distinct finding codes. */
  codes: string[];
  firstSeen: string;
  lastSeen: string;
  lastRunId: string;
  /** When the pool last became noncompliant; null unless it is noncompliant now. */
  noncompliantSince: string | null;
  snapshot: PoolResult;
}

/** One change of a pool's status or finding codes. */
export interface PoolHistoryEntry {
  runId: string;
  at: string;
  status: PoolStatus;
  codes: string[];
}

/**
 * Tables `{prefix}pools` (PK key(subscription), RK key(pool id): latest state) and `{prefix}poolhistory` (PK
 * key(subscription), RK `key(pool id)|invertedTime(run ID time)|runId`: one pool's history is one range query,
 * newest first).
 */
export class PoolStateStore {
  private readonly pools: TableClient;
  private readonly history: TableClient;
  private readonly stats: StoreStats;
  private readonly concurrency: number;
  private readonly writeOptions: { concurrency: number; stats: StoreStats };

  /** `poolsPerPartition`: when a subscription is spread (POOLS_PER_STATE_PARTITION; tests make it small). */
  constructor(
    tables: TableClientFactory,
    private readonly options: { poolsPerPartition?: number } = {},
  ) {
    this.pools = tables.client(POOLS_TABLE);
    this.history = tables.client(POOL_HISTORY_TABLE);
    this.stats = tables.stats;
    this.concurrency = tables.concurrency;
    this.writeOptions = { concurrency: tables.concurrency, stats: tables.stats };
  }

  /**
   * Records what run `runId` (at `at`) saw of `pools`: upserts each pool's latest state, keeping
   * `firstSeen` and a running `noncompliantSince`, and appends a history entry when a pool is new or its
   * status or finding codes changed. Pass only pools actually read in this run: pools not passed are left
   * untouched, so a partial run never overwrites a pool's good state with missing data.
   * A retry of the same run ID compares against what the earlier attempt stored, and its history entries
   * land on the same keys (they are keyed by the run ID's time), so it overwrites rather than duplicates.
   */
  async updatePoolStates(
    runId: string,
    at: Date,
    pools: PoolResult[],
    scopeOf: (p: PoolResult) => string,
  ): Promise<{ changed: number }> {
    const runKey = `${invertedTimeKey(runIdTime(requireRunId(runId)))}${KEY_SEPARATOR}${runId}`;
    const atIso = at.toISOString();
    const bySubscription = new Map<string, Map<string, PoolResult>>();
    for (const pool of pools) {
      const subscription = subscriptionKey(pool.id, pool.subscriptionId);
      let rows = bySubscription.get(subscription);
      if (!rows) bySubscription.set(subscription, (rows = new Map<string, PoolResult>()));
      rows.set(resourceIdKey(pool.id), pool); // the same pool twice (other casing): the last wins
    }
    if (bySubscription.size === 0) return { changed: 0 };

    // A pool stays in the partition it was first stored in (its history is there too); only new pools are spread.
    const existing = await this.readPoolStateColumns([...bySubscription.keys()]);
    let changed = 0;
    const stateActions: TransactionAction[] = [];
    const historyActions: TransactionAction[] = [];
    for (const [subscription, rows] of bySubscription) {
      const partitions = statePartitionsFor(rows.size, this.options.poolsPerPartition);
      for (const [rowKey, pool] of rows) {
        const before = existing.get(rowKey);
        const partitionKey =
          before && subscriptionOfPartition(before.partitionKey as string) === subscription
            ? (before.partitionKey as string)
            : newPoolPartition(subscription, rowKey, partitions);
        const codes = codesOf(pool);
        const beforeStatus = before ? optionalString(before, 'status') : null;
        const beforeCodes = before ? (unpackJson<string[]>(before, 'codes') ?? []) : [];
        const beforeSince = before ? optionalString(before, 'noncompliantSince') : null;
        const isNew = !before;
        const transition = isNew || beforeStatus !== pool.status || !sameCodes(beforeCodes, codes);

        const state: Entity = {
          partitionKey,
          rowKey,
          id: pool.id,
          subscriptionId: pool.subscriptionId,
          scope: scopeOf(pool),
          status: pool.status,
          codes: JSON.stringify(codes),
          firstSeen: (before && optionalString(before, 'firstSeen')) ?? atIso,
          lastSeen: atIso,
          lastRunId: runId,
        };
        if (pool.status === 'noncompliant') {
          state.noncompliantSince = beforeStatus === 'noncompliant' && beforeSince ? beforeSince : atIso;
        }
        packJson(state, 'snapshot', pool);
        stateActions.push(['upsert', checkEntity(state, `State of pool ${pool.id}`), 'Replace']);

        if (transition) {
          changed += 1;
          const entry: Entity = {
            partitionKey,
            rowKey: `${rowKey}${KEY_SEPARATOR}${runKey}`,
            poolId: pool.id,
            runId,
            at: atIso,
            status: pool.status,
            codes: JSON.stringify(codes),
          };
          historyActions.push(['upsert', checkEntity(entry, `History of pool ${pool.id}`), 'Replace']);
        }
      }
    }
    existing.clear();
    // Every partition's transactions through one scheduler: `concurrency` in flight in all, one per partition.
    const targets: TransactionTarget[] = [
      { client: this.pools, actions: stateActions },
      { client: this.history, actions: historyActions },
    ];
    await submitTransactionsTo(targets, { ...this.writeOptions, perPartition: TRANSACTIONS_PER_PARTITION });
    return { changed };
  }

  /**
   * The columns updatePoolStates compares, of every stored state of `subscriptions`, by row key (a pool ID is in
   * one partition of its subscription). A few subscriptions are read one key range each; more (a group of a run's
   * subscriptions, contiguous in key order) as one range from the first to the last: one query per subscription
   * would cost thousands of requests at 100,000 pools, and Azurite scans its whole table for each query.
   */
  private async readPoolStateColumns(subscriptions: string[]): Promise<Map<string, StoredEntity>> {
    const wanted = new Set(subscriptions);
    const result = new Map<string, StoredEntity>();
    const select = [
      'PartitionKey',
      'RowKey',
      'status',
      'codes',
      'firstSeen',
      'noncompliantSince',
      'lastSeen',
    ];
    const sorted = [...subscriptions].sort();
    const filters =
      sorted.length <= PER_SUBSCRIPTION_READS_UP_TO
        ? sorted.map((subscription) => subscriptionRangeFilter(subscription, subscription))
        : [subscriptionRangeFilter(sorted[0] as string, sorted[sorted.length - 1] as string)];
    await forEachLimited(filters, this.concurrency, async (filter) => {
      for await (const entity of this.pools.listEntities({ queryOptions: { filter, select } })) {
        this.stats.entitiesRead += 1;
        if (!wanted.has(subscriptionOfPartition(entity.partitionKey as string))) continue;
        const rowKey = entity.rowKey as string;
        const seen = result.get(rowKey);
        // One state per pool; were there two (a pool moved by hand), the one seen last is the one to keep.
        if (!seen || (optionalString(entity, 'lastSeen') ?? '') > (optionalString(seen, 'lastSeen') ?? ''))
          result.set(rowKey, entity);
      }
    });
    return result;
  }

  /** Latest pool states, all or of one subscription (a single-partition query). */
  async *listPoolStates(opts: { subscriptionId?: string } = {}): AsyncIterableIterator<PoolState> {
    const subscription = opts.subscriptionId === undefined ? null : resourceIdKey(opts.subscriptionId);
    const queryOptions =
      subscription === null ? {} : { filter: subscriptionRangeFilter(subscription, subscription) };
    for await (const entity of this.pools.listEntities({ queryOptions })) {
      this.stats.entitiesRead += 1;
      if (subscription !== null && subscriptionOfPartition(entity.partitionKey as string) !== subscription)
        continue;
      yield toPoolState(entity);
    }
  }

  /**
   * When each pool that is noncompliant now became so: the ID and that time only, of noncompliant states only (a
   * state carries `noncompliantSince` only while noncompliant), so the digest never reads every pool's snapshot.
   */
  async *listNoncompliantSince(): AsyncIterableIterator<{ id: string; noncompliantSince: string | null }> {
    const queryOptions = { filter: odata`status eq ${'noncompliant'}`, select: ['id', 'noncompliantSince'] };
    for await (const entity of this.pools.listEntities({ queryOptions })) {
      this.stats.entitiesRead += 1;
      yield {
        id: requireString(entity, 'id'),
        noncompliantSince: optionalString(entity, 'noncompliantSince'),
      };
    }
  }

  /** One pool's status changes, newest first; the ID compares case-insensitively. */
  async getPoolHistory(poolId: string): Promise<PoolHistoryEntry[]> {
    const subscription = subscriptionKey(poolId);
    const key = resourceIdKey(poolId);
    // The pool's partition is one of few: its subscription's own, or the one it hashes to under some spread. Each is
    // a row-key range in one partition, never a scan of the subscription.
    const entries: PoolHistoryEntry[] = [];
    await Promise.all(
      candidatePartitions(subscription, key).map(async (partitionKey) => {
        const filter = odata`PartitionKey eq ${partitionKey} and RowKey ge ${key + KEY_SEPARATOR} and RowKey lt ${key + KEY_SEPARATOR_END}`;
        for await (const entity of this.history.listEntities({ queryOptions: { filter } })) {
          this.stats.entitiesRead += 1;
          entries.push({
            runId: requireString(entity, 'runId'),
            at: requireString(entity, 'at'),
            status: requireString(entity, 'status') as PoolStatus,
            codes: unpackJson<string[]>(entity, 'codes') ?? [],
          });
        }
      }),
    );
    // Newest first, as the row keys order them within a partition (a pool's history is in its state's partition).
    return entries.sort((a, b) => b.at.localeCompare(a.at));
  }
}

function toPoolState(entity: StoredEntity): PoolState {
  const snapshot = unpackJson<PoolResult>(entity, 'snapshot');
  if (!snapshot) throw new Error(`Stored pool state ${entity.partitionKey}/${entity.rowKey} has no snapshot`);
  return {
    id: requireString(entity, 'id'),
    subscriptionId: requireString(entity, 'subscriptionId'),
    scope: requireString(entity, 'scope'),
    status: requireString(entity, 'status') as PoolStatus,
    codes: unpackJson<string[]>(entity, 'codes') ?? [],
    firstSeen: requireString(entity, 'firstSeen'),
    lastSeen: requireString(entity, 'lastSeen'),
    lastRunId: requireString(entity, 'lastRunId'),
    noncompliantSince: optionalString(entity, 'noncompliantSince'),
    snapshot,
  };
}
