// The table stores against a real Azurite: runs, per-run results, the audit lease, pool states and history.

import { randomBytes } from 'node:crypto';

import { type AzuriteInstance, startAzurite } from '../../emulators/azurite';
import { matrixRefOf } from '../../src/core/matrixSources';
import type { RunRecord } from '../../src/core/run';
import { newRunId } from '../../src/core/runId';
import { summarizeRun } from '../../src/core/summarizeRun';
import type { ClusterResult, Finding, PoolResult, PoolStatus } from '../../src/core/types';
import { renderReportHtml } from '../../src/render/reportHtml';
import { EntityTooLargeError } from '../../src/store/entityCodec';
import { PoolStateStore } from '../../src/store/poolStateStore';
import { TableClientFactory } from '../../src/store/tableClientFactory';
import { type TableStores, tableStores } from '../support/tableStores';

let azurite: AzuriteInstance;
let tableCount = 0;

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

/** The distinct partition keys of `subscription`'s rows in `table` (pools or poolhistory), sorted. */
async function partitionsOf(store: TableStores, table: string, subscription: string): Promise<string[]> {
  const keys = new Set<string>();
  for await (const entity of store.tables
    .client(table)
    .listEntities({ queryOptions: { select: ['PartitionKey'] } }))
    if ((entity.partitionKey as string).startsWith(subscription)) keys.add(entity.partitionKey as string);
  return [...keys].sort();
}

/** Stores over fresh tables, so tests do not see each other's data. */
function freshStore(): Promise<TableStores> {
  tableCount += 1;
  return tableStores(azurite.connectionString, `t${tableCount}${randomBytes(3).toString('hex')}`);
}

const SUBSCRIPTIONS = [
  '0b1f6471-1bf0-4dda-aec3-111111111111',
  '0b1f6471-1bf0-4dda-aec3-222222222222',
  '0b1f6471-1bf0-4dda-aec3-333333333333',
  '0b1f6471-1bf0-4dda-aec3-444444444444',
  '0B1F6471-1BF0-4DDA-AEC3-555555555555',
];

function subscriptionAt(i: number): string {
  const subscription = SUBSCRIPTIONS[i % SUBSCRIPTIONS.length];
  if (subscription === undefined) throw new Error('unreachable: the index is taken modulo the length');
  return subscription;
}

const FIPS_DISABLED: Finding = {
  code: 'FIPS_DISABLED',
  severity: 'high',
  message: 'FIPS is off on this pool.',
  remediation: 'Create a new pool with --enable-fips-image and move the workloads.',
};
const IMAGE_OUTDATED: Finding = {
  code: 'NODE_IMAGE_OUTDATED',
  severity: 'medium',
  message: 'The node image is 45 days behind.',
  remediation: 'az aks nodepool upgrade --node-image-only',
};

function clusterId(subscription: string, cluster: string): string {
  return `/subscriptions/${subscription}/resourceGroups/rg-Payments/providers/Microsoft.ContainerService/managedClusters/${cluster}`;
}

function makePool(
  i: number,
  overrides: Partial<PoolResult> & { subscription?: string; clusterName?: string; poolName?: string } = {},
): PoolResult {
  const { subscription: sub, clusterName, poolName, ...rest } = overrides;
  const subscriptionId = sub ?? subscriptionAt(i);
  const cluster = clusterName ?? `aks-${Math.floor(i / 4)}`;
  const pool = poolName ?? `np${i % 4}x${i}`;
  const statuses: PoolStatus[] = ['compliant', 'noncompliant', 'exempt', 'unknown'];
  const status = statuses[i % statuses.length] as PoolStatus;
  const result: PoolResult = {
    id: `${clusterId(subscriptionId, cluster)}/agentPools/${pool}`,
    subscriptionId,
    resourceGroup: 'rg-Payments',
    cluster,
    pool,
    location: 'eastus',
    osType: i % 5 === 0 ? 'Windows' : 'Linux',
    osSku: i % 5 === 0 ? 'Windows2022' : 'Ubuntu',
    kubernetesVersion: '1.33.2',
    nodeImageVersion: i % 7 === 0 ? null : 'AKSUbuntu-2204gen2fipscontainerd-202511.20.0',
    enableFips: i % 3 === 0 ? null : i % 2 === 0,
    status,
    findings: status === 'noncompliant' || status === 'exempt' ? [FIPS_DISABLED, IMAGE_OUTDATED] : [],
    exemption:
      status === 'exempt'
        ? {
            id: `ex-${i}`,
            scope: clusterId(subscriptionId, cluster),
            codes: ['FIPS_DISABLED'],
            reason: 'Vendor appliance, replacement planned',
            ticket: 'CHG-1234',
            owner: 'platform@contoso.com',
            createdBy: 'alice@contoso.com',
            createdAt: '2026-10-01T00:00:00.000Z',
            expiresOn: '2027-01-01T00:00:00.000Z',
          }
        : null,
    ...rest,
  };
  if (i % 2 === 1) result.subscriptionName = `Subscription ${subscriptionId.slice(-4)}`;
  return result;
}

