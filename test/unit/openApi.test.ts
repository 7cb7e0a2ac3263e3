// The committed OpenAPI document is what the handlers' schemas generate, and it describes every route of this API.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { z } from 'zod';

import {
  exemptionIdProblem,
  exemptionIdSchema,
  exemptionInputSchema,
  READ_ONLY_FIELDS,
  validateExemptionInput,
} from '../../src/core/exemptionRules';
import { ConfigError } from '../../src/errors';
import {
  exemptionApiHandlers,
  exemptionHistorySchema,
  exemptionRecordSchema,
  type ExemptionsDependencies,
  exemptionsListSchema,
  exemptionsQuerySchema,
  type ExemptionStoreLike,
  type ExemptionView,
  exemptionViewSchema,
  exemptionWriteResponseSchema,
  MAX_EXEMPTION_BODY_BYTES,
} from '../../src/handlers/exemptionsHandler';
import { buildOpenApiDocument, openApiText } from '../../src/http/openApi';
import { API_ROUTES, ROUTE_PREFIX } from '../../src/http/routes';
import { reportQuerySchema, runsQuerySchema } from '../../src/http/schemas';
import { OPENAPI_PATH } from '../../src/http/writeOpenApi';
import {
  type ExemptionHistoryEntry,
  ExemptionPreconditionError,
  type ExemptionRecord,
  type StoredExemption,
} from '../../src/store/exemptionStore';
import { callHandler, type CallResult } from '../support/httpCall';

type Parameter = { name: string; in: string; required?: boolean };
type Response = { headers?: Record<string, unknown>; content?: Record<string, unknown> };
type Operation = {
  operationId: string;
  'x-app-roles'?: string[];
  parameters?: Parameter[];
  security?: unknown[];
  responses: Record<string, Response>;
};
type Paths = Record<string, Record<string, Operation>>;

const doc = buildOpenApiDocument() as { openapi: string; paths: Paths };
const ROUTE_NAMES = Object.keys(API_ROUTES) as (keyof typeof API_ROUTES)[];
const pathOf = (name: keyof typeof API_ROUTES) => `/${ROUTE_PREFIX}/${API_ROUTES[name].route}`;
/** HEAD answers like GET without a body; the document describes GET. */
const documentedMethods = (name: keyof typeof API_ROUTES) =>
  (API_ROUTES[name].methods as readonly string[]).filter((m) => m !== 'HEAD').map((m) => m.toLowerCase());

it('matches docs/openapi.json (run `npm run openapi` after changing a schema or route)', () => {
  const committed = readFileSync(join(__dirname, '..', '..', OPENAPI_PATH), 'utf8');
  expect(committed).toBe(openApiText());
});

it('is OpenAPI 3.1', () => {
  expect(doc.openapi).toBe('3.1.0');
});

it('has a path for every route of API_ROUTES and no other', () => {
  expect(Object.keys(doc.paths).sort()).toEqual(ROUTE_NAMES.map(pathOf).sort());
});

