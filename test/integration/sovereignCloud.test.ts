// Azure Government: the app asks the identity endpoint for the Government ARM audience, not the public one.

import { generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { App } from '../../src/app';
import { loadConfig } from '../../src/config';

let local: LocalAzure;

beforeAll(async () => {
  local = await startLocalAzure(generateEstate({ seed: 3, pools: 40, subscriptions: 2 }), {
    audience: 'https://management.usgovcloudapi.net/',
  });
});

afterAll(async () => {
  await local?.stop();
});

it('audits with Government-cloud tokens when AZURE_CLOUD is AzureUSGovernment', async () => {
  const service = new App(loadConfig({ ...local.env, AZURE_CLOUD: 'AzureUSGovernment' }), { store: false });
  const report = await service.audit({ trigger: 'cli' });
  expect(report.run.status).toBe('succeeded');
  expect(report.run.cloud).toBe('AzureUSGovernment');
  expect(report.summary.pools).toBe(40);
  const resources = local.identity.requests.map((r) => r.resource);
  expect(resources.length).toBeGreaterThan(0);
  expect(resources.every((r) => r.startsWith('https://management.usgovcloudapi.net'))).toBe(true);
  expect(local.arm.stats.unauthorized).toBe(0);
});

it('is refused by a Government ARM when it asks for public-cloud tokens: the run fails at once, pointing at AZURE_CLOUD', async () => {
  const service = new App(loadConfig({ ...local.env, AZURE_CLOUD: 'AzureCloud' }), { store: false });
  const unauthorizedBefore = local.arm.stats.unauthorized;
  const report = await service.audit({ trigger: 'cli' });
  // A refused token is not retried and fails the run: never a partial run that looks like a pass.
  expect(report.run.status).toBe('failed');
  expect(report.errors[0]).toMatchObject({
    code: 'InvalidAuthenticationTokenAudience',
    message: expect.stringContaining('AZURE_CLOUD (now AzureCloud)') as unknown,
  });
  expect(report.summary.compliant).toBe(0);
  expect(local.arm.stats.unauthorized - unauthorizedBefore).toBe(1);
});