function makeRun(id: string, overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    id,
    trigger: 'timer',
    status: 'succeeded',
    startedAt: new Date(
      Date.parse(`${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T00:00:00Z`),
    ).toISOString(),
    finishedAt: null,
    cloud: 'AzureCloud',
    matrix: matrixRefOf({
      version: '2026-06-16',
      sources: ['https://learn.microsoft.com/azure/aks/enable-fips-nodes'],
    }),
    summary: {
      subscriptions: 1,
      clusters: 2,
      pools: 3,
      compliant: 1,
      noncompliant: 1,
      exempt: 0,
      unknown: 1,
      // Every run this version stores carries it (summarizeRun and the audit's counter add it).
      compliancePercent: 50,
    },
    errors: [],
    progress: { pagesRead: 1, clustersRead: 2, poolsJudged: 3 },
    scope: { subscriptions: null, managementGroups: null },
    ...overrides,
  };
}

const byId = (a: { id: string }, b: { id: string }) => a.id.toLowerCase().localeCompare(b.id.toLowerCase());

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

function timing(label: string, startedAt: number): void {
  // Printed only on request, so ordinary test output stays quiet.
  if (process.env.RUNSTORE_TIMINGS) process.stderr.write(`${label}: ${Date.now() - startedAt} ms\n`);
}

describe('tables', () => {
  it('creates its tables idempotently', async () => {
    const store = await freshStore();
    await expect(store.ensureTables()).resolves.toBeUndefined();
    await expect(Promise.all([store.ensureTables(), store.ensureTables()])).resolves.toBeDefined();
  });

  it('refuses a bad configuration with a clear message', () => {
    const storage = { kind: 'connectionString' as const, connectionString: azurite.connectionString };
    expect(() => new TableClientFactory({ tablePrefix: 'fips-audit', storage })).toThrow(/tablePrefix/);
    expect(
      () =>
        new TableClientFactory({
          tablePrefix: 'fipsaudit',
          storage: { kind: 'endpoint', endpoint: 'https://x.table.core.windows.net' },
        }),
    ).toThrow(/needs a credential/);
  });
});

