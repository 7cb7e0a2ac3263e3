// The audit end to end: real @azure clients and credential chain against the emulators, Azurite as storage.

import { generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { App, type AppOptions } from '../../src/app';
import { loadConfig } from '../../src/config';
import { evaluateCluster, evaluatePool } from '../../src/core/evaluatePool';
import { nodeImageFamily } from '../../src/core/nodeImage';
import { normalizeCluster } from '../../src/core/normalizeCluster';
import type { PoolResult, Report } from '../../src/core/types';
import { AuditInProgressError } from '../../src/errors';

const estate = generateEstate({ seed: 7, pools: 3000, subscriptions: 40, poolsPerCluster: 1.5 });
let local: LocalAzure;
let prefixCounter = 0;

function service(extra: Record<string, string> = {}, options: AppOptions = {}): App {
  prefixCounter += 1;
  return new App(
    loadConfig({ ...local.env, AUDIT_TABLE_PREFIX: `t${prefixCounter}audit`, ...extra }),
    options,
  );
}

/** What the pure evaluator says of the estate, with the latest images the emulator serves. */
function expectedPools(asOf: Date): PoolResult[] {
  const matrix = loadConfig(local.env).matrix;
  return estate.clusters
    .flatMap((row) => {
      const cluster = normalizeCluster(row);
      return cluster.pools.map((pool) => {
        const latest = pool.nodeImageVersion
          ? (estate.latestNodeImages[`${cluster.location}|${nodeImageFamily(pool.nodeImageVersion)}`] ??
            pool.nodeImageVersion)
          : undefined;
        return evaluatePool(
          cluster,
          pool,
          { matrix, asOf, nodeImageMaxAgeInDays: 30 },
          latest ? { basis: 'upgradeProfile', latestNodeImageVersion: latest } : undefined,
        );
      });
    })
    .sort((a, b) => a.id.toLowerCase().localeCompare(b.id.toLowerCase()));
}

function withoutNames(pools: PoolResult[]): PoolResult[] {
  return pools.map(({ subscriptionName: _name, ...rest }) => rest);
}

function idsOf(report: Report): string[] {
  return report.pools.map((p) => p.id.toLowerCase());
}

beforeAll(async () => {
  local = await startLocalAzure(estate);
});

afterAll(async () => {
  await local?.stop();
});

beforeEach(() => {
  local.arm.faults.queue.length = 0;
  local.arm.faults.failingSubscriptions.clear();
});

it('runs on Node 22', () => {
  expect(process.version).toMatch(/^v22\./);
});

it('audits a 3,000-pool estate over several pages and subscriptions, stores it, and reports what the evaluator says', async () => {
  const svc = service();
  const graphBefore = local.arm.stats.graphRequests;
  const started = Date.now();
  const report = await svc.audit({ trigger: 'cli' });
  const elapsed = Date.now() - started;
  process.stdout.write(
    `3,000-pool audit end to end (Resource Graph, upgrade profiles, Azurite): ${elapsed} ms\n`,
  );

  expect(report.run.status).toBe('succeeded');
  expect(report.summary.pools).toBe(3000);
  expect(report.summary.subscriptions).toBe(40);
  expect(local.arm.stats.graphRequests - graphBefore).toBeGreaterThanOrEqual(3); // ≥2 cluster pages + names
  expect(new Set(idsOf(report)).size).toBe(3000);
  expect(withoutNames(report.pools)).toEqual(expectedPools(new Date(report.run.startedAt)));
  expect(report.clusters).toEqual(
    estate.clusters
      .map((row) => evaluateCluster(normalizeCluster(row)))
      .sort((a, b) => a.id.toLowerCase().localeCompare(b.id.toLowerCase())),
  );
  expect(report.pools.every((p) => p.subscriptionName)).toBe(true);
  for (const status of ['compliant', 'noncompliant', 'unknown'] as const) {
    expect(report.summary[status]).toBeGreaterThan(0);
  }

  const stored = await svc.getReport(report.run.id);
  expect(stored).toEqual(report);
});

it.each([
  ['with Retry-After', 'retryAfter'],
  ['bare, as Azure documents it', 'bare'],
] as const)(
  'survives a 429 (%s) in the middle of paging with the same result and no duplicate pools',
  async (_title, throttle) => {
    const svc = service();
    const baseline = await service({}, { store: false }).audit({ trigger: 'cli' });
    const throttledBefore = local.arm.stats.throttled;
    local.arm.faults.queue.push({ kind: 'graph', page: 2, status: 429, throttle });
    const report = await svc.audit({ trigger: 'cli' });
    expect(local.arm.stats.throttled - throttledBefore).toBe(1);
    expect(report.run.status).toBe('succeeded');
    expect(idsOf(report)).toEqual(idsOf(baseline));
    expect(new Set(idsOf(report)).size).toBe(report.pools.length);
    expect((await svc.getReport(report.run.id))?.pools.length).toBe(3000);
  },
);

it('marks the run partial when one subscription cannot be read, reports its pools unknown and keeps their good state', async () => {
  const subscriptions = estate.subscriptions.map((s) => s.subscriptionId);
  const svc = service({ AUDIT_SUBSCRIPTIONS: subscriptions.join(',') });
  const first = await svc.audit({ trigger: 'cli' });
  expect(first.run.status).toBe('succeeded');

  const failing = subscriptions[3]!;
  local.arm.faults.failingSubscriptions.add(failing);
  const second = await svc.audit({ trigger: 'cli' });

  expect(second.run.status).toBe('partial');
  expect(second.errors).toEqual([
    expect.objectContaining({ scope: `/subscriptions/${failing}`, code: 'AuthorizationFailed' }),
  ]);
  const ofFailing = (r: Report) => r.pools.filter((p) => p.subscriptionId === failing.toLowerCase());
  expect(ofFailing(second).length).toBe(ofFailing(first).length);
  expect(ofFailing(second).length).toBeGreaterThan(0);
  expect(
    ofFailing(second).every((p) => p.status === 'unknown' && p.findings[0]?.code === 'SCOPE_UNREADABLE'),
  ).toBe(true);
  const others = (r: Report) => r.pools.filter((p) => p.subscriptionId !== failing.toLowerCase());
  expect(others(second).map((p) => [p.id, p.status])).toEqual(others(first).map((p) => [p.id, p.status]));
  expect(second.summary.pools).toBe(3000);

  const states = [];
  for await (const state of svc.stores.poolStates.listPoolStates({ subscriptionId: failing }))
    states.push(state);
  expect(states.length).toBe(ofFailing(first).length);
  const firstStatus = new Map(ofFailing(first).map((p) => [p.id.toLowerCase(), p.status]));
  expect(
    states.every((s) => s.lastRunId === first.run.id && s.status === firstStatus.get(s.id.toLowerCase())),
  ).toBe(true);
});

it('runs one of two audits started together and refuses the other', async () => {
  const svc = service();
  const results = await Promise.allSettled([svc.audit({ trigger: 'cli' }), svc.audit({ trigger: 'http' })]);
  const fulfilled = results.filter((r) => r.status === 'fulfilled');
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  expect(fulfilled).toHaveLength(1);
  expect(rejected).toHaveLength(1);
  expect(rejected[0]!.reason).toBeInstanceOf(AuditInProgressError);
  // The lease is released afterwards: the next audit runs.
  await expect(svc.audit({ trigger: 'cli' })).resolves.toMatchObject({
    run: { status: 'succeeded' },
  });
});