it.each(ROUTE_NAMES)('describes the %s route with its methods, operation ID and auth level', (name) => {
  const route = API_ROUTES[name];
  const path = doc.paths[pathOf(name)];
  expect(path).toBeDefined();
  expect(Object.keys(path ?? {}).sort()).toEqual(documentedMethods(name).sort());
  expect(path?.[route.methods[0].toLowerCase()]?.operationId).toBe(route.name);
  for (const method of documentedMethods(name)) {
    const operation = path?.[method];
    if (route.authLevel === 'anonymous') expect(operation?.security).toEqual([]);
    else expect(operation?.security).toBeUndefined();
    // Who may call it: the route table's role, with the 401 and 403 App Service Authentication adds.
    const role = (route.roles as Partial<Record<string, string>>)[method.toUpperCase()];
    expect(operation?.['x-app-roles']).toEqual(role === undefined ? undefined : [role]);
    for (const status of ['401', '403']) {
      expect([status, operation?.responses[status] !== undefined]).toEqual([status, role !== undefined]);
    }
    // Every `{name}` of the route template is a required path parameter of every operation.
    const templated = [...route.route.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    const inPath = (operation?.parameters ?? []).filter((p) => p.in === 'path');
    expect(inPath.map((p) => p.name)).toEqual(templated);
    for (const parameter of inPath) expect(parameter.required).toBe(true);
  }
});

it('gives every operation its own operation ID', () => {
  const ids = Object.values(doc.paths).flatMap((path) => Object.values(path).map((op) => op.operationId));
  expect(new Set(ids).size).toBe(ids.length);
});

it.each([
  ['report', reportQuerySchema],
  ['runs', runsQuerySchema],
  ['exemptions', exemptionsQuerySchema],
] as const)('lists exactly the query parameters the %s handler accepts', (name, schema) => {
  const operation = doc.paths[pathOf(name)]?.get;
  const query = operation?.parameters?.filter((p) => p.in === 'query');
  expect(query?.map((p) => p.name)).toEqual(Object.keys(schema.shape));
});

describe('the exemption schemas describe what the handlers validate', () => {
  it.each([
    'a',
    'Win19-rebuild_2.x',
    'x'.repeat(64),
    'x'.repeat(65),
    '',
    '-lead',
    '.lead',
    'has space',
    'a/b',
    'ümlaut',
  ])('agrees with exemptionIdProblem on the ID %j', (id) => {
    expect(exemptionIdSchema.safeParse(id).success).toBe(exemptionIdProblem(id) === null);
  });

  const now = new Date('2026-11-29T06:00:00Z');
  const scope =
    '/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks/agentPools/win19';
  const valid = {
    scope,
    codes: ['OS_RETIRED'],
    reason: 'Rebuilt on Windows 2022 in sprint 48',
    ticket: 'CHG0012345',
    owner: 'platform-team',
    expiresOn: '2026-12-31',
  };
  const rulesAccept = (body: unknown) => validateExemptionInput(body, { now, maxDays: 180, id: 'w1' }).ok;

  it.each<[string, Record<string, unknown>]>([
    ['a full body', valid],
    ['every code (null) and no ticket (null)', { ...valid, codes: null, ticket: null }],
    ['codes and ticket left out', { scope, reason: 'r', owner: 'o', expiresOn: '2026-12-31' }],
    ['a date-time with an offset', { ...valid, expiresOn: '2026-12-31T17:00:00+01:00' }],
    ['a date-time without seconds, lower-case t and z', { ...valid, expiresOn: '2026-12-31t17:00z' }],
    ['nanoseconds', { ...valid, expiresOn: '2026-12-31T17:00:00.123456789Z' }],
    [
      'the read-only fields of a GET sent back',
      {
        ...valid,
        id: 'W1',
        createdBy: 'x',
        createdAt: 'x',
        updatedBy: 'x',
        updatedAt: 'x',
        state: 'active',
        etag: '"x"',
        warnings: [],
      },
    ],
  ])('both accept %s', (_what, body) => {
    expect(rulesAccept(body)).toBe(true);
    expect(exemptionInputSchema.safeParse(body).success).toBe(true);
  });

  it.each<[string, Record<string, unknown>]>([
    ['no scope', { ...valid, scope: undefined }],
    ['a scope that is too long', { ...valid, scope: `${scope}/${'x'.repeat(512)}` }],
    ['no codes in the list', { ...valid, codes: [] }],
    ['an unknown code', { ...valid, codes: ['NOPE'] }],
    ['an empty reason', { ...valid, reason: '' }],
    ['a reason that is too long', { ...valid, reason: 'r'.repeat(2001) }],
    ['no owner', { ...valid, owner: undefined }],
    ['an owner that is too long', { ...valid, owner: 'o'.repeat(257) }],
    ['a ticket that is no string', { ...valid, ticket: 42 }],
    ['an empty ticket', { ...valid, ticket: '' }],
    ['no expiry', { ...valid, expiresOn: undefined }],
    ['an expiry in words', { ...valid, expiresOn: 'next month' }],
    ['a date-time without an offset', { ...valid, expiresOn: '2026-12-31T17:00:00' }],
    ['a numeric expiry', { ...valid, expiresOn: 20261231 }],
    ['a misspelt field', { ...valid, expiresAt: '2026-12-31' }],
  ])('both refuse %s', (_what, body) => {
    expect(rulesAccept(body)).toBe(false);
    expect(exemptionInputSchema.safeParse(body).success).toBe(false);
  });

  it('names every field the rules accept, the read-only ones marked so', () => {
    const fields = Object.keys(exemptionInputSchema.shape);
    expect(fields).toEqual(expect.arrayContaining([...READ_ONLY_FIELDS]));
    const request = (buildOpenApiDocument() as { components: { schemas: Record<string, unknown> } })
      .components.schemas.ExemptionRequest as { properties: Record<string, { readOnly?: boolean }> };
    for (const field of READ_ONLY_FIELDS) expect(request.properties[field]?.readOnly).toBe(true);
    // Any field the schema names is one the rules know: none is refused as "not a field of an exemption".
    const everything = Object.fromEntries(fields.map((f) => [f, null]));
    const rules = validateExemptionInput(everything, { now, maxDays: 180 });
    expect(rules.ok ? [] : rules.issues.filter((i) => i.detail.startsWith('is not a field'))).toEqual([]);
  });
});

// Compile-time: the response schemas have exactly the shapes the handlers' types give (`tsc` checks this).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const RESPONSE_TYPES_MATCH: [
  Same<z.output<typeof exemptionRecordSchema>, ExemptionRecord>,
  Same<z.output<typeof exemptionViewSchema>, ExemptionView>,
  Same<z.output<typeof exemptionHistorySchema>['history'][number], ExemptionHistoryEntry>,
] = [true, true, true];

