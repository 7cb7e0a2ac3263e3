// Drives the ARM and managed identity emulators with the real Azure SDK clients, and checks the estate generator.

import http from 'node:http';
import https from 'node:https';

import { ContainerServiceClient } from '@azure/arm-containerservice';
import type { QueryRequest, QueryResponse } from '@azure/arm-resourcegraph';
import { isRestError, ResourceGraphClient } from '@azure/arm-resourcegraph';
import type { TokenCredential } from '@azure/identity';
import { DefaultAzureCredential } from '@azure/identity';

import { ArmEmulator } from '../../emulators/armEmulator';
import type { ClusterRow, Estate } from '../../emulators/estateGenerator';
import {
  compareNodeImageVersions,
  generateEstate,
  HOSTILE_SUBSCRIPTION_NAME,
  HOSTILE_TAG_VALUE,
  imageFamilyOf,
  toAzAksListExport,
  toGraphQueryExport,
} from '../../emulators/estateGenerator';
import { ManagedIdentityEmulator } from '../../emulators/managedIdentityEmulator';
import { trustCertificate } from '../../emulators/tls';
import { isolateIdentityEnv, useManagedIdentity } from '../support/identityEnv';

const PUBLIC_SCOPE = 'https://management.azure.com/.default';
const GOV_SCOPE = 'https://management.usgovcloudapi.net/.default';
const CLUSTER_QUERY =
  "resources | where type =~ 'microsoft.containerservice/managedclusters' | project id, name, type, subscriptionId, resourceGroup, location, tags, properties";
const SUBSCRIPTION_QUERY =
  "resourcecontainers | where type =~ 'microsoft.resources/subscriptions' | project subscriptionId, name";

// The project-level testTimeout in jest.config.js is not applied (jest reads it globally only): set it here.
jest.setTimeout(60_000);

let restoreEnv: () => void = () => undefined;
let identity: ManagedIdentityEmulator;
let arm: ArmEmulator;
let estate: Estate;
let credential: TokenCredential;
const extraEmulators: ArmEmulator[] = [];

async function startArm(opts: Partial<Parameters<typeof ArmEmulator.start>[0]> = {}): Promise<ArmEmulator> {
  const emulator = await ArmEmulator.start({
    estate,
    identity,
    audience: 'https://management.azure.com/',
    ...opts,
  });
  trustCertificate(emulator.certificatePem);
  extraEmulators.push(emulator);
  return emulator;
}

function graphClient(endpoint: string, scopes: string[] | undefined = [PUBLIC_SCOPE]): ResourceGraphClient {
  return new ResourceGraphClient(credential, {
    endpoint,
    ...(scopes ? { credentials: { scopes } } : {}),
    retryOptions: { retryDelayInMs: 20, maxRetryDelayInMs: 100 },
  });
}

