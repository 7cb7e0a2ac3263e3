// The exemptions API: list, read, create or replace (If-Match), delete and history; approver-only writes.

import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';

import {
  exemptionIdProblem,
  exemptionIdSchema,
  type ExemptionState,
  exemptionState,
  exemptionStateSchema,
  expiresWithin,
  validateExemptionInput,
} from '../core/exemptionRules';
import { exemptionSchema } from '../core/reportSchema';
import { NotFoundError } from '../errors';
import { CACHE_CONTROL, ifNoneMatchHits, notModified } from '../http/conditional';
import { routeHandler } from '../http/handle';
import { problemResponse, RequestValidationError } from '../http/problem';
import { API_ROUTES, ROUTE_PREFIX } from '../http/routes';
import { noQuerySchema } from '../http/schemas';
import { parseQuery, readJsonBody } from '../http/validate';
import {
  ExemptionPreconditionError,
  type ExemptionRecord,
  type ExemptionStore,
  type PoolCatalog,
  type StoredExemption,
  unknownScopeWarnings,
} from '../store/exemptionStore';

/** The app role an approver needs for writes when App Service Authentication is on. */
export const EXEMPTIONS_WRITE_ROLE = 'Exemptions.Write';
/** `who` of a write when no signed-in principal is known: the caller only proved the function key. */
export const FUNCTION_KEY_CALLER = 'function-key';
/** Largest PUT body: every field at its limit takes under 4 KiB of JSON (UTF-8 may triple it). */
export const MAX_EXEMPTION_BODY_BYTES = 16 * 1024;
const MAX_WHO_LENGTH = 256;
const MAX_EXPIRING_WITHIN_DAYS = 3650;

/** What the handlers need of storage; ExemptionStore implements it. */
export type ExemptionStoreLike = Pick<
  ExemptionStore,
  'ensureTable' | 'get' | 'list' | 'put' | 'delete' | 'history'
>;

export interface ExemptionsDependencies {
  store: ExemptionStoreLike;
  /** The run store, to warn about scopes no pool of the latest run falls under; null skips the check. */
  catalog: PoolCatalog | null;
  config: { exemptionMaxDays: number; appServiceAuthEnabled: boolean };
  now?: () => Date;
}

/** An exemption as the API returns it: the stored fields and where it stands now. */
export type ExemptionView = ExemptionRecord & { state: ExemptionState };

function view(record: ExemptionRecord, now: Date): ExemptionView {
  return { ...record, state: exemptionState(record, now) };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return {
    status,
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': CACHE_CONTROL.noStore,
      ...headers,
    },
    body: JSON.stringify(body),
  };
}

function exemptionLocation(id: string): string {
  return `/${ROUTE_PREFIX}/${API_ROUTES.exemption.route.replace('{id}', encodeURIComponent(id))}`;
}

function pathId(request: HttpRequest): string {
  const id = request.params.id ?? '';
  const problem = exemptionIdProblem(id);
  if (problem) throw new RequestValidationError([{ in: 'path', name: 'id', detail: `${problem}` }]);
  return id;
}

// ---- the caller ----

/** The signed-in caller as App Service Authentication describes it in `x-ms-client-principal`. */
export interface ClientPrincipal {
  name: string | null;
  roles: string[];
}

const CLAIM_TYPES = {
  roles: ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'],
  name: [
    'name',
    'preferred_username',
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
    'upn',
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn',
    'email',
    'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
  ],
  // App-only callers (client credentials) have no name; their application ID identifies them.
  app: ['appid', 'azp'],
};

const principalSchema = z.object({
  claims: z.array(z.object({ typ: z.string(), val: z.string() })),
  name_typ: z.string().optional(),
  role_typ: z.string().optional(),
});

/**
 * Decodes `x-ms-client-principal` (base64 JSON: `claims` as `{typ, val}`, plus `name_typ` and `role_typ`
 * naming the claim types of the name and the roles). Null when absent or not a principal. Only call this
 * when App Service Authentication is on: then the platform sets the header and strips any a client sent;
 * when it is off, anyone can send it.
 */
