// Loopback HTTPS emulator of ARM: Resource Graph `resources`, AKS upgrade profiles, and the subscription and cluster lists.
//
// Switches (on `emulator.faults`, changeable at any time; each test sets and clears its own):
// - `rejectAllTokens`: every call answers 401 InvalidAuthenticationToken ("The access token is invalid."), with
//   the WWW-Authenticate challenge ARM sends; a token for another audience always gets 401
//   InvalidAuthenticationTokenAudience (pair with the identity emulator's `wrongAudience` mode).
// - `forbidAll`: every call answers 403 AuthorizationFailed naming the action and scope, in ARM's wording
//   ("The client '…' with object id '…' does not have authorization to perform action '…' over scope '…' or the
//   scope is invalid. If access was recently granted, please refresh your credentials.").
// - `failingSubscriptions`: a Resource Graph query whose scope includes one of these answers 403 (the readable
//   part with `allowPartialScopes`); their cluster lists answer 403.
// - `hiddenSubscriptions`: subscriptions the identity may not read, silently left out of `resources` and
//   `resourcecontainers` answers (and of the subscription list), exactly as Resource Graph filters by permission:
//   no error. `hideManagementGroup(id)` hides every subscription of a group.
// - `forbidUpgradeProfiles`: upgrade profiles answer 403 while Resource Graph works.
// - `graphStatus`: every Resource Graph request answers this status (500, 503…): a persistent outage.
// - `hangGraph`: Resource Graph requests are accepted and never answered, until the emulator closes.
// - `queue`: one-shot 429/500/503 faults, for one request each (see OneShotFault).
// - `failUpgradeProfiles`: pools whose upgrade profile always answers 500.
// - `malformedClusters`: clusters (IDs, any case) whose Resource Graph row carries `agentPoolProfiles` as a JSON
//   string instead of an array, a row the auditor cannot read (a dynamic column serialised as text).
// `resetFaults()` turns every switch off; `stats` counts requests by endpoint, 401s, hung and too-large answers.
// Limits it enforces like the service: 1,000 rows a page, the per-identity quota (429 RateLimiting with the
// x-ms-user-quota-* headers), 10,000 subscriptions a tenant-wide query (x-ms-tenant-subscription-limit-hit), and no
// response over 16,777,216 bytes (400 BadRequest, detail ResponsePayloadTooLarge with the service's message, as
// reported in microsoft/ARI#199 and Azure/cosmos-explorer#1877); `responseLimitInBytes` lowers it for tests.
// It answers only the KQL it understands (emulators/resourceGraphQuery.ts) and refuses the rest with 400.
//
// The cases of README "When the audit cannot read", and how to play each (test/integration/auditCannotRead.test.ts):
// - no credential at all: not here; see the identity emulator's header;
// - 401 from ARM: `rejectAllTokens` (or the identity emulator's `wrongAudience` for InvalidAuthenticationTokenAudience);
// - 403 from ARM: `forbidAll` (every scope), `failingSubscriptions` (some subscriptions);
// - persistent 500s: `graphStatus = 500` (the app's AUDIT_ARM_MAX_ATTEMPTS bounds the retries);
// - a hung Resource Graph call: `hangGraph` (with AUDIT_ARM_TIMEOUT_SECONDS); a hung Table call: emulators/tcpProxy.ts
//   `hang` in front of Azurite (with AUDIT_TABLES_TIMEOUT_SECONDS);
// - one malformed cluster row: `malformedClusters`;
// - a configured subscription silently absent: `hiddenSubscriptions`; a management group with no readable
//   subscription: `hideManagementGroup(id)`; no readable subscription at all: every subscription hidden;
// - an empty but readable tenant: an emulator started with `generateEstate({ pools: 0, … })`.
// `quota = null` turns the per-identity Resource Graph quota off (no pacing) at any time.

import { createHash, randomUUID } from 'node:crypto';
import type http from 'node:http';
import https from 'node:https';