describe('runs', () => {
  it('reads back an upserted run, and its later update', async () => {
    const store = await freshStore();
    const id = newRunId(new Date('2026-11-29T04:34:20Z'), 'aaaaaa');
    const run = makeRun(id, {
      status: 'running',
      scope: { subscriptions: [subscriptionAt(0)], managementGroups: null },
    });
    await store.runs.putRun(run);
    expect(await store.runs.getRun(id)).toStrictEqual(run);

    const finished = makeRun(id, {
      status: 'partial',
      finishedAt: '2026-11-29T04:40:00.000Z',
      errors: [{ scope: '/subscriptions/x', code: 'AuthorizationFailed', message: 'no access' }],
      email: { sent: true, operationId: 'op-1' },
    });
    await store.runs.putRun(finished);
    expect(await store.runs.getRun(id)).toStrictEqual(finished);
  });

  it('reads a run stored before matrix sources were data, and its report renders with clean links', async () => {
    const store = await freshStore();
    const id = newRunId(new Date('2026-11-29T06:00:00Z'), 'cccccc');
    const legacySources = [
      'https://learn.microsoft.com/azure/aks/enable-fips-nodes (MicrosoftDocs/azure-aks-docs articles/aks/enable-fips-nodes.md, page dated 2026-06-16, and its git history)',
      'https://csrc.nist.gov/projects/cryptographic-module-validation-program (FIPS 140-2 certificates moved to the Historical list on 2026-09-21)',
    ];
    // Exactly what an earlier version stored: the matrix reference without sourceDetails.
    const stored = { version: '2026-11-29', sources: legacySources } as unknown as RunRecord['matrix'];
    await store.runs.putRun(makeRun(id, { status: 'succeeded', matrix: stored }));

    const run = await store.runs.getRun(id);
    expect(run?.matrix.sources).toEqual(legacySources);
    expect(run?.matrix.sourceDetails.map((s) => s.url)).toEqual([
      'https://learn.microsoft.com/azure/aks/enable-fips-nodes',
      'https://csrc.nist.gov/projects/cryptographic-module-validation-program',
    ]);
    const report = await store.getReport(id);
    expect(report).toBeDefined();
    const { html } = renderReportHtml(report!);
    const matrix = html.slice(html.indexOf('<section id="matrix">'));
    const hrefs = [...matrix.matchAll(/<a\s[^>]*href="([^"]*)"/g)].map((m) => m[1]!);
    expect(hrefs).toEqual(run!.matrix.sourceDetails.map((s) => s.url));
    for (const href of hrefs) expect(new URL(href).protocol).toBe('https:');
  });

  it('returns undefined for a run that is not stored or is not a run ID', async () => {
    const store = await freshStore();
    expect(await store.runs.getRun(newRunId(new Date()))).toBeUndefined();
    expect(await store.runs.getRun("x' or PartitionKey ne '")).toBeUndefined();
    expect(await store.getReport('nope')).toBeUndefined();
  });

  it('splits values over 64 KiB across properties and refuses a run over 1 MiB clearly', async () => {
    const store = await freshStore();
    const id = newRunId(new Date('2026-11-01T00:00:00Z'), 'bbbbbb');
    const errors = Array.from({ length: 800 }, (_, i) => ({
      scope: `/subscriptions/${i}`,
      code: 'AuthorizationFailed',
      message: `The client does not have authorization 🚫 to read subscription ${i}. `.repeat(3),
    }));
    const run = makeRun(id, { errors });
    await store.runs.putRun(run);
    expect(await store.runs.getRun(id)).toStrictEqual(run);

    const huge = makeRun(id, { errors: Array.from({ length: 6 }, () => errors).flat() });
    await expect(store.runs.putRun(huge)).rejects.toThrow(EntityTooLargeError);
    await expect(store.runs.putRun(huge)).rejects.toThrow(/does not fit in one table entity/);
  });

  it('stores the breakdowns with the run and reads them back', async () => {
    const store = await freshStore();
    const id = newRunId(new Date('2026-11-02T00:00:00Z'), 'dddddd');
    const pools = Array.from({ length: 300 }, (_, i) => makePool(i));
    const run = makeRun(id, { summary: summarizeRun(pools, []) });
    expect(run.summary.byCode?.length).toBeGreaterThan(0);
    expect(run.summary.bySubscription?.length).toBeGreaterThan(1);
    await store.runs.putRun(run);
    expect(await store.runs.getRun(id)).toStrictEqual(run);
    expect((await collect(store.runs.listRuns({ top: 1 })))[0]?.summary).toStrictEqual(run.summary);
  });

  it('keeps a run record within the entity limit when 10,000 subscriptions and owners break it down', async () => {
    const store = await freshStore();
    const id = newRunId(new Date('2026-11-03T00:00:00Z'), 'eeeeee');
    const rows = Array.from({ length: 10_000 }, (_, i) => ({
      subscriptionId: randomBytes(16).toString('hex'),
      subscriptionName: `subscription-${randomBytes(8).toString('hex')}`,
      pools: 10,
      compliant: 10 - (i % 7),
      noncompliant: i % 7,
      exempt: 0,
      unknown: 0,
    }));
    const owners = rows.map((r, i) => ({ ...r, owner: `owner-${randomBytes(12).toString('hex')}-${i}` }));
    const total = rows.reduce((n, r) => n + r.pools, 0);
    const summary = {
      ...makeRun(id).summary,
      pools: total,
      compliant: rows.reduce((n, r) => n + r.compliant, 0),
      noncompliant: rows.reduce((n, r) => n + r.noncompliant, 0),
      unknown: 0,
      bySubscription: rows,
      byOwner: owners.map(({ subscriptionId: _s, subscriptionName: _n, ...o }) => o),
    };
    await store.runs.putRun(makeRun(id, { summary }));
    const read = (await store.runs.getRun(id))!.summary;
    // Rows that did not fit were folded into one `other` row: no pool is lost from the counts.
    for (const breakdown of [read.bySubscription!, read.byOwner!]) {
      expect(breakdown.length).toBeLessThan(10_000);
      expect(breakdown[breakdown.length - 1]).toMatchObject({ other: true });
      expect(breakdown.reduce((n, r) => n + r.pools, 0)).toBe(total);
      expect(breakdown.reduce((n, r) => n + r.noncompliant, 0)).toBe(summary.noncompliant);
    }
  });

  it('reads a run stored before breakdowns, and gives it the compliance percentage of its counts', async () => {
    const store = await freshStore();
    const id = newRunId(new Date('2026-11-04T00:00:00Z'), 'ffffff');
    const { compliancePercent: _percent, ...olderSummary } = makeRun(id).summary;
    await store.runs.putRun(makeRun(id, { summary: olderSummary }));
    const read = await store.runs.getRun(id);
    expect(read?.summary).toStrictEqual({ ...olderSummary, compliancePercent: 50 });
    expect(read?.summary.byCode).toBeUndefined();
  });

  it('lists runs newest first, with top and since', async () => {
    const store = await freshStore();
    const days = ['2026-08-01', '2026-09-15', '2026-10-01', '2026-11-01', '2026-11-29'];
    const ids = days.map((d, i) => newRunId(new Date(`${d}T06:00:00Z`), `00000${i}`));
    // Written out of order: the order comes from the keys, not from insertion.
    for (const i of [2, 0, 4, 1, 3])
      await store.runs.putRun(makeRun(ids[i] as string, { status: i === 4 ? 'running' : 'succeeded' }));

    const all = await collect(store.runs.listRuns());
    expect(all.map((r) => r.id)).toEqual([...ids].reverse());
    expect((await collect(store.runs.listRuns({ top: 2 }))).map((r) => r.id)).toEqual([ids[4], ids[3]]);
    expect(
      (await collect(store.runs.listRuns({ since: new Date('2026-10-01T06:00:00.500Z') }))).map((r) => r.id),
    ).toEqual([ids[4], ids[3], ids[2]]);
    expect(await collect(store.runs.listRuns({ top: 0 }))).toEqual([]);
    expect((await store.runs.getLatestRun())?.id).toBe(ids[4]);
    expect((await store.runs.getLatestRun({ statuses: ['succeeded', 'partial'] }))?.id).toBe(ids[3]);
    expect(await store.runs.getLatestRun({ statuses: ['failed'] })).toBeUndefined();
  });
});

