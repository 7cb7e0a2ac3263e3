// The exemptions API: list, read, create or replace (If-Match), delete and history; approver-only writes (routes.ts).

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

/** Largest PUT body: every field at its limit takes under 4 KiB of JSON (UTF-8 may triple it). */
export const MAX_EXEMPTION_BODY_BYTES = 16 * 1024;
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
  return routeHandler(API_ROUTES.exemptions, deps.config, async (request): Promise<HttpResponseInit> => {
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

  // The caller is authorised by routeHandler from the route table (Exemptions.Write for PUT and DELETE).
  const write = async (
    request: HttpRequest,
    id: string,
    now: Date,
    who: string,
  ): Promise<HttpResponseInit> => {
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
        who,
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

  const remove = async (
    request: HttpRequest,
    id: string,
    now: Date,
    who: string,
  ): Promise<HttpResponseInit> => {
    const ifMatch = entityTags(request, 'if-match');
    let deleted: boolean;
    try {
      deleted = await deps.store.delete(id, {
        who,
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

  return routeHandler(API_ROUTES.exemption, deps.config, async (request, _context, caller) => {
    parseQuery(request.query, { schema: noQuerySchema, ignored: ['code'] });
    const id = pathId(request);
    const now = (deps.now ?? (() => new Date()))();
    if (request.method === 'PUT') return write(request, id, now, caller.who);
    if (request.method === 'DELETE') return remove(request, id, now, caller.who);
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
  return routeHandler(
    API_ROUTES.exemptionHistory,
    deps.config,
    async (request): Promise<HttpResponseInit> => {
      parseQuery(request.query, { schema: noQuerySchema, ignored: ['code'] });
      const id = pathId(request);
      const history = await deps.store.history(id);
      if (history.length === 0)
        throw new NotFoundError(`No exemption ${id} was ever stored, so it has no history.`);
      return json(200, { id: history[0]?.after?.id ?? history[0]?.before?.id ?? id, history });
    },
  );
}
