// No credential, or a token for the wrong audience: the real credential chain fails the source at once, no retries.
//
// MSAL caches managed identity tokens per process, resource and client ID, so no test here may leave a good
// token for https://management.azure.com behind for another: the refusing and missing identities obtain none,
// and the wrong-audience test uses a client ID of its own.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ArmEmulator } from '../../emulators/armEmulator';
import { generateEstate } from '../../emulators/estateGenerator';
import { ManagedIdentityEmulator } from '../../emulators/managedIdentityEmulator';
import { trustCertificate } from '../../emulators/tls';
import { accessContextOf, createCredential, createResourceGraphClient } from '../../src/azure/azureClients';
import { ResourceGraphSource } from '../../src/azure/resourceGraphSource';
import { loadConfig } from '../../src/config';
import { AzureAccessError } from '../../src/errors';
import { isolateIdentityEnv, useManagedIdentity } from '../support/identityEnv';

jest.setTimeout(60_000);

let restoreEnv: () => void;
let identity: ManagedIdentityEmulator;
let arm: ArmEmulator;
let emptyPath: string;
const estate = generateEstate({ seed: 21, pools: 30, subscriptions: 3 });
const subscriptions = estate.subscriptions.map((s) => s.subscriptionId);

/** Runs the audit's source the way the audit does (names, then clusters) and returns how it ended. */
async function failureOf(settings: Record<string, string>): Promise<unknown> {
  const config = loadConfig({
    AZURE_CLOUD: 'AzureCloud',
    AUDIT_ARM_ENDPOINT: arm.endpoint,
    AUDIT_SUBSCRIPTIONS: subscriptions.join(','),
    ...settings,
  });
  const source = new ResourceGraphSource({
    client: createResourceGraphClient(config, createCredential(config), { timeoutInMs: 5_000 }),
    subscriptions: config.subscriptions,
    managementGroups: config.managementGroups,
    access: accessContextOf(config),
  });
  try {
    await source.readSubscriptionNames();
    for await (const event of source.readClusters()) void event;
  } catch (error) {
    return error;
  }
  throw new Error('the source read without a usable credential');
}

const occurrences = (text: string, part: string) => text.split(part).length - 1;

beforeAll(async () => {
  restoreEnv = isolateIdentityEnv();
  identity = await ManagedIdentityEmulator.start();
  arm = await ArmEmulator.start({ estate, identity, audience: 'https://management.azure.com/', quota: null });
  trustCertificate(arm.certificatePem);
  emptyPath = mkdtempSync(join(tmpdir(), 'no-tools-'));
});

afterEach(() => {
  identity.mode = 'issue';
  for (const name of ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'AZURE_TOKEN_CREDENTIALS', 'AZURE_CLIENT_ID']) {
    delete process.env[name];
  }
});

afterAll(async () => {
  await arm?.close();
  await identity?.close();
  restoreEnv?.();
  rmSync(emptyPath, { recursive: true, force: true });
});

it('a managed identity endpoint that refuses: credentialUnavailable before any ARM request, said once, with the fix', async () => {
  useManagedIdentity(identity);
  identity.mode = 'refuse';
  const graphBefore = arm.stats.requestsByEndpoint.graph;
  const error = await failureOf({});

  expect(error).toBeInstanceOf(AzureAccessError);
  const access = error as AzureAccessError;
  expect(access.kind).toBe('credentialUnavailable');
  expect(access.scope).toBe(`/subscriptions/{${subscriptions.length} subscriptions}`);
  expect(access.message).toMatch(/^No Azure credential is available, so the audit read nothing\./);
  // What the real chain reports of App Service's refusal (MSAL reads its 400 body as a token without expiry).
  expect(access.message).toContain('a credential was answered without a usable token');
  expect(occurrences(access.message, 'Response had no "expiresOn" property.')).toBe(1);
  for (const hint of [
    '`az login`',
    'AZURE_CLIENT_ID',
    'AZURE_CLOUD=AzureUSGovernment',
    'Reader role on /subscriptions/',
  ]) {
    expect(access.message).toContain(hint);
  }
  expect(arm.stats.requestsByEndpoint.graph).toBe(graphBefore);
  expect(identity.refused).toBeGreaterThanOrEqual(1);
});

it('no IDENTITY_ENDPOINT at all, the chain pinned to the developer tools and none installed: credentialUnavailable', async () => {
  // Nothing of this chain leaves the machine: no managed identity, and az, azd and pwsh are not on the PATH.
  process.env.AZURE_TOKEN_CREDENTIALS = 'dev';
  process.env.PATH = emptyPath;
  const graphBefore = arm.stats.requestsByEndpoint.graph;
  const error = await failureOf({});

  expect(error).toBeInstanceOf(AzureAccessError);
  const access = error as AzureAccessError;
  expect(access.kind).toBe('credentialUnavailable');
  expect(access.message).toContain('(1) ');
  expect(occurrences(access.message, 'Azure CLI could not be found')).toBe(1);
  expect(access.message).not.toContain('ChainedTokenCredential');
  expect(access.message).toContain('`az login`');
  expect(arm.stats.requestsByEndpoint.graph).toBe(graphBefore);
});

it('a token for the wrong audience: ARM answers 401 InvalidAuthenticationTokenAudience and the source fails at once', async () => {
  useManagedIdentity(identity);
  identity.mode = 'wrongAudience';
  const graphBefore = arm.stats.requestsByEndpoint.graph;
  // A user-assigned identity of its own, so MSAL's token cache holds nothing for it yet.
  const error = await failureOf({ AZURE_CLIENT_ID: '00000000-0000-4000-8000-00000000a0d1' });

  expect(error).toBeInstanceOf(AzureAccessError);
  const access = error as AzureAccessError;
  expect(access.kind).toBe('authenticationFailed');
  expect(access.code).toBe('InvalidAuthenticationTokenAudience');
  expect(access.message).toContain('the token was issued for another audience');
  expect(access.message).toContain('AZURE_CLOUD (now AzureCloud)');
  expect(access.message).toContain('https://management.usgovcloudapi.net/');
  expect(arm.stats.requestsByEndpoint.graph - graphBefore).toBe(1);
});
