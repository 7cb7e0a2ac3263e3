// An exemption through real audits: exempt while it holds, noncompliant on the first run after it lapses.

import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';

import { generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { diffRuns } from '../../src/core/diffRuns';
import type { PoolResult } from '../../src/core/types';
import { exemptionHandler } from '../../src/handlers/exemptionsHandler';
import { renderEmailDigest } from '../../src/render/emailDigest';

const estate = generateEstate({ seed: 11, pools: 80, subscriptions: 2 });
const HOUR = 3_600_000;
let local: LocalAzure;

beforeAll(async () => {
  local = await startLocalAzure(estate);
});

afterAll(async () => {
  await local?.stop();
});

async function put(
  service: App,
  now: Date,
  id: string,
  body: Record<string, unknown>,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const handler = exemptionHandler({ ...service.exemptionsDependencies(), now: () => now });
  const request = new HttpRequest({
    method: 'PUT',
    url: `http://localhost/api/exemptions/${id}`,
    params: { id },
    headers: { 'content-type': 'application/json' },
    body: { string: JSON.stringify(body) },
  });
  const response = (await handler(
    request,
    new InvocationContext({ functionName: 'exemption' }),
  )) as HttpResponseInit;
  return {
    status: response.status ?? 200,
    json: JSON.parse(response.body as string) as Record<string, unknown>,
  };
}

const byId = (pools: PoolResult[], id: string) => pools.find((p) => p.id.toLowerCase() === id.toLowerCase());

it('shows a pool exempt while its exemption holds and noncompliant on the first run after it lapses', async () => {
  const service = new App(loadConfig({ ...local.env, AUDIT_TABLE_PREFIX: 'exaudit1' }));
  const t0 = new Date();
  const baseline = await new App(service.config, { store: false }).audit({ trigger: 'cli' });
  const target = baseline.pools.find(
    (p) => p.status === 'noncompliant' && p.findings.some((f) => f.code === 'FIPS_DISABLED'),
  );
  if (!target) throw new Error('the seeded estate has no pool with FIPS off');
  const expiresOn = new Date(t0.getTime() + 24 * HOUR);

  const created = await put(service, t0, 'fips-off-waiver', {
    scope: target.id.toUpperCase(),
    reason: 'Vendor image awaiting FIPS; pool is rebuilt when it ships',
    ticket: 'RISK-42',
    owner: 'platform-team@contoso.com',
    expiresOn: expiresOn.toISOString(),
  });
  expect(created.status).toBe(201);
  // No completed run was stored yet (the baseline was not stored), so the scope could not be checked.
  expect(created.json.warnings).toEqual([expect.stringContaining('No audit has completed yet')]);

  const during = await new App(service.config, { now: () => new Date(t0.getTime() + HOUR) }).audit({
    trigger: 'cli',
  });
  const exempt = byId(during.pools, target.id)!;
  expect(exempt.status).toBe('exempt');
  expect(exempt.exemption).toMatchObject({
    id: 'fips-off-waiver',
    owner: 'platform-team@contoso.com',
    ticket: 'RISK-42',
  });
  expect(exempt.findings.map((f) => f.code)).toContain('FIPS_DISABLED');
  expect(during.summary.exempt).toBe(1);
  expect(during.summary.noncompliant).toBe(baseline.summary.noncompliant - 1);
  // The stored report carries the same exemption.
  expect(byId((await service.getReport(during.run.id))!.pools, target.id)?.exemption?.id).toBe(
    'fips-off-waiver',
  );
  // That run's digest warns that the exemption expires within 14 days.
  const duringDiff = diffRuns(during, null);
  expect(duringDiff.expiringExemptions.map((n) => [n.pool.id, n.exemption.id])).toEqual([
    [target.id, 'fips-off-waiver'],
  ]);
  const warned = renderEmailDigest({ report: during, diff: duringDiff, reportBaseUrl: null });
  expect(warned.text).toContain('Exemptions expiring within 14 days');
  expect(warned.text).toContain('ticket RISK-42');

  // The next run starts exactly at expiresOn: the waiver no longer counts, with nobody touching it.
  const after = await new App(service.config, { now: () => expiresOn }).audit({ trigger: 'cli' });
  const lapsed = byId(after.pools, target.id)!;
  expect(lapsed.status).toBe('noncompliant');
  expect(lapsed.exemption).toBeNull();
  expect(after.summary.exempt).toBe(0);
  expect(after.summary.noncompliant).toBe(baseline.summary.noncompliant);

  // The next run's digest says the exemption lapsed and the pool counts again.
  const diff = diffRuns(after, during);
  expect(diff.lapsedExemptions.map((n) => [n.pool.id, n.pool.status, n.exemption.id])).toEqual([
    [target.id, 'noncompliant', 'fips-off-waiver'],
  ]);
  const digest = renderEmailDigest({ report: after, diff, reportBaseUrl: null });
  const section = digest.text.slice(digest.text.indexOf('Exemptions that lapsed'));
  expect(section).toContain(`${target.cluster} / ${target.pool}: ended`);
  expect(section).toContain('now noncompliant');
  expect(digest.html).toContain('Exemptions that lapsed');
  // The pool's own history records both transitions.
  const history = await service.stores.poolStates.getPoolHistory(target.id);
  expect(history.slice(0, 2).map((h) => h.status)).toEqual(['noncompliant', 'exempt']);
});

it('never hides an unknown pool behind a subscription-wide exemption in a real audit', async () => {
  const service = new App(loadConfig({ ...local.env, AUDIT_TABLE_PREFIX: 'exaudit2' }));
  const baseline = await new App(service.config, { store: false }).audit({ trigger: 'cli' });
  const unknown = baseline.pools.find((p) => p.status === 'unknown');
  if (!unknown) throw new Error('the seeded estate has no unknown pool');
  const now = new Date();
  const created = await put(service, now, 'whole-subscription', {
    scope: `/subscriptions/${unknown.subscriptionId}`,
    reason: 'Migration programme accepted for the whole subscription',
    owner: 'ciso@contoso.com',
    expiresOn: new Date(now.getTime() + 30 * 24 * HOUR).toISOString(),
  });
  expect(created.status).toBe(201);
  const report = await new App(service.config, { now: () => new Date(now.getTime() + HOUR) }).audit({
    trigger: 'cli',
  });
  const inSubscription = report.pools.filter((p) => p.subscriptionId === unknown.subscriptionId);
  expect(byId(report.pools, unknown.id)?.status).toBe('unknown');
  expect(inSubscription.filter((p) => p.status === 'unknown').every((p) => p.exemption === null)).toBe(true);
  // Every pool that was noncompliant in that subscription is exempt now; other subscriptions are untouched.
  const wasNoncompliant = baseline.pools.filter(
    (p) => p.subscriptionId === unknown.subscriptionId && p.status === 'noncompliant',
  );
  expect(wasNoncompliant.length).toBeGreaterThan(0);
  expect(wasNoncompliant.every((p) => byId(report.pools, p.id)?.status === 'exempt')).toBe(true);
  expect(
    report.pools.filter((p) => p.subscriptionId !== unknown.subscriptionId && p.status === 'exempt'),
  ).toHaveLength(0);
});