/** Just enough of the exemption store, in memory, to drive every outcome of the handlers. */
function memoryStore(): ExemptionStoreLike {
  const rows = new Map<string, StoredExemption>();
  const histories = new Map<string, ExemptionHistoryEntry[]>();
  let version = 0;
  const append = (id: string, entry: Omit<ExemptionHistoryEntry, 'seq'>) => {
    const list = histories.get(id.toLowerCase()) ?? [];
    list.unshift({ seq: list.length + 1, ...entry });
    histories.set(id.toLowerCase(), list);
  };
  return {
    ensureTable: () => Promise.resolve(),
    get: (id) => Promise.resolve(rows.get(id.toLowerCase())),
    async *list() {
      await Promise.resolve();
      yield* rows.values();
    },
    put: (id, input, options) => {
      const current = rows.get(id.toLowerCase());
      const fail = (status: 412 | 428) =>
        Promise.reject(new ExemptionPreconditionError('precondition', status));
      if (current && options.ifNoneMatch === '*') return fail(412);
      if (current && options.ifMatch === undefined) return fail(428);
      if (current && options.ifMatch !== '*' && !options.ifMatch?.includes(current.etag)) return fail(412);
      if (!current && options.ifMatch !== undefined) return fail(412);
      const at = options.at.toISOString();
      const exemption: ExemptionRecord = {
        id: current?.exemption.id ?? id,
        ...input,
        createdBy: current?.exemption.createdBy ?? options.who,
        createdAt: current?.exemption.createdAt ?? at,
        updatedBy: options.who,
        updatedAt: at,
      };
      const stored = { exemption, etag: `"v${(version += 1)}"` };
      rows.set(id.toLowerCase(), stored);
      append(id, {
        action: current ? 'replaced' : 'created',
        who: options.who,
        at,
        before: current?.exemption ?? null,
        after: exemption,
      });
      return Promise.resolve({ stored, created: !current });
    },
    delete: (id, options) => {
      const current = rows.get(id.toLowerCase());
      if (!current) return Promise.resolve(false);
      if (
        options.ifMatch !== undefined &&
        options.ifMatch !== '*' &&
        !options.ifMatch.includes(current.etag)
      ) {
        return Promise.reject(new ExemptionPreconditionError('changed', 412));
      }
      rows.delete(id.toLowerCase());
      append(id, {
        action: 'deleted',
        who: options.who,
        at: options.at.toISOString(),
        before: current.exemption,
        after: null,
      });
      return Promise.resolve(true);
    },
    history: (id) => Promise.resolve(histories.get(id.toLowerCase()) ?? []),
  };
}

