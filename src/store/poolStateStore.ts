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
import { invertedTimeKey, KEY_SEPARATOR, KEY_SEPARATOR_END, resourceIdKey } from './tableKeys';
import { forEachLimited, submitTransactions } from './tableTransactions';

export const POOLS_TABLE = 'pools';
export const POOL_HISTORY_TABLE = 'poolhistory';
/** updatePoolStates reads this many partitions one query each; more are read as key ranges. */
const PER_PARTITION_READS_UP_TO = 4;

const SUBSCRIPTION_IN_ID = /^\/subscriptions\/([^/]+)(?:\/|$)/i;

/** Partition of a pool in the pools and poolhistory tables: its subscription, lowercased (IDs compare case-insensitively). */
function subscriptionPartition(poolId: string, fallbackSubscriptionId?: string): string {
  const fromId = SUBSCRIPTION_IN_ID.exec(poolId)?.[1] ?? fallbackSubscriptionId;
  if (!fromId) throw new RangeError(`Pool ID has no /subscriptions/{id} segment: "${poolId}"`);
  return resourceIdKey(fromId);
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

  constructor(tables: TableClientFactory) {
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
    const byPartition = new Map<string, Map<string, PoolResult>>();
    for (const pool of pools) {
      const partitionKey = subscriptionPartition(pool.id, pool.subscriptionId);
      let partition = byPartition.get(partitionKey);
      if (!partition) byPartition.set(partitionKey, (partition = new Map<string, PoolResult>()));
      partition.set(resourceIdKey(pool.id), pool); // the same pool twice (other casing): the last wins
    }

    const existingByPartition = await this.readPoolStateColumns([...byPartition.keys()]);
    let changed = 0;
    await forEachLimited([...byPartition], this.concurrency, async ([partitionKey, partition]) => {
      const existing = existingByPartition.get(partitionKey) ?? new Map<string, StoredEntity>();
      existingByPartition.delete(partitionKey);

      const stateActions: TransactionAction[] = [];
      const historyActions: TransactionAction[] = [];
      for (const [rowKey, pool] of partition) {
        const before = existing.get(rowKey);
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
      await Promise.all([
        submitTransactions(this.pools, stateActions, this.writeOptions),
        submitTransactions(this.history, historyActions, this.writeOptions),
      ]);
    });
    return { changed };
  }

  /**
   * The columns updatePoolStates compares, of every stored state in `partitions`. A few partitions are
   * read one query each; many (a whole run's subscriptions) are read as a few key-range queries, grouped
   * by the partition key's first character: one query per partition would cost thousands of requests at
   * 100,000 pools, and Azurite scans its whole table for each query.
   */
  private async readPoolStateColumns(partitions: string[]): Promise<Map<string, Map<string, StoredEntity>>> {
    const wanted = new Set(partitions);
    const result = new Map<string, Map<string, StoredEntity>>();
    const select = ['PartitionKey', 'RowKey', 'status', 'codes', 'firstSeen', 'noncompliantSince'];
    const filters: string[] = [];
    if (partitions.length <= PER_PARTITION_READS_UP_TO) {
      for (const partitionKey of partitions) filters.push(odata`PartitionKey eq ${partitionKey}`);
    } else {
      const groups = new Map<string, string[]>();
      for (const partitionKey of [...partitions].sort()) {
        const first = partitionKey.slice(0, 1);
        const group = groups.get(first) ?? [];
        group.push(partitionKey);
        groups.set(first, group);
      }
      for (const group of groups.values()) {
        const low = group[0] as string;
        const high = group[group.length - 1] as string;
        filters.push(odata`PartitionKey ge ${low} and PartitionKey le ${high}`);
      }
    }
    await forEachLimited(filters, this.concurrency, async (filter) => {
      for await (const entity of this.pools.listEntities({ queryOptions: { filter, select } })) {
        this.stats.entitiesRead += 1;
        const partitionKey = entity.partitionKey as string;
        if (!wanted.has(partitionKey)) continue;
        let partition = result.get(partitionKey);
        if (!partition) result.set(partitionKey, (partition = new Map<string, StoredEntity>()));
        partition.set(entity.rowKey as string, entity);
      }
    });
    return result;
  }

  /** Latest pool states, all or of one subscription (a single-partition query). */
  async *listPoolStates(opts: { subscriptionId?: string } = {}): AsyncIterableIterator<PoolState> {
    const queryOptions =
      opts.subscriptionId === undefined
        ? {}
        : { filter: odata`PartitionKey eq ${resourceIdKey(opts.subscriptionId)}` };
    for await (const entity of this.pools.listEntities({ queryOptions })) {
      this.stats.entitiesRead += 1;
      yield toPoolState(entity);
    }
  }

  /** One pool's status changes, newest first; the ID compares case-insensitively. */
  async getPoolHistory(poolId: string): Promise<PoolHistoryEntry[]> {
    const partitionKey = subscriptionPartition(poolId);
    const key = resourceIdKey(poolId);
    const filter = odata`PartitionKey eq ${partitionKey} and RowKey ge ${key + KEY_SEPARATOR} and RowKey lt ${key + KEY_SEPARATOR_END}`;
    const entries: PoolHistoryEntry[] = [];
    for await (const entity of this.history.listEntities({ queryOptions: { filter } })) {
      this.stats.entitiesRead += 1;
      entries.push({
        runId: requireString(entity, 'runId'),
        at: requireString(entity, 'at'),
        status: requireString(entity, 'status') as PoolStatus,
        codes: unpackJson<string[]>(entity, 'codes') ?? [],
      });
    }
    return entries;
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