describe('per-run results', () => {
  it('stores 3,000 pool results and rebuilds a report equal to the input', async () => {
    const store = await freshStore();
    const runId = newRunId(new Date('2026-11-29T06:00:00Z'), 'cccccc');
    const pools = Array.from({ length: 3000 }, (_, i) => makePool(i));
    const clusters: ClusterResult[] = Array.from({ length: 750 }, (_, i) => ({
      id: clusterId(subscriptionAt(i), `aks-${i}`),
      findings: i % 10 === 0 ? [{ ...IMAGE_OUTDATED, code: 'NODE_AUTOPROVISIONING_UNAUDITED' }] : [],
    }));
    const run = makeRun(runId, {
      status: 'partial',
      finishedAt: '2026-11-29T06:05:00.000Z',
      errors: [
        {
          scope: '/providers/Microsoft.Management/managementGroups/mg',
          code: 'AuthorizationFailed',
          message: 'x',
        },
      ],
    });
    await store.runs.putRun(run);

    let t = Date.now();
    await store.results.replaceRunResults(runId, [...pools].reverse(), clusters);
    timing('replaceRunResults 3,000 pools + 750 clusters', t);
    t = Date.now();
    await store.poolStates.updatePoolStates(
      runId,
      new Date('2026-11-29T06:00:00Z'),
      pools,
      (p) => `/subscriptions/${p.subscriptionId}`,
    );
    timing('updatePoolStates 3,000 pools (all new)', t);
    t = Date.now();
    const report = await store.getReport(runId);
    timing('getReport 3,000 pools', t);

    expect(report).toStrictEqual({
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
      pools: [...pools].sort(byId),
      clusters: [...clusters].sort(byId),
      errors: run.errors,
    });
    expect(await collect(store.results.listRunPools(runId))).toHaveLength(3000);
    expect(await collect(store.results.listRunClusters(runId))).toHaveLength(750);
    expect((await collect(store.poolStates.listPoolStates())).length).toBe(3000);
    expect(
      (await collect(store.poolStates.listPoolStates({ subscriptionId: subscriptionAt(1) }))).length,
    ).toBe(600);
    expect(store.tables.stats.transactions).toBeGreaterThan(0);
    expect(store.tables.stats.requests).toBeGreaterThanOrEqual(store.tables.stats.transactions);
    expect(store.tables.stats.entitiesWritten).toBeGreaterThanOrEqual(3000 + 750 + 3000 + 3000);
  });

  it('lets a retried run with the same ID and fewer pools leave exactly the new set', async () => {
    const store = await freshStore();
    const runId = newRunId(new Date('2026-11-29T06:00:00Z'), 'dddddd');
    const other = newRunId(new Date('2026-11-28T06:00:00Z'), 'eeeeee');
    const first = Array.from({ length: 400 }, (_, i) => makePool(i));
    await store.runs.putRun(makeRun(runId));
    await store.runs.putRun(makeRun(other));
    await store.results.appendRunResults(runId, first.slice(0, 200), []);
    await store.results.appendRunResults(runId, first.slice(200), [
      { id: clusterId(subscriptionAt(0), 'gone'), findings: [] },
    ]);
    await store.results.replaceRunResults(other, first.slice(0, 10), []);

    // The retry: some pools gone, some changed (other casing of the same ID), some new.
    const second = [
      ...first.slice(0, 150).map((p) => ({ ...p, status: 'compliant' as const, findings: [] })),
      { ...(first[150] as PoolResult), id: (first[150] as PoolResult).id.toUpperCase() },
      ...Array.from({ length: 20 }, (_, i) => makePool(1000 + i)),
    ];
    await store.results.replaceRunResults(runId, second, []);

    const report = await store.getReport(runId);
    expect(report?.pools).toStrictEqual([...second].sort(byId));
    expect(report?.clusters).toEqual([]);
    // The other run is untouched.
    expect((await store.getReport(other))?.pools).toHaveLength(10);
    expect(await store.results.deleteRunResults(runId)).toBe(second.length);
    expect(await collect(store.results.listRunPools(runId))).toEqual([]);
  });

  it('round-trips IDs with /, #, ?, quotes and unicode', async () => {
    const store = await freshStore();
    const runId = newRunId(new Date('2026-11-29T06:00:00Z'), 'ffffff');
    const sub = subscriptionAt(0);
    const names = ['a#b', 'q?x', "it's", 'back\\slash', 'ünï名前🚀', 'sp ace%2F', 'slash/inside'];
    const pools = names.map((n, i) => makePool(i, { subscription: sub, clusterName: `c-${n}`, poolName: n }));
    await store.runs.putRun(makeRun(runId));
    await store.results.replaceRunResults(runId, pools, [{ id: clusterId(sub, 'c-#?/ü'), findings: [] }]);
    await store.poolStates.updatePoolStates(
      runId,
      new Date('2026-11-29T06:00:00Z'),
      pools,
      () => `/subscriptions/${sub}`,
    );

    const report = await store.getReport(runId);
    expect(report?.pools).toStrictEqual([...pools].sort(byId));
    expect(report?.clusters.map((c) => c.id)).toEqual([clusterId(sub, 'c-#?/ü')]);
    const states = await collect(store.poolStates.listPoolStates({ subscriptionId: sub.toUpperCase() }));
    expect(states.map((s) => s.id).sort()).toEqual(pools.map((p) => p.id).sort());
    for (const pool of pools) {
      expect(await store.poolStates.getPoolHistory(pool.id)).toEqual([
        {
          runId,
          at: '2026-11-29T06:00:00.000Z',
          status: pool.status,
          codes: pool.findings.map((f) => f.code).sort(),
        },
      ]);
    }
  });
});

