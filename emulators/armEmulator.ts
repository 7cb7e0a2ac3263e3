// Loopback HTTPS emulator of ARM: Resource Graph `resources`, AKS upgrade profiles, and the subscription and cluster lists.

import { createHash, randomUUID } from 'node:crypto';
import type http from 'node:http';
import https from 'node:https';

import type { ClusterRow, Estate, SubscriptionRow } from './estateGenerator';
import { imageFamilyOf } from './estateGenerator';
import { closeServer, listenOnLoopback } from './loopbackServer';
import type { ManagedIdentityEmulator } from './managedIdentityEmulator';
import { normaliseAudience } from './managedIdentityEmulator';
import { createTestCertificate } from './tls';

export type FaultKind = 'graph' | 'upgradeProfile';

/** A fault served once, to the first request of its kind (and page) that reaches it. */
export interface OneShotFault {
  kind: FaultKind;
  /** Graph only: the 1-based page within a paged query (page 1 has no skip token); any page when absent. */
  page?: number;
  status: 429 | 500 | 503;
  /**
   * 429 only. `bare` (default): no hint at all, as Azure documents it; `retryAfter`: a `Retry-After` header
   * (plus the quota headers); `quotaHeaders`: only `x-ms-user-quota-remaining: 0` and resets-after `00:00:01`.
   */
  throttle?: 'bare' | 'retryAfter' | 'quotaHeaders';
  /** `Retry-After` in seconds: default 1 for `throttle: 'retryAfter'`; on 500/503 sent only when given. */
  retryAfterInSeconds?: number;
}

export interface ArmFaults {
  /** Resource Graph requests whose scope includes one of these get 403 (or lose them with allowPartialScopes). */
  failingSubscriptions: Set<string>;
  /** One-shot faults, consumed in order. */
  queue: OneShotFault[];
  /** Lowercased agent pool IDs (`…/managedclusters/x/agentpools/y`) whose upgrade profile always fails with 500. */
  failUpgradeProfiles: Set<string>;
}

export interface ArmStats {
  graphRequests: number;
  graphRows: number;
  upgradeProfileRequests: number;
  /** `GET /subscriptions` pages served (the naive baseline's first call). */
  subscriptionListRequests: number;
  /** `GET /subscriptions/{id}/providers/Microsoft.ContainerService/managedClusters` pages served. */
  managedClusterListRequests: number;
  throttled: number;
  unauthorized: number;
  /** Every request by endpoint, errors included. */
  requestsByEndpoint: Record<ArmEndpointName, number>;
}

export type ArmEndpointName = 'graph' | 'upgradeProfile' | 'subscriptions' | 'managedClusters' | 'other';

export interface RequestLogEntry {
  method: string;
  path: string;
  status: number;
  /** Resource Graph: how many subscriptions the request's scope resolved to; null for other requests. */
  subscriptions: number | null;
}

export interface ArmEmulatorOptions {
  estate: Estate;
  identity: ManagedIdentityEmulator;
  /** The token audience ARM accepts, e.g. `https://management.azure.com/`. */
  audience: string;
  /** Added to every response. Default 0. */
  latencyInMs?: number;
  /** Per-identity Resource Graph quota; default 15 queries per 5000 ms; `null` disables it (and its headers). */
  quota?: { queries: number; windowInMs: number } | null;
  /** Send `Retry-After` on quota 429s. Default false: Azure documents only the quota headers. */
  quotaRetryAfter?: boolean;
  /** Subscriptions per `GET /subscriptions` page; ARM pages this list at 50. */
  subscriptionPageSize?: number;
  /** Clusters per `managedClusters` list page. Default 100. */
  clusterPageSize?: number;
}

const GRAPH_PATH = '/providers/microsoft.resourcegraph/resources';
const UPGRADE_PROFILE_PATH =
  /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/microsoft\.containerservice\/managedclusters\/([^/]+)\/agentpools\/([^/]+)\/upgradeprofiles\/default\/?$/i;
