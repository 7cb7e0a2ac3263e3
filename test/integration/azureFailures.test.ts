// The Azure adapters when Azure misbehaves: real credential chain and SDK clients against the switchable emulators.

import { ArmEmulator } from '../../emulators/armEmulator';
import { type Estate, generateEstate } from '../../emulators/estateGenerator';
import { ManagedIdentityEmulator } from '../../emulators/managedIdentityEmulator';
import { trustCertificate } from '../../emulators/tls';
import { SCOPE_UNREADABLE } from '../../src/azure/accessFailureMessages';
import {
  accessContextOf,
  createCredential,
  createLatestImageFetcher,
  createResourceGraphClient,
} from '../../src/azure/azureClients';
import { NodeImageLookup } from '../../src/azure/nodeImageLookup';
import { ResourceGraphSource, type SourceEvent } from '../../src/azure/resourceGraphSource';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../../src/azure/retryPolicy';
import { type Config, loadConfig } from '../../src/config';
import { normalizeCluster } from '../../src/core/normalizeCluster';
import { AzureAccessError } from '../../src/errors';
import { isolateIdentityEnv, useManagedIdentity } from '../support/identityEnv';

jest.setTimeout(60_000);

/** Short waits so retries and timeouts play out quickly; the policy's shape is the production one. */
const FAST_RETRY: RetryPolicy = {
  ...DEFAULT_RETRY_POLICY,
  maxAttempts: 3,
  baseDelayInMs: 10,
  maxDelayInMs: 40,
};
/** The request timeout of the hang tests; the others keep a generous one, so a loaded machine does not time them out. */
const SHORT_TIMEOUT_IN_MS = 400;
const TIMEOUT_IN_MS = 20_000;

let restoreEnv: () => void;
let identity: ManagedIdentityEmulator;
let arm: ArmEmulator;
let estate: Estate;

interface Outcome {
  events: SourceEvent[];
  error: unknown;
  logs: string[];
}

function configFor(settings: Record<string, string> = {}): Config {
  return loadConfig({ AZURE_CLOUD: 'AzureCloud', AUDIT_ARM_ENDPOINT: arm.endpoint, ...settings });
}

function sourceFor(
  config: Config,
  logs: string[],
  extra: { signal?: AbortSignal; timeoutInMs?: number } = {},
): ResourceGraphSource {
  return new ResourceGraphSource({
    client: createResourceGraphClient(config, createCredential(config), {
      timeoutInMs: extra.timeoutInMs ?? TIMEOUT_IN_MS,
    }),
    subscriptions: config.subscriptions,
    managementGroups: config.managementGroups,
    retry: FAST_RETRY,
    access: accessContextOf(config),
    log: (message) => logs.push(message),
    ...(extra.signal ? { signal: extra.signal } : {}),
  });
}

/** Reads every event of an audit's source, and the error it ends with, if any. */
async function readAll(
  settings: Record<string, string> = {},
  extra: { signal?: AbortSignal; timeoutInMs?: number } = {},
): Promise<Outcome> {
  const logs: string[] = [];
  const source = sourceFor(configFor(settings), logs, extra);
  const events: SourceEvent[] = [];
  let error: unknown;
  try {
    await source.readSubscriptionNames();
    for await (const event of source.readClusters()) events.push(event);
  } catch (e) {
    error = e;
  }
  return { events, error, logs };
}

const failuresOf = (events: SourceEvent[]) => events.filter((e) => e.kind === 'scopeFailed');
const clusterIdsOf = (events: SourceEvent[]): string[] =>
  events
    .flatMap((e) => (e.kind === 'clusters' ? e.rows : []))
    .map((row) => (row as { id: string }).id.toLowerCase())
    .sort();
const clustersOfSubscriptions = (subscriptions: string[]): string[] => {
  const wanted = new Set(subscriptions.map((s) => s.toLowerCase()));
  return estate.clusters
    .filter((c) => wanted.has(c.subscriptionId.toLowerCase()))
    .map((c) => c.id.toLowerCase())
    .sort();
};

function subscriptionsWithClusters(count: number): string[] {
  const withClusters = new Set(estate.clusters.map((c) => c.subscriptionId));
  const chosen = estate.subscriptions.map((s) => s.subscriptionId).filter((id) => withClusters.has(id));
  if (chosen.length < count) throw new Error('estate too small');
  return chosen.slice(0, count);
}

