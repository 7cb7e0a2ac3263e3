// Learns the latest node image per (location, image family) from AKS upgrade profiles, once per key.

import { nodeImageFamily } from '../core/nodeImage';
import type { ClusterRecord, ImageFreshness, PoolRecord } from '../core/types';
import { AzureAccessError, describeError, ensureError } from '../errors';
import { type AccessContext, accessErrorOf } from './accessFailureMessages';
import { classifyAzureError } from './classifyAzureError';
import {
  abortErrorOf,
  backoffDelayInMs,
  DEFAULT_RETRY_POLICY,
  headerReader,
  type RetryPolicy,
  serverDelayInMs,
  shouldRetry,
  sleepInMs,
} from './retryPolicy';

/** Asks ARM for a pool's upgrade profile; resolves null when the pool is gone (404). */
export type LatestImageFetcher = (
  subscriptionId: string,
  resourceGroup: string,
  cluster: string,
  pool: string,
  options?: { abortSignal?: AbortSignal },
) => Promise<string | null>;

/** Look-ups in flight at once: ARM allows far more, but the audit is no hurry and shares the quota. */
export const IMAGE_LOOKUP_CONCURRENCY = 8;
/** Pools of one key tried before the key falls back to build dates (pools vanish between reads). */
const CANDIDATES_PER_KEY = 3;

export interface NodeImageLookupStats {
  requests: number;
  keys: number;
  failures: number;
  /** Subscriptions whose upgrade profiles answered 403: their pools are judged by image build date. */
  forbiddenSubscriptions: number;
}

export interface NodeImageLookupOptions {
  retry?: RetryPolicy;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  concurrency?: number;
  /** Cancels every look-up and wait (the run's deadline or shutdown). */
  signal?: AbortSignal;
  /** For the fix-it message when ARM refuses the token. */
  access?: AccessContext;
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
  readonly stats: NodeImageLookupStats = { requests: 0, keys: 0, failures: 0, forbiddenSubscriptions: 0 };
  private readonly results = new Map<string, ImageFreshness>();
  /** Lowercase subscription ID → why its upgrade profiles cannot be read (a 403), asked no more this run. */
  private readonly forbidden = new Map<string, string>();
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly concurrency: number;

  constructor(
    private readonly fetchLatest: LatestImageFetcher,
    private readonly options: NodeImageLookupOptions = {},
    private readonly log: (message: string) => void = () => undefined,
  ) {
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.sleep = options.sleep ?? sleepInMs;
    this.concurrency = options.concurrency ?? IMAGE_LOOKUP_CONCURRENCY;
  }

  /**
   * Every pool with an image gets its key looked up, not only those flagged FIPS: whether FIPS is
   * on is the evaluator's call (Windows 2022 and OS Guard are FIPS without the flag), and keys are
   * few (locations × image families), so the extra requests are a handful.
   *
   * Rejects with AzureAccessError when ARM refuses the token (401): no look-up will work, and the run must say
   * so rather than judge every image by its build date. The look-ups still in flight are aborted first.
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
    const stop = new AbortController();
    const parent = this.options.signal;
    const onParentAbort = (): void => stop.abort(parent?.reason);
    if (parent?.aborted) stop.abort(parent.reason);
    parent?.addEventListener('abort', onParentAbort, { once: true });
    let fatal: Error | undefined;
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next && !stop.signal.aborted; next = queue.shift()) {
        const [key, candidates] = next;
        try {
          this.results.set(key, await this.lookUp(candidates, stop.signal));
          this.stats.keys += 1;
        } catch (error) {
          fatal ??= ensureError(error);
          stop.abort(error);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.concurrency, queue.length) }, worker));
    } finally {
      parent?.removeEventListener('abort', onParentAbort);
    }
    if (fatal !== undefined) throw fatal;
    if (parent?.aborted) throw abortErrorOf(parent);
  }

  freshnessOf(cluster: ClusterRecord, pool: PoolRecord): ImageFreshness | undefined {
    const key = keyOf(cluster, pool);
    if (!key) return undefined;
    return this.results.get(key) ?? { basis: 'buildDate', reason: 'the pool was not looked up' };
  }

  private async lookUp(candidates: Candidate[], signal: AbortSignal): Promise<ImageFreshness> {
    let lastError = 'every pool of this image family had gone when it was looked up';
    for (const { cluster, pool } of candidates) {
      const subscription = cluster.subscriptionId.toLowerCase();
      const denied = this.forbidden.get(subscription);
      if (denied) {
        lastError = denied;
        continue;
      }
      try {
        const latest = await this.fetchWithRetry(cluster, pool, signal);
        if (latest) return { basis: 'upgradeProfile', latestNodeImageVersion: latest };
      } catch (error) {
        if (error instanceof AzureAccessError || classifyAzureError(error).kind === 'aborted') throw error;
        this.stats.failures += 1;
        const failure = classifyAzureError(error);
        if (failure.kind === 'authorizationFailed') {
          // Reader covers upgrade profiles; a 403 here means a custom role or a deny assignment. Said once.
          lastError = `the auditor identity may not read AKS upgrade profiles in subscription ${subscription} (${failure.status ?? 403} ${failure.code}); give it the Reader role on /subscriptions/${subscription}`;
          if (!this.forbidden.has(subscription)) {
            this.forbidden.set(subscription, lastError);
            this.stats.forbiddenSubscriptions += 1;
            this.log(
              `Upgrade profiles of subscription ${subscription} cannot be read (${failure.status ?? 403} ${failure.code}: ${failure.message}); its node images are judged by build date. Give the auditor identity the Reader role on /subscriptions/${subscription}.`,
            );
          }
          continue;
        }
        lastError = `the upgrade profile look-up failed: ${describeError(error)}`;
        this.log(`Upgrade profile of ${pool.id} could not be read: ${describeError(error)}`);
      }
    }
    return { basis: 'buildDate', reason: lastError };
  }

  private async fetchWithRetry(
    cluster: ClusterRecord,
    pool: PoolRecord,
    signal: AbortSignal,
  ): Promise<string | null> {
    let timedOut = 0;
    for (let attempt = 1; ; attempt += 1) {
      this.stats.requests += 1;
      try {
        return await this.fetchLatest(
          cluster.subscriptionId,
          cluster.resourceGroup,
          cluster.name,
          pool.name,
          {
            abortSignal: signal,
          },
        );
      } catch (error) {
        const failure = classifyAzureError(error);
        if (failure.kind === 'notFound') return null;
        if (failure.fatal) {
          const scope = `/subscriptions/${cluster.subscriptionId}`;
          throw accessErrorOf(failure, this.options.access, scope, [scope]);
        }
        if (failure.kind === 'timeout') timedOut += 1;
        if (!shouldRetry(this.retry, failure, attempt, timedOut)) throw error;
        const headers = headerReader((error as { response?: { headers?: unknown } }).response?.headers);
        const serverDelay = serverDelayInMs(headers, new Date());
        await this.sleep(Math.max(serverDelay ?? 0, backoffDelayInMs(this.retry, attempt)), signal);
      }
    }
  }
}
