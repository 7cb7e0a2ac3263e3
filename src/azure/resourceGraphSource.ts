// Reads every managed cluster in the audited scopes from Resource Graph: batching, paging, pacing, retries.

import type { QueryRequest, QueryResponse, ResourceGraphClient } from '@azure/arm-resourcegraph';

import { describeError } from '../errors';
import { CLUSTERS_QUERY, SUBSCRIPTIONS_QUERY } from './resourceGraphQueries';
import {
  backoffDelayInMs,
  DEFAULT_RETRY_POLICY,
  type HeaderReader,
  parseTimeSpanInMs,
  type RetryPolicy,
  serverDelayInMs,
} from './retryPolicy';

/** Subscriptions per request: the service takes up to 1,000 but advises batches of a few hundred. */
export const SUBSCRIPTION_BATCH_SIZE = 300;
/** Resource Graph's largest page. */
export const PAGE_SIZE = 1000;
/** Queries left in the window that we leave for anything else using the same identity. */
const QUOTA_RESERVE = 1;

export type SourceEvent =
  | {
      kind: 'clusters';
      /** The audited scope the rows came from; null when each row's own subscription is its scope. */
      scope: string | null;
      rows: unknown[];
    }
  | { kind: 'scopeFailed'; scope: string; code: string; message: string };

export interface ResourceGraphSourceOptions {
  client: Pick<ResourceGraphClient, 'resources'>;
  subscriptions: string[] | null;
  managementGroups: string[] | null;
  batchSize?: number;
  pageSize?: number;
  retry?: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
  log?: (message: string) => void;
}

export interface ResourceGraphStats {
  requests: number;
  pages: number;
  rows: number;
  throttled: number;
  retries: number;
  pacedWaits: number;
  pacedWaitInMs: number;
}

interface QueryScope {
  /** The scope named in errors and on pools: `/`, `/subscriptions/{id}` or a management group path. */
  label: string;
  subscriptions?: string[];
  managementGroups?: string[];
  /** A batch of subscriptions is split into single subscriptions when it fails, to find the culprit. */
  perSubscription: boolean;
}

class ScopeReadError extends Error {
  override readonly name = 'ScopeReadError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface RestLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
  response?: { headers?: unknown };
  details?: { error?: { code?: string; message?: string } };
}

function headerReader(raw: unknown): HeaderReader | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const candidate = raw as { get?: unknown };
  if (typeof candidate.get === 'function') {
    const get = candidate.get as (name: string) => string | undefined;
    return { get: (name) => get.call(raw, name) };
  }
  const record = raw as Record<string, unknown>;
  return {
    get: (name) => {
      const key = Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase());
      const value = key === undefined ? undefined : record[key];
      return typeof value === 'string' ? value : undefined;
    },
  };
}

export const managementGroupScope = (id: string) => `/providers/Microsoft.Management/managementGroups/${id}`;

export class ResourceGraphSource {
  readonly stats: ResourceGraphStats = {
    requests: 0,
    pages: 0,
    rows: 0,
    throttled: 0,
    retries: 0,
    pacedWaits: 0,
    pacedWaitInMs: 0,
  };
  private quotaRemaining: number | null = null;
  private quotaResetsAt = 0;
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => Date;
  private readonly log: (message: string) => void;

  constructor(private readonly options: ResourceGraphSourceOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = options.now ?? (() => new Date());
    this.log = options.log ?? (() => undefined);
  }

  /** The scopes the audit asks for, in the order it asks. */
  plannedScopes(): QueryScope[] {
    const { subscriptions, managementGroups } = this.options;
    const batchSize = this.options.batchSize ?? SUBSCRIPTION_BATCH_SIZE;
    const scopes: QueryScope[] = [];
    if (subscriptions?.length) {
      for (let i = 0; i < subscriptions.length; i += batchSize) {
        const batch = subscriptions.slice(i, i + batchSize);
        scopes.push({
          label:
            batch.length === 1
              ? `/subscriptions/${batch[0]}`
              : `/subscriptions/{${batch.length} subscriptions}`,
          subscriptions: batch,
          perSubscription: true,
        });
      }
    }
    for (const mg of managementGroups ?? []) {
      scopes.push({ label: managementGroupScope(mg), managementGroups: [mg], perSubscription: false });
    }
    if (scopes.length === 0) scopes.push({ label: '/', perSubscription: false });
    return scopes;
  }

