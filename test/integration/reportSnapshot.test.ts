// The report snapshot: the same report as the findings in a dozen reads, and a fallback whenever it is not whole.

import { type AzuriteInstance, startAzurite } from '../../emulators/azurite';
import { generateEstate } from '../../emulators/estateGenerator';
import { evaluateCluster, evaluatePool } from '../../src/core/evaluatePool';
import { builtInMatrix } from '../../src/core/fipsMatrix';
import { matrixRefOf } from '../../src/core/matrixSources';
import { normalizeCluster } from '../../src/core/normalizeCluster';
import { type RunRecord } from '../../src/core/run';
import { newRunId } from '../../src/core/runId';
import { summarizeRun } from '../../src/core/summarizeRun';
import type { ClusterResult, PoolResult } from '../../src/core/types';
import { type TableStores, tableStores } from '../support/tableStores';

let azurite: AzuriteInstance;
let counter = 0;

// Enough pools that the deflated pools fill more than one 640 KiB entity.
const estate = generateEstate({ seed: 21, pools: 8000, subscriptions: 40 });
const clusters: ClusterResult[] = [];
const pools: PoolResult[] = [];
for (const row of estate.clusters) {
  const cluster = normalizeCluster(row);
  clusters.push(evaluateCluster(cluster));
  for (const pool of cluster.pools) {
    pools.push(
      evaluatePool(
        cluster,
        pool,
        { matrix: builtInMatrix, asOf: new Date('2026-11-29T06:00:00Z'), nodeImageMaxAgeInDays: 30 },
        undefined,
      ),
    );
  }
}
const byId = (a: { id: string }, b: { id: string }) => a.id.toLowerCase().localeCompare(b.id.toLowerCase());
const sortedPools = [...pools].sort(byId);

function freshStore(): Promise<TableStores> {
  counter += 1;
  return tableStores(azurite.connectionString, `snap${counter}t${Date.now().toString(36)}`);
}

function runOf(runId: string): RunRecord {
  return {
    id: runId,
    trigger: 'timer',
    status: 'succeeded',
    startedAt: '2026-11-29T06:00:00.000Z',
    finishedAt: '2026-11-29T06:05:00.000Z',
    cloud: 'AzureCloud',
    matrix: matrixRefOf(builtInMatrix),
    summary: summarizeRun(pools, clusters),
    errors: [],
    progress: { pagesRead: 8, clustersRead: clusters.length, poolsJudged: pools.length },
    scope: { subscriptions: null, managementGroups: null },
  };
}

/** A run stored the way the audit stores it: findings, then the snapshot in parts. */
async function storeRun(
  store: TableStores,
  runId: string,
  parts: { writer: string; pools: PoolResult[]; clusters: ClusterResult[] }[],
  opts: { finish?: boolean } = {},
): Promise<void> {
  await store.runs.putRun(runOf(runId));
  await store.results.appendRunResults(runId, pools, clusters);
  for (const part of parts) {
    const writer = store.results.reportSnapshotWriter(runId, part.writer);
    await writer.addClusters(part.clusters);
    for (let i = 0; i < part.pools.length; i += 1500) await writer.addPools(part.pools.slice(i, i + 1500));
    if (opts.finish !== false) await writer.finish();
  }
}

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

it('rebuilds the same report from the snapshot as from the findings, in a few reads', async () => {
  const store = await freshStore();
  const withSnapshot = newRunId(new Date('2026-11-29T06:00:00Z'), 'aaaaaa');
  const findingsOnly = newRunId(new Date('2026-11-29T06:00:00Z'), 'bbbbbb');
  await storeRun(store, withSnapshot, [
    { writer: 'shard00000', pools: sortedPools.slice(0, 3000), clusters: clusters.slice(0, 900) },
    { writer: 'shard00001', pools: sortedPools.slice(3000), clusters: clusters.slice(900) },
  ]);
  await storeRun(store, findingsOnly, []);

  const before = store.tables.stats.entitiesRead;
  const fast = await store.getReport(withSnapshot);
  const snapshotReads = store.tables.stats.entitiesRead - before;
  const slow = await store.getReport(findingsOnly);

  expect(snapshotReads).toBeGreaterThan(3); // more than one chunk entity, plus manifests and the run
  expect(snapshotReads).toBeLessThan(20);
  expect(fast?.pools).toHaveLength(8000);
  expect(fast?.pools).toEqual(slow?.pools);
  expect(fast?.clusters).toEqual(slow?.clusters);
  expect(fast?.summary).toEqual(slow?.summary);
});

it('sorts pools that were written out of order', async () => {
  const store = await freshStore();
  const runId = newRunId(new Date('2026-11-29T06:00:00Z'), 'cccccc');
  await storeRun(store, runId, [{ writer: 'run', pools: [...sortedPools].reverse(), clusters }]);
  const report = await store.getReport(runId);
  expect(report?.pools.map((p) => p.id)).toEqual(sortedPools.map((p) => p.id));
});

it('falls back to the findings when a part has no manifest or the parts do not add up to the run', async () => {
  const store = await freshStore();
  const unfinished = newRunId(new Date('2026-11-29T06:00:00Z'), 'dddddd');
  await storeRun(store, unfinished, [{ writer: 'run', pools: sortedPools, clusters }], { finish: false });
  const short = newRunId(new Date('2026-11-29T06:00:00Z'), 'eeeeee');
  await storeRun(store, short, [{ writer: 'run', pools: sortedPools.slice(1), clusters }]);

  for (const runId of [unfinished, short]) {
    const before = store.tables.stats.entitiesRead;
    const report = await store.getReport(runId);
    expect(store.tables.stats.entitiesRead - before).toBeGreaterThan(8000);
    expect(report?.pools.map((p) => p.id)).toEqual(sortedPools.map((p) => p.id));
  }
});

it('deletes the snapshot with the run results, so a retried run ID never serves the old one', async () => {
  const store = await freshStore();
  const runId = newRunId(new Date('2026-11-29T06:00:00Z'), 'ffffff');
  await storeRun(store, runId, [{ writer: 'run', pools: sortedPools, clusters }]);
  await store.results.deleteRunResults(runId);
  // The retry stores the same pools and clusters with other verdicts and no snapshot: the counts still match
  // what the old snapshot's manifest says, so only its deletion keeps the old verdicts out.
  const retried = pools.map((p) => ({ ...p, status: 'exempt' as const }));
  await store.results.appendRunResults(runId, retried, clusters);
  await store.runs.putRun(runOf(runId));
  const report = await store.getReport(runId);
  expect(report?.pools).toHaveLength(8000);
  expect(report?.pools.every((p) => p.status === 'exempt')).toBe(true);
});
