// Reads every managed cluster in the audited scopes from Resource Graph: coverage, batching, paging, pacing, retries.

import type { QueryRequest, QueryResponse, ResourceGraphClient } from '@azure/arm-resourcegraph';

import { AzureAccessError } from '../errors';
import {
  type AccessContext,
  accessErrorOf,
  authorizationFailedMessage,
  managementGroupUnreadableMessage,
  noReadableSubscriptionsError,
  retriesExhaustedMessage,
  SCOPE_UNREADABLE,
  subscriptionUnreadableMessage,
} from './accessFailureMessages';
import { type AzureFailure, type AzureFailureKind, classifyAzureError } from './classifyAzureError';
import { CLUSTERS_QUERY, SUBSCRIPTIONS_QUERY } from './resourceGraphQueries';
import {
  backoffDelayInMs,
  DEFAULT_RETRY_POLICY,
  type HeaderReader,
  headerReader,
  parseTimeSpanInMs,
  type RetryPolicy,
  serverDelayInMs,
  shouldRetry,
  sleepInMs,
} from './retryPolicy';

/** Subscriptions per request: the service takes up to 1,000 but advises batches of a few hundred. */
export const SUBSCRIPTION_BATCH_SIZE = 300;
/** Resource Graph's largest page. */
export const PAGE_SIZE = 1000;
/**
 * Node pools a page of clusters should hold at most: a page is judged and stored whole, so a page of 1,000 clusters
 * of 100 pools each (100,000 pools) would be the whole estate in memory. After each page the next `$top` is cut to
 * fit this many pools, given the pools per cluster seen so far in the query.
 */
export const POOLS_PER_PAGE_TARGET = 5000;
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

export interface ScopeFailure {
  scope: string;
  code: string;
  message: string;
}

/** What this identity can read of the audited scopes, from one `resourcecontainers` read per scope. */
export interface ScopeCoverage {
  /** Display names by lowercase subscription ID. */
  names: Map<string, string>;
  /** Lowercase IDs of the subscriptions the identity can read in the audited scopes, sorted. */
  subscriptions: string[];
  /**
   * Audited scopes that are not (or not known to be) readable: a configured subscription that Resource Graph
   * does not list (SCOPE_UNREADABLE), a management group with no readable subscription (SCOPE_UNREADABLE), or a
   * scope whose read failed (AuthorizationFailed, retries exhausted, truncated answer).
   */
  failures: ScopeFailure[];
}

export interface ResourceGraphSourceOptions {
  client: Pick<ResourceGraphClient, 'resources'>;
  subscriptions: string[] | null;
  managementGroups: string[] | null;
  batchSize?: number;
  pageSize?: number;
  /** POOLS_PER_PAGE_TARGET unless told. */
  poolsPerPage?: number;
  retry?: RetryPolicy;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => Date;
  log?: (message: string) => void;
  /** Cancels every request and wait of this source (the run's deadline, or the host shutting down). */
  signal?: AbortSignal;
  /** For the fix-it messages of access errors (cloud, ARM endpoint, token scope, AZURE_CLIENT_ID). */
  access?: AccessContext;
}

export interface ResourceGraphStats {
  requests: number;
  pages: number;
  rows: number;
  throttled: number;
  retries: number;
  pacedWaits: number;
  pacedWaitInMs: number;
  /** Requests answered ResponsePayloadTooLarge, after which `$top` was halved. */
  shrunkPages: number;
  /** Requests that got no answer within the request timeout. */
  timeouts: number;
}

interface QueryScope {
  /** The scope named in errors and on pools: `/`, `/subscriptions/{id}` or a management group path. */
  label: string;
  subscriptions?: string[];
  managementGroups?: string[];
  /** A batch of subscriptions is split into single subscriptions when it is refused, to find the culprit. */
  perSubscription: boolean;
}

/** A scope that could not be read (retries exhausted, refused, truncated): that scope's failure, not the run's. */
class ScopeReadError extends Error {
  override readonly name = 'ScopeReadError';
  constructor(
    readonly code: string,
    message: string,
    readonly kind: AzureFailureKind | 'incomplete',
  ) {
    super(message);
  }
}

export const managementGroupScope = (id: string) => `/providers/Microsoft.Management/managementGroups/${id}`;

const subscriptionScope = (id: string) => `/subscriptions/${id}`;