async function pageAll(
  client: ResourceGraphClient,
  request: QueryRequest,
): Promise<{ rows: ClusterRow[]; pages: QueryResponse[] }> {
  const rows: ClusterRow[] = [];
  const pages: QueryResponse[] = [];
  let skipToken: string | undefined;
  do {
    const page = await client.resources({ ...request, options: { ...request.options, skipToken } });
    pages.push(page);
    rows.push(...(page.data as ClusterRow[]));
    skipToken = page.skipToken;
  } while (skipToken);
  return { rows, pages };
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

function rawRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

beforeAll(async () => {
  restoreEnv = isolateIdentityEnv();
  identity = await ManagedIdentityEmulator.start();
  useManagedIdentity(identity);
  // MSAL caches managed identity tokens per process and resource, so one identity emulator serves the whole file.
  credential = new DefaultAzureCredential();
  estate = generateEstate({ seed: 42, pools: 2500 });
  arm = await ArmEmulator.start({
    estate,
    identity,
    audience: 'https://management.azure.com/',
    quota: { queries: 1000, windowInMs: 5000 },
  });
  trustCertificate(arm.certificatePem);
});

afterAll(async () => {
  await Promise.all([arm?.close(), ...extraEmulators.map((e) => e.close()), identity?.close()]);
  restoreEnv();
});

describe('Resource Graph through the real ResourceGraphClient', () => {
  test('pages through every cluster of a 2,500-pool estate with skip tokens, without duplicates', async () => {
    const client = graphClient(arm.endpoint);
    const quotaRemaining: (string | undefined)[] = [];
    const rows: ClusterRow[] = [];
    let skipToken: string | undefined;
    let pages = 0;
    do {
      const page = await client.resources(
        { query: CLUSTER_QUERY, options: { top: 200, skipToken } },
        { onResponse: (raw) => quotaRemaining.push(raw.headers.get('x-ms-user-quota-remaining')) },
      );
      pages++;
      expect(page.totalRecords).toBe(estate.clusters.length);
      expect(page.count).toBe((page.data as ClusterRow[]).length);
      expect(page.resultTruncated).toBe('false');
      rows.push(...(page.data as ClusterRow[]));
      skipToken = page.skipToken;
    } while (skipToken);

    expect(pages).toBe(Math.ceil(estate.clusters.length / 200));
    expect(rows).toHaveLength(estate.clusters.length);
    expect(new Set(rows.map((r) => r.id)).size).toBe(estate.clusters.length);
    expect(quotaRemaining.every((v) => v !== undefined && /^\d+$/.test(v))).toBe(true);
    const first = rows[0];
    expect(first?.type).toBe('microsoft.containerservice/managedclusters');
    expect(first?.resourceGroup).toBe(first?.resourceGroup.toLowerCase());
    expect(first?.properties.agentPoolProfiles.length).toBeGreaterThan(0);
  });

  test('the client retries a 429 that carries Retry-After in the middle of paging', async () => {
    const client = graphClient(arm.endpoint);
    const throttledBefore = arm.stats.throttled;
    arm.faults.queue.push({
      kind: 'graph',
      page: 2,
      status: 429,
      throttle: 'retryAfter',
      retryAfterInSeconds: 1,
    });
    const startedAtInMs = Date.now();
    const { rows, pages } = await pageAll(client, { query: CLUSTER_QUERY, options: { top: 250 } });
    const elapsedInMs = Date.now() - startedAtInMs;

    expect(arm.stats.throttled).toBe(throttledBefore + 1);
    expect(arm.faults.queue).toHaveLength(0);
    expect(pages).toHaveLength(Math.ceil(estate.clusters.length / 250));
    expect(new Set(rows.map((r) => r.id)).size).toBe(estate.clusters.length);
    expect(elapsedInMs).toBeGreaterThanOrEqual(900);
  });

  test('a bare 429 over the quota surfaces as a RestError with status 429 and readable quota headers', async () => {
    const throttling = await startArm(); // default quota: 15 queries per 5 s, no Retry-After
    const client = graphClient(throttling.endpoint);
    const remaining: string[] = [];
    for (let i = 0; i < 15; i++) {
      await client.resources(
        { query: CLUSTER_QUERY, options: { top: 1 } },
        { onResponse: (raw) => remaining.push(raw.headers.get('x-ms-user-quota-remaining') ?? '') },
      );
    }
    expect(remaining).toEqual(Array.from({ length: 15 }, (_, i) => String(14 - i)));

    const err = await caught(client.resources({ query: CLUSTER_QUERY, options: { top: 1 } }));
    expect(isRestError(err)).toBe(true);
    if (!isRestError(err)) return;
    expect(err.statusCode).toBe(429);
    expect(err.code).toBe('RateLimiting');
    expect(err.response?.headers.get('x-ms-user-quota-remaining')).toBe('0');
    expect(err.response?.headers.get('x-ms-user-quota-resets-after')).toMatch(/^00:00:0[0-5]$/);
    expect(err.response?.headers.get('retry-after')).toBeUndefined();
    // Not retried by the pipeline: 15 answered + 1 throttled.
    expect(throttling.stats.graphRequests).toBe(16);
    expect(throttling.stats.throttled).toBe(1);
  });

  test('a subscription the identity cannot read gives 403 AuthorizationFailed, or is left out with allowPartialScopes', async () => {
    const client = graphClient(arm.endpoint);
    const [good, bad] = estate.subscriptions;
    if (!good || !bad) throw new Error('estate too small');
    arm.faults.failingSubscriptions.add(bad.subscriptionId);
    try {
      const err = await caught(
        client.resources({ query: CLUSTER_QUERY, subscriptions: [good.subscriptionId, bad.subscriptionId] }),
      );
      expect(isRestError(err) && err.statusCode).toBe(403);
      expect(isRestError(err) && err.code).toBe('AuthorizationFailed');
      expect(isRestError(err) && err.message).toContain(bad.subscriptionId);

      const partial = await client.resources({
        query: CLUSTER_QUERY,
        subscriptions: [good.subscriptionId, bad.subscriptionId],
        options: { allowPartialScopes: true },
      });
      const expected = estate.clusters.filter((c) => c.subscriptionId === good.subscriptionId);
      expect(partial.totalRecords).toBe(expected.length);
      expect((partial.data as ClusterRow[]).every((r) => r.subscriptionId === good.subscriptionId)).toBe(
        true,
      );
    } finally {
      arm.faults.failingSubscriptions.clear();
    }
  });

  test('management group scope answers its subscriptions only; an unknown group is 403', async () => {
    const client = graphClient(arm.endpoint);
    const members = new Set(estate.managementGroups['mg-fips-prod']);
    expect(members.size).toBeGreaterThan(0);
    const { rows } = await pageAll(client, { query: CLUSTER_QUERY, managementGroups: ['mg-fips-prod'] });
    expect(rows.length).toBe(estate.clusters.filter((c) => members.has(c.subscriptionId)).length);
    expect(rows.every((r) => members.has(r.subscriptionId))).toBe(true);

    const err = await caught(client.resources({ query: CLUSTER_QUERY, managementGroups: ['mg-nope'] }));
    expect(isRestError(err) && err.statusCode).toBe(403);
  });

  test('the subscription-name query returns subscriptionId and name rows (hostile names verbatim)', async () => {
    const hostileEstate = generateEstate({ seed: 7, pools: 120, hostileNames: true });
    const emulator = await startArm({ estate: hostileEstate });
    const page = await graphClient(emulator.endpoint).resources({ query: SUBSCRIPTION_QUERY });
    expect(page.data).toEqual(
      hostileEstate.subscriptions.map((s) => ({ subscriptionId: s.subscriptionId, name: s.name })),
    );
    expect(page.skipToken).toBeUndefined();
  });

  test('a skip token replayed with another query is 400, an unknown query kind is 400 InvalidQuery', async () => {
    const client = graphClient(arm.endpoint);
    const first = await client.resources({ query: CLUSTER_QUERY, options: { top: 10 } });
    expect(first.skipToken).toBeDefined();
    const replay = await caught(
      client.resources({
        query: `${CLUSTER_QUERY} | order by id asc`,
        options: { skipToken: first.skipToken },
      }),
    );
    expect(isRestError(replay) && replay.statusCode).toBe(400);

    const unknown = await caught(
      client.resources({ query: 'resources | where type =~ "microsoft.web/sites"' }),
    );
    expect(isRestError(unknown) && unknown.statusCode).toBe(400);
    expect(
      isRestError(unknown) &&
        (unknown.details as { error?: { details?: { code: string }[] } }).error?.details?.[0]?.code,
    ).toBe('InvalidQuery');
  });

  test('no skip token without an id column: the page is marked truncated instead', async () => {
    const page = await graphClient(arm.endpoint).resources({
      query:
        "resources | where type =~ 'microsoft.containerservice/managedclusters' | project name, properties",
      options: { top: 5 },
    });
    expect(page.skipToken).toBeUndefined();
    expect(page.resultTruncated).toBe('true');
    expect(page.count).toBe(5);
  });
});

describe('ARM emulator details', () => {
  test('a tenant-wide query stops at 10,000 subscriptions and says so in x-ms-tenant-subscription-limit-hit', async () => {
    const wide = generateEstate({ seed: 5, pools: 200, subscriptions: 10_050 });
    const emulator = await startArm({ estate: wide, quota: null });
    let limitHit: string | undefined;
    const page = await graphClient(emulator.endpoint).resources(
      { query: SUBSCRIPTION_QUERY, options: { top: 10 } },
      { onResponse: (raw) => (limitHit = raw.headers.get('x-ms-tenant-subscription-limit-hit')) },
    );
    expect(limitHit).toBe('true');
    expect(page.totalRecords).toBe(10_000);
    expect(emulator.requestLog.at(-1)).toEqual({
      method: 'POST',
      path: '/providers/Microsoft.ResourceGraph/resources',
      status: 200,
      subscriptions: 10_000,
    });
  });

  test('$skip is honoured, latency is added, and bad bodies are 400', async () => {
    const slow = await startArm({ quota: null, latencyInMs: 100 });
    const client = graphClient(slow.endpoint);
    const startedAtInMs = Date.now();
    const page = await client.resources({ query: CLUSTER_QUERY, options: { top: 3, skip: 5 } });
    expect(Date.now() - startedAtInMs).toBeGreaterThanOrEqual(90);
    expect((page.data as ClusterRow[]).map((r) => r.id)).toEqual(
      (await pageAll(client, { query: CLUSTER_QUERY })).rows.slice(5, 8).map((r) => r.id),
    );
    const tooBig = await caught(client.resources({ query: CLUSTER_QUERY, options: { top: 5000 } }));
    expect(isRestError(tooBig) && tooBig.statusCode).toBe(400);

    const token = await credential.getToken(PUBLIC_SCOPE);
    const notJson = await rawRequest(
      `${slow.endpoint}/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${token?.token ?? ''}`, 'content-type': 'application/json' },
        body: '{not json',
      },
    );
    expect(notJson.status).toBe(400);
    expect((JSON.parse(notJson.body) as { error: { code: string } }).error.code).toBe('BadRequest');
  });
});

