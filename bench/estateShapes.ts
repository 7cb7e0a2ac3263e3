// The estate shapes the benchmark audits: today's even-ish estate and the lumpy ones real tenants have.

import { type Estate, generateEstate } from '../emulators/estateGenerator';

export const SHAPE_NAMES = ['today', 'pairs', 'skewed', 'bigclusters', 'fewsubs'] as const;
export type ShapeName = (typeof SHAPE_NAMES)[number];

/** AKS allows 5,000 managed clusters per subscription ("AKS quotas, SKUs and region availability"). */
export const AKS_MAX_CLUSTERS_PER_SUBSCRIPTION = 5000;

export interface EstateShape {
  name: ShapeName;
  description: string;
  poolsPerCluster: number;
  /** Subscriptions at `pools` pools. */
  subscriptions(pools: number): number;
  /** Clusters in the first subscription at `pools` pools, when the shape has one outsized subscription. */
  largestSubscriptionClusters?(pools: number): number;
  spread: 'skewed' | 'even';
}

export const ESTATE_SHAPES: Record<ShapeName, EstateShape> = {
  today: {
    name: 'today',
    description:
      'clusters of about 4 pools, one subscription per 50 pools, drawn towards a few heavy subscriptions',
    poolsPerCluster: 4,
    subscriptions: (pools) => Math.max(1, Math.round(pools / 50)),
    spread: 'skewed',
  },
  pairs: {
    name: 'pairs',
    description: 'clusters of 2 pools spread evenly over one subscription per 250 pools (401 at 100,000)',
    poolsPerCluster: 2,
    subscriptions: (pools) => Math.max(2, Math.round(pools / 250) + 1),
    spread: 'even',
  },
  skewed: {
    name: 'skewed',
    description:
      'clusters of 2 pools; one subscription at a tenth of the clusters (the AKS maximum of 5,000 at 100,000 pools), the rest even over the others',
    poolsPerCluster: 2,
    subscriptions: (pools) => Math.max(2, Math.round(pools / 250) + 1),
    largestSubscriptionClusters: (pools) =>
      Math.min(AKS_MAX_CLUSTERS_PER_SUBSCRIPTION, Math.round(pools / 2 / 10)),
    spread: 'even',
  },
  bigclusters: {
    name: 'bigclusters',
    description: 'clusters of 100 pools (the AKS maximum per cluster), one subscription per 2,500 pools',
    poolsPerCluster: 100,
    subscriptions: (pools) => Math.max(1, Math.round(pools / 2500)),
    spread: 'even',
  },
  fewsubs: {
    name: 'fewsubs',
    description: 'clusters of about 4 pools in only 10 subscriptions',
    poolsPerCluster: 4,
    subscriptions: () => 10,
    spread: 'even',
  },
};

/** The estate of `shape` at `pools` pools (seeded: the same every time). */
export function shapeEstate(shape: EstateShape, pools: number, seed: number): Estate {
  const largest = shape.largestSubscriptionClusters?.(pools);
  return generateEstate({
    seed,
    pools,
    subscriptions: shape.subscriptions(pools),
    poolsPerCluster: shape.poolsPerCluster,
    spread: shape.spread,
    ...(largest !== undefined ? { largestSubscriptionClusters: largest } : {}),
  });
}