  /**
   * Yields the cluster rows page by page, and a `scopeFailed` event for each scope that could not
   * be read after retries. A failed batch of subscriptions is re-read one subscription at a time,
   * so one unreadable subscription does not cost the others; rows may then repeat, and the
   * consumer de-duplicates by cluster ID.
   */
  async *readClusters(): AsyncIterableIterator<SourceEvent> {
    for (const scope of this.plannedScopes()) {
      yield* this.readScope(scope);
    }
  }

  private async *readScope(scope: QueryScope): AsyncIterableIterator<SourceEvent> {
    try {
      for await (const rows of this.pages(CLUSTERS_QUERY, scope)) {
        yield { kind: 'clusters', scope: scope.perSubscription ? null : scope.label, rows };
      }
    } catch (error) {
      const failure = this.toScopeError(error);
      if (scope.perSubscription && scope.subscriptions && scope.subscriptions.length > 1) {
        this.log(
          `Resource Graph could not read a batch of ${scope.subscriptions.length} subscriptions (${failure.code}); reading them one by one`,
        );
        for (const subscription of scope.subscriptions) {
          yield* this.readScope({
            label: `/subscriptions/${subscription}`,
            subscriptions: [subscription],
            perSubscription: true,
          });
        }
        return;
      }
      this.log(`Resource Graph could not read ${scope.label}: ${failure.code}: ${failure.message}`);
      yield { kind: 'scopeFailed', scope: scope.label, code: failure.code, message: failure.message };
    }
  }

  /**
   * The IDs (lowercase) of every subscription in the audited scopes, for planning shards. Unlike the
   * names, a failure here throws: a plan that missed subscriptions would silently audit less.
   */
  async listSubscriptions(): Promise<string[]> {
    const ids = new Set<string>();
    for (const scope of this.plannedScopes()) {
      for await (const rows of this.pages(SUBSCRIPTIONS_QUERY, scope)) {
        for (const row of rows) {
          const id = (row as { subscriptionId?: unknown }).subscriptionId;
          if (typeof id === 'string') ids.add(id.toLowerCase());
        }
      }
    }
    return [...ids].sort();
  }

