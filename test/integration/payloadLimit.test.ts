// Resource Graph's 16 MiB response limit: the projection keeps pages small, and $top halves when it is not enough.

import { ArmEmulator, RESPONSE_LIMIT_IN_BYTES } from '../../emulators/armEmulator';
import {
  type ClusterRow,
  type Estate,
  generateEstate,
  withHeavyPools,
} from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { parseGraphQuery, projectRow } from '../../emulators/resourceGraphQuery';
import { trustCertificate } from '../../emulators/tls';
import { App } from '../../src/app';
import { accessContextOf, createCredential, createResourceGraphClient } from '../../src/azure/azureClients';
import { CLUSTERS_QUERY } from '../../src/azure/resourceGraphQueries';
import { ResourceGraphSource, type SourceEvent } from '../../src/azure/resourceGraphSource';
import { loadConfig } from '../../src/config';
import { evaluateCluster, evaluatePool } from '../../src/core/evaluatePool';
import { nodeImageFamily } from '../../src/core/nodeImage';
import { normalizeCluster } from '../../src/core/normalizeCluster';
import type { PoolResult } from '../../src/core/types';
import { isolateIdentityEnv } from '../support/identityEnv';

jest.setTimeout(300_000);

const byId = (a: { id: string }, b: { id: string }) => a.id.toLowerCase().localeCompare(b.id.toLowerCase());
const projected = parseGraphQuery(CLUSTERS_QUERY);
/** A row's size in the answer, as the audit's projection shapes it. */
const rowBytes = (row: ClusterRow) =>
  Buffer.byteLength(JSON.stringify(projectRow(projected, row as unknown as Record<string, unknown>)));

// 10,000 pools with about 2 KB of labels, taints and tags each; a fifth of the user pools are VirtualMachines pools.
const estate = withHeavyPools(
  generateEstate({ seed: 1313, pools: 10_000, poolsPerCluster: 100, subscriptions: 10 }),
  { seed: 1313, bytesPerPool: 2048, virtualMachinesShare: 0.2 },
);
let local: LocalAzure;
let restoreEnv: () => void;

beforeAll(async () => {
  restoreEnv = isolateIdentityEnv();
  local = await startLocalAzure(estate);
});

afterAll(async () => {
  await local?.stop();
  restoreEnv?.();
});