describe('the exemption routes answer only as documented', () => {
  const now = new Date('2026-11-29T06:00:00Z');
  const body = {
    scope: '/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333',
    reason: 'Rebuilt in sprint 48',
    owner: 'platform-team',
    expiresOn: '2026-12-31',
  };
  const json = (value: unknown) => ({
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(value),
  });
  const principal = (roles: string[]) =>
    Buffer.from(
      JSON.stringify({
        claims: [{ typ: 'name', val: 'Alice' }, ...roles.map((val) => ({ typ: 'roles', val }))],
      }),
    ).toString('base64');
  const deps = (overrides: Partial<ExemptionsDependencies> = {}): ExemptionsDependencies => ({
    store: memoryStore(),
    // No completed run: every write carries a warning.
    catalog: {
      getLatestRun: () => Promise.resolve(undefined),
      listPoolStates: async function* () {},
    },
    config: { exemptionMaxDays: 180, appServiceAuthEnabled: false },
    now: () => now,
    ...overrides,
  });
  type ExemptionRoute = 'exemptions' | 'exemption' | 'exemptionHistory';
  const RESPONSE_SCHEMAS: Record<string, z.ZodType> = {
    'get exemptions 200': exemptionsListSchema,
    'get exemption 200': exemptionViewSchema,
    'put exemption 200': exemptionWriteResponseSchema,
    'put exemption 201': exemptionWriteResponseSchema,
    'get exemptionHistory 200': exemptionHistorySchema,
  };
  const seen = new Set<string>();

  /** Calls a route, then checks the status, headers, media type and body against the document. */
  async function call(
    handlers: ReturnType<typeof exemptionApiHandlers>,
    name: ExemptionRoute,
    options: {
      method?: string;
      id?: string;
      query?: string;
      headers?: Record<string, string>;
      body?: string;
    },
  ): Promise<CallResult> {
    const method = options.method ?? 'GET';
    const url = `/api/${API_ROUTES[name].route.replace('{id}', options.id ?? '')}${options.query ?? ''}`;
    const answer = await callHandler(handlers[name], {
      method,
      url,
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.body !== undefined ? { body: options.body } : {}),
      ...(options.id !== undefined ? { params: { id: options.id } } : {}),
    });
    const key = `${method.toLowerCase()} ${name} ${answer.status}`;
    seen.add(key);
    const documented = doc.paths[pathOf(name)]?.[method.toLowerCase()]?.responses[String(answer.status)];
    if (!documented) throw new Error(`${key} is not documented: ${answer.text}`);
    for (const header of Object.keys(documented.headers ?? {})) {
      expect([key, header, answer.headers.has(header)]).toEqual([key, header, true]);
    }
    const mediaType = answer.headers.get('content-type')?.split(';')[0];
    if (answer.text === '') expect(documented.content).toBeUndefined();
    else expect(Object.keys(documented.content ?? {})).toContain(mediaType);
    const schema = RESPONSE_SCHEMAS[key];
    if (schema) expect(schema.safeParse(answer.json()).error).toBeUndefined();
    return answer;
  }

  it('covers create, read, replace, list, history and delete, with their failures', async () => {
    const h = exemptionApiHandlers(deps());
    expect((await call(h, 'exemptions', {})).status).toBe(200);
    expect((await call(h, 'exemptions', { query: '?active=maybe' })).status).toBe(400);
    const created = await call(h, 'exemption', { method: 'PUT', id: 'w1', ...json(body) });
    expect(created.status).toBe(201);
    expect(created.json<{ warnings: string[] }>().warnings.length).toBeGreaterThan(0);
    const etag = created.headers.get('etag') ?? '';
    expect((await call(h, 'exemption', { method: 'PUT', id: 'w1', ...json(body) })).status).toBe(428);
    const stale = { ...json(body), headers: { ...json(body).headers, 'if-match': '"stale"' } };
    expect((await call(h, 'exemption', { method: 'PUT', id: 'w1', ...stale })).status).toBe(412);
    const createOnly = { ...json(body), headers: { ...json(body).headers, 'if-none-match': '*' } };
    expect((await call(h, 'exemption', { method: 'PUT', id: 'w1', ...createOnly })).status).toBe(412);
    const fresh = { ...json(body), headers: { ...json(body).headers, 'if-match': etag } };
    const replaced = await call(h, 'exemption', { method: 'PUT', id: 'w1', ...fresh });
    expect(replaced.status).toBe(200);
    const etag2 = replaced.headers.get('etag') ?? '';
    expect((await call(h, 'exemption', { method: 'PUT', id: 'w2', ...json({ ...body, x: 1 }) })).status).toBe(
      400,
    );
    const huge = json({ ...body, reason: 'r'.repeat(MAX_EXEMPTION_BODY_BYTES) });
    expect((await call(h, 'exemption', { method: 'PUT', id: 'w2', ...huge })).status).toBe(413);
    const text = { headers: { 'content-type': 'text/plain' }, body: JSON.stringify(body) };
    expect((await call(h, 'exemption', { method: 'PUT', id: 'w2', ...text })).status).toBe(415);
    expect((await call(h, 'exemption', { id: 'w1' })).status).toBe(200);
    expect((await call(h, 'exemption', { id: 'w1', headers: { 'if-none-match': etag2 } })).status).toBe(304);
    expect((await call(h, 'exemption', { id: 'nope' })).status).toBe(404);
    expect((await call(h, 'exemption', { id: '-bad' })).status).toBe(400);
    expect((await call(h, 'exemptions', { query: '?active' })).status).toBe(200);
    expect((await call(h, 'exemptionHistory', { id: 'w1' })).status).toBe(200);
    expect((await call(h, 'exemptionHistory', { id: 'nope' })).status).toBe(404);
    expect(
      (await call(h, 'exemption', { method: 'DELETE', id: 'w1', headers: { 'if-match': etag } })).status,
    ).toBe(412);
    expect((await call(h, 'exemption', { method: 'DELETE', id: 'w1' })).status).toBe(204);
    expect((await call(h, 'exemption', { method: 'DELETE', id: 'w1' })).status).toBe(404);
    expect((await call(h, 'exemptionHistory', { id: 'w1' })).status).toBe(200);
  });

  it('covers the approver check when App Service Authentication is on', async () => {
    const h = exemptionApiHandlers(deps({ config: { exemptionMaxDays: 180, appServiceAuthEnabled: true } }));
    expect((await call(h, 'exemption', { method: 'PUT', id: 'w1', ...json(body) })).status).toBe(401);
    const reader = { 'content-type': 'application/json', 'x-ms-client-principal': principal(['Reader']) };
    const asReader = { headers: reader, body: JSON.stringify(body) };
    expect((await call(h, 'exemption', { method: 'PUT', id: 'w1', ...asReader })).status).toBe(403);
    expect((await call(h, 'exemption', { method: 'DELETE', id: 'w1' })).status).toBe(401);
    const approver = { 'x-ms-client-principal': principal(['Exemptions.Write']) };
    expect((await call(h, 'exemption', { method: 'DELETE', id: 'w1', headers: approver })).status).toBe(404);
  });

  it('covers storage that is not configured', async () => {
    const unconfigured = deps();
    Object.defineProperty(unconfigured, 'store', {
      get: () => {
        throw new ConfigError('Storage is not configured');
      },
    });
    const h = exemptionApiHandlers(unconfigured);
    expect((await call(h, 'exemptions', {})).status).toBe(503);
    expect((await call(h, 'exemption', { id: 'w1' })).status).toBe(503);
  });

  afterAll(() => {
    // Every 2xx the document describes was produced above, so each response schema was checked once.
    for (const key of Object.keys(RESPONSE_SCHEMAS)) expect([key, seen.has(key)]).toEqual([key, true]);
    expect(RESPONSE_TYPES_MATCH).toEqual([true, true, true]);
  });
});