  /** Subscription display names by lowercase ID. Names are cosmetic: a failure leaves the map short. */
  async readSubscriptionNames(): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    try {
      for (const scope of this.plannedScopes()) {
        for await (const rows of this.pages(SUBSCRIPTIONS_QUERY, scope)) {
          for (const row of rows) {
            const r = row as { subscriptionId?: unknown; name?: unknown };
            if (typeof r.subscriptionId === 'string' && typeof r.name === 'string') {
              names.set(r.subscriptionId.toLowerCase(), r.name);
            }
          }
        }
      }
    } catch (error) {
      this.log(`Subscription names could not be read; reports show IDs only: ${describeError(error)}`);
    }
    return names;
  }

  private async *pages(query: string, scope: QueryScope): AsyncIterableIterator<unknown[]> {
    let skipToken: string | undefined;
    let page = 0;
    do {
      const request: QueryRequest = {
        query,
        ...(scope.subscriptions ? { subscriptions: scope.subscriptions } : {}),
        ...(scope.managementGroups ? { managementGroups: scope.managementGroups } : {}),
        options: {
          resultFormat: 'objectArray',
          top: this.options.pageSize ?? PAGE_SIZE,
          ...(skipToken ? { skipToken } : {}),
        },
      };
      const { response, headers } = await this.send(request, `${scope.label} page ${page + 1}`);
      page += 1;
      if (headers?.get('x-ms-tenant-subscription-limit-hit')?.toLowerCase() === 'true') {
        throw new ScopeReadError(
          'TenantSubscriptionLimitHit',
          'the tenant has more subscriptions than one Resource Graph query covers (10,000); set AUDIT_SUBSCRIPTIONS or AUDIT_MANAGEMENT_GROUPS to split the audit',
        );
      }
      if (String(response.resultTruncated).toLowerCase() === 'true') {
        throw new ScopeReadError('ResultTruncated', `Resource Graph truncated the results of ${scope.label}`);
      }
      const rows: unknown[] = Array.isArray(response.data) ? (response.data as unknown[]) : [];
      this.stats.pages += 1;
      this.stats.rows += rows.length;
      yield rows;
      skipToken = response.skipToken || undefined;
    } while (skipToken);
  }

  private observeQuota(headers: HeaderReader | undefined): void {
    const remaining = headers?.get('x-ms-user-quota-remaining');
    const resetsAfter = parseTimeSpanInMs(headers?.get('x-ms-user-quota-resets-after'));
    if (remaining !== undefined && /^\d+$/.test(remaining)) this.quotaRemaining = Number(remaining);
    if (resetsAfter !== null) this.quotaResetsAt = this.now().getTime() + resetsAfter;
  }

  /** Waits for the quota window to reset before the service would answer 429. */
  private async pace(): Promise<void> {
    if (this.quotaRemaining === null || this.quotaRemaining > QUOTA_RESERVE) return;
    const waitInMs = this.quotaResetsAt - this.now().getTime();
    if (waitInMs > 0) {
      this.stats.pacedWaits += 1;
      this.stats.pacedWaitInMs += waitInMs;
      await this.sleep(waitInMs);
    }
    this.quotaRemaining = null;
  }

  private async send(
    request: QueryRequest,
    what: string,
  ): Promise<{ response: QueryResponse; headers: HeaderReader | undefined }> {
    for (let attempt = 1; ; attempt += 1) {
      await this.pace();
      let headers: HeaderReader | undefined;
      this.stats.requests += 1;
      try {
        const response = await this.options.client.resources(request, {
          onResponse: (raw) => {
            headers = headerReader(raw.headers);
          },
        });
        this.observeQuota(headers);
        return { response, headers };
      } catch (error) {
        const e = (error ?? {}) as RestLikeError;
        headers ??= headerReader(e.response?.headers);
        this.observeQuota(headers);
        const status = e.statusCode;
        const transient =
          status === undefined
            ? !(error instanceof ScopeReadError)
            : this.retry.retryableStatuses.has(status);
        if (status === 429) this.stats.throttled += 1;
        if (!transient || attempt >= this.retry.maxAttempts) throw error;
        const serverDelay = serverDelayInMs(headers, this.now());
        const backoff = backoffDelayInMs(this.retry, attempt);
        // A bare 429 (no Retry-After) is not retried by the core pipeline: wait for the quota window.
        const delay =
          status === 429 && serverDelay !== null ? serverDelay : Math.max(serverDelay ?? 0, backoff);
        this.stats.retries += 1;
        this.log(
          `Resource Graph ${what}: ${status ?? e.code ?? 'network error'}; retry ${attempt} in ${delay} ms`,
        );
        if (status === 429) this.quotaRemaining = null;
        await this.sleep(delay);
      }
    }
  }

  private toScopeError(error: unknown): { code: string; message: string } {
    if (error instanceof ScopeReadError) return { code: error.code, message: error.message };
    const e = (error ?? {}) as RestLikeError;
    const inner = e.details?.error;
    const code = inner?.code ?? e.code ?? (e.statusCode ? `HTTP${e.statusCode}` : 'Unknown');
    return { code, message: describeError(inner?.message ? new Error(inner.message) : error) };
  }
}