describe('an estate of 100 clusters of 100 heavy pools, audited through Resource Graph', () => {
  it('is what the issue describes: 100-pool clusters over 200 KB a row, and an estate over the limit in one page', () => {
    expect(estate.clusters).toHaveLength(100);
    expect(estate.clusters.every((c) => c.properties.agentPoolProfiles.length === 100)).toBe(true);
    expect(Math.min(...estate.clusters.map(rowBytes))).toBeGreaterThan(200_000);
    expect(estate.clusters.reduce((sum, c) => sum + rowBytes(c), 0)).toBeGreaterThan(RESPONSE_LIMIT_IN_BYTES);
    const pools = estate.clusters.flatMap((c) => c.properties.agentPoolProfiles);
    expect(pools.filter((p) => p.type === 'VirtualMachines').length).toBeGreaterThan(100);
    expect(
      pools.some(
        (p) =>
          p.type === 'VirtualMachines' && p.virtualMachinesProfile?.scale.manual?.[1]?.size.includes('ps_v'),
      ),
    ).toBe(true);
  });

  it('keeps every verdict of the estate it was made from (labels, taints and tags do not count; sizes move)', () => {
    const base = generateEstate({ seed: 1313, pools: 10_000, poolsPerCluster: 100, subscriptions: 10 });
    const matrix = loadConfig({}).matrix;
    const judge = (e: Estate) =>
      e.clusters.flatMap((row) => {
        const cluster = normalizeCluster(row);
        return cluster.pools.map((pool) => {
          const result = evaluatePool(cluster, pool, {
            matrix,
            asOf: new Date('2026-12-01T00:00:00Z'),
            nodeImageMaxAgeInDays: 30,
          });
          return [result.id, result.status, result.findings.map((f) => f.message)];
        });
      });
    expect(judge(estate)).toEqual(judge(base));
  });

  it('judges every pool exactly as the evaluator does, none lost or repeated, after halving $top', async () => {
    const logs: string[] = [];
    const service = new App(loadConfig({ ...local.env, AUDIT_TABLE_PREFIX: 'payload' }), {
      store: false,
      log: (m) => logs.push(m),
    });
    const matrix = service.config.matrix;
    const tooLargeBefore = local.arm.stats.tooLarge;
    const report = await service.audit({ trigger: 'cli' });

    expect(report.run.status).toBe('succeeded');
    expect(report.errors).toEqual([]);
    expect(report.summary.pools).toBe(10_000);
    expect(new Set(report.pools.map((p) => p.id.toLowerCase())).size).toBe(10_000);
    expect(local.arm.stats.tooLarge - tooLargeBefore).toBeGreaterThan(0);
    expect(
      logs.some((l) =>
        /too large \(Response payload size is \d+, and has exceeded the limit of 16777216\..*asking again with \$top=\d+/.test(
          l,
        ),
      ),
    ).toBe(true);

    const asOf = new Date(report.run.startedAt);
    const expected: PoolResult[] = estate.clusters
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
      .sort(byId);
    expect(report.pools.map(({ subscriptionName: _name, ...rest }) => rest)).toEqual(expected);
    expect(report.clusters).toEqual(
      estate.clusters.map((row) => evaluateCluster(normalizeCluster(row))).sort(byId),
    );
  });
});

describe('$top halving', () => {
  /** An estate whose last subscription's clusters are heavy, so a later page is too large where the first is not. */
  function mixedEstate(): Estate {
    const light = generateEstate({ seed: 77, pools: 240, subscriptions: 4, poolsPerCluster: 4 });
    const lastSubscription = light.subscriptions.at(-1)!.subscriptionId;
    const heavy = withHeavyPools(light, { seed: 77, bytesPerPool: 32_768 });
    return {
      ...light,
      clusters: light.clusters.map((c, i) =>
        c.subscriptionId === lastSubscription ? heavy.clusters[i]! : c,
      ),
    };
  }

  async function read(
    estate: Estate,
    limit: number,
    pageSize: number,
  ): Promise<{ events: SourceEvent[]; logs: string[]; source: ResourceGraphSource; arm: ArmEmulator }> {
    // The local identity emulator: MSAL keeps the token it issued for this process.
    const arm = await ArmEmulator.start({
      estate,
      identity: local.identity,
      audience: 'https://management.azure.com/',
      quota: null,
      responseLimitInBytes: limit,
    });
    trustCertificate(arm.certificatePem);
    try {
      const config = loadConfig({ AZURE_CLOUD: 'AzureCloud', AUDIT_ARM_ENDPOINT: arm.endpoint });
      const logs: string[] = [];
      const source = new ResourceGraphSource({
        client: createResourceGraphClient(config, createCredential(config)),
        subscriptions: null,
        managementGroups: null,
        pageSize,
        access: accessContextOf(config),
        log: (m) => logs.push(m),
      });
      const events: SourceEvent[] = [];
      for await (const event of source.readClusters()) events.push(event);
      return { events, logs, source, arm };
    } finally {
      await arm.close();
    }
  }

  const idsOf = (events: SourceEvent[]) =>
    events.flatMap((e) => (e.kind === 'clusters' ? e.rows : [])).map((r) => (r as { id: string }).id);

  it('asks a page again with the same skip token and half the rows until it fits, losing and repeating nothing', async () => {
    const estate = mixedEstate();
    const heaviest = Math.max(...estate.clusters.map(rowBytes));
    // Room for two of the heaviest rows and the envelope: a page of the heavy subscription must shrink to 2.
    const limit = 2 * heaviest + 2_000;
    const { events, logs, source, arm } = await read(estate, limit, 16);

    expect(events.filter((e) => e.kind === 'scopeFailed')).toEqual([]);
    const ids = idsOf(events);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(estate.clusters.map((c) => c.id).sort());
    expect(arm.stats.tooLarge).toBeGreaterThan(0);
    expect(source.stats.shrunkPages).toBe(arm.stats.tooLarge);
    // Halved from the page size, and never below the two heaviest rows the limit leaves room for.
    const asked = logs
      .filter((l) => l.includes('asking again with'))
      .map((l) => Number(/\$top=(\d+)$/.exec(l)?.[1]));
    expect(asked.length).toBeGreaterThan(0);
    asked.forEach((top, i) => expect(top).toBe(Math.floor((i === 0 ? 16 : asked[i - 1]!) / 2)));
    expect(Math.min(...asked)).toBeGreaterThanOrEqual(2);
  });

  it('a single row over the limit fails its scope with ResponsePayloadTooLarge after halving down to one', async () => {
    const estate = withHeavyPools(generateEstate({ seed: 78, pools: 40, subscriptions: 2 }), {
      seed: 78,
      bytesPerPool: 8_192,
    });
    // Below the lightest cluster row, far above a page of the subscription list.
    const limit = Math.floor(Math.min(...estate.clusters.map(rowBytes)) / 2);
    expect(limit).toBeGreaterThan(4_000);
    const { events, logs } = await read(estate, limit, 4);

    expect(idsOf(events)).toEqual([]);
    expect(events.filter((e) => e.kind === 'scopeFailed')).toEqual([
      expect.objectContaining({
        scope: '/',
        code: 'ResponsePayloadTooLarge',
        message: expect.stringMatching(
          /^Response payload size is \d+, and has exceeded the limit of \d+\. .*Even one cluster a page is over the limit for \/\.$/,
        ) as unknown,
      }),
    ]);
    expect(
      logs.filter((l) => l.includes('asking again with')).map((l) => /\$top=(\d+)$/.exec(l)?.[1]),
    ).toEqual(['2', '1']);
  });
});