export function parseClientPrincipal(header: string | null): ClientPrincipal | null {
  if (header === null || header.trim() === '') return null;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(header.trim(), 'base64').toString('utf8'));
  } catch {
    return null;
  }
  const parsed = principalSchema.safeParse(decoded);
  if (!parsed.success) return null;
  const { claims, name_typ: nameType, role_typ: roleType } = parsed.data;
  const roleTypes = new Set([...CLAIM_TYPES.roles, ...(roleType ? [roleType] : [])]);
  const roles = claims.filter((c) => roleTypes.has(c.typ)).map((c) => c.val);
  const valueOf = (types: string[]) =>
    types
      .map((t) => claims.find((c) => c.typ === t && c.val.trim() !== '')?.val)
      .find((v) => v !== undefined);
  const person = valueOf([...(nameType ? [nameType] : []), ...CLAIM_TYPES.name]);
  const app = valueOf(CLAIM_TYPES.app);
  const name = person ?? (app !== undefined ? `app:${app}` : null);
  // A name goes into history and emails: no control characters, bounded length.
  // eslint-disable-next-line no-control-regex
  const clean = name?.replace(/[\u0000-\u001F\u007F]/g, '').slice(0, MAX_WHO_LENGTH) || null;
  return { name: clean, roles };
}

type WriteAuthorization = { ok: true; who: string } | { ok: false; response: HttpResponseInit };

/**
 * Writes need the function key (the host checks it: authLevel 'function') and, when App Service
 * Authentication is on, a principal holding the app role Exemptions.Write. When it is off the principal
 * header is ignored altogether: nothing strips a forged one.
 */
export function authorizeWrite(request: HttpRequest, appServiceAuthEnabled: boolean): WriteAuthorization {
  if (!appServiceAuthEnabled) return { ok: true, who: FUNCTION_KEY_CALLER };
  const principal = parseClientPrincipal(request.headers.get('x-ms-client-principal'));
  if (!principal) {
    return {
      ok: false,
      response: problemResponse(
        401,
        `App Service Authentication is on, and this request carries no signed-in principal. Sign in (or send an Entra ID access token for this app) as someone holding the app role ${EXEMPTIONS_WRITE_ROLE}.`,
        { type: 'urn:aks-fips-auditor:problem:unauthenticated', title: 'Sign-in required' },
        { 'WWW-Authenticate': 'Bearer' },
      ),
    };
  }
  if (!principal.roles.includes(EXEMPTIONS_WRITE_ROLE)) {
    return {
      ok: false,
      response: problemResponse(
        403,
        `${principal.name ?? 'This caller'} does not hold the app role ${EXEMPTIONS_WRITE_ROLE}, which changing exemptions needs. Ask an owner of the app registration to assign it.`,
        { type: 'urn:aks-fips-auditor:problem:forbidden', title: 'Not an approver' },
      ),
    };
  }
  return { ok: true, who: principal.name ?? FUNCTION_KEY_CALLER };
}

// ---- preconditions ----

const ENTITY_TAG = /^(W\/)?"[\x21\x23-\x7E\x80-\xFF]*"$/;

/** If-Match / If-None-Match as a list of entity tags or `*`; undefined when absent; 400 when malformed. */
function entityTags(request: HttpRequest, name: 'if-match' | 'if-none-match'): string[] | '*' | undefined {
  const header = request.headers.get(name);
  if (header === null) return undefined;
  if (header.trim() === '*') return '*';
  const tags = header.split(',').map((t) => t.trim());
  if (tags.some((t) => !ENTITY_TAG.test(t))) {
    throw new RequestValidationError([
      { in: 'header', name, detail: 'must be * or quoted ETags as the ETag header gave them, e.g. "Zm9v…"' },
    ]);
  }
  // If-Match compares strongly: a weak tag never matches, so it is dropped (RFC 9110 §13.1.1).
  return name === 'if-match' ? tags.filter((t) => !t.startsWith('W/')) : tags;
}

function preconditionProblem(error: ExemptionPreconditionError): HttpResponseInit {
  return error.status === 428
    ? problemResponse(428, error.message, {
        type: 'urn:aks-fips-auditor:problem:precondition-required',
        title: 'If-Match required',
      })
    : problemResponse(412, error.message, {
        type: 'urn:aks-fips-auditor:problem:precondition-failed',
        title: 'The exemption changed',
      });
}

// ---- handlers ----

const flag = z
  .enum(['true', 'false', ''], { message: 'must be true or false (or given without a value, meaning true)' })
  .transform((v) => v !== 'false')
  .optional();