import type { ClusterRow, Estate, SubscriptionRow } from './estateGenerator';
import { imageFamilyOf } from './estateGenerator';
import { closeServer, listenOnLoopback } from './loopbackServer';
import type { ManagedIdentityEmulator } from './managedIdentityEmulator';
import { normaliseAudience } from './managedIdentityEmulator';
import {
  type GraphQuery,
  parseGraphQuery,
  projectRow,
  projectsId,
  QueryNotUnderstoodError,
} from './resourceGraphQuery';
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
  /** Every call answers 401 InvalidAuthenticationToken. */
  rejectAllTokens: boolean;
  /** Every call answers 403 AuthorizationFailed. */
  forbidAll: boolean;
  /** Subscriptions silently missing from every answer, as Resource Graph leaves out what the caller may not read. */
  hiddenSubscriptions: Set<string>;
  /** Upgrade profiles answer 403 AuthorizationFailed (Resource Graph still works). */
  forbidUpgradeProfiles: boolean;
  /** Every Resource Graph request answers this 5xx; null for none. */
  graphStatus: 500 | 502 | 503 | 504 | null;
  /** Resource Graph requests are accepted and never answered (until the emulator closes). */
  hangGraph: boolean;
  /** Cluster IDs (any case) whose Resource Graph row has `agentPoolProfiles` as a JSON string, not an array. */
  malformedClusters: Set<string>;
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
  /** Resource Graph requests left unanswered by `hangGraph`. */
  hung: number;
  /** Resource Graph answers refused as ResponsePayloadTooLarge. */
  tooLarge: number;
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
  /** The largest Resource Graph answer, in bytes of its JSON; default 16,777,216 as the service. */
  responseLimitInBytes?: number;
}

/** Resource Graph refuses to send a response larger than this (400 ResponsePayloadTooLarge). */
export const RESPONSE_LIMIT_IN_BYTES = 16_777_216;

const GRAPH_PATH = '/providers/microsoft.resourcegraph/resources';
/** The RBAC action each endpoint needs, as ARM names it in 403 messages. */
const ACTIONS: Record<ArmEndpointName, string> = {
  graph: 'Microsoft.ResourceGraph/resources/read',
  upgradeProfile: 'Microsoft.ContainerService/managedClusters/agentPools/upgradeProfiles/read',
  subscriptions: 'Microsoft.Resources/subscriptions/read',
  managedClusters: 'Microsoft.ContainerService/managedClusters/read',
  other: 'Microsoft.Resources/read',
};
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
  /** The body already serialised (Resource Graph measures its answer before sending it). */
  text?: string;
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
  /** The page size the token carries on to the next page ($top overrides it when sent). */
  size: number;
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

/** Resource Graph returns a skip token only for a query that projects `id` and has no `limit`/`take`. */
function canPage(query: GraphQuery): boolean {
  return projectsId(query);
}

function scopeOfManagementGroup(id: string): string {
  return `/providers/Microsoft.Management/managementGroups/${id}`;
}

export class ArmEmulator {
  readonly faults: ArmFaults = {
    failingSubscriptions: new Set(),
    queue: [],
    failUpgradeProfiles: new Set(),
    rejectAllTokens: false,
    forbidAll: false,
    hiddenSubscriptions: new Set(),
    forbidUpgradeProfiles: false,
    graphStatus: null,
    hangGraph: false,
    malformedClusters: new Set(),
  };
  readonly stats: ArmStats = {
    graphRequests: 0,
    graphRows: 0,
    upgradeProfileRequests: 0,
    subscriptionListRequests: 0,
    managedClusterListRequests: 0,
    throttled: 0,
    unauthorized: 0,
    hung: 0,
    tooLarge: 0,
    requestsByEndpoint: { graph: 0, upgradeProfile: 0, subscriptions: 0, managedClusters: 0, other: 0 },
  };
  latencyInMs: number;
  responseLimitInBytes: number;
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
    this.responseLimitInBytes = opts.responseLimitInBytes ?? RESPONSE_LIMIT_IN_BYTES;
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