const SUBSCRIPTIONS_PATH = /^\/subscriptions\/?$/i;
const MANAGED_CLUSTERS_PATH =
  /^\/subscriptions\/([^/]+)\/providers\/microsoft\.containerservice\/managedclusters\/?$/i;
const MAX_PAGE_SIZE = 1000;
const TENANT_SUBSCRIPTION_LIMIT = 10_000;
const MAX_BODY_BYTES = 8 * 1024 * 1024;
const REQUEST_LOG_CAPACITY = 10_000;

interface ArmError {
  code: string;
  message: string;
  details?: { code: string; message: string }[];
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  subscriptions?: number;
}

interface QuotaWindow {
  startedAtInMs: number;
  used: number;
}

interface QuotaState {
  throttled: boolean;
  remaining: number;
  resetsAfterInMs: number;
}

interface SkipToken {
  offset: number;
  page: number;
  hash: string;
}

function armError(status: number, error: ArmError, headers?: Record<string, string>): Reply {
  return { status, body: { error }, ...(headers ? { headers } : {}) };
}

function formatResetsAfter(ms: number): string {
  const totalSeconds = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  return [h, m, s].map((n) => String(n).padStart(2, '0')).join(':');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(value: unknown): string[] | undefined | 'invalid' {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return 'invalid';
  return value;
}

/** Splits a KQL column list on top-level commas (not those inside `pack(…)` or quotes). */
function splitColumns(list: string): string[] {
  const columns: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let current = '';
  for (const ch of list) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    } else if (ch === '(' || ch === '[' || ch === '{') {
      depth++;
    } else if (ch === ')' || ch === ']' || ch === '}') {
      depth--;
    } else if (ch === ',' && depth === 0) {
      columns.push(current.trim());
      current = '';
      continue;
    }
    current += ch;
  }
  if (current.trim()) columns.push(current.trim());
  return columns;
}

/** Whether the query's output has an `id` column: no `project`, or a last `project` that keeps `id`. */
function projectsId(query: string): boolean {
  const projections = [...query.matchAll(/\|\s*project\s+([^|]*)/gi)];
  const last = projections[projections.length - 1];
  if (!last) return true;
  return splitColumns(last[1] ?? '').some((column) => {
    const name = column.includes('=') ? column.slice(0, column.indexOf('=')) : column;
    return name.trim().toLowerCase() === 'id';
  });
}

/** Resource Graph returns a skip token only for a query that projects `id` and has no `limit`/`take`. */
function canPage(query: string): boolean {
  return projectsId(query) && !/\|\s*(limit|take)\b/i.test(query);
}

export class ArmEmulator {
  readonly faults: ArmFaults = { failingSubscriptions: new Set(), queue: [], failUpgradeProfiles: new Set() };
  readonly stats: ArmStats = {
    graphRequests: 0,
    graphRows: 0,
    upgradeProfileRequests: 0,
    subscriptionListRequests: 0,
    managedClusterListRequests: 0,
    throttled: 0,
    unauthorized: 0,
    requestsByEndpoint: { graph: 0, upgradeProfile: 0, subscriptions: 0, managedClusters: 0, other: 0 },
  };
  latencyInMs: number;
  subscriptionPageSize: number;
  clusterPageSize: number;
  quota: { queries: number; windowInMs: number } | null;
  quotaRetryAfter: boolean;

