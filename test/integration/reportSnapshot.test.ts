// The report snapshot: the same report as the findings in a dozen reads, paged a frame at a time, and a fallback.

import { type AzuriteInstance, startAzurite } from '../../emulators/azurite';
import { generateEstate } from '../../emulators/estateGenerator';
import { evaluateCluster, evaluatePool } from '../../src/core/evaluatePool';
import { builtInMatrix } from '../../src/core/fipsMatrix';
import { matrixRefOf } from '../../src/core/matrixSources';
import { normalizeCluster } from '../../src/core/normalizeCluster';
import { pagePools } from '../../src/core/pagePools';
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
  opts: { finish?: boolean; findings?: boolean } = {},
): Promise<void> {
  await store.runs.putRun(runOf(runId));
  // Paging reads only the snapshot: those tests spare Azurite the 8,000 findings.
  if (opts.findings !== false) await store.results.appendRunResults(runId, pools, clusters);
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

describe('paging the snapshot', () => {
  const statusOrder = ['noncompliant', 'unknown', 'exempt', 'compliant'] as const;
  const attentionFirst = statusOrder.flatMap((s) => sortedPools.filter((p) => p.status === s));

  it('indexes the pools in frames with their counts, and pages them attention first reading only the frames it shows', async () => {
    const store = await freshStore();
    const runId = newRunId(new Date('2026-11-29T06:00:00Z'), 'a1a1a1');
    await storeRun(
      store,
      runId,
      [
        { writer: 'shard00000', pools: sortedPools.slice(0, 3000), clusters: clusters.slice(0, 900) },
        { writer: 'shard00001', pools: sortedPools.slice(3000), clusters: clusters.slice(900) },
      ],
      { findings: false },
    );
    const run = await store.runs.getRun(runId);
    const before = store.tables.stats.entitiesRead;
    const reader = await store.results.openReportSnapshot(run!);
    expect(reader).not.toBeNull();
    expect(store.tables.stats.entitiesRead - before).toBe(2); // the two manifests, nothing else
    expect(reader!.frames.reduce((n, f) => n + f.pools, 0)).toBe(8000);
    for (const status of statusOrder) {
      expect(reader!.frames.reduce((n, f) => n + f.counts[status], 0)).toBe(
        pools.filter((p) => p.status === status).length,
      );
    }

    const firstPage = await pagePools(reader!, { offset: 0, limit: 100 });
    expect(firstPage.matched).toBe(8000);
    expect(firstPage.pools.map((p) => p.id)).toEqual(attentionFirst.slice(0, 100).map((p) => p.id));
    expect(firstPage.framesRead).toBeLessThanOrEqual(2);

    const deep = await pagePools(reader!, { offset: 7950, limit: 100 });
    expect(deep.pools.map((p) => p.id)).toEqual(attentionFirst.slice(7950).map((p) => p.id));

    const unknownOnly = await pagePools(reader!, { statuses: ['unknown'], offset: 0, limit: 100 });
    const unknown = sortedPools.filter((p) => p.status === 'unknown');
    expect(unknownOnly.matched).toBe(unknown.length);
    expect(unknownOnly.pools.map((p) => p.id)).toEqual(unknown.slice(0, 100).map((p) => p.id));

    expect(await reader!.clusters()).toEqual([...clusters].sort(byId));
  });

  it('pages a filter the counts cannot answer by reading every frame once', async () => {
    const store = await freshStore();
    const runId = newRunId(new Date('2026-11-29T06:00:00Z'), 'b2b2b2');
    await storeRun(store, runId, [{ writer: 'run', pools: sortedPools, clusters }], { findings: false });
    const reader = await store.results.openReportSnapshot((await store.runs.getRun(runId))!);
    const linux = (p: PoolResult) => p.osType === 'Linux';
    const page = await pagePools(reader!, { matches: linux, offset: 100, limit: 50 });
    expect(page.matched).toBe(pools.filter(linux).length);
    expect(page.pools.map((p) => p.id)).toEqual(
      attentionFirst
        .filter(linux)
        .slice(100, 150)
        .map((p) => p.id),
    );
    expect(page.framesRead).toBe(reader!.frames.length);
  });

  it('opens no reader for a snapshot that cannot be paged in order: unsorted, unfinished or running', async () => {
    const store = await freshStore();
    const unsorted = newRunId(new Date('2026-11-29T06:00:00Z'), 'c3c3c3');
    await storeRun(store, unsorted, [{ writer: 'run', pools: [...sortedPools].reverse(), clusters }], {
      findings: false,
    });
    const unfinished = newRunId(new Date('2026-11-29T06:00:00Z'), 'd4d4d4');
    await storeRun(store, unfinished, [{ writer: 'run', pools: sortedPools, clusters }], {
      finish: false,
      findings: false,
    });
    for (const runId of [unsorted, unfinished]) {
      expect(await store.results.openReportSnapshot((await store.runs.getRun(runId))!)).toBeNull();
    }
    const running = newRunId(new Date('2026-11-29T06:00:00Z'), 'e5e5e5');
    await storeRun(store, running, [{ writer: 'run', pools: sortedPools, clusters }], { findings: false });
    expect(
      await store.results.openReportSnapshot({ ...(await store.runs.getRun(running))!, status: 'running' }),
    ).toBeNull();
  });
});