  /** Hides every subscription of a management group: the group is then readable but holds nothing visible. */
  hideManagementGroup(id: string): void {
    for (const sub of this.managementGroups.get(id.toLowerCase()) ?? [])
      this.faults.hiddenSubscriptions.add(sub);
  }

  /** Turns every switch off and empties the fault queue. */
  resetFaults(): void {
    this.faults.failingSubscriptions.clear();
    this.faults.queue.length = 0;
    this.faults.failUpgradeProfiles.clear();
    this.faults.rejectAllTokens = false;
    this.faults.forbidAll = false;
    this.faults.hiddenSubscriptions.clear();
    this.faults.forbidUpgradeProfiles = false;
    this.faults.graphStatus = null;
    this.faults.hangGraph = false;
    this.faults.malformedClusters.clear();
  }

  private isHidden(subscription: string): boolean {
    const key = subscription.toLowerCase();
    for (const hidden of this.faults.hiddenSubscriptions) if (hidden.toLowerCase() === key) return true;
    return false;
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
      let reply: Reply | 'hang';
      try {
        reply = tooLarge
          ? armError(413, { code: 'RequestEntityTooLarge', message: 'The request body is too large.' })
          : this.route(req, url, Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        reply = armError(500, { code: 'InternalServerError', message: `Emulator error: ${String(err)}` });
      }
      // Accepted and never answered: the socket stays open until the client gives up or the emulator closes.
      if (reply === 'hang') return;
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
    const text = reply.text ?? JSON.stringify(reply.body);
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

  private route(req: http.IncomingMessage, url: URL, body: string): Reply | 'hang' {
    const path = url.pathname;
    const endpoint = this.endpointOf(req.method, path);
    this.stats.requestsByEndpoint[endpoint]++;
    const auth = this.authenticate(req.headers.authorization);
    if ('status' in auth) return auth;
    if (this.faults.forbidAll)
      return this.forbidden(auth.clientId, ACTIONS[endpoint], this.scopeOfRequest(endpoint, path, body));
    if (endpoint === 'graph') return this.graph(auth.clientId, body);
    if (endpoint === 'upgradeProfile') {
      if (this.faults.forbidUpgradeProfiles || this.isHidden(UPGRADE_PROFILE_PATH.exec(path)?.[1] ?? '')) {
        return this.forbidden(auth.clientId, ACTIONS.upgradeProfile, path);
      }
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
    if (!issued || this.faults.rejectAllTokens) {
      const message = 'The access token is invalid.';
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

  private graph(identity: string, text: string): Reply | 'hang' {
    this.stats.graphRequests++;
    if (this.faults.hangGraph) {
      this.stats.hung++;
      return 'hang';
    }
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
    if (this.faults.graphStatus !== null) {
      return withQuota(
        armError(this.faults.graphStatus, {
          code: this.faults.graphStatus === 503 ? 'ServiceUnavailable' : 'InternalServerError',
          message: 'Encountered internal server error (persistent injected fault).',
        }),
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
    let parsed: GraphQuery;
    try {
      parsed = parseGraphQuery(query);
    } catch (err) {
      if (!(err instanceof QueryNotUnderstoodError)) throw err;
      return badRequest('InvalidQuery', `Query is invalid for the emulator: ${err.message}.`);
    }
    const kind =
      parsed.table === 'resources' && parsed.type === 'microsoft.containerservice/managedclusters'
        ? 'clusters'
        : parsed.table === 'resourcecontainers' && parsed.type === 'microsoft.resources/subscriptions'
          ? 'subscriptions'
          : null;
    if (!kind) {
      return badRequest(
        'InvalidQuery',
        'Query is invalid. The emulator answers managed cluster (resources) and subscription (resourcecontainers) queries only.',
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
    const top = options.$top;
    const skip = options.$skip;
    if (
      top !== undefined &&
      (typeof top !== 'number' || !Number.isInteger(top) || top < 1 || top > MAX_PAGE_SIZE)
    ) {
      return badRequest('InvalidParameter', `$top must be an integer between 1 and ${MAX_PAGE_SIZE}.`);
    }
    if (skip !== undefined && (typeof skip !== 'number' || !Number.isInteger(skip) || skip < 0)) {
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
    // The skip token carries the next offset and page size; $top overrides the size and $skip the offset
    // (QueryRequestOptions in the Resource Graph REST spec).
    let offset = typeof skip === 'number' ? skip : 0;
    let pageSize = typeof top === 'number' ? top : MAX_PAGE_SIZE;
    let page = 1;
    if (typeof options.$skipToken === 'string' && options.$skipToken !== '') {
      const token = decodeSkipToken(options.$skipToken);
      if (!token || token.hash !== hash) {
        return badRequest(
          'InvalidSkipToken',
          'The $skipToken is invalid or belongs to another query or scope.',
        );
      }
      offset = typeof skip === 'number' ? skip : token.offset;
      pageSize = typeof top === 'number' ? top : token.size;
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
        if (!subs) return withQuota(this.forbidden(identity, ACTIONS.graph, scopeOfManagementGroup(mg)));
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

    // What the identity may not read is left out silently, as Resource Graph does.
    if (this.faults.hiddenSubscriptions.size) scope = scope.filter((s) => !this.isHidden(s));

    const failing = new Set([...this.faults.failingSubscriptions].map((s) => s.toLowerCase()));
    const unreadable = scope.filter((s) => failing.has(s) || !this.subscriptionsByKey.has(s));
    if (unreadable.length > 0) {
      if (!allowPartialScopes) {
        return withQuota({
          ...this.forbidden(identity, ACTIONS.graph, `/subscriptions/${unreadable[0] ?? ''}`),
          subscriptions: scope.length,
        });
      }
      const skipSet = new Set(unreadable);
      scope = scope.filter((s) => !skipSet.has(s));
    }

    const source =
      kind === 'clusters'
        ? this.clusterPage(scope, offset, pageSize)
        : this.subscriptionPage(scope, offset, pageSize);
    const rows = source.rows.map((row) => projectRow(parsed, row));
    const { total } = source;
    const more = offset + rows.length < total;
    const pageable = canPage(parsed);
    const body: Record<string, unknown> = {
      totalRecords: total,
      count: rows.length,
      resultTruncated: more && !pageable ? 'true' : 'false',
      ...(more && pageable
        ? {
            $skipToken: encodeSkipToken({
              offset: offset + rows.length,
              size: pageSize,
              page: page + 1,
              hash,
            }),
          }
        : {}),
      data: rows,
      facets: [],
    };
    const serialised = JSON.stringify(body);
    const size = Buffer.byteLength(serialised);
    if (size > this.responseLimitInBytes) {
      this.stats.tooLarge++;
      const requestId = randomUUID();
      return withQuota({
        ...armError(400, {
          code: 'BadRequest',
          message: `Please provide below info when asking for support: timestamp = ${new Date().toISOString()}, correlationId = ${requestId}.`,
          details: [
            {
              code: 'ResponsePayloadTooLarge',
              message: `Response payload size is ${size}, and has exceeded the limit of ${this.responseLimitInBytes}. Please consider querying less data at a time and make paginated call if needed.`,
            },
          ],
        }),
        subscriptions: scope.length,
      });
    }
    this.stats.graphRows += rows.length;
    return {
      status: 200,
      body,
      text: serialised,
      headers: { ...quotaHeaders, ...headers },
      subscriptions: scope.length,
    };
  }

  /** A 403 AuthorizationFailed in ARM's words. */
  private forbidden(identity: string, action: string, scope: string): Reply {
    return armError(403, {
      code: 'AuthorizationFailed',
      message: `The client '${identity}' with object id '${identity}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    });
  }

  /** The ARM scope a request reads, for 403 messages. */
  private scopeOfRequest(endpoint: ArmEndpointName, path: string, body: string): string {
    if (endpoint !== 'graph') return path.replace(/\/+$/, '') || '/';
    try {
      const request = JSON.parse(body) as { subscriptions?: unknown; managementGroups?: unknown };
      const subs = stringList(request.subscriptions);
      const mgs = stringList(request.managementGroups);
      if (Array.isArray(subs) && subs[0]) return `/subscriptions/${subs[0]}`;
      if (Array.isArray(mgs) && mgs[0]) return scopeOfManagementGroup(mgs[0]);
    } catch {
      // An unreadable body is refused for lack of authorization before it is parsed, as ARM does.
    }
    return '/';
  }

  private clusterPage(
    scope: string[],
    offset: number,
    top: number,
  ): { rows: Record<string, unknown>[]; total: number } {
    const rows: Record<string, unknown>[] = [];
    let total = 0;
    for (const sub of scope) {
      const list = this.clustersBySubscription.get(sub);
      if (!list) continue;
      const start = Math.max(0, offset - total);
      if (start < list.length && rows.length < top) {
        for (let i = start; i < list.length && rows.length < top; i++) {
          rows.push(this.servedRow(list[i]!));
        }
      }
      total += list.length;
    }
    return { rows, total };
  }

  /** A cluster's row as Resource Graph serves it: as generated, or malformed when the test asked for it. */
  private servedRow(cluster: ClusterRow): Record<string, unknown> {
    const row = cluster as unknown as Record<string, unknown>;
    if (![...this.faults.malformedClusters].some((id) => id.toLowerCase() === cluster.id.toLowerCase())) {
      return row;
    }
    const profiles = JSON.stringify(cluster.properties.agentPoolProfiles);
    return { ...row, properties: { ...cluster.properties, agentPoolProfiles: profiles } };
  }

  /** `resourcecontainers` rows of type microsoft.resources/subscriptions, with the columns the table has. */
  private subscriptionPage(
    scope: string[],
    offset: number,
    top: number,
  ): { rows: Record<string, unknown>[]; total: number } {
    const rows = scope.slice(offset, offset + top).map((s) => {
      const sub = this.subscriptionsByKey.get(s);
      const subscriptionId = sub?.subscriptionId ?? s;
      return {
        id: `/subscriptions/${subscriptionId}`,
        name: sub?.name ?? s,
        type: 'microsoft.resources/subscriptions',
        tenantId: this.identity.tenantId,
        kind: '',
        location: '',
        resourceGroup: '',
        subscriptionId,
        managedBy: '',
        sku: null,
        plan: null,
        properties: { state: 'Enabled', subscriptionPolicies: { quotaId: 'EnterpriseAgreement_2014-09-01' } },
        tags: {},
        identity: null,
        zones: null,
        extendedLocation: null,
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
    const visible = this.faults.hiddenSubscriptions.size
      ? this.subscriptionOrder.filter((key) => !this.isHidden(key))
      : this.subscriptionOrder;
    const page = visible.slice(offset, offset + this.subscriptionPageSize);
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
        ...(end < visible.length ? { nextLink: this.nextLink(url, end) } : {}),
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
    if (this.isHidden(key) || [...this.faults.failingSubscriptions].some((s) => s.toLowerCase() === key)) {
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
  return Buffer.from(
    JSON.stringify({ $v: 1, o: token.offset, s: token.size, p: token.page, h: token.hash }),
  ).toString('base64');
}

function decodeSkipToken(text: string): SkipToken | null {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
    if (!isRecord(parsed)) return null;
    const { o, s, p, h } = parsed;
    if (
      typeof o !== 'number' ||
      typeof s !== 'number' ||
      typeof p !== 'number' ||
      typeof h !== 'string' ||
      o < 0
    ) {
      return null;
    }
    return { offset: o, size: s, page: p, hash: h };
  } catch {
    return null;
  }
}
