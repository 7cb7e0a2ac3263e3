// Counts a run's pools by status, with the percentage and the breakdowns, for the report summary.

import { BreakdownCounter } from './breakdownCounter';
import { emptySummary } from './emptySummary';
import type { ClusterResult, PoolResult, Summary } from './types';

export function summarizeRun(pools: readonly PoolResult[], clusters: readonly ClusterResult[]): Summary {
  const summary: Summary = { ...emptySummary(), clusters: clusters.length, pools: pools.length };
  const subscriptions = new Set<string>();
  for (const pool of pools) {
    subscriptions.add(pool.subscriptionId.toLowerCase());
    summary[pool.status] += 1;
  }
  for (const cluster of clusters) {
    const match = /^\/subscriptions\/([^/]+)/i.exec(cluster.id);
    if (match) subscriptions.add(match[1]!.toLowerCase());
  }
  summary.subscriptions = subscriptions.size;
  const breakdown = new BreakdownCounter();
  breakdown.addPools(pools);
  breakdown.addClusters(clusters);
  return breakdown.complete(summary);
}
