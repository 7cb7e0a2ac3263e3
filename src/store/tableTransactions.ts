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

/** Submits upserts/deletes as transactions: per partition, ≤ 100 entities and ≤ 4 MiB each, `concurrency` at a time. */
export async function submitTransactions(
  client: TableClient,
  actions: TransactionAction[],
  options: { concurrency: number; stats: StoreStats },
): Promise<void> {
  // Keyed by row as well: a transaction may not touch one entity twice, so for a repeated key the last wins.
  const byPartition = new Map<string, Map<string, TransactionAction>>();
  for (const action of actions) {
    const { partitionKey, rowKey } = action[1];
    let partition = byPartition.get(partitionKey);
    if (!partition) byPartition.set(partitionKey, (partition = new Map<string, TransactionAction>()));
    partition.delete(rowKey);
    partition.set(rowKey, action);
  }
  const batches: TransactionAction[][] = [];
  for (const partition of byPartition.values()) {
    const list = [...partition.values()];
    let batch: TransactionAction[] = [];
    let bytes = 0;
    for (const action of list) {
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
  }
  await forEachLimited(batches, options.concurrency, async (batch) => {
    await client.submitTransaction(batch);
    options.stats.transactions += 1;
    for (const [kind] of batch) {
      if (kind === 'delete') options.stats.entitiesDeleted += 1;
      else options.stats.entitiesWritten += 1;
    }
  });
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