describe('audit lease', () => {
  const ttlInMs = 60_000;
  const now = new Date('2026-11-29T06:00:00Z');
  const runA = newRunId(now, 'a00000');
  const runB = newRunId(now, 'b00000');

  it('lets exactly one of two concurrent callers acquire it, with a generation that only rises', async () => {
    const { lease } = await freshStore();
    const generations: number[] = [];
    for (let round = 0; round < 5; round++) {
      const [a, b] = await Promise.all([
        lease.acquire(runA, { ttlInMs, now }),
        lease.acquire(runB, { ttlInMs, now }),
      ]);
      expect([a.acquired, b.acquired].filter(Boolean)).toHaveLength(1);
      const [winner, loser] = a.acquired ? [a, b] : [b, a];
      const winnerId = a.acquired ? runA : runB;
      if (!winner.acquired) throw new Error('unreachable');
      expect(loser).toEqual({
        acquired: false,
        holderRunId: winnerId,
        generation: winner.generation,
        expiresAt: '2026-11-29T06:01:00.000Z',
      });
      generations.push(winner.generation);
      expect(await lease.release(winnerId, winner.generation, now)).toBe(true);
    }
    expect(generations).toEqual([1, 2, 3, 4, 5]);
  });

  it('lets exactly one of two concurrent callers take over an expired lease, and names the run it took over', async () => {
    const { lease } = await freshStore();
    const first = await lease.acquire(runA, { ttlInMs, now });
    expect(first).toEqual({ acquired: true, generation: 1, tookOverFrom: null });
    const later = new Date(now.getTime() + ttlInMs + 1);
    const runC = newRunId(later, 'c00000');
    const [b, c] = await Promise.all([
      lease.acquire(runB, { ttlInMs, now: later }),
      lease.acquire(runC, { ttlInMs, now: later }),
    ]);
    expect([b.acquired, c.acquired].filter(Boolean)).toHaveLength(1);
    const winner = b.acquired ? b : c;
    expect(winner).toMatchObject({
      acquired: true,
      generation: 2,
      tookOverFrom: { runId: runA, generation: 1, expiredAt: '2026-11-29T06:01:00.000Z' },
    });
    // The stalled holder cannot renew or release what it lost.
    expect(await lease.renew(runA, 1, { ttlInMs, now: later })).toBe('lost');
    expect(await lease.release(runA, 1, later)).toBe(false);
  });

  it('refuses an unexpired lease held by another run, and lets its holder renew it', async () => {
    const { lease } = await freshStore();
    expect(await lease.acquire(runA, { ttlInMs, now })).toMatchObject({ acquired: true, generation: 1 });
    const soon = new Date(now.getTime() + 1000);
    expect(await lease.acquire(runB, { ttlInMs, now: soon })).toEqual({
      acquired: false,
      holderRunId: runA,
      generation: 1,
      expiresAt: '2026-11-29T06:01:00.000Z',
    });
    // Asking again for the run that holds it is a retried start: the same generation.
    expect(await lease.acquire(runA, { ttlInMs, now: soon })).toMatchObject({
      acquired: true,
      generation: 1,
    });
    expect(await lease.renew(runA, 1, { ttlInMs, now: new Date(now.getTime() + 50_000) })).toBe('renewed');
    // Renewed: still held at a time the first grant would have expired.
    const afterFirstExpiry = new Date(now.getTime() + ttlInMs + 1000);
    expect(await lease.acquire(runB, { ttlInMs, now: afterFirstExpiry })).toMatchObject({
      acquired: false,
      holderRunId: runA,
      expiresAt: '2026-11-29T06:01:50.000Z',
    });
    // Another generation of the same run (restarted under a new lease) cannot renew this one.
    expect(await lease.renew(runA, 2, { ttlInMs, now: afterFirstExpiry })).toBe('lost');
  });

  it('lets concurrent renewals by workers of the same run all succeed', async () => {
    const { lease } = await freshStore();
    await lease.acquire(runA, { ttlInMs, now });
    const at = new Date(now.getTime() + 10_000);
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () => lease.renew(runA, 1, { ttlInMs, now: at })),
    );
    expect(outcomes).toEqual(Array(5).fill('renewed'));
  });

  it('ignores a release by a run that does not hold it', async () => {
    const { lease } = await freshStore();
    expect(await lease.release(runA, 1, now)).toBe(false);
    expect(await lease.acquire(runA, { ttlInMs, now })).toMatchObject({ acquired: true, generation: 1 });
    expect(await lease.release(runB, 1, now)).toBe(false);
    expect(await lease.acquire(runB, { ttlInMs, now })).toMatchObject({ acquired: false, holderRunId: runA });
    expect(await lease.release(runA, 1, now)).toBe(true);
    expect(await lease.acquire(runB, { ttlInMs, now })).toEqual({
      acquired: true,
      generation: 2,
      tookOverFrom: null,
    });
  });
});