/** Counters at zero: one reader's start, or the sum of several. */
export function emptyResourceGraphStats(): ResourceGraphStats {
  return {
    requests: 0,
    pages: 0,
    rows: 0,
    throttled: 0,
    retries: 0,
    pacedWaits: 0,
    pacedWaitInMs: 0,
    shrunkPages: 0,
    timeouts: 0,
  };
}

export class ResourceGraphSource {
  readonly stats: ResourceGraphStats = emptyResourceGraphStats();
  private quotaRemaining: number | null = null;
  private quotaResetsAt = 0;
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly now: () => Date;
  private readonly log: (message: string) => void;
  private coverage: Promise<CoveragePlan> | undefined;

  constructor(private readonly options: ResourceGraphSourceOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.sleep = options.sleep ?? sleepInMs;
    this.now = options.now ?? (() => new Date());
    this.log = options.log ?? (() => undefined);
  }

  /** The audited scopes as ARM scopes, for "needs the Reader role on …". */
  private auditedScopes(): string[] {
    const { subscriptions, managementGroups } = this.options;
    const scopes = [
      ...(subscriptions ?? []).map(subscriptionScope),
      ...(managementGroups ?? []).map(managementGroupScope),
    ];
    return scopes.length ? scopes : ['/'];
  }

  private batches(subscriptions: readonly string[]): QueryScope[] {
    const batchSize = this.options.batchSize ?? SUBSCRIPTION_BATCH_SIZE;
    const scopes: QueryScope[] = [];
    for (let i = 0; i < subscriptions.length; i += batchSize) {
      const batch = subscriptions.slice(i, i + batchSize);
      scopes.push({
        label:
          batch.length === 1
            ? subscriptionScope(batch[0]!)
            : `/subscriptions/{${batch.length} subscriptions}`,
        subscriptions: batch,
        perSubscription: true,
      });
    }
    return scopes;
  }

  /**
   * What this identity can read of the audited scopes. Resource Graph answers only with what the caller may read
   * and says nothing of the rest, so every configured subscription and management group is checked against the
   * `resourcecontainers` answer. Read once per source (the names come from the same read). Rejects with
   * AzureAccessError when there is no credential or the token is refused: nothing will be read, so the run fails
   * at once instead of after retries.
   */
  async readCoverage(): Promise<ScopeCoverage> {
    const plan = await this.coveragePlan();
    return { names: plan.names, subscriptions: plan.subscriptions, failures: plan.failures };
  }

  /**
   * Yields the cluster rows page by page, and a `scopeFailed` event for each audited scope that could not be
   * read (or confirmed readable). A batch of subscriptions that is refused is re-read one subscription at a
   * time, so one unreadable subscription does not cost the others; rows may then repeat, and the consumer
   * de-duplicates by cluster ID. Rejects with AzureAccessError for a missing or refused credential, and for an
   * identity that can read nothing at all when no scope is configured.
   */
  async *readClusters(): AsyncIterableIterator<SourceEvent> {
    const plan = await this.coveragePlan();
    for (const failure of plan.failures) {
      this.log(`Resource Graph could not read ${failure.scope}: ${failure.code}: ${failure.message}`);
      yield { kind: 'scopeFailed', ...failure };
    }
    let rows = 0;
    for (const scope of plan.clusterScopes) {
      for await (const event of this.readScope(scope)) {
        if (event.kind === 'clusters') rows += event.rows.length;
        yield event;
      }
    }
    // The tenant-wide case: no subscription listed and no cluster seen is an identity that can read nothing,
    // not an empty estate. (Clusters seen without their subscription: a Reader on resource groups only.)
    if (plan.tenantWide && plan.subscriptions.length === 0 && rows === 0 && plan.failures.length === 0) {
      throw noReadableSubscriptionsError(this.options.access);
    }
  }

  /** Subscription display names by lowercase ID. Names are cosmetic: a scope that failed leaves the map short. */
  async readSubscriptionNames(): Promise<Map<string, string>> {
    return (await this.coveragePlan()).names;
  }

  private coveragePlan(): Promise<CoveragePlan> {
    this.coverage ??= this.buildCoveragePlan();
    return this.coverage;
  }

