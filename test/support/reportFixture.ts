// Reports built purely (estate generator → normalizeCluster → evaluatePool → summarizeRun) for render unit tests.

import { generateEstate } from '../../emulators/estateGenerator';
import type { FramedReport } from '../../src/cli/framedReport';
import { evaluateCluster, evaluatePool } from '../../src/core/evaluatePool';
import { builtInMatrix } from '../../src/core/fipsMatrix';
import { matrixRefOf } from '../../src/core/matrixSources';
import { normalizeCluster } from '../../src/core/normalizeCluster';
import { framesOf } from '../../src/core/pagePools';
import { summarizeRun } from '../../src/core/summarizeRun';
import type { PoolResult, Report } from '../../src/core/types';

export const FIXTURE_RUN_ID = '20261129T060000Z-3f9a1c';

/** A report of a seeded estate, judged as of 2026-11-29, with subscription names; pools sorted like the store's. */
export function fixtureReport(opts: { seed?: number; pools?: number; hostileNames?: boolean } = {}): Report {
  const estate = generateEstate({
    seed: opts.seed ?? 11,
    pools: opts.pools ?? 240,
    subscriptions: 5,
    hostileNames: opts.hostileNames ?? true,
  });
  const asOf = new Date('2026-11-29T06:00:00Z');
  const names = new Map(estate.subscriptions.map((s) => [s.subscriptionId, s.name]));
  const clusters = estate.clusters.map(normalizeCluster);
  const pools = clusters
    .flatMap((cluster) =>
      cluster.pools.map((pool) => {
        const result = evaluatePool(cluster, pool, {
          matrix: builtInMatrix,
          asOf,
          nodeImageMaxAgeInDays: 30,
        });
        const name = names.get(cluster.subscriptionId);
        if (name !== undefined) result.subscriptionName = name;
        return result;
      }),
    )
    .sort((a, b) => a.id.toLowerCase().localeCompare(b.id.toLowerCase()));
  const clusterResults = clusters.map(evaluateCluster);
  return {
    schemaVersion: 1,
    run: {
      id: FIXTURE_RUN_ID,
      trigger: 'timer',
      status: 'succeeded',
      startedAt: '2026-11-29T06:00:00.000Z',
      finishedAt: '2026-11-29T06:01:10.000Z',
      cloud: 'AzureCloud',
      matrix: matrixRefOf(builtInMatrix),
    },
    summary: summarizeRun(pools, clusterResults),
    pools,
    clusters: clusterResults,
    errors: [],
  };
}

/** A hand-written pool with the given overrides, for the cases the generator never produces. */
export function handPool(overrides: Partial<PoolResult>): PoolResult {
  const sub = overrides.subscriptionId ?? '00000000-0000-0000-0000-00000000000a';
  const rg = overrides.resourceGroup ?? 'rg-hand';
  const cluster = overrides.cluster ?? 'aks-hand';
  const pool = overrides.pool ?? 'pool1';
  return {
    id: `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.ContainerService/managedClusters/${cluster}/agentPools/${pool}`,
    subscriptionId: sub,
    subscriptionName: 'hand-written',
    resourceGroup: rg,
    cluster,
    pool,
    location: 'eastus',
    osType: 'Linux',
    osSku: 'Ubuntu',
    kubernetesVersion: '1.33.2',
    nodeImageVersion: 'AKSUbuntu-2204gen2fipscontainerd-202511.20.0',
    enableFips: true,
    status: 'compliant',
    findings: [],
    exemption: null,
    ...overrides,
  };
}

/** A report in memory as the frames a stored snapshot gives, `frameSize` pools a frame. */
export function framedFixture(report: Report, frameSize = 1000): FramedReport {
  const { pools, clusters, ...head } = report;
  return {
    head,
    frames: framesOf(pools, frameSize),
    clusters: () => Promise.resolve(clusters),
    whole: () => Promise.resolve(report),
  };
}