  private readonly estate: Estate;
  private readonly identity: ManagedIdentityEmulator;
  private readonly audience: string;
  private clustersBySubscription = new Map<string, ClusterRow[]>();
  private clustersById = new Map<string, ClusterRow>();
  private subscriptionOrder: string[] = [];
  private subscriptionsByKey = new Map<string, SubscriptionRow>();
  private managementGroups = new Map<string, string[]>();
  private readonly quotaWindows = new Map<string, QuotaWindow>();
  private readonly log: RequestLogEntry[] = [];
  private logStart = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: https.Server,
    readonly endpoint: string,
    readonly certificatePem: string,
    opts: ArmEmulatorOptions,
  ) {
    this.estate = opts.estate;
    this.identity = opts.identity;
    this.audience = opts.audience;
    this.latencyInMs = opts.latencyInMs ?? 0;
    this.quota = opts.quota === undefined ? { queries: 15, windowInMs: 5000 } : opts.quota;
    this.quotaRetryAfter = opts.quotaRetryAfter ?? false;
    this.subscriptionPageSize = opts.subscriptionPageSize ?? 50;
    this.clusterPageSize = opts.clusterPageSize ?? 100;
    this.reindex();
  }

  static async start(opts: ArmEmulatorOptions): Promise<ArmEmulator> {
    const { cert, key } = await createTestCertificate();
    const server = https.createServer({ cert, key });
    const port = await listenOnLoopback(server);
    const emulator = new ArmEmulator(server, `https://127.0.0.1:${port}`, cert, opts);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => emulator.handle(req, res));
    return emulator;
  }

  /** The last 10,000 requests, oldest first. */
  get requestLog(): RequestLogEntry[] {
    return [...this.log.slice(this.logStart), ...this.log.slice(0, this.logStart)];
  }

  /** Rebuilds the lookup indexes after the estate's arrays were changed (e.g. a pool removed mid-run). */
  reindex(): void {
    this.clustersBySubscription = new Map();
    this.clustersById = new Map();
    this.subscriptionOrder = [];
    this.subscriptionsByKey = new Map();
    for (const sub of this.estate.subscriptions) {
      const key = sub.subscriptionId.toLowerCase();
      if (!this.subscriptionsByKey.has(key)) this.subscriptionOrder.push(key);
      this.subscriptionsByKey.set(key, sub);
    }
    for (const cluster of this.estate.clusters) {
      const key = cluster.subscriptionId.toLowerCase();
      let list = this.clustersBySubscription.get(key);
      if (!list) {
        list = [];
        this.clustersBySubscription.set(key, list);
      }
      list.push(cluster);
      this.clustersById.set(cluster.id.toLowerCase(), cluster);
    }
    this.managementGroups = new Map(
      Object.entries(this.estate.managementGroups).map(([mg, subs]) => [
        mg.toLowerCase(),
        subs.map((s) => s.toLowerCase()),
      ]),
    );
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await closeServer(this.server);
  }

  // -------------------------------------------------------------------------------------------------------------

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      let reply: Reply;
      try {
        reply = tooLarge
          ? armError(413, { code: 'RequestEntityTooLarge', message: 'The request body is too large.' })
          : this.route(req, url, Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        reply = armError(500, { code: 'InternalServerError', message: `Emulator error: ${String(err)}` });
      }
      this.send(req, res, url, reply);
    });
  }

  private send(req: http.IncomingMessage, res: http.ServerResponse, url: URL, reply: Reply): void {
    if (reply.status === 429) this.stats.throttled++;
    if (reply.status === 401) this.stats.unauthorized++;
    this.record({
      method: req.method ?? 'GET',
      path: url.pathname,
      status: reply.status,
      subscriptions: reply.subscriptions ?? null,
    });
    const text = JSON.stringify(reply.body);
    const write = (): void => {
      if (res.destroyed) return;
      const requestId = randomUUID();
      res.writeHead(reply.status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
        'x-ms-request-id': requestId,
        'x-ms-correlation-request-id': requestId,
        ...reply.headers,
      });
      res.end(text);
    };
    if (this.latencyInMs > 0) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        write();
      }, this.latencyInMs);
      this.timers.add(timer);
    } else {
      write();
    }
  }

  private record(entry: RequestLogEntry): void {
    if (this.log.length < REQUEST_LOG_CAPACITY) {
      this.log.push(entry);
    } else {
      this.log[this.logStart] = entry;
      this.logStart = (this.logStart + 1) % REQUEST_LOG_CAPACITY;
    }
  }

  private endpointOf(method: string | undefined, path: string): ArmEndpointName {
    if (method === 'POST' && path.toLowerCase().replace(/\/$/, '') === GRAPH_PATH) return 'graph';
    if (method !== 'GET') return 'other';
    if (UPGRADE_PROFILE_PATH.test(path)) return 'upgradeProfile';
    if (SUBSCRIPTIONS_PATH.test(path)) return 'subscriptions';
    if (MANAGED_CLUSTERS_PATH.test(path)) return 'managedClusters';
    return 'other';
  }

  private route(req: http.IncomingMessage, url: URL, body: string): Reply {
    const path = url.pathname;
    const endpoint = this.endpointOf(req.method, path);
    this.stats.requestsByEndpoint[endpoint]++;
    const auth = this.authenticate(req.headers.authorization);
    if ('status' in auth) return auth;
    if (endpoint === 'graph') return this.graph(auth.clientId, body);
    if (endpoint === 'upgradeProfile') {
      const match = UPGRADE_PROFILE_PATH.exec(path) ?? [];
      return this.upgradeProfile(
        url,
        match.slice(1).map((part) => decodeURIComponent(part)),
      );
    }
    if (endpoint === 'subscriptions') return this.subscriptionList(url);
    if (endpoint === 'managedClusters') {
      return this.managedClusterList(url, decodeURIComponent(MANAGED_CLUSTERS_PATH.exec(path)?.[1] ?? ''));
    }
    return armError(404, {
      code: 'NotFound',
      message: `The emulator has no route for ${req.method ?? '?'} ${path}.`,
    });
  }

  private authenticate(header: string | undefined): { clientId: string } | Reply {
    const challenge = (description: string): Record<string, string> => ({
      'www-authenticate': `Bearer authorization_uri="https://login.microsoftonline.com/${this.identity.tenantId}", error="invalid_token", error_description="${description}"`,
    });
    if (!header) {
      const message = "Authentication failed. The 'Authorization' header is missing.";
      return armError(401, { code: 'AuthenticationFailed', message }, challenge(message));
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) {
      const message = "Authentication failed. The 'Authorization' header is provided in an invalid format.";
      return armError(401, { code: 'AuthenticationFailed', message }, challenge(message));
    }
    const issued = this.identity.lookupToken(match[1]);
    if (!issued) {
      const message = 'The access token is invalid or has expired.';
      return armError(401, { code: 'InvalidAuthenticationToken', message }, challenge(message));
    }
    if (normaliseAudience(issued.audience) !== normaliseAudience(this.audience)) {
      const message = `The access token has been obtained for wrong audience or resource '${issued.audience}'. It should exactly match with one of the allowed audiences '${this.audience}','${this.audience.replace(/\/$/, '')}'.`;
      return armError(401, { code: 'InvalidAuthenticationTokenAudience', message }, challenge(message));
    }
    return { clientId: issued.clientId };
  }

  // ---- Resource Graph ----------------------------------------------------------------------------------------

  private consumeQuota(identity: string): QuotaState | null {
    if (!this.quota) return null;
    const now = Date.now();
    let window = this.quotaWindows.get(identity);
    if (!window || now >= window.startedAtInMs + this.quota.windowInMs) {
      window = { startedAtInMs: now, used: 0 };
      this.quotaWindows.set(identity, window);
    }
    const resetsAfterInMs = window.startedAtInMs + this.quota.windowInMs - now;
    if (window.used >= this.quota.queries) return { throttled: true, remaining: 0, resetsAfterInMs };
    window.used++;
    return { throttled: false, remaining: this.quota.queries - window.used, resetsAfterInMs };
  }

  private graph(identity: string, text: string): Reply {
    this.stats.graphRequests++;
    const quota = this.consumeQuota(identity);
    const quotaHeaders: Record<string, string> = quota
      ? {
          'x-ms-user-quota-remaining': String(quota.remaining),
          'x-ms-user-quota-resets-after': formatResetsAfter(quota.resetsAfterInMs),
        }
      : {};
    const withQuota = (reply: Reply): Reply => ({ ...reply, headers: { ...quotaHeaders, ...reply.headers } });
    const badRequest = (code: string, message: string): Reply =>
      withQuota(armError(400, { code: 'BadRequest', message, details: [{ code, message }] }));

    if (quota?.throttled) {
      const headers: Record<string, string> = this.quotaRetryAfter
        ? { 'retry-after': String(Math.max(1, Math.ceil(quota.resetsAfterInMs / 1000))) }
        : {};
      return withQuota(
        armError(
          429,
          {
            code: 'RateLimiting',
            message:
              'Client application has been throttled and should not attempt to repeat the request until an amount of time has elapsed. Please see https://aka.ms/resourcegraph-throttling for help.',
            details: [
              { code: 'RateLimiting', message: `Quota of ${this.quota?.queries ?? 0} queries exceeded.` },
            ],
          },
          headers,
        ),
      );
    }

    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch {
      return badRequest('InvalidQuery', 'The request body is not valid JSON.');
    }
    if (!isRecord(request) || typeof request.query !== 'string' || request.query.trim() === '') {
      return badRequest('InvalidQuery', "The request body must have a non-empty 'query' string.");
    }
    const query = request.query;
    const lowered = query.toLowerCase();
    const kind = lowered.includes('microsoft.containerservice/managedclusters')
      ? 'clusters'
      : lowered.includes('microsoft.resources/subscriptions')
        ? 'subscriptions'
        : null;
    if (!kind) {
      return badRequest(
        'InvalidQuery',
        'Query is invalid. The emulator answers managed cluster and subscription queries only.',
      );
    }
    const subscriptions = stringList(request.subscriptions);
    const managementGroups = stringList(request.managementGroups);
    if (subscriptions === 'invalid' || managementGroups === 'invalid') {
      return badRequest(
        'InvalidRequestContent',
        "'subscriptions' and 'managementGroups' must be arrays of strings.",
      );
    }
    const options = isRecord(request.options) ? request.options : {};
    const top = options.$top ?? MAX_PAGE_SIZE;
    const skip = options.$skip ?? 0;
    if (typeof top !== 'number' || !Number.isInteger(top) || top < 1 || top > MAX_PAGE_SIZE) {
      return badRequest('InvalidParameter', `$top must be an integer between 1 and ${MAX_PAGE_SIZE}.`);
    }
    if (typeof skip !== 'number' || !Number.isInteger(skip) || skip < 0) {
      return badRequest('InvalidParameter', '$skip must be a non-negative integer.');
    }
    if (options.resultFormat !== undefined && options.resultFormat !== 'objectArray') {
      return badRequest('InvalidParameter', 'The emulator supports resultFormat objectArray only.');
    }
    const allowPartialScopes = options.allowPartialScopes === true;
    const hasSubs = !!subscriptions && subscriptions.length > 0;
    const hasMgs = !!managementGroups && managementGroups.length > 0;
    if (hasSubs && hasMgs) {
      return badRequest(
        'InvalidRequestContent',
        'Specify either subscriptions or managementGroups, not both.',
      );
    }

    const hash = createHash('sha256')
      .update(
        JSON.stringify({
          q: query,
          s: hasSubs ? subscriptions.map((s) => s.toLowerCase()).sort() : null,
          m: hasMgs ? managementGroups.map((m) => m.toLowerCase()).sort() : null,
        }),
      )
      .digest('hex')
      .slice(0, 16);
    let offset = skip;
    let page = 1;
    if (typeof options.$skipToken === 'string' && options.$skipToken !== '') {
      const token = decodeSkipToken(options.$skipToken);
      if (!token || token.hash !== hash) {
        return badRequest(
          'InvalidSkipToken',
          'The $skipToken is invalid or belongs to another query or scope.',
        );
      }
      offset = token.offset;
      page = token.page;
    }

    // Scope → subscriptions, in a stable order.
    let scope: string[];
    const headers: Record<string, string> = {};
    if (hasSubs) {
      scope = [...new Set(subscriptions.map((s) => s.toLowerCase()))];
    } else if (hasMgs) {
      const members = new Set<string>();
      for (const mg of managementGroups) {
        const subs = this.managementGroups.get(mg.toLowerCase());
        if (!subs) {
          return withQuota(
            armError(403, {
              code: 'AuthorizationFailed',
              message: `The client '${identity}' does not have authorization to perform action 'Microsoft.ResourceGraph/resources/read' over scope '/providers/Microsoft.Management/managementGroups/${mg}' or the scope is invalid.`,
            }),
          );
        }
        for (const s of subs) members.add(s);
      }
      scope = [...members];
    } else {
      scope = this.subscriptionOrder;
      if (scope.length > TENANT_SUBSCRIPTION_LIMIT) {
        scope = scope.slice(0, TENANT_SUBSCRIPTION_LIMIT);
        headers['x-ms-tenant-subscription-limit-hit'] = 'true';
      }
    }

    const fault = this.takeFault('graph', page);
    if (fault) return this.faultReply(fault, quotaHeaders);

    const failing = new Set([...this.faults.failingSubscriptions].map((s) => s.toLowerCase()));
    const unreadable = scope.filter((s) => failing.has(s) || !this.subscriptionsByKey.has(s));
    if (unreadable.length > 0) {
      if (!allowPartialScopes) {
        const message = `The client '${identity}' does not have authorization to perform action 'Microsoft.ResourceGraph/resources/read' over scope '/subscriptions/${unreadable[0] ?? ''}' or the scope is invalid.`;
        return withQuota({
          ...armError(403, {
            code: 'AuthorizationFailed',
            message,
            details: unreadable.map((s) => ({
              code: 'AuthorizationFailed',
              message: `No read access to subscription '${s}'.`,
            })),
          }),
          subscriptions: scope.length,
        });
      }
      const skipSet = new Set(unreadable);
      scope = scope.filter((s) => !skipSet.has(s));
    }

    const pageRows =
      kind === 'clusters'
        ? this.clusterPage(scope, offset, top)
        : this.subscriptionPage(scope, offset, top, query);
    const { rows, total } = pageRows;
    const more = offset + rows.length < total;
    const pageable = canPage(query);
    const body: Record<string, unknown> = {
      totalRecords: total,
      count: rows.length,
      resultTruncated: more && !pageable ? 'true' : 'false',
      ...(more && pageable
        ? { $skipToken: encodeSkipToken({ offset: offset + rows.length, page: page + 1, hash }) }
        : {}),
      data: rows,
      facets: [],
    };
    this.stats.graphRows += rows.length;
    return { status: 200, body, headers: { ...quotaHeaders, ...headers }, subscriptions: scope.length };
  }

  private clusterPage(scope: string[], offset: number, top: number): { rows: ClusterRow[]; total: number } {
    const rows: ClusterRow[] = [];
    let total = 0;
    for (const sub of scope) {
      const list = this.clustersBySubscription.get(sub);
      if (!list) continue;
      const start = Math.max(0, offset - total);
      if (start < list.length && rows.length < top) {
        for (let i = start; i < list.length && rows.length < top; i++) rows.push(list[i] as ClusterRow);
      }
      total += list.length;
    }
    return { rows, total };
  }

  private subscriptionPage(
    scope: string[],
    offset: number,
    top: number,
    query: string,
  ): { rows: Record<string, string>[]; total: number } {
    const withId = projectsId(query);
    const rows = scope.slice(offset, offset + top).map((s) => {
      const sub = this.subscriptionsByKey.get(s);
      const subscriptionId = sub?.subscriptionId ?? s;
      return {
        ...(withId ? { id: `/subscriptions/${subscriptionId}` } : {}),
        subscriptionId,
        name: sub?.name ?? s,
      };
    });
    return { rows, total: scope.length };
  }

  // ---- faults ------------------------------------------------------------------------------------------------

  private takeFault(kind: FaultKind, page: number): OneShotFault | undefined {
    const index = this.faults.queue.findIndex(
      (f) => f.kind === kind && (kind !== 'graph' || f.page === undefined || f.page === page),
    );
    if (index < 0) return undefined;
    return this.faults.queue.splice(index, 1)[0];
  }

  private faultReply(fault: OneShotFault, quotaHeaders: Record<string, string>): Reply {
    if (fault.status === 429) {
      const throttle = fault.throttle ?? 'bare';
      const headers: Record<string, string> =
        throttle === 'retryAfter'
          ? { ...quotaHeaders, 'retry-after': String(fault.retryAfterInSeconds ?? 1) }
          : throttle === 'quotaHeaders'
            ? { 'x-ms-user-quota-remaining': '0', 'x-ms-user-quota-resets-after': '00:00:01' }
            : {};
      return armError(
        429,
        {
          code: 'RateLimiting',
          message:
            'Client application has been throttled and should not attempt to repeat the request until an amount of time has elapsed.',
        },
        headers,
      );
    }
    const headers: Record<string, string> =
      fault.retryAfterInSeconds !== undefined ? { 'retry-after': String(fault.retryAfterInSeconds) } : {};
    return armError(
      fault.status,
      fault.status === 503
        ? { code: 'ServiceUnavailable', message: 'The service is temporarily unavailable (injected fault).' }
        : { code: 'InternalServerError', message: 'Encountered internal server error (injected fault).' },
      { ...quotaHeaders, ...headers },
    );
  }

  // ---- ARM lists (the naive baseline) -------------------------------------------------------------------------

  /** The `$skiptoken` offset of a list page, or null when the parameter is absent or not a number. */
  private listOffset(url: URL): number | 'invalid' {
    const token = url.searchParams.get('$skiptoken');
    if (token === null) return 0;
    return /^\d+$/.test(token) ? Number(token) : 'invalid';
  }

  private nextLink(url: URL, offset: number): string {
    const next = new URL(url.pathname, this.endpoint);
    next.searchParams.set('api-version', url.searchParams.get('api-version') ?? '');
    next.searchParams.set('$skiptoken', String(offset));
    return next.toString();
  }

  private missingApiVersion(url: URL): Reply | null {
    if (url.searchParams.get('api-version')) return null;
    return armError(400, {
      code: 'MissingApiVersionParameter',
      message: 'The api-version query parameter (?api-version=) is required for all requests.',
    });
  }

  /** `GET /subscriptions`: every subscription of the estate, 50 a page with `nextLink`, as ARM pages it. */
  private subscriptionList(url: URL): Reply {
    this.stats.subscriptionListRequests++;
    const bad = this.missingApiVersion(url);
    if (bad) return bad;
    const offset = this.listOffset(url);
    if (offset === 'invalid') return armError(400, { code: 'InvalidSkipToken', message: 'Bad $skiptoken.' });
    const page = this.subscriptionOrder.slice(offset, offset + this.subscriptionPageSize);
    const end = offset + page.length;
    return {
      status: 200,
      body: {
        value: page.map((key) => {
          const sub = this.subscriptionsByKey.get(key);
          const subscriptionId = sub?.subscriptionId ?? key;
          return {
            id: `/subscriptions/${subscriptionId}`,
            authorizationSource: 'RoleBased',
            managedByTenants: [],
            subscriptionId,
            tenantId: this.identity.tenantId,
            displayName: sub?.name ?? subscriptionId,
            state: 'Enabled',
            subscriptionPolicies: {
              locationPlacementId: 'Public_2014-09-01',
              quotaId: 'EnterpriseAgreement_2014-09-01',
              spendingLimit: 'Off',
            },
          };
        }),
        ...(end < this.subscriptionOrder.length ? { nextLink: this.nextLink(url, end) } : {}),
      },
    };
  }

  /**
   * `GET /subscriptions/{id}/providers/Microsoft.ContainerService/managedClusters`: the subscription's
   * clusters in ARM's REST shape (no Resource Graph columns such as `subscriptionId` or `resourceGroup`).
   */
  private managedClusterList(url: URL, subscription: string): Reply {
    this.stats.managedClusterListRequests++;
    const bad = this.missingApiVersion(url);
    if (bad) return bad;
    const key = subscription.toLowerCase();
    if (!this.subscriptionsByKey.has(key)) {
      return armError(404, {
        code: 'SubscriptionNotFound',
        message: `The subscription '${subscription}' could not be found.`,
      });
    }
    if ([...this.faults.failingSubscriptions].some((s) => s.toLowerCase() === key)) {
      return armError(403, {
        code: 'AuthorizationFailed',
        message: `The client does not have authorization to perform action 'Microsoft.ContainerService/managedClusters/read' over scope '/subscriptions/${subscription}' or the scope is invalid.`,
      });
    }
    const offset = this.listOffset(url);
    if (offset === 'invalid') return armError(400, { code: 'InvalidSkipToken', message: 'Bad $skiptoken.' });
    const all = this.clustersBySubscription.get(key) ?? [];
    const page = all.slice(offset, offset + this.clusterPageSize);
    const end = offset + page.length;
    return {
      status: 200,
      body: {
        value: page.map((row) => ({
          id: row.id,
          name: row.name,
          type: 'Microsoft.ContainerService/ManagedClusters',
          location: row.location,
          tags: row.tags,
          sku: row.sku,
          identity: row.identity,
          kind: row.kind || undefined,
          properties: row.properties,
        })),
        ...(end < all.length ? { nextLink: this.nextLink(url, end) } : {}),
      },
    };
  }

  // ---- AKS upgrade profile -----------------------------------------------------------------------------------

  private upgradeProfile(url: URL, parts: string[]): Reply {
    this.stats.upgradeProfileRequests++;
    const [sub = '', rg = '', clusterName = '', poolName = ''] = parts;
    if (!url.searchParams.get('api-version')) {
      return armError(400, {
        code: 'MissingApiVersionParameter',
        message: 'The api-version query parameter (?api-version=) is required for all requests.',
      });
    }
    const fault = this.takeFault('upgradeProfile', 1);
    if (fault) return this.faultReply(fault, {});

    const clusterId =
      `/subscriptions/${sub}/resourcegroups/${rg}/providers/microsoft.containerservice/managedclusters/${clusterName}`.toLowerCase();
    const poolId = `${clusterId}/agentpools/${poolName.toLowerCase()}`;
    if (this.faults.failUpgradeProfiles.has(poolId)) {
      return armError(500, {
        code: 'InternalServerError',
        message: 'Encountered internal server error (injected fault).',
      });
    }
    const cluster = this.clustersById.get(clusterId);
    if (!cluster) {
      return armError(404, {
        code: 'ResourceNotFound',
        message: `The Resource 'Microsoft.ContainerService/managedClusters/${clusterName}' under resource group '${rg}' was not found.`,
      });
    }
    const pool = cluster.properties.agentPoolProfiles.find(
      (p) => p.name.toLowerCase() === poolName.toLowerCase(),
    );
    if (!pool) {
      return armError(404, {
        code: 'NotFound',
        message: `Could not find agent pool '${poolName}' in managed cluster '${cluster.name}'.`,
      });
    }
    const latest =
      this.estate.latestNodeImages[`${cluster.location}|${imageFamilyOf(pool.nodeImageVersion)}`] ??
      pool.nodeImageVersion;
    const current = pool.currentOrchestratorVersion ?? pool.orchestratorVersion;
    const clusterVersion = cluster.properties.currentKubernetesVersion;
    return {
      status: 200,
      body: {
        id: `${cluster.id}/agentPools/${pool.name}/upgradeProfiles/default`,
        name: 'default',
        type: 'Microsoft.ContainerService/managedClusters/agentPools/upgradeProfiles',
        properties: {
          kubernetesVersion: current,
          osType: pool.osType,
          upgrades:
            clusterVersion !== current ? [{ kubernetesVersion: clusterVersion, isPreview: false }] : [],
          latestNodeImageVersion: latest,
        },
      },
    };
  }
}

function encodeSkipToken(token: SkipToken): string {
  return Buffer.from(JSON.stringify({ $v: 1, o: token.offset, p: token.page, h: token.hash })).toString(
    'base64',
  );
}

function decodeSkipToken(text: string): SkipToken | null {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
    if (!isRecord(parsed)) return null;
    const { o, p, h } = parsed;
    if (typeof o !== 'number' || typeof p !== 'number' || typeof h !== 'string' || o < 0) return null;
    return { offset: o, page: p, hash: h };
  } catch {
    return null;
  }
}