  private async buildCoveragePlan(): Promise<CoveragePlan> {
    const names = new Map<string, string>();
    const readable = new Set<string>();
    const failures: ScopeFailure[] = [];
    const clusterScopes: QueryScope[] = [];
    const { subscriptions, managementGroups } = this.options;
    const tenantWide = !subscriptions?.length && !managementGroups?.length;

    // Configured subscriptions: each must come back from resourcecontainers.
    const refused = new Set<string>();
    for (const batch of this.batches(subscriptions ?? [])) {
      for (const result of await this.readContainers(batch)) {
        if (result.failure) {
          for (const id of result.scope.subscriptions ?? []) refused.add(id.toLowerCase());
          failures.push(...this.failuresOf(result.scope, result.failure));
          continue;
        }
        for (const row of result.rows) this.noteSubscription(row, names, readable);
        const found = new Set(result.rows.map((r) => r.subscriptionId.toLowerCase()));
        for (const id of result.scope.subscriptions ?? []) {
          if (!found.has(id.toLowerCase())) {
            failures.push({
              scope: subscriptionScope(id),
              code: SCOPE_UNREADABLE,
              message: subscriptionUnreadableMessage(id),
            });
          }
        }
      }
    }
    // Subscriptions not listed are still read: an identity with Reader on some resource groups only sees their
    // clusters, and those are judged (the subscription's other pools are reported unknown by its failure).
    clusterScopes.push(...this.batches((subscriptions ?? []).filter((id) => !refused.has(id.toLowerCase()))));

    for (const mg of managementGroups ?? []) {
      const scope: QueryScope = {
        label: managementGroupScope(mg),
        managementGroups: [mg],
        perSubscription: false,
      };
      const [result] = await this.readContainers(scope);
      if (!result) continue;
      if (result.failure) {
        failures.push(...this.failuresOf(scope, result.failure));
        continue;
      }
      for (const row of result.rows) this.noteSubscription(row, names, readable);
      if (result.rows.length === 0) {
        failures.push({
          scope: scope.label,
          code: SCOPE_UNREADABLE,
          message: managementGroupUnreadableMessage(mg, scope.label),
        });
      }
      clusterScopes.push(scope);
    }

    if (tenantWide) {
      const scope: QueryScope = { label: '/', perSubscription: false };
      const [result] = await this.readContainers(scope);
      if (result?.failure) {
        failures.push(...this.failuresOf(scope, result.failure));
      } else if (result) {
        for (const row of result.rows) this.noteSubscription(row, names, readable);
        clusterScopes.push(scope);
      }
    }
    return { names, subscriptions: [...readable].sort(), failures, clusterScopes, tenantWide };
  }

  private noteSubscription(row: SubscriptionRow, names: Map<string, string>, readable: Set<string>): void {
    const id = row.subscriptionId.toLowerCase();
    readable.add(id);
    if (row.name !== undefined) names.set(id, row.name);
  }

  /** One scope failure per subscription of a batch: pools are matched to failed scopes by subscription. */
  private failuresOf(scope: QueryScope, failure: ScopeReadError): ScopeFailure[] {
    const targets =
      scope.perSubscription && scope.subscriptions
        ? scope.subscriptions.map(subscriptionScope)
        : [scope.label];
    return targets.map((target) => ({ scope: target, code: failure.code, message: failure.message }));
  }

  /**
   * The subscription rows of a scope, or why they could not be read. A refused batch (403) is split into single
   * subscriptions to find the one refused; other failures are the batch's.
   */
  private async readContainers(
    scope: QueryScope,
  ): Promise<{ scope: QueryScope; rows: SubscriptionRow[]; failure?: ScopeReadError }[]> {
    const rows: SubscriptionRow[] = [];
    try {
      for await (const page of this.pages(SUBSCRIPTIONS_QUERY, scope)) {
        for (const row of page) {
          const r = row as { subscriptionId?: unknown; name?: unknown };
          if (typeof r.subscriptionId === 'string') {
            rows.push({
              subscriptionId: r.subscriptionId,
              ...(typeof r.name === 'string' ? { name: r.name } : {}),
            });
          }
        }
      }
      return [{ scope, rows }];
    } catch (error) {
      if (!(error instanceof ScopeReadError)) throw error;
      const singles = this.splitRefusedBatch(scope, error);
      if (!singles) return [{ scope, rows, failure: error }];
      const results = [];
      for (const single of singles) results.push(...(await this.readContainers(single)));
      return results;
    }
  }

  /**
   * A batch of subscriptions refused as a whole (403) as its single subscriptions, to be read one by one so that
   * one unreadable subscription does not cost the others; null for any other failure, or a single scope.
   */
  private splitRefusedBatch(scope: QueryScope, error: ScopeReadError): QueryScope[] | null {
    const subscriptions = scope.subscriptions ?? [];
    if (error.kind !== 'authorizationFailed' || !scope.perSubscription || subscriptions.length < 2)
      return null;
    this.log(
      `Resource Graph refused a batch of ${subscriptions.length} subscriptions (${error.code}); reading them one by one`,
    );
    return subscriptions.map((id) => ({
      label: subscriptionScope(id),
      subscriptions: [id],
      perSubscription: true,
    }));
  }