describe('managed identity and audiences', () => {
  test('public cloud: the client asks the identity endpoint for https://management.azure.com', () => {
    expect(identity.requests.map((r) => r.resource)).toContain('https://management.azure.com');
    expect(identity.requests.every((r) => r.clientId === null)).toBe(true);
  });

  test('Government cloud: the scope usgovcloudapi .default is what the identity endpoint is asked for', async () => {
    const gov = await startArm({ audience: 'https://management.usgovcloudapi.net/' });
    const ok = await graphClient(gov.endpoint, [GOV_SCOPE]).resources({
      query: CLUSTER_QUERY,
      options: { top: 1 },
    });
    expect(ok.count).toBe(1);
    expect(identity.requests.map((r) => r.resource)).toContain('https://management.usgovcloudapi.net');

    // Without the explicit scope the modular client asks for the public cloud's audience, and ARM refuses it.
    const err = await caught(graphClient(gov.endpoint, undefined).resources({ query: CLUSTER_QUERY }));
    expect(isRestError(err) && err.statusCode).toBe(401);
    expect(isRestError(err) && err.code).toBe('InvalidAuthenticationTokenAudience');
  });

  test('ARM answers 401 without a bearer token, and the identity endpoint 401 for a wrong secret header', async () => {
    const noToken = await rawRequest(
      `${arm.endpoint}/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: CLUSTER_QUERY }),
      },
    );
    expect(noToken.status).toBe(401);
    expect((JSON.parse(noToken.body) as { error: { code: string } }).error.code).toBe('AuthenticationFailed');

    const wrongHeader = await rawRequest(
      `${identity.endpoint}?api-version=2019-08-01&resource=${encodeURIComponent('https://management.azure.com/')}`,
      { headers: { 'X-IDENTITY-HEADER': 'not-the-secret' } },
    );
    expect(wrongHeader.status).toBe(401);
  });
});

describe('AKS upgrade profiles through the real ContainerServiceClient', () => {
  function aksClient(subscriptionId: string): ContainerServiceClient {
    return new ContainerServiceClient(credential, subscriptionId, {
      endpoint: arm.endpoint,
      credentials: { scopes: [PUBLIC_SCOPE] },
      retryOptions: { retryDelayInMs: 20, maxRetryDelayInMs: 100 },
    });
  }

  test('getUpgradeProfile returns the latest node image of the pool’s location and image family', async () => {
    const cluster = estate.clusters[3] as ClusterRow;
    const pool = cluster.properties.agentPoolProfiles[0];
    if (!pool) throw new Error('cluster without pools');
    // Resource Graph gives the resource group lowercased: ARM matches paths case-insensitively.
    const profile = await aksClient(cluster.subscriptionId).agentPools.getUpgradeProfile(
      cluster.resourceGroup,
      cluster.name,
      pool.name,
    );
    const expected =
      estate.latestNodeImages[`${cluster.location}|${imageFamilyOf(pool.nodeImageVersion)}`] ??
      pool.nodeImageVersion;
    expect(profile.latestNodeImageVersion).toBe(expected);
    expect(profile.osType).toBe(pool.osType);
    expect(profile.name).toBe('default');
  });

  test('getUpgradeProfile for a pool that is gone is a 404 RestError; a one-shot 503 is retried', async () => {
    const cluster = estate.clusters[0] as ClusterRow;
    const err = await caught(
      aksClient(cluster.subscriptionId).agentPools.getUpgradeProfile(
        cluster.resourceGroup,
        cluster.name,
        'gone',
      ),
    );
    expect(isRestError(err) && err.statusCode).toBe(404);
    expect(isRestError(err) && err.code).toBe('NotFound');

    const pool = cluster.properties.agentPoolProfiles[0];
    if (!pool) throw new Error('cluster without pools');
    const before = arm.stats.upgradeProfileRequests;
    arm.faults.queue.push({ kind: 'upgradeProfile', status: 503 });
    const profile = await aksClient(cluster.subscriptionId).agentPools.getUpgradeProfile(
      cluster.resourceGroup,
      cluster.name,
      pool.name,
    );
    expect(profile.latestNodeImageVersion).toBeDefined();
    expect(arm.stats.upgradeProfileRequests).toBe(before + 2);
  });
});

describe('estate generator', () => {
  const REQUIRED_OS_SKUS = [
    'Ubuntu',
    'Ubuntu2204',
    'Ubuntu2404',
    'Ubuntu2604',
    'AzureLinux',
    'AzureLinux3',
    'CBLMariner',
    'Mariner',
    'AzureLinuxOSGuard',
    'AzureContainerLinux',
    'Flatcar',
    'Windows2019',
    'Windows2022',
    'Windows2025',
    'WindowsAnnual',
    'FooOS',
  ];

  test('the same seed gives the same estate; another seed a different one', () => {
    expect(generateEstate({ seed: 9, pools: 300 })).toEqual(generateEstate({ seed: 9, pools: 300 }));
    expect(generateEstate({ seed: 10, pools: 300 })).not.toEqual(generateEstate({ seed: 9, pools: 300 }));
  });

  test.each([1, 37, 2500, 10_001])('hits the pool count exactly (%i pools)', (pools) => {
    const generated = generateEstate({ seed: pools, pools });
    const count = generated.clusters.reduce((n, c) => n + c.properties.agentPoolProfiles.length, 0);
    expect(count).toBe(pools);
    expect(generated.subscriptions).toHaveLength(Math.max(1, Math.round(pools / 50)));
    for (const c of generated.clusters) {
      expect(c.properties.agentPoolProfiles.length).toBeGreaterThanOrEqual(1);
      expect(c.properties.agentPoolProfiles.length).toBeLessThanOrEqual(7);
    }
  });

  test('covers every osSKU and FIPS trap of the matrix', () => {
    const pools = estate.clusters.flatMap((c) => c.properties.agentPoolProfiles);
    const skus = new Set(pools.map((p) => p.osSKU));
    for (const sku of REQUIRED_OS_SKUS) expect(skus).toContain(sku);
    const has = (predicate: (p: (typeof pools)[number]) => boolean): boolean => pools.some(predicate);
    expect(has((p) => p.osType === 'Linux' && p.osSKU === undefined)).toBe(true);
    expect(has((p) => p.osType === 'Windows' && p.osSKU === undefined)).toBe(true);
    expect(has((p) => p.osSKU === 'Windows2022' && !('enableFIPS' in p))).toBe(true);
    expect(has((p) => p.enableFIPS === true)).toBe(true);
    expect(has((p) => p.enableFIPS === false)).toBe(true);
    expect(has((p) => !('enableFIPS' in p))).toBe(true);
    expect(
      has((p) => p.osType === 'Linux' && p.enableFIPS === true && !/fips/i.test(p.nodeImageVersion)),
    ).toBe(true);
    expect(has((p) => p.osSKU === 'AzureLinux3' && /ps_v5$/.test(p.vmSize))).toBe(true);
    expect(has((p) => p.vmSize === 'Standard_DC4as_v5' || /^Standard_[DE]C\d+as_v5$/.test(p.vmSize))).toBe(
      true,
    );
    expect(has((p) => p.workloadRuntime === 'KataVmIsolation')).toBe(true);
    expect(has((p) => p.securityProfile?.enableSecureBoot === true && p.securityProfile.enableVTPM)).toBe(
      true,
    );
    for (const minor of [18, 26, 30, 33, 35, 36]) {
      expect(
        has((p) => (p.currentOrchestratorVersion ?? p.orchestratorVersion).startsWith(`1.${minor}`)),
      ).toBe(true);
    }
    for (const [sku, minor] of [
      ['Ubuntu', 26],
      ['Ubuntu', 30],
      ['Ubuntu', 33],
      ['Ubuntu', 35],
      ['AzureLinux', 30],
      ['AzureLinux', 33],
    ] as const) {
      expect(has((p) => p.osSKU === sku && p.orchestratorVersion.startsWith(`1.${minor}`))).toBe(true);
    }
    expect(estate.clusters.some((c) => c.properties.nodeProvisioningProfile?.mode === 'Auto')).toBe(true);
    expect(new Set(estate.clusters.map((c) => c.location)).size).toBeGreaterThan(3);
    for (const c of estate.clusters) {
      const rgInId = /\/resourceGroups\/([^/]+)\//.exec(c.id)?.[1] ?? '';
      expect(c.resourceGroup).toBe(rgInId.toLowerCase());
      expect(c.subscriptionId).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    }
    expect(
      estate.clusters.some((c) => /[A-Z]/.test(/\/resourceGroups\/([^/]+)\//.exec(c.id)?.[1] ?? '')),
    ).toBe(true);
  });

  test('latest node images are at or newer than every pool’s, per location and family', () => {
    for (const c of estate.clusters) {
      for (const p of c.properties.agentPoolProfiles) {
        const latest = estate.latestNodeImages[`${c.location}|${imageFamilyOf(p.nodeImageVersion)}`];
        expect(latest).toBeDefined();
        expect(compareNodeImageVersions(latest ?? '', p.nodeImageVersion)).toBeGreaterThanOrEqual(0);
      }
    }
    expect(imageFamilyOf('AKSWindows-2022-containerd-20348.2966.250101')).toBe('AKSWindows-2022-containerd');
    expect(imageFamilyOf('AKSUbuntu-2204gen2fipscontainerd-202511.20.0')).toBe(
      'AKSUbuntu-2204gen2fipscontainerd',
    );
  });

  test('hostile names and the CLI export shapes', () => {
    const hostile = generateEstate({ seed: 3, pools: 60, hostileNames: true });
    expect(hostile.subscriptions.map((s) => s.name)).toContain(HOSTILE_SUBSCRIPTION_NAME);
    expect(hostile.clusters.some((c) => Object.values(c.tags).includes(HOSTILE_TAG_VALUE))).toBe(true);

    const cli = toAzAksListExport(hostile) as Record<string, unknown>[];
    const first = cli[0] as {
      resourceGroup: string;
      id: string;
      agentPoolProfiles: Record<string, unknown>[];
    };
    expect(first.id).toContain(`/resourceGroups/${first.resourceGroup}/`);
    expect(first.agentPoolProfiles[0]).toHaveProperty('enableFips');
    expect(first.agentPoolProfiles[0]).toHaveProperty('osSku');
    expect(first.agentPoolProfiles[0]).not.toHaveProperty('enableFIPS');
    expect(first).not.toHaveProperty('properties');

    const graph = toGraphQueryExport(hostile);
    expect(graph.count).toBe(hostile.clusters.length);
    expect(graph.total_records).toBe(hostile.clusters.length);
    expect(graph.skip_token).toBeNull();
  });

  // How long it takes is the benchmark's business (npm run bench), never a timed assertion here.
  test('a 100,000-pool estate has exactly the pools and subscriptions asked for', () => {
    const big = generateEstate({ seed: 1, pools: 100_000 });
    expect(big.clusters.reduce((n, c) => n + c.properties.agentPoolProfiles.length, 0)).toBe(100_000);
    expect(big.subscriptions).toHaveLength(2000);
  });
});