/** GET /api/exemptions query. */
export const exemptionsQuerySchema = z
  .object({
    active: flag.meta({ description: 'true: only exemptions in force now; false: only those not in force.' }),
    expired: flag.meta({ description: 'true: only lapsed exemptions; false: only those not lapsed.' }),
    expiringWithinDays: z
      .string()
      .regex(/^\d{1,4}$/, { message: `must be a whole number of days from 0 to ${MAX_EXPIRING_WITHIN_DAYS}` })
      .transform(Number)
      .pipe(
        z
          .number()
          .int()
          .max(MAX_EXPIRING_WITHIN_DAYS, { message: `must be at most ${MAX_EXPIRING_WITHIN_DAYS}` }),
      )
      .optional()
      .meta({ description: 'Only exemptions in force now that lapse within this many days.' }),
  })
  .strict();

/** GET, PUT and DELETE /api/exemptions/{id} and GET …/history path (pathId validates it with exemptionIdProblem). */
export const exemptionPathSchema = z.object({ id: exemptionIdSchema }).strict();

// ---- response schemas: what these handlers return, for the OpenAPI document ----

const isoDateTime = z.iso.datetime({ offset: true });

/** ExemptionRecord: the report's exemption fields plus who changed it last and when. */
export const exemptionRecordSchema = exemptionSchema.extend({
  updatedBy: z.string().meta({
    description: 'Who made the last change: a principal name, app:<appid>, function-key or cli:<user>.',
  }),
  updatedAt: isoDateTime,
});

/** ExemptionView: GET /api/exemptions/{id}. */
export const exemptionViewSchema = exemptionRecordSchema.extend({ state: exemptionStateSchema });

/** PUT /api/exemptions/{id}: the stored exemption and advice about it. */
export const exemptionWriteResponseSchema = exemptionViewSchema.extend({
  warnings: z.array(z.string()).meta({
    description:
      'Advisory, the exemption is stored regardless: e.g. no pool of the latest audit run falls under its scope (a typo?).',
  }),
});

/** GET /api/exemptions. */
export const exemptionsListSchema = z.object({
  asOf: isoDateTime.meta({ description: 'The time `state` and the filters were judged at.' }),
  count: z.number().int().nonnegative(),
  exemptions: z
    .array(
      exemptionViewSchema.extend({
        etag: z.string().meta({ description: "The exemption's ETag, for If-Match." }),
      }),
    )
    .meta({ description: 'Soonest expiry first.' }),
});

/** GET /api/exemptions/{id}/history. */
export const exemptionHistorySchema = z.object({
  id: exemptionIdSchema,
  history: z
    .array(
      z.object({
        seq: z.number().int().positive(),
        action: z.enum(['created', 'replaced', 'deleted']),
        who: z.string(),
        at: isoDateTime,
        before: exemptionRecordSchema.nullable().meta({ description: 'null for a creation.' }),
        after: exemptionRecordSchema.nullable().meta({ description: 'null for a deletion.' }),
      }),
    )
    .meta({ description: 'Every change, newest first; kept after a deletion.' }),
});

/** GET /api/exemptions: every exemption matching the filters, soonest expiry first, each with its ETag. */
export function exemptionsHandler(deps: ExemptionsDependencies) {
  return routeHandler(API_ROUTES.exemptions, async (request): Promise<HttpResponseInit> => {
    const query = parseQuery(request.query, { schema: exemptionsQuerySchema, ignored: ['code'] });
    const now = (deps.now ?? (() => new Date()))();
    const items: (ExemptionView & { etag: string })[] = [];
    for await (const { exemption, etag } of deps.store.list()) {
      const state = exemptionState(exemption, now);
      if (query.active !== undefined && (state === 'active') !== query.active) continue;
      if (query.expired !== undefined && (state === 'expired') !== query.expired) continue;
      if (query.expiringWithinDays !== undefined && !expiresWithin(exemption, now, query.expiringWithinDays))
        continue;
      items.push({ ...exemption, state, etag });
    }
    items.sort(
      (a, b) =>
        a.expiresOn.localeCompare(b.expiresOn) || a.id.toLowerCase().localeCompare(b.id.toLowerCase()),
    );
    return json(200, { asOf: now.toISOString(), count: items.length, exemptions: items });
  });
}

