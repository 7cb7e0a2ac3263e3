// Learns the latest node image per (location, image family) from AKS upgrade profiles, once per key.

import { nodeImageFamily } from '../core/nodeImage';
import type { ClusterRecord, ImageFreshness, PoolRecord } from '../core/types';
import { describeError } from '../errors';
import { backoffDelayInMs, DEFAULT_RETRY_POLICY, type RetryPolicy, serverDelayInMs } from './retryPolicy';

/** Asks ARM for a pool's upgrade profile; resolves null when the pool is gone (404). */
export type LatestImageFetcher = (
  subscriptionId: string,
  resourceGroup: string,
  cluster: string,
  pool: string,
) => Promise<string | null>;

/** Look-ups in flight at once: ARM allows far more, but the audit is no hurry and shares the quota. */
export const IMAGE_LOOKUP_CONCURRENCY = 8;
/** Pools of one key tried before the key falls back to build dates (pools vanish between reads). */
const CANDIDATES_PER_KEY = 3;

export interface NodeImageLookupStats {
  requests: number;
  keys: number;
  failures: number;
}

interface Candidate {
  cluster: ClusterRecord;
  pool: PoolRecord;
}

export interface FreshnessSource {
  /** Makes sure every pool of the page has its key looked up (or a fallback recorded). */
  prepare(items: Candidate[]): Promise<void>;
  freshnessOf(cluster: ClusterRecord, pool: PoolRecord): ImageFreshness | undefined;
}

/** For audits of an export, where ARM cannot be asked: every pool is judged by its image build date. */
export function buildDateOnly(reason: string): FreshnessSource {
  return {
    prepare: () => Promise.resolve(),
    freshnessOf: (_cluster, pool) => (pool.nodeImageVersion ? { basis: 'buildDate', reason } : undefined),
  };
}

function keyOf(cluster: ClusterRecord, pool: PoolRecord): string | null {
  if (!pool.nodeImageVersion) return null;
  return `${cluster.location.toLowerCase()}|${nodeImageFamily(pool.nodeImageVersion).toLowerCase()}`;
}

export class NodeImageLookup implements FreshnessSource {
  readonly stats: NodeImageLookupStats = { requests: 0, keys: 0, failures: 0 };
  private readonly results = new Map<string, ImageFreshness>();
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly fetchLatest: LatestImageFetcher,
    options: { retry?: RetryPolicy; sleep?: (ms: number) => Promise<void>; concurrency?: number } = {},
    private readonly log: (message: string) => void = () => undefined,
  ) {
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.concurrency = options.concurrency ?? IMAGE_LOOKUP_CONCURRENCY;
  }

  private readonly concurrency: number;

  /**
   * Every pool with an image gets its key looked up, not only those flagged FIPS: whether FIPS is
   * on is the evaluator's call (Windows 2022 and OS Guard are FIPS without the flag), and keys are
   * few (locations × image families), so the extra requests are a handful.
   */
  async prepare(items: Candidate[]): Promise<void> {
    const pending = new Map<string, Candidate[]>();
    for (const item of items) {
      const key = keyOf(item.cluster, item.pool);
      if (!key || this.results.has(key)) continue;
      const list = pending.get(key) ?? [];
      if (list.length < CANDIDATES_PER_KEY) list.push(item);
      pending.set(key, list);
    }
    const queue = [...pending.entries()];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [key, candidates] = next;
        this.results.set(key, await this.lookUp(candidates));
        this.stats.keys += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, queue.length) }, worker));
  }

  freshnessOf(cluster: ClusterRecord, pool: PoolRecord): ImageFreshness | undefined {
    const key = keyOf(cluster, pool);
    if (!key) return undefined;
    return this.results.get(key) ?? { basis: 'buildDate', reason: 'the pool was not looked up' };
  }

  private async lookUp(candidates: Candidate[]): Promise<ImageFreshness> {
    let lastError = 'every pool of this image family had gone when it was looked up';
    for (const { cluster, pool } of candidates) {
      try {
        const latest = await this.fetchWithRetry(cluster, pool);
        if (latest) return { basis: 'upgradeProfile', latestNodeImageVersion: latest };
      } catch (error) {
        this.stats.failures += 1;
        lastError = `the upgrade profile look-up failed: ${describeError(error)}`;
        this.log(`Upgrade profile of ${pool.id} could not be read: ${describeError(error)}`);
      }
    }
    return { basis: 'buildDate', reason: lastError };
  }

  private async fetchWithRetry(cluster: ClusterRecord, pool: PoolRecord): Promise<string | null> {
    for (let attempt = 1; ; attempt += 1) {
      this.stats.requests += 1;
      try {
        return await this.fetchLatest(cluster.subscriptionId, cluster.resourceGroup, cluster.name, pool.name);
      } catch (error) {
        const e = error as {
          statusCode?: number;
          response?: { headers?: { get?: (n: string) => string | undefined } };
        };
        const status = e.statusCode;
        if (status === 404) return null;
        const transient = status === undefined || this.retry.retryableStatuses.has(status);
        if (!transient || attempt >= this.retry.maxAttempts) throw error;
        const headers = e.response?.headers;
        const serverDelay =
          headers && typeof headers.get === 'function'
            ? serverDelayInMs({ get: (n) => headers.get?.(n) }, new Date())
            : null;
        await this.sleep(Math.max(serverDelay ?? 0, backoffDelayInMs(this.retry, attempt)));
      }
    }
  }
}
