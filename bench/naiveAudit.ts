// The baseline the benchmark compares against: what a script would do with the plain ARM SDKs, call by call.

import { ContainerServiceClient } from '@azure/arm-containerservice';
import { SubscriptionClient } from '@azure/arm-resources-subscriptions';
import type { TokenCredential } from '@azure/core-auth';

import { evaluatePool } from '../src/core/evaluatePool';
import type { FipsMatrix } from '../src/core/fipsMatrix';
import { normalizeCluster } from '../src/core/normalizeCluster';
import { summarizeRun } from '../src/core/summarizeRun';
import type { ImageFreshness, PoolResult, Summary } from '../src/core/types';

export interface NaiveAuditOptions {
  credential: TokenCredential;
  /** ARM endpoint, e.g. the emulator's `https://127.0.0.1:<port>`. */
  endpoint: string;
  /** Token scope, e.g. `https://management.azure.com/.default`. */
  scope: string;
  matrix: FipsMatrix;
  nodeImageMaxAgeInDays: number;
  /**
   * Upgrade-profile calls in flight at once. 1 (the default) is the plain script: `await` in a loop.
   * Higher values model a script that bothered with a worker pool; the list calls stay sequential.
   */
  concurrency?: number;
  now?: Date;
}

export interface NaiveAuditResult {
  summary: Summary;
  subscriptions: number;
  clusters: number;
  pools: number;
  /** Pools whose upgrade profile could not be read (gone, or an error): judged by build date instead. */
  profileFailures: number;
}

const RESOURCE_GROUP_IN_ID = /\/resourceGroups\/([^/]+)\//i;

/**
 * Lists subscriptions, then each subscription's managed clusters, then asks for every pool's upgrade
 * profile, and judges each pool with the same evaluator as the auditor. No Resource Graph, no grouping
 * of look-ups, no storage: the request count grows with the number of pools.
 */
export async function naiveAudit(options: NaiveAuditOptions): Promise<NaiveAuditResult> {
  const clientOptions = {
    endpoint: options.endpoint,
    credentials: { scopes: [options.scope] },
  };
  const asOf = options.now ?? new Date();
  const concurrency = options.concurrency ?? 1;
  const subscriptionClient = new SubscriptionClient(options.credential, clientOptions);
  const pools: PoolResult[] = [];
  let subscriptions = 0;
  let clusters = 0;
  let profileFailures = 0;
  const limit = limiter(concurrency);
  const inFlight: Promise<void>[] = [];

  for await (const subscription of subscriptionClient.subscriptions.list()) {
    if (!subscription.subscriptionId) continue;
    subscriptions += 1;
    const aks = new ContainerServiceClient(options.credential, subscription.subscriptionId, clientOptions);
    for await (const managedCluster of aks.managedClusters.list()) {
      clusters += 1;
      const cluster = normalizeCluster(managedCluster);
      const resourceGroup = RESOURCE_GROUP_IN_ID.exec(cluster.id)?.[1] ?? cluster.resourceGroup;
      for (const pool of cluster.pools) {
        const judge = async (): Promise<void> => {
          let freshness: ImageFreshness | undefined;
          try {
            const profile = await aks.agentPools.getUpgradeProfile(resourceGroup, cluster.name, pool.name);
            if (profile.latestNodeImageVersion) {
              freshness = { basis: 'upgradeProfile', latestNodeImageVersion: profile.latestNodeImageVersion };
            }
          } catch {
            profileFailures += 1;
          }
          if (!freshness && pool.nodeImageVersion) {
            freshness = { basis: 'buildDate', reason: 'the upgrade profile could not be read' };
          }
          // Only the verdict is kept, as a script printing a table would; the bench checks it against the auditor's.
          pools.push(
            evaluatePool(
              cluster,
              pool,
              { matrix: options.matrix, asOf, nodeImageMaxAgeInDays: options.nodeImageMaxAgeInDays },
              freshness,
            ),
          );
        };
        if (concurrency === 1) await judge();
        else inFlight.push(limit(judge));
      }
    }
  }
  await Promise.all(inFlight);
  return {
    summary: summarizeRun(pools, []),
    subscriptions,
    clusters,
    pools: pools.length,
    profileFailures,
  };
}

/** A function that runs tasks with at most `max` in flight, the rest waiting in order. */
function limiter(max: number): (task: () => Promise<void>) => Promise<void> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    active += 1;
    try {
      await task();
    } finally {
      active -= 1;
      waiting.shift()?.();
    }
  };
}