beforeAll(async () => {
  restoreEnv = isolateIdentityEnv();
  identity = await ManagedIdentityEmulator.start();
  useManagedIdentity(identity);
  estate = generateEstate({ seed: 11, pools: 120, subscriptions: 5, managementGroups: 2 });
  arm = await ArmEmulator.start({ estate, identity, audience: 'https://management.azure.com/', quota: null });
  trustCertificate(arm.certificatePem);
});

afterEach(() => arm.resetFaults());

afterAll(async () => {
  await arm?.close();
  await identity?.close();
  restoreEnv?.();
});

describe('a credential or token that does not work stops the source at once, with one message saying how to fix it', () => {
  it('ARM answering 401 InvalidAuthenticationToken to every call: AzureAccessError after one request, no retry', async () => {
    arm.faults.rejectAllTokens = true;
    const before = arm.stats.requestsByEndpoint.graph;
    const { events, error } = await readAll({ AUDIT_SUBSCRIPTIONS: subscriptionsWithClusters(3).join(',') });

    expect(events).toEqual([]);
    expect(error).toBeInstanceOf(AzureAccessError);
    const access = error as AzureAccessError;
    expect(access.kind).toBe('authenticationFailed');
    expect(access.code).toBe('InvalidAuthenticationToken');
    expect(access.message).toContain(
      `${arm.endpoint} refused the access token (401 InvalidAuthenticationToken`,
    );
    expect(access.message).toContain('`az login`');
    expect(access.message).toContain('AZURE_CLOUD');
    expect(access.message).toContain('Reader role');
    expect(arm.stats.requestsByEndpoint.graph - before).toBe(1);
  });

  it('an upgrade profile look-up answered 401 rejects the whole look-up with AzureAccessError', async () => {
    const config = configFor();
    const lookup = new NodeImageLookup(
      createLatestImageFetcher(config, createCredential(config), { timeoutInMs: TIMEOUT_IN_MS }),
      { retry: FAST_RETRY, access: accessContextOf(config) },
    );
    arm.faults.rejectAllTokens = true;
    const before = arm.stats.requestsByEndpoint.upgradeProfile;
    const clusters = estate.clusters.map(normalizeCluster);
    await expect(
      lookup.prepare(clusters.flatMap((cluster) => cluster.pools.map((pool) => ({ cluster, pool })))),
    ).rejects.toMatchObject({ name: 'AzureAccessError', kind: 'authenticationFailed' });
    // Each look-up in flight asked once; none was retried.
    expect(arm.stats.requestsByEndpoint.upgradeProfile - before).toBeLessThanOrEqual(8);
  });
});

