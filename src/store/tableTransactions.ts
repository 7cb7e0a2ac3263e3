// Writes to Table Storage as transactions within the service's limits, and runs work with bounded concurrency.

import type { TableClient, TransactionAction } from '@azure/data-tables';

import type { StoreStats } from './tableClientFactory';

const MAX_TRANSACTION_ENTITIES = 100;
// The service allows 4 MiB per transaction; leave room for the multipart headers around each entity.
const TRANSACTION_BUDGET_IN_BYTES = 3.5 * 1024 * 1024;
const OPERATION_OVERHEAD_IN_BYTES = 600;
/** Any 100 entities whose bound is at most this fit in one transaction's budget without measuring them. */
const SMALL_OPERATION_BOUND_IN_BYTES = TRANSACTION_BUDGET_IN_BYTES / MAX_TRANSACTION_ENTITIES;

/**
 * The operation's size in the transaction body. Serializing every entity twice cost more CPU than the rest of
 * the write, so a cheap upper bound comes first (a UTF-16 code unit is at most 6 bytes once JSON-escaped);
 * only an entity that might be large is measured exactly.
 */
function estimateOperationBytes(action: TransactionAction): number {
  const entity = action[1] as Record<string, unknown>;
  let bound = OPERATION_OVERHEAD_IN_BYTES;
  for (const name in entity) {
    const value = entity[name];
    bound += 6 * name.length + 16 + (typeof value === 'string' ? 6 * value.length : 32);
  }
  if (bound <= SMALL_OPERATION_BOUND_IN_BYTES) return bound;
  return Buffer.byteLength(JSON.stringify(entity)) + OPERATION_OVERHEAD_IN_BYTES;
}

/** Transactions in flight per partition unless told: a few, so one partition cannot take every slot. */
const DEFAULT_TRANSACTIONS_PER_PARTITION = 2;

export interface TransactionOptions {
  /** Transactions in flight at once, over every partition and table. */
  concurrency: number;
  /** Transactions in flight per partition (of one table): Table Storage targets ~2,000 entities/s per partition. */
  perPartition?: number;
  stats: StoreStats;
}

/** Actions for one table. */
export interface TransactionTarget {
  client: TableClient;
  actions: TransactionAction[];
}

/** Submits upserts/deletes as transactions: per partition, ≤ 100 entities and ≤ 4 MiB each, `concurrency` at a time. */
export async function submitTransactions(
  client: TableClient,
  actions: TransactionAction[],
  options: TransactionOptions,
): Promise<void> {
  await submitTransactionsTo([{ client, actions }], options);
}

/** The transactions of one partition's actions: ≤ 100 entities and ≤ 4 MiB each, in the actions' order. */
function partitionBatches(partition: Map<string, TransactionAction>): TransactionAction[][] {
  const batches: TransactionAction[][] = [];
  let batch: TransactionAction[] = [];
  let bytes = 0;
  for (const action of partition.values()) {
    const size = estimateOperationBytes(action);
    if (
      batch.length === MAX_TRANSACTION_ENTITIES ||
      (batch.length > 0 && bytes + size > TRANSACTION_BUDGET_IN_BYTES)
    ) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(action);
    bytes += size;
  }
  if (batch.length) batches.push(batch);
  return batches;
}

/**
 * Submits the actions of several tables as transactions through one scheduler: at most `concurrency` in flight in
 * all and `perPartition` per partition, taking partitions in turn so that many partitions are written in parallel
 * and none gets more than its share. After a failure nothing new starts; what is in flight ends, then it throws.
 */
export async function submitTransactionsTo(
  targets: readonly TransactionTarget[],
  options: TransactionOptions,
): Promise<void> {
  const queues: { client: TableClient; key: string; batches: TransactionAction[][] }[] = [];
  targets.forEach(({ client, actions }, table) => {
    // Keyed by row as well: a transaction may not touch one entity twice, so for a repeated key the last wins.
    const byPartition = new Map<string, Map<string, TransactionAction>>();
    for (const action of actions) {
      const { partitionKey, rowKey } = action[1];
      let partition = byPartition.get(partitionKey);
      if (!partition) byPartition.set(partitionKey, (partition = new Map<string, TransactionAction>()));
      partition.delete(rowKey);
      partition.set(rowKey, action);
    }
    for (const [partitionKey, partition] of byPartition)
      queues.push({ client, key: `${table}|${partitionKey}`, batches: partitionBatches(partition) });
  });
  const perPartition = options.perPartition ?? DEFAULT_TRANSACTIONS_PER_PARTITION;
  const inFlight = new Map<string, number>();
  let cursor = 0;
  /** The next batch of a partition with a free slot, partitions taken in turn; null when none can start now. */
  const next = (): { queue: (typeof queues)[number]; batch: TransactionAction[] } | null => {
    for (let tried = 0; tried < queues.length; tried++) {
      const queue = queues[(cursor + tried) % queues.length] as (typeof queues)[number];
      if (queue.batches.length === 0 || (inFlight.get(queue.key) ?? 0) >= perPartition) continue;
      cursor = (cursor + tried + 1) % queues.length;
      return { queue, batch: queue.batches.shift() as TransactionAction[] };
    }
    return null;
  };
  let failure: { error: unknown } | null = null;
  let running = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (!failure && running < options.concurrency) {
        const work = next();
        if (!work) break;
        const { queue, batch } = work;
        running += 1;
        inFlight.set(queue.key, (inFlight.get(queue.key) ?? 0) + 1);
        queue.client.submitTransaction(batch).then(
          () => {
            options.stats.transactions += 1;
            for (const [kind] of batch) {
              if (kind === 'delete') options.stats.entitiesDeleted += 1;
              else options.stats.entitiesWritten += 1;
            }
            done(queue.key);
          },
          (error: unknown) => {
            failure ??= { error };
            done(queue.key);
          },
        );
      }
      if (running === 0) resolve();
    };
    const done = (key: string) => {
      running -= 1;
      inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
      pump();
    };
    pump();
  });
  if (failure) throw (failure as { error: unknown }).error;
}

/**
 * Runs `fn` over `items` with at most `limit` in flight. After a failure it starts nothing new, waits for
 * what is in flight (so nothing writes behind the caller's back), then throws the first error.
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        await fn(items[index] as T, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
}