/** GET, PUT and DELETE /api/exemptions/{id}. */
export function exemptionHandler(deps: ExemptionsDependencies) {
  let tableReady: Promise<void> | undefined;
  const ensureTable = () => {
    tableReady ??= deps.store.ensureTable().catch((error: unknown) => {
      tableReady = undefined; // try again on the next request
      throw error;
    });
    return tableReady;
  };

  const read = async (request: HttpRequest, id: string, now: Date): Promise<HttpResponseInit> => {
    const stored = await deps.store.get(id);
    if (!stored) throw new NotFoundError(`No exemption ${id}. List them with GET /api/exemptions.`);
    const headers = { ETag: stored.etag };
    if (ifNoneMatchHits(request.headers.get('if-none-match'), stored.etag)) {
      return notModified({ ...headers, 'Cache-Control': CACHE_CONTROL.noStore });
    }
    return json(200, view(stored.exemption, now), headers);
  };

  const write = async (request: HttpRequest, id: string, now: Date): Promise<HttpResponseInit> => {
    const auth = authorizeWrite(request, deps.config.appServiceAuthEnabled);
    if (!auth.ok) return auth.response;
    const ifMatch = entityTags(request, 'if-match');
    const ifNoneMatch = entityTags(request, 'if-none-match');
    if (ifNoneMatch !== undefined && ifNoneMatch !== '*') {
      throw new RequestValidationError([
        { in: 'header', name: 'if-none-match', detail: 'takes only * on PUT (create only, never replace)' },
      ]);
    }
    const body = await readJsonBody(request, z.looseObject({}), { maxBytes: MAX_EXEMPTION_BODY_BYTES });
    const input = validateExemptionInput(body, { now, maxDays: deps.config.exemptionMaxDays, id });
    if (!input.ok) {
      throw new RequestValidationError(
        input.issues.map((i) => ({ in: 'body', name: i.field, detail: i.detail })),
      );
    }
    await ensureTable();
    let result: { stored: StoredExemption; created: boolean };
    try {
      result = await deps.store.put(id, input.value, {
        who: auth.who,
        at: now,
        ...(ifMatch !== undefined ? { ifMatch } : {}),
        ...(ifNoneMatch === '*' ? { ifNoneMatch } : {}),
      });
    } catch (error) {
      if (error instanceof ExemptionPreconditionError) return preconditionProblem(error);
      throw error;
    }
    const warnings = deps.catalog ? await unknownScopeWarnings(deps.catalog, input.value.scope) : [];
    const { stored, created } = result;
    return json(
      created ? 201 : 200,
      { ...view(stored.exemption, now), warnings },
      { ETag: stored.etag, ...(created ? { Location: exemptionLocation(stored.exemption.id) } : {}) },
    );
  };

  const remove = async (request: HttpRequest, id: string, now: Date): Promise<HttpResponseInit> => {
    const auth = authorizeWrite(request, deps.config.appServiceAuthEnabled);
    if (!auth.ok) return auth.response;
    const ifMatch = entityTags(request, 'if-match');
    let deleted: boolean;
    try {
      deleted = await deps.store.delete(id, {
        who: auth.who,
        at: now,
        ...(ifMatch !== undefined ? { ifMatch } : {}),
      });
    } catch (error) {
      if (error instanceof ExemptionPreconditionError) return preconditionProblem(error);
      throw error;
    }
    if (!deleted) throw new NotFoundError(`No exemption ${id}; nothing was deleted.`);
    return { status: 204, headers: { 'Cache-Control': CACHE_CONTROL.noStore } };
  };

  return routeHandler(API_ROUTES.exemption, async (request): Promise<HttpResponseInit> => {
    parseQuery(request.query, { schema: noQuerySchema, ignored: ['code'] });
    const id = pathId(request);
    const now = (deps.now ?? (() => new Date()))();
    if (request.method === 'PUT') return write(request, id, now);
    if (request.method === 'DELETE') return remove(request, id, now);
    return read(request, id, now);
  });
}

/** The three exemption routes' handlers by route name, for the local adapter's `createApiHandlers(deps, extra)`. */
export function exemptionApiHandlers(deps: ExemptionsDependencies) {
  return {
    exemptions: exemptionsHandler(deps),
    exemption: exemptionHandler(deps),
    exemptionHistory: exemptionHistoryHandler(deps),
  };
}

/** GET /api/exemptions/{id}/history: every change, newest first, also of a deleted exemption. */
export function exemptionHistoryHandler(deps: ExemptionsDependencies) {
  return routeHandler(API_ROUTES.exemptionHistory, async (request): Promise<HttpResponseInit> => {
    parseQuery(request.query, { schema: noQuerySchema, ignored: ['code'] });
    const id = pathId(request);
    const history = await deps.store.history(id);
    if (history.length === 0)
      throw new NotFoundError(`No exemption ${id} was ever stored, so it has no history.`);
    return json(200, { id: history[0]?.after?.id ?? history[0]?.before?.id ?? id, history });
  });
}
