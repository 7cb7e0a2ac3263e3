// The transaction scheduler: every partition's batches through one queue, bounded in all and per partition.

import type { TableClient, TransactionAction } from '@azure/data-tables';

import type { StoreStats } from '../../src/store/tableClientFactory';
import { submitTransactionsTo } from '../../src/store/tableTransactions';

/** A stand-in for TableClient.submitTransaction that records what is in flight and answers on the next turn. */
function recordingClient(
  name: string,
  log: {
    inFlight: Map<string, number>;
    peak: Map<string, number>;
    total: { now: number; peak: number };
    batches: string[];
  },
  failOn?: string,
) {
  return {
    async submitTransaction(batch: TransactionAction[]) {
      const key = `${name}|${batch[0]![1].partitionKey}`;
      log.inFlight.set(key, (log.inFlight.get(key) ?? 0) + 1);
      log.peak.set(key, Math.max(log.peak.get(key) ?? 0, log.inFlight.get(key)!));
      log.total.now += 1;
      log.total.peak = Math.max(log.total.peak, log.total.now);
      log.batches.push(`${key}:${batch.length}`);
      await new Promise((resolve) => setImmediate(resolve));
      log.inFlight.set(key, log.inFlight.get(key)! - 1);
      log.total.now -= 1;
      if (failOn && key === failOn) throw new Error(`refused ${key}`);
      return {};
    },
  } as unknown as TableClient;
}

const stats = (): StoreStats => ({
  requests: 0,
  transactions: 0,
  entitiesWritten: 0,
  entitiesDeleted: 0,
  entitiesRead: 0,
  throttled: 0,
});
const upserts = (partitions: number, perPartition: number): TransactionAction[] =>
  Array.from({ length: partitions * perPartition }, (_, i) => [
    'upsert',
    { partitionKey: `p${i % partitions}`, rowKey: `r${i}` },
    'Replace',
  ]);
const newLog = () => ({
  inFlight: new Map<string, number>(),
  peak: new Map<string, number>(),
  total: { now: 0, peak: 0 },
  batches: [] as string[],
});

it.each([
  [1, 8],
  [2, 8],
  [1, 3],
])(
  'keeps at most %i transaction(s) in flight per partition and %i in all, and writes every entity',
  async (perPartition, concurrency) => {
    const log = newLog();
    const s = stats();
    await submitTransactionsTo(
      [
        { client: recordingClient('states', log), actions: upserts(5, 450) },
        { client: recordingClient('history', log), actions: upserts(3, 120) },
      ],
      { concurrency, perPartition, stats: s },
    );
    expect(Math.max(...log.peak.values())).toBeLessThanOrEqual(perPartition);
    expect(log.total.peak).toBeLessThanOrEqual(concurrency);
    // Partitions are taken in turn: the first `concurrency` batches are not all of one partition.
    expect(
      new Set(log.batches.slice(0, Math.min(concurrency, 8)).map((b) => b.split(':')[0])).size,
    ).toBeGreaterThan(1);
    expect(s.entitiesWritten).toBe(5 * 450 + 3 * 120);
    expect(s.transactions).toBe(5 * 5 + 3 * 2);
    expect(log.batches.every((b) => Number(b.split(':')[1]) <= 100)).toBe(true);
  },
);

it('starts nothing new after a failure, lets what is in flight end, then throws the first error', async () => {
  const log = newLog();
  const s = stats();
  await expect(
    submitTransactionsTo([{ client: recordingClient('t', log, 't|p0'), actions: upserts(4, 1000) }], {
      concurrency: 4,
      perPartition: 1,
      stats: s,
    }),
  ).rejects.toThrow('refused t|p0');
  expect(log.total.now).toBe(0);
  expect(log.batches.length).toBeLessThan(40);
});