  private async *readScope(scope: QueryScope): AsyncIterableIterator<SourceEvent> {
    try {
      for await (const rows of this.pages(CLUSTERS_QUERY, scope)) {
        yield { kind: 'clusters', scope: scope.perSubscription ? null : scope.label, rows };
      }
    } catch (error) {
      if (!(error instanceof ScopeReadError)) throw error;
      const singles = this.splitRefusedBatch(scope, error);
      if (singles) {
        for (const single of singles) yield* this.readScope(single);
        return;
      }
      for (const failure of this.failuresOf(scope, error)) {
        this.log(`Resource Graph could not read ${failure.scope}: ${failure.code}: ${failure.message}`);
        yield { kind: 'scopeFailed', ...failure };
      }
    }
  }

  /**
   * Pages through a query with `$skipToken`. The token captures the next offset and page size, and `$top`
   * overrides the page size when both are sent (QueryRequestOptions in the REST spec), so a page answered
   * ResponsePayloadTooLarge is asked again with the same token and half the `$top`: no row is skipped or
   * repeated. The smaller `$top` is kept for the rest of this query.
   */
  private async *pages(query: string, scope: QueryScope): AsyncIterableIterator<unknown[]> {
    let skipToken: string | undefined;
    let page = 0;
    let top = this.options.pageSize ?? PAGE_SIZE;
    const poolsPerPage = this.options.poolsPerPage ?? POOLS_PER_PAGE_TARGET;
    let rowsSeen = 0;
    let poolsSeen = 0;
    for (;;) {
      const request: QueryRequest = {
        query,
        ...(scope.subscriptions ? { subscriptions: scope.subscriptions } : {}),
        ...(scope.managementGroups ? { managementGroups: scope.managementGroups } : {}),
        options: {
          resultFormat: 'objectArray',
          top,
          ...(skipToken ? { skipToken } : {}),
        },
      };
      let answer: { response: QueryResponse; headers: HeaderReader | undefined };
      try {
        answer = await this.send(request, scope, `${scope.label} page ${page + 1}`);
      } catch (error) {
        if (!(error instanceof ScopeReadError) || error.kind !== 'payloadTooLarge') throw error;
        if (top === 1) {
          throw new ScopeReadError(
            error.code,
            `${error.message} Even one cluster a page is over the limit for ${scope.label}.`,
            error.kind,
          );
        }
        const smaller = Math.max(1, Math.floor(top / 2));
        this.stats.shrunkPages += 1;
        this.log(
          `Resource Graph ${scope.label} page ${page + 1}: the answer to $top=${top} is too large (${error.message}); asking again with $top=${smaller}`,
        );
        top = smaller;
        continue;
      }
      const { response, headers } = answer;
      page += 1;
      if (headers?.get('x-ms-tenant-subscription-limit-hit')?.toLowerCase() === 'true') {
        throw new ScopeReadError(
          'TenantSubscriptionLimitHit',
          'the tenant has more subscriptions than one Resource Graph query covers (10,000); set AUDIT_SUBSCRIPTIONS or AUDIT_MANAGEMENT_GROUPS to split the audit',
          'incomplete',
        );
      }
      if (String(response.resultTruncated).toLowerCase() === 'true') {
        throw new ScopeReadError(
          'ResultTruncated',
          `Resource Graph truncated the results of ${scope.label}`,
          'incomplete',
        );
      }
      const rows: unknown[] = Array.isArray(response.data) ? (response.data as unknown[]) : [];
      this.stats.pages += 1;
      this.stats.rows += rows.length;
      // Large clusters make large pages: ask for fewer clusters a page so that a page holds a bounded number of
      // pools. `$top` with the same skip token is how the page size changes mid-query (see above).
      rowsSeen += rows.length;
      poolsSeen += rows.reduce<number>((n, row) => n + poolCountOf(row), 0);
      if (poolsSeen > 0) {
        const fitting = Math.max(1, Math.floor(poolsPerPage / (poolsSeen / Math.max(1, rowsSeen))));
        if (fitting < top) {
          this.log(
            `Resource Graph ${scope.label}: about ${Math.round(poolsSeen / rowsSeen)} pools a cluster; asking for ${fitting} clusters a page (about ${poolsPerPage} pools) instead of ${top}`,
          );
          top = fitting;
        }
      }
      yield rows;
      skipToken = response.skipToken || undefined;
      if (!skipToken) return;
    }
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
      await this.sleep(waitInMs, this.options.signal);
    }
    this.quotaRemaining = null;
  }

  /**
   * Sends one query, retrying what is transient (429, 408, 5xx, timeouts, network errors) within the retry
   * policy and nothing else. Throws AzureAccessError for a missing or refused credential (no retry: nothing will
   * be read), the caller's AbortError when its signal fired, and ScopeReadError for everything else.
   */
  private async send(
    request: QueryRequest,
    scope: QueryScope,
    what: string,
  ): Promise<{ response: QueryResponse; headers: HeaderReader | undefined }> {
    const signal = this.options.signal;
    const startedAt = this.now().getTime();
    let timedOut = 0;
    for (let attempt = 1; ; attempt += 1) {
      await this.pace();
      let headers: HeaderReader | undefined;
      this.stats.requests += 1;
      try {
        const response = await this.options.client.resources(request, {
          ...(signal ? { abortSignal: signal } : {}),
          onResponse: (raw) => {
            headers = headerReader(raw.headers);
          },
        });
        this.observeQuota(headers);
        return { response, headers };
      } catch (error) {
        const e = (error ?? {}) as { response?: { headers?: unknown } };
        headers ??= headerReader(e.response?.headers);
        this.observeQuota(headers);
        const failure = classifyAzureError(error);
        if (failure.kind === 'aborted') throw error;
        if (failure.fatal) throw this.fatal(failure, scope);
        if (failure.kind === 'authorizationFailed' && scope.label === '/') throw this.fatal(failure, scope);
        if (failure.kind === 'throttled') this.stats.throttled += 1;
        if (failure.kind === 'timeout') {
          timedOut += 1;
          this.stats.timeouts += 1;
        }
        if (!shouldRetry(this.retry, failure, attempt, timedOut))
          throw this.scopeError(failure, scope, what, attempt, this.now().getTime() - startedAt);
        const serverDelay = serverDelayInMs(headers, this.now());
        const backoff = backoffDelayInMs(this.retry, attempt);
        // A bare 429 (no Retry-After) is not retried by the core pipeline: wait for the quota window.
        const delay =
          failure.kind === 'throttled' && serverDelay !== null
            ? serverDelay
            : Math.max(serverDelay ?? 0, backoff);
        this.stats.retries += 1;
        this.log(
          `Resource Graph ${what}: ${failure.status ?? ''}${failure.status ? ' ' : ''}${failure.code}${failure.kind === 'timeout' ? ` (${failure.message})` : ''}; retry ${attempt} in ${delay} ms`,
        );
        if (failure.kind === 'throttled') this.quotaRemaining = null;
        await this.sleep(delay, signal);
      }
    }
  }

  private fatal(failure: AzureFailure, scope: QueryScope): AzureAccessError {
    return accessErrorOf(failure, this.options.access, scope.label, this.auditedScopes());
  }

  private scopeError(
    failure: AzureFailure,
    scope: QueryScope,
    what: string,
    attempts: number,
    elapsedInMs: number,
  ): ScopeReadError {
    if (failure.kind === 'authorizationFailed') {
      return new ScopeReadError(failure.code, authorizationFailedMessage(scope.label, failure), failure.kind);
    }
    if (failure.retryable) {
      const code = failure.kind === 'timeout' ? 'RequestTimeout' : failure.code;
      return new ScopeReadError(
        code,
        retriesExhaustedMessage(`Resource Graph ${what}`, failure, attempts, elapsedInMs),
        failure.kind,
      );
    }
    if (failure.kind === 'payloadTooLarge') {
      return new ScopeReadError('ResponsePayloadTooLarge', failure.message, failure.kind);
    }
    return new ScopeReadError(failure.code, failure.message, failure.kind);
  }
}

/** The pools of a cluster row (its `agentPoolProfiles`); 0 for any other row. */
function poolCountOf(row: unknown): number {
  const pools = (row as { agentPoolProfiles?: unknown } | null)?.agentPoolProfiles;
  return Array.isArray(pools) ? pools.length : 0;
}

interface SubscriptionRow {
  subscriptionId: string;
  name?: string;
}

interface CoveragePlan extends ScopeCoverage {
  /** Where the clusters are read from: the configured batches and groups that were not refused. */
  clusterScopes: QueryScope[];
  tenantWide: boolean;
}