describe('authorization: a 403 is the scope’s failure, named with the role it needs, and never retried', () => {
  it('403 on every scope: each configured subscription fails with AuthorizationFailed, after one request each', async () => {
    const subscriptions = subscriptionsWithClusters(3);
    arm.faults.forbidAll = true;
    const before = arm.stats.requestsByEndpoint.graph;
    const { events, error } = await readAll({ AUDIT_SUBSCRIPTIONS: subscriptions.join(',') });

    expect(error).toBeUndefined();
    expect(clusterIdsOf(events)).toEqual([]);
    expect(failuresOf(events)).toEqual(
      subscriptions.map((id) => ({
        kind: 'scopeFailed',
        scope: `/subscriptions/${id}`,
        code: 'AuthorizationFailed',
        message: expect.stringContaining(`--role Reader --scope /subscriptions/${id}`) as unknown,
      })),
    );
    // The batch, then each subscription on its own to find the culprit: no retries.
    expect(arm.stats.requestsByEndpoint.graph - before).toBe(1 + subscriptions.length);
  });

  it('403 on the tenant-wide query (no scope configured) is fatal: there is nothing else to read', async () => {
    arm.faults.forbidAll = true;
    const { error } = await readAll();
    expect(error).toBeInstanceOf(AzureAccessError);
    expect(error).toMatchObject({ kind: 'authorizationFailed', code: 'AuthorizationFailed', scope: '/' });
  });

  it('403 on one of three subscriptions: that one fails, the other two are read in full', async () => {
    const subscriptions = subscriptionsWithClusters(3);
    const refused = subscriptions[1]!;
    arm.faults.failingSubscriptions.add(refused);
    const { events, error } = await readAll({ AUDIT_SUBSCRIPTIONS: subscriptions.join(',') });

    expect(error).toBeUndefined();
    expect(failuresOf(events)).toEqual([
      expect.objectContaining({ scope: `/subscriptions/${refused}`, code: 'AuthorizationFailed' }),
    ]);
    expect(clusterIdsOf(events)).toEqual(clustersOfSubscriptions(subscriptions.filter((s) => s !== refused)));
  });

  it('upgrade profiles answering 403 while Resource Graph works: build dates, said once per subscription', async () => {
    arm.faults.forbidUpgradeProfiles = true;
    const config = configFor();
    const logs: string[] = [];
    const lookup = new NodeImageLookup(
      createLatestImageFetcher(config, createCredential(config), { timeoutInMs: TIMEOUT_IN_MS }),
      { retry: FAST_RETRY, access: accessContextOf(config) },
      (message) => logs.push(message),
    );
    const clusters = estate.clusters.map(normalizeCluster);
    const items = clusters.flatMap((cluster) => cluster.pools.map((pool) => ({ cluster, pool })));
    await lookup.prepare(items);

    const subscriptionsSeen = new Set(clusters.map((c) => c.subscriptionId));
    expect(lookup.stats.forbiddenSubscriptions).toBe(subscriptionsSeen.size);
    expect(logs.filter((l) => /cannot be read \(403 AuthorizationFailed/.test(l))).toHaveLength(
      subscriptionsSeen.size,
    );
    const freshness = items.map(({ cluster, pool }) => lookup.freshnessOf(cluster, pool));
    expect(freshness.every((f) => f === undefined || f.basis === 'buildDate')).toBe(true);
    expect(freshness.find((f) => f?.basis === 'buildDate')).toMatchObject({
      reason: expect.stringMatching(
        /may not read AKS upgrade profiles .*403 AuthorizationFailed.*Reader role/,
      ) as unknown,
    });
    // No 403 was retried: one request per look-up at most.
    expect(lookup.stats.requests).toBe(lookup.stats.failures);
  });
});

describe('coverage: Resource Graph leaves out what the identity may not read, so the audit checks it', () => {
  it('a configured subscription silently absent from resources and resourcecontainers fails with SCOPE_UNREADABLE', async () => {
    const subscriptions = subscriptionsWithClusters(3);
    const hidden = subscriptions[2]!;
    arm.faults.hiddenSubscriptions.add(hidden);
    const { events, error } = await readAll({ AUDIT_SUBSCRIPTIONS: subscriptions.join(',') });

    expect(error).toBeUndefined();
    expect(failuresOf(events)).toEqual([
      {
        kind: 'scopeFailed',
        scope: `/subscriptions/${hidden}`,
        code: SCOPE_UNREADABLE,
        message: expect.stringContaining(
          `Give the identity the Reader role on /subscriptions/${hidden}`,
        ) as unknown,
      },
    ]);
    expect(failuresOf(events)[0]?.message).toContain(`Subscription ${hidden} is in AUDIT_SUBSCRIPTIONS`);
    expect(clusterIdsOf(events)).toEqual(clustersOfSubscriptions(subscriptions.slice(0, 2)));
  });

  it('a management group with no readable subscription fails with SCOPE_UNREADABLE', async () => {
    const [group] = Object.keys(estate.managementGroups).filter((mg) => mg !== 'mg-fips-prod');
    arm.hideManagementGroup(group!);
    const { events, error } = await readAll({ AUDIT_MANAGEMENT_GROUPS: `mg-fips-prod,${group}` });

    expect(error).toBeUndefined();
    expect(failuresOf(events)).toEqual([
      expect.objectContaining({
        scope: `/providers/Microsoft.Management/managementGroups/${group}`,
        code: SCOPE_UNREADABLE,
        message: expect.stringContaining(`Management group ${group} gives no subscription`) as unknown,
      }),
    ]);
  });

  it('no scope configured and no subscription readable: AzureAccessError NoReadableSubscriptions, not an empty success', async () => {
    for (const s of estate.subscriptions) arm.faults.hiddenSubscriptions.add(s.subscriptionId);
    const { events, error } = await readAll();
    expect(clusterIdsOf(events)).toEqual([]);
    expect(error).toBeInstanceOf(AzureAccessError);
    expect(error).toMatchObject({
      kind: 'noReadableSubscriptions',
      code: 'NoReadableSubscriptions',
      scope: '/',
    });
    expect((error as Error).message).toContain('The identity can read no subscription in this tenant');
  });

  it('an empty but readable tenant is a genuine success with zero clusters', async () => {
    const empty = await ArmEmulator.start({
      estate: generateEstate({ seed: 3, pools: 0, subscriptions: 3 }),
      identity,
      audience: 'https://management.azure.com/',
      quota: null,
    });
    trustCertificate(empty.certificatePem);
    try {
      const logs: string[] = [];
      const config = loadConfig({ AZURE_CLOUD: 'AzureCloud', AUDIT_ARM_ENDPOINT: empty.endpoint });
      const source = sourceFor(config, logs);
      const coverage = await source.readCoverage();
      const events: SourceEvent[] = [];
      for await (const event of source.readClusters()) events.push(event);
      expect(coverage.subscriptions).toHaveLength(3);
      expect(coverage.failures).toEqual([]);
      expect(failuresOf(events)).toEqual([]);
      expect(clusterIdsOf(events)).toEqual([]);
    } finally {
      await empty.close();
    }
  });

  it('Resource Graph’s own truncation signal (subscription limit hit) stays a scope error', async () => {
    const wide = await ArmEmulator.start({
      estate: generateEstate({ seed: 5, pools: 20, subscriptions: 10_050 }),
      identity,
      audience: 'https://management.azure.com/',
      quota: null,
    });
    trustCertificate(wide.certificatePem);
    try {
      const logs: string[] = [];
      const config = loadConfig({ AZURE_CLOUD: 'AzureCloud', AUDIT_ARM_ENDPOINT: wide.endpoint });
      const events: SourceEvent[] = [];
      for await (const event of sourceFor(config, logs).readClusters()) events.push(event);
      expect(failuresOf(events)).toEqual([
        expect.objectContaining({ scope: '/', code: 'TenantSubscriptionLimitHit' }),
      ]);
    } finally {
      await wide.close();
    }
  });
});

describe('transient failures are retried within a bound, then fail their scope', () => {
  it('persistent 500s: three attempts, then each subscription of the batch fails with the last error', async () => {
    const subscriptions = subscriptionsWithClusters(3);
    arm.faults.graphStatus = 500;
    const before = arm.stats.requestsByEndpoint.graph;
    const { events, error, logs } = await readAll({ AUDIT_SUBSCRIPTIONS: subscriptions.join(',') });

    expect(error).toBeUndefined();
    expect(arm.stats.requestsByEndpoint.graph - before).toBe(FAST_RETRY.maxAttempts);
    expect(failuresOf(events).map((f) => [f.scope, f.code])).toEqual(
      subscriptions.map((id) => [`/subscriptions/${id}`, 'InternalServerError']),
    );
    expect(failuresOf(events)[0]?.message).toMatch(/failed 3 times in \d+ s \(last: 500 InternalServerError/);
    expect(logs.filter((l) => /: 500 InternalServerError; retry \d in \d+ ms/.test(l))).toHaveLength(2);
  });

  it('a hung Resource Graph call times out, is retried once, then fails its scope naming the call and the wait', async () => {
    const subscription = subscriptionsWithClusters(1)[0]!;
    arm.faults.hangGraph = true;
    const hungBefore = arm.stats.hung;
    const { events, error, logs } = await readAll(
      { AUDIT_SUBSCRIPTIONS: subscription },
      { timeoutInMs: SHORT_TIMEOUT_IN_MS },
    );

    expect(error).toBeUndefined();
    expect(arm.stats.hung - hungBefore).toBe(2);
    const [failure] = failuresOf(events);
    expect(failure).toMatchObject({ scope: `/subscriptions/${subscription}`, code: 'RequestTimeout' });
    const call = `POST ${arm.endpoint}/providers/Microsoft.ResourceGraph/resources did not answer within ${SHORT_TIMEOUT_IN_MS} ms`;
    expect(failure?.message).toContain(call);
    expect(logs.some((l) => l.includes('ETIMEDOUT') || l.includes(call))).toBe(true);
  });

  it('the caller’s AbortSignal ends a hung read at once, with an AbortError', async () => {
    arm.faults.hangGraph = true;
    const controller = new AbortController();
    const hungBefore = arm.stats.hung;
    const reading = readAll(
      { AUDIT_SUBSCRIPTIONS: subscriptionsWithClusters(1).join(',') },
      { signal: controller.signal, timeoutInMs: 60_000 },
    );
    while (arm.stats.hung === hungBefore) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    const { error } = await reading;
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(arm.stats.hung - hungBefore).toBe(1);
  });
});