describe('pool states and history', () => {
  it('keeps firstSeen, tracks noncompliantSince and records one history entry per transition', async () => {
    const store = await freshStore();
    const sub = subscriptionAt(2);
    const base = makePool(0, { subscription: sub, clusterName: 'aks-hist', poolName: 'np1' });
    const steady = makePool(1, {
      subscription: sub,
      clusterName: 'aks-hist',
      poolName: 'np2',
      status: 'compliant',
      findings: [],
    });
    const times = [
      '2026-11-27T06:00:00Z',
      '2026-11-28T06:00:00Z',
      '2026-11-29T06:00:00Z',
      '2026-11-30T06:00:00Z',
    ].map((t) => new Date(t));
    const runs = times.map((t, i) => newRunId(t, `00000${i}`));
    const scope = () => `/subscriptions/${sub}`;
    const noncompliant = { ...base, status: 'noncompliant' as const, findings: [FIPS_DISABLED] };

    // Run 1: both new; np1 noncompliant.
    await store.poolStates.updatePoolStates(runs[0]!, times[0]!, [noncompliant, steady], scope);
    // Run 2: np1 still noncompliant (no transition), np2 unchanged. The ID comes in other casing.
    await store.poolStates.updatePoolStates(
      runs[1]!,
      times[1]!,
      [{ ...noncompliant, id: noncompliant.id.toUpperCase() }, steady],
      scope,
    );
    let state = (await collect(store.poolStates.listPoolStates({ subscriptionId: sub }))).find(
      (s) => s.id.toLowerCase() === base.id.toLowerCase(),
    );
    expect(state).toMatchObject({
      status: 'noncompliant',
      codes: ['FIPS_DISABLED'],
      firstSeen: '2026-11-27T06:00:00.000Z',
      lastSeen: '2026-11-28T06:00:00.000Z',
      lastRunId: runs[1],
      noncompliantSince: '2026-11-27T06:00:00.000Z',
      scope: `/subscriptions/${sub}`,
    });

    // Run 3: np1 fixed; np2 not read (a partial run): its state must stay as it was.
    const fixed = { ...base, status: 'compliant' as const, findings: [] };
    await store.poolStates.updatePoolStates(runs[2]!, times[2]!, [fixed], scope);
    // Run 4: np1 noncompliant again, with another code set.
    const again = { ...base, status: 'noncompliant' as const, findings: [IMAGE_OUTDATED, FIPS_DISABLED] };
    const result = await store.poolStates.updatePoolStates(runs[3]!, times[3]!, [again], scope);
    expect(result.changed).toBe(1);

    const states = await collect(store.poolStates.listPoolStates({ subscriptionId: sub }));
    state = states.find((s) => s.id === base.id);
    expect(state).toStrictEqual({
      id: base.id,
      subscriptionId: sub,
      scope: `/subscriptions/${sub}`,
      status: 'noncompliant',
      codes: ['FIPS_DISABLED', 'NODE_IMAGE_OUTDATED'],
      firstSeen: '2026-11-27T06:00:00.000Z',
      lastSeen: '2026-11-30T06:00:00.000Z',
      lastRunId: runs[3],
      noncompliantSince: '2026-11-30T06:00:00.000Z',
      snapshot: again,
    });
    const afterFix = states.find((s) => s.id === steady.id);
    expect(afterFix).toMatchObject({
      lastRunId: runs[1],
      lastSeen: '2026-11-28T06:00:00.000Z',
      noncompliantSince: null,
    });

    const history = await store.poolStates.getPoolHistory(base.id.toUpperCase());
    expect(history).toEqual([
      {
        runId: runs[3],
        at: '2026-11-30T06:00:00.000Z',
        status: 'noncompliant',
        codes: ['FIPS_DISABLED', 'NODE_IMAGE_OUTDATED'],
      },
      { runId: runs[2], at: '2026-11-29T06:00:00.000Z', status: 'compliant', codes: [] },
      { runId: runs[0], at: '2026-11-27T06:00:00.000Z', status: 'noncompliant', codes: ['FIPS_DISABLED'] },
    ]);
    expect(await store.poolStates.getPoolHistory(steady.id)).toHaveLength(1);
  });

  it('clears noncompliantSince when a pool becomes exempt, and a retried run does not duplicate history', async () => {
    const store = await freshStore();
    const pool = makePool(5, { status: 'noncompliant', findings: [FIPS_DISABLED] });
    const t1 = new Date('2026-11-01T06:00:00Z');
    const t2 = new Date('2026-11-02T06:00:00Z');
    const r1 = newRunId(t1, '111111');
    const r2 = newRunId(t2, '222222');
    await store.poolStates.updatePoolStates(r1, t1, [pool], () => '/');
    const exempt = { ...pool, status: 'exempt' as const };
    await store.poolStates.updatePoolStates(r2, t2, [exempt], () => '/');
    await store.poolStates.updatePoolStates(r2, new Date(t2.getTime() + 60_000), [exempt], () => '/');
    const [state] = await collect(store.poolStates.listPoolStates());
    expect(state).toMatchObject({ status: 'exempt', noncompliantSince: null, firstSeen: t1.toISOString() });
    expect((await store.poolStates.getPoolHistory(pool.id)).map((h) => h.status)).toEqual([
      'exempt',
      'noncompliant',
    ]);
  });

  it('spreads a large subscription over partitions, keeps every pool where it was first stored, and reads it whole', async () => {
    const store = await freshStore();
    // Spread past 10 pools a partition (2,000 in production), over the same tables.
    const poolStates = new PoolStateStore(store.tables, { poolsPerPartition: 10 });
    const sub = '0b1f6471-1bf0-4dda-aec3-999999999999';
    const other = '0b1f6471-1bf0-4dda-aec3-aaaaaaaaaaaa';
    const pool = (i: number, status: PoolStatus = 'compliant', subscription = sub) =>
      makePool(i, { subscription, status, findings: status === 'noncompliant' ? [FIPS_DISABLED] : [] });
    const t1 = new Date('2026-11-01T06:00:00Z');
    const t2 = new Date('2026-11-02T06:00:00Z');
    const r1 = newRunId(t1, 'aaaaaa');
    const r2 = newRunId(t2, 'bbbbbb');
    const scope = (p: PoolResult) => `/subscriptions/${p.subscriptionId}`;

    // Run 1: 8 pools, one partition: the layout every run stored before spreading existed.
    const small = Array.from({ length: 8 }, (_, i) => pool(i, 'noncompliant'));
    await poolStates.updatePoolStates(r1, t1, [...small, pool(100, 'compliant', other)], scope);
    expect(await partitionsOf(store, 'pools', sub)).toEqual([sub]);

    // Run 2: the subscription has grown to 50 pools: its 8 stay put, the 42 new ones are spread over 8 partitions.
    const grown = Array.from({ length: 50 }, (_, i) => pool(i, i < 4 ? 'noncompliant' : 'compliant'));
    const { changed } = await poolStates.updatePoolStates(r2, t2, grown, scope);
    expect(changed).toBe(42 + 4); // the new pools, and the four of the first eight that were fixed
    const partitions = await partitionsOf(store, 'pools', sub);
    expect(partitions[0]).toBe(sub);
    expect(partitions.slice(1).every((p) => /^0b1f6471-1bf0-4dda-aec3-999999999999\|0[0-7]$/.test(p))).toBe(
      true,
    );
    expect(partitions.length).toBeGreaterThan(4);
    expect(await partitionsOf(store, 'poolhistory', sub)).toEqual(partitions);

    const states = await collect(poolStates.listPoolStates({ subscriptionId: sub.toUpperCase() }));
    expect(states.map((s) => s.id).sort()).toEqual(grown.map((p) => p.id).sort());
    const first = states.find((s) => s.id === small[0]!.id);
    expect(first).toMatchObject({
      firstSeen: t1.toISOString(),
      noncompliantSince: t1.toISOString(),
      lastRunId: r2,
    });
    expect(states.find((s) => s.id === small[5]!.id)).toMatchObject({
      firstSeen: t1.toISOString(),
      status: 'compliant',
    });
    expect(states.find((s) => s.id === grown[30]!.id)).toMatchObject({ firstSeen: t2.toISOString() });
    expect(await collect(poolStates.listPoolStates({ subscriptionId: other }))).toHaveLength(1);
    expect(await collect(poolStates.listPoolStates())).toHaveLength(51);

    expect((await poolStates.getPoolHistory(small[5]!.id)).map((h) => h.status)).toEqual([
      'compliant',
      'noncompliant',
    ]);
    expect((await poolStates.getPoolHistory(grown[30]!.id)).map((h) => h.runId)).toEqual([r2]);
    // The store that does not spread (the default threshold) reads the spread layout the same way.
    expect(await collect(store.poolStates.listPoolStates({ subscriptionId: sub }))).toHaveLength(50);
    expect(await store.poolStates.getPoolHistory(grown[30]!.id)).toHaveLength(1);
  });
});
