// The exemptions API through its handler factories: real HttpRequest/InvocationContext, Azurite.

import { randomBytes } from 'node:crypto';

import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';

import { type AzuriteInstance, startAzurite } from '../../emulators/azurite';
import { App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { newRunId } from '../../src/core/runId';
import type { PoolResult } from '../../src/core/types';
import {
  exemptionApiHandlers,
  exemptionHandler,
  exemptionHistoryHandler,
  type ExemptionsDependencies,
  exemptionsHandler,
  MAX_EXEMPTION_BODY_BYTES,
} from '../../src/handlers/exemptionsHandler';
import { serveHttp } from '../../src/http/serveHttp';
import {
  type ExemptionHistoryEntry,
  ExemptionStore,
  type StoredExemption,
} from '../../src/store/exemptionStore';
import { POOL_HISTORY_TABLE, POOLS_TABLE, PoolStateStore } from '../../src/store/poolStateStore';
import { RUNS_TABLE, RunStore } from '../../src/store/runStore';
import { TableClientFactory } from '../../src/store/tableClientFactory';

const SUB = '0b1f6471-1bf0-4dda-aec3-111122223333';
const CLUSTER = `/subscriptions/${SUB}/resourceGroups/rg-Payments/providers/Microsoft.ContainerService/managedClusters/aks-pay`;
const POOL = `${CLUSTER}/agentPools/win19`;
const T0 = new Date('2026-11-29T06:00:00.000Z');
const DAY = 86_400_000;

let azurite: AzuriteInstance;
let prefixCount = 0;

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

interface Api {
  deps: ExemptionsDependencies;
  store: ExemptionStore;
  runs: RunStore;
  clock: { now: Date };
  list: ReturnType<typeof exemptionsHandler>;
  item: ReturnType<typeof exemptionHandler>;
  history: ReturnType<typeof exemptionHistoryHandler>;
}

/** Fresh tables per test, a latest run that saw POOL, and a clock the test moves. */
async function api(options: { authEnabled?: boolean; seedRun?: boolean } = {}): Promise<Api> {
  prefixCount += 1;
  const tablePrefix = `x${prefixCount}${randomBytes(3).toString('hex')}`;
  const tables = new TableClientFactory({
    tablePrefix,
    storage: { kind: 'connectionString', connectionString: azurite.connectionString },
  });
  const store = new ExemptionStore(tables);
  const runs = new RunStore(tables);
  const poolStates = new PoolStateStore(tables);
  await tables.ensureTables([RUNS_TABLE, POOLS_TABLE, POOL_HISTORY_TABLE]);
  if (options.seedRun !== false) {
    const runId = newRunId(T0, 'abcdef');
    await runs.putRun({
      id: runId,
      trigger: 'cli',
      status: 'succeeded',
      startedAt: T0.toISOString(),
      finishedAt: T0.toISOString(),
      cloud: 'AzureCloud',
      matrix: { version: 'test', sources: [], sourceDetails: [] },
      summary: {
        subscriptions: 1,
        clusters: 1,
        pools: 1,
        compliant: 0,
        noncompliant: 1,
        exempt: 0,
        unknown: 0,
      },
      errors: [],
      progress: { pagesRead: 1, clustersRead: 1, poolsJudged: 1 },
      scope: { subscriptions: null, managementGroups: null },
    });
    await poolStates.updatePoolStates(runId, T0, [seenPool()], () => `/subscriptions/${SUB}`);
  }
  const clock = { now: new Date(T0.getTime() + 60_000) };
  const deps: ExemptionsDependencies = {
    store,
    catalog: {
      getLatestRun: (o) => runs.getLatestRun(o),
      listPoolStates: (o) => poolStates.listPoolStates(o),
    },
    config: { exemptionMaxDays: 180, appServiceAuthEnabled: options.authEnabled ?? false },
    now: () => clock.now,
  };
  return {
    deps,
    store,
    runs,
    clock,
    list: exemptionsHandler(deps),
    item: exemptionHandler(deps),
    history: exemptionHistoryHandler(deps),
  };
}

function seenPool(): PoolResult {
  return {
    id: POOL,
    subscriptionId: SUB,
    resourceGroup: 'rg-Payments',
    cluster: 'aks-pay',
    pool: 'win19',
    location: 'eastus',
    osType: 'Windows',
    osSku: 'Windows2019',
    kubernetesVersion: '1.33.2',
    nodeImageVersion: 'AKSWindows-2019-containerd-17763.8027.261120',
    enableFips: false,
    status: 'noncompliant',
    findings: [{ code: 'OS_RETIRED', severity: 'high', message: 'retired', remediation: 'rebuild' }],
    exemption: null,
  };
}

interface Call {
  method?: string;
  path?: string;
  id?: string;
  query?: string;
  headers?: Record<string, string>;
  body?: unknown;
  rawBody?: string | Uint8Array;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: ApiBody;
}

/** The bodies these tests look into (exemption views, lists, histories, problems) as one loose shape. */
interface ApiBody {
  [field: string]: unknown;
  id: string;
  reason: string;
  createdBy: string;
  title: string;
  detail: string;
  warnings: string[];
  history: ExemptionHistoryEntry[];
  exemptions: { id: string; state: string; etag: string }[];
  errors?: { in: string; name: string; detail: string }[];
}

type Handler = (request: HttpRequest, context: InvocationContext) => unknown;

async function call(handler: Handler, c: Call): Promise<Answer> {
  const method = c.method ?? 'GET';
  const path = c.path ?? (c.id !== undefined ? `exemptions/${encodeURIComponent(c.id)}` : 'exemptions');
  const headers: Record<string, string> = { ...c.headers };
  let body: { string: string } | { bytes: Uint8Array } | undefined;
  if (c.rawBody !== undefined) {
    body = typeof c.rawBody === 'string' ? { string: c.rawBody } : { bytes: c.rawBody };
  } else if (c.body !== undefined) {
    body = { string: JSON.stringify(c.body) };
    headers['content-type'] ??= 'application/json';
  }
  const request = new HttpRequest({
    method,
    url: `http://localhost/api/${path}${c.query ? `?${c.query}` : ''}`,
    headers,
    params: c.id !== undefined ? { id: c.id } : {},
    ...(body ? { body } : {}),
  });
  const context = new InvocationContext({
    invocationId: randomBytes(8).toString('hex'),
    functionName: 'test',
  });
  const response = (await handler(request, context)) as HttpResponseInit;
  const text = typeof response.body === 'string' ? response.body : '';
  return {
    status: response.status ?? 200,
    headers: new Headers(response.headers),
    text,
    json: (text ? JSON.parse(text) : {}) as ApiBody,
  };
}

function principalHeader(claims: { typ: string; val: string }[], extra: Record<string, string> = {}): string {
  return Buffer.from(
    JSON.stringify({ auth_typ: 'aad', name_typ: 'name', role_typ: 'roles', claims, ...extra }),
  ).toString('base64');
}

const APPROVER = principalHeader([
  { typ: 'name', val: 'Alice Approver' },
  { typ: 'roles', val: 'Reports.Read' },
  { typ: 'roles', val: 'Exemptions.Write' },
]);
const READER = principalHeader([
  { typ: 'name', val: 'Rob Reader' },
  { typ: 'roles', val: 'Reports.Read' },
]);
const WRITER_ONLY = principalHeader([
  { typ: 'name', val: 'Wanda Writer' },
  { typ: 'roles', val: 'Exemptions.Write' },
]);

function body(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    scope: POOL,
    codes: ['OS_RETIRED'],
    reason: 'Windows 2019 pool is rebuilt on Windows 2022 in sprint 48',
    ticket: 'CHG0012345',
    owner: 'platform-team@contoso.com',
    expiresOn: '2026-12-31',
    ...overrides,
  };
}

async function snapshot(store: ExemptionStore, ids: string[]): Promise<unknown> {
  const all: StoredExemption[] = [];
  for await (const stored of store.list()) all.push(stored);
  const histories = await Promise.all(ids.map((id) => store.history(id)));
  return { all, histories };
}

function expectProblem(answer: Answer, status: number): void {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(answer.json.status).toBe(status);
  expect(answer.json.title.length).toBeGreaterThan(3);
  expect(answer.json.detail.length).toBeGreaterThan(10);
}

describe('CRUD', () => {
  it('creates, reads, replaces with If-Match, deletes and keeps every change in the history', async () => {
    const a = await api();
    const created = await call(a.item, { method: 'PUT', id: 'win19-rebuild', body: body() });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/api/exemptions/win19-rebuild');
    const etag1 = created.headers.get('etag')!;
    expect(etag1).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(created.json).toMatchObject({
      id: 'win19-rebuild',
      scope: POOL,
      codes: ['OS_RETIRED'],
      createdBy: 'function-key',
      createdAt: a.clock.now.toISOString(),
      expiresOn: '2026-12-31T23:59:59.999Z',
      state: 'active',
      warnings: [],
    });

    const read = await call(a.item, { id: 'WIN19-REBUILD' });
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe(etag1);
    expect(read.json.id).toBe('win19-rebuild');
    expect((await call(a.item, { id: 'win19-rebuild', headers: { 'if-none-match': etag1 } })).status).toBe(
      304,
    );

    const createdAt = a.clock.now.toISOString();
    a.clock.now = new Date(a.clock.now.getTime() + DAY);
    const replaced = await call(a.item, {
      method: 'PUT',
      id: 'win19-rebuild',
      headers: { 'if-match': etag1 },
      body: { ...read.json, expiresOn: '2027-01-15', ticket: null },
    });
    expect(replaced.status).toBe(200);
    const etag2 = replaced.headers.get('etag')!;
    expect(etag2).not.toBe(etag1);
    expect(replaced.json).toMatchObject({
      createdAt,
      updatedAt: a.clock.now.toISOString(),
      ticket: null,
      expiresOn: '2027-01-15T23:59:59.999Z',
    });
    expect(replaced.headers.get('location')).toBeNull();

    const listed = await call(a.list, {});
    expect(listed.json).toMatchObject({ count: 1, exemptions: [{ id: 'win19-rebuild', etag: etag2 }] });

    expectProblem(
      await call(a.item, { method: 'DELETE', id: 'win19-rebuild', headers: { 'if-match': etag1 } }),
      412,
    );
    const deleted = await call(a.item, {
      method: 'DELETE',
      id: 'win19-rebuild',
      headers: { 'if-match': etag2 },
    });
    expect(deleted.status).toBe(204);
    expectProblem(await call(a.item, { id: 'win19-rebuild' }), 404);
    expectProblem(await call(a.item, { method: 'DELETE', id: 'win19-rebuild' }), 404);

    const history = await call(a.history, { path: 'exemptions/win19-rebuild/history', id: 'win19-rebuild' });
    expect(history.status).toBe(200);
    expect(history.json.history.map((h) => [h.seq, h.action])).toEqual([
      [3, 'deleted'],
      [2, 'replaced'],
      [1, 'created'],
    ]);
    const [del, rep, cre] = history.json.history;
    expect(cre).toMatchObject({
      who: 'function-key',
      at: createdAt,
      before: null,
      after: { ticket: 'CHG0012345' },
    });
    expect(rep).toMatchObject({ before: { ticket: 'CHG0012345' }, after: { ticket: null } });
    expect(del).toMatchObject({ before: { expiresOn: '2027-01-15T23:59:59.999Z' }, after: null });

    // Re-created under the same ID, it continues the same history.
    expect((await call(a.item, { method: 'PUT', id: 'win19-rebuild', body: body() })).status).toBe(201);
    const again = await call(a.history, { path: 'exemptions/win19-rebuild/history', id: 'win19-rebuild' });
    expect(again.json.history.map((h) => h.seq)).toEqual([4, 3, 2, 1]);
  });

  it('answers 404 for the history of an ID never used, and 405 with Allow for a method the route lacks', async () => {
    const a = await api();
    expectProblem(await call(a.history, { path: 'exemptions/nope/history', id: 'nope' }), 404);
    const post = await call(a.item, { method: 'POST', id: 'x', body: body() });
    expectProblem(post, 405);
    expect(post.headers.get('allow')).toBe('GET, HEAD, PUT, DELETE');
  });
});

describe('ETags', () => {
  it('refuses to replace without If-Match (428) and with a stale ETag (412), leaving the exemption unchanged', async () => {
    const a = await api();
    const created = await call(a.item, { method: 'PUT', id: 'e1', body: body() });
    const etag = created.headers.get('etag')!;
    const before = await snapshot(a.store, ['e1']);
    expectProblem(await call(a.item, { method: 'PUT', id: 'e1', body: body({ reason: 'changed' }) }), 428);
    // Each precondition that does not hold: a stale, a weak or a wildcard-create tag, and a tag for a missing one.
    const refused: [string, Record<string, string>, string][] = [
      ['e1', { 'if-match': '"stale"' }, 'changed'],
      ['e1', { 'if-match': `W/${etag}` }, 'changed'],
      ['e1', { 'if-none-match': '*' }, 'changed'],
      ['e2', { 'if-match': etag }, 'x'],
    ];
    for (const [id, headers, reason] of refused) {
      expectProblem(await call(a.item, { method: 'PUT', id, headers, body: body({ reason }) }), 412);
    }
    expect(await snapshot(a.store, ['e1', 'e2'])).toEqual({
      ...(before as object),
      histories: [(before as { histories: unknown[] }).histories[0], []],
    });
    // If-Match: * replaces whatever is there; a list with the current ETag works too.
    const star = await call(a.item, {
      method: 'PUT',
      id: 'e1',
      headers: { 'if-match': '*' },
      body: body({ reason: 'r2' }),
    });
    expect(star.status).toBe(200);
    const listed = await call(a.item, {
      method: 'PUT',
      id: 'e1',
      headers: { 'if-match': `"old", ${star.headers.get('etag')!}` },
      body: body({ reason: 'r3' }),
    });
    expect(listed.status).toBe(200);
  });

  it('lets exactly one of two replacements with the same ETag win; the other gets 412', async () => {
    const a = await api();
    const etag = (await call(a.item, { method: 'PUT', id: 'race', body: body() })).headers.get('etag')!;
    const answers = await Promise.all(
      ['first', 'second'].map((reason) =>
        call(a.item, { method: 'PUT', id: 'race', headers: { 'if-match': etag }, body: body({ reason }) }),
      ),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([200, 412]);
    const history = await a.store.history('race');
    expect(history.map((h) => h.seq)).toEqual([2, 1]);
    const winner = answers.find((r) => r.status === 200)!;
    expect((await a.store.get('race'))?.exemption.reason).toBe(winner.json.reason);
  });

  it('never loses an update or leaves a gap in the history when five If-Match: * replacements race', async () => {
    const a = await api();
    await call(a.item, { method: 'PUT', id: 'herd', body: body() });
    const answers = await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        call(a.item, {
          method: 'PUT',
          id: 'herd',
          headers: { 'if-match': '*' },
          body: body({ reason: `r${n}` }),
        }),
      ),
    );
    const won = answers.filter((r) => r.status === 200);
    expect(won.length + answers.filter((r) => r.status === 412).length).toBe(5);
    const history = await a.store.history('herd');
    expect(history.map((h) => h.seq)).toEqual(
      Array.from({ length: won.length + 1 }, (_, i) => won.length + 1 - i),
    );
    // Each winner's history entry starts from what the previous one wrote: no write was lost in between.
    for (let i = 0; i < history.length - 1; i++) expect(history[i]!.before).toEqual(history[i + 1]!.after);
    expect((await a.store.get('herd'))?.exemption.reason).toBe(history[0]!.after?.reason);
  });

  it('lets exactly one of two creations of the same ID win', async () => {
    const a = await api();
    const answers = await Promise.all(
      ['first', 'second'].map((reason) =>
        call(a.item, { method: 'PUT', id: 'twin', body: body({ reason }) }),
      ),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([201, 412]);
    expect((await a.store.history('twin')).length).toBe(1);
  });

  it('lets one of a delete and a replacement racing on the same ETag win, and deletes without If-Match', async () => {
    const a = await api();
    const etag = (await call(a.item, { method: 'PUT', id: 'd1', body: body() })).headers.get('etag')!;
    const [replace, remove] = await Promise.all([
      call(a.item, { method: 'PUT', id: 'd1', headers: { 'if-match': etag }, body: body({ reason: 'new' }) }),
      call(a.item, { method: 'DELETE', id: 'd1', headers: { 'if-match': etag } }),
    ]);
    expect([
      [200, 412],
      [412, 204],
    ]).toContainEqual([replace.status, remove.status]);
    const history = await a.store.history('d1');
    expect(history.map((h) => h.seq)).toEqual([2, 1]);
    if (replace.status === 200) expect((await call(a.item, { method: 'DELETE', id: 'd1' })).status).toBe(204);
    expect(await a.store.get('d1')).toBeUndefined();
  });
});

describe('scope warnings', () => {
  it.each([
    ['the pool the latest run saw', POOL, 0],
    ['its cluster', CLUSTER, 0],
    ['its subscription, in other casing', `/subscriptions/${SUB.toUpperCase()}`, 0],
    ['a pool not seen', `${CLUSTER}/agentPools/linux1`, 1],
    ['another subscription', '/subscriptions/0b1f6471-1bf0-4dda-aec3-999999999999', 1],
  ])('warns for a scope no pool of the latest run falls under: %s', async (_what, scope, count) => {
    const a = await api();
    const answer = await call(a.item, { method: 'PUT', id: 'w', body: body({ scope }) });
    expect(answer.status).toBe(201);
    expect(answer.json.warnings).toHaveLength(count);
    if (count) expect(answer.json.warnings[0]).toContain('will apply if such a pool appears');
  });

  it('warns that the scope could not be checked before any audit completed', async () => {
    const a = await api({ seedRun: false });
    const answer = await call(a.item, { method: 'PUT', id: 'w', body: body() });
    expect(answer.status).toBe(201);
    expect(answer.json.warnings).toEqual([expect.stringContaining('No audit has completed yet')]);
  });
});

describe('list filters', () => {
  it('filters active, expired and expiring-within-N-days exemptions at the clock it is given', async () => {
    const a = await api();
    a.clock.now = new Date('2026-11-29T12:00:00Z');
    await call(a.item, { method: 'PUT', id: 'soon', body: body({ expiresOn: '2026-12-01' }) });
    await call(a.item, { method: 'PUT', id: 'later', body: body({ expiresOn: '2027-03-01' }) });
    await call(a.item, { method: 'PUT', id: 'mid', body: body({ expiresOn: '2026-12-15' }) });
    a.clock.now = new Date('2026-12-05T00:00:00Z');
    const ids = async (query?: string) =>
      (await call(a.list, { ...(query ? { query } : {}) })).json.exemptions.map((e) => e.id);
    expect(await ids()).toEqual(['soon', 'mid', 'later']);
    expect(await ids('active')).toEqual(['mid', 'later']);
    expect(await ids('active=true')).toEqual(['mid', 'later']);
    expect(await ids('active=false')).toEqual(['soon']);
    expect(await ids('expired=true')).toEqual(['soon']);
    expect(await ids('expiringWithinDays=14')).toEqual(['mid']);
    expect(await ids('expiringWithinDays=0')).toEqual([]);
    expect(await ids('expiringWithinDays=100&active')).toEqual(['mid', 'later']);
    expect((await call(a.list, { query: 'expired' })).json.exemptions[0]).toMatchObject({
      id: 'soon',
      state: 'expired',
    });
    expectProblem(await call(a.list, { query: 'expiringWithinDays=soon' }), 400);
    expectProblem(await call(a.list, { query: 'active=maybe' }), 400);
    expectProblem(await call(a.list, { query: 'owner=me' }), 400);
  });

  it('lists nothing, not an error, before the first exemption exists', async () => {
    const a = await api();
    expect((await call(a.list, {})).json).toMatchObject({ count: 0, exemptions: [] });
  });
});

describe('who may write', () => {
  it('refuses a write without a principal when App Service Authentication is on (401), and stores nothing', async () => {
    const a = await api({ authEnabled: true });
    const answer = await call(a.item, { method: 'PUT', id: 'a1', body: body() });
    expectProblem(answer, 401);
    expect(answer.headers.get('www-authenticate')).toBe('Bearer');
    expect(await a.store.get('a1')).toBeUndefined();
  });

  it('refuses a principal without the Exemptions.Write role (403), for PUT and DELETE', async () => {
    const a = await api({ authEnabled: true });
    expectProblem(
      await call(a.item, {
        method: 'PUT',
        id: 'a1',
        headers: { 'x-ms-client-principal': READER },
        body: body(),
      }),
      403,
    );
    await call(a.item, {
      method: 'PUT',
      id: 'a1',
      headers: { 'x-ms-client-principal': APPROVER },
      body: body(),
    });
    const denied = await call(a.item, {
      method: 'DELETE',
      id: 'a1',
      headers: { 'x-ms-client-principal': READER },
    });
    expectProblem(denied, 403);
    expect(denied.json.detail).toContain('Rob Reader');
    expect(await a.store.get('a1')).toBeDefined();
  });

  it('refuses a header that is not a principal (not base64 JSON with claims) as unauthenticated', async () => {
    const a = await api({ authEnabled: true });
    for (const header of ['not-base64!', Buffer.from('{"claims":"x"}').toString('base64'), '']) {
      expectProblem(
        await call(a.item, {
          method: 'PUT',
          id: 'a1',
          headers: { 'x-ms-client-principal': header },
          body: body(),
        }),
        401,
      );
    }
  });

  it('records an approver by the name claim in createdBy and the history', async () => {
    const a = await api({ authEnabled: true });
    const answer = await call(a.item, {
      method: 'PUT',
      id: 'a1',
      headers: { 'x-ms-client-principal': APPROVER },
      body: body(),
    });
    expect(answer.status).toBe(201);
    expect(answer.json).toMatchObject({ createdBy: 'Alice Approver', updatedBy: 'Alice Approver' });
    const history = await call(a.history, {
      path: 'exemptions/a1/history',
      id: 'a1',
      headers: { 'x-ms-client-principal': READER },
    });
    expect(history.json.history[0]).toMatchObject({ who: 'Alice Approver', action: 'created' });
  });

  it('reads the role from the claim type role_typ names, and names an app-only caller by its app ID', async () => {
    const a = await api({ authEnabled: true });
    const roleUri = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';
    const app = principalHeader(
      [
        { typ: 'appid', val: '7d1ab3c2-0000-4000-8000-000000000001' },
        { typ: roleUri, val: 'Exemptions.Write' },
      ],
      { role_typ: roleUri, name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name' },
    );
    const answer = await call(a.item, {
      method: 'PUT',
      id: 'a2',
      headers: { 'x-ms-client-principal': app },
      body: body(),
    });
    expect(answer.status).toBe(201);
    expect(answer.json.createdBy).toBe('app:7d1ab3c2-0000-4000-8000-000000000001');
  });

  it('needs Reports.Read for every read once App Service Authentication is on: the function key alone is 401', async () => {
    const a = await api({ authEnabled: true });
    await call(a.item, {
      method: 'PUT',
      id: 'a1',
      headers: { 'x-ms-client-principal': APPROVER },
      body: body(),
    });
    const reads = [
      (headers: Record<string, string>) => call(a.item, { id: 'a1', headers }),
      (headers: Record<string, string>) => call(a.list, { headers }),
      (headers: Record<string, string>) =>
        call(a.history, { path: 'exemptions/a1/history', id: 'a1', headers }),
    ];
    for (const read of reads) {
      const keyOnly = await read({});
      expectProblem(keyOnly, 401);
      expect(keyOnly.json.detail).toContain('Reports.Read');
      const writerOnly = await read({ 'x-ms-client-principal': WRITER_ONLY });
      expectProblem(writerOnly, 403);
      expect(writerOnly.json.detail).toContain('Wanda Writer does not hold the app role Reports.Read');
      expect((await read({ 'x-ms-client-principal': READER })).status).toBe(200);
    }
  });

  it('ignores the principal header entirely when App Service Authentication is off: anyone could forge it', async () => {
    const a = await api({ authEnabled: false });
    const forged = await call(a.item, {
      method: 'PUT',
      id: 'f1',
      headers: { 'x-ms-client-principal': APPROVER },
      body: body(),
    });
    expect(forged.status).toBe(201);
    expect(forged.json.createdBy).toBe('function-key');
    const noRole = await call(a.item, {
      method: 'PUT',
      id: 'f2',
      headers: { 'x-ms-client-principal': READER },
      body: body(),
    });
    expect(noRole.status).toBe(201);
    expect((await a.store.history('f1'))[0]?.who).toBe('function-key');
  });
});

describe('bad input', () => {
  const oversized = JSON.stringify(body({ reason: 'r'.repeat(MAX_EXEMPTION_BODY_BYTES) }));
  const cases: [string, Call, 400 | 413][] = [
    [
      'a body that is not JSON',
      { rawBody: '{"scope":', headers: { 'content-type': 'application/json' } },
      400,
    ],
    ['a JSON array', { body: [body()] }, 400],
    ['an empty body', { rawBody: '', headers: { 'content-type': 'application/json' } }, 400],
    [
      'a body that is not UTF-8',
      { rawBody: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), headers: { 'content-type': 'application/json' } },
      400,
    ],
    ['a missing scope', { body: body({ scope: undefined }) }, 400],
    ['a scope that is not an ARM ID', { body: body({ scope: 'aks-pay/win19' }) }, 400],
    [
      'a scope naming a virtual machine',
      {
        body: body({
          scope: `${CLUSTER.split('/providers')[0]}/providers/Microsoft.Compute/virtualMachines/vm1`,
        }),
      },
      400,
    ],
    ['a subscription that is not a GUID', { body: body({ scope: '/subscriptions/prod' }) }, 400],
    ['a missing expiresOn', { body: body({ expiresOn: undefined }) }, 400],
    ['an expiresOn in the past', { body: body({ expiresOn: '2026-11-01' }) }, 400],
    ['an expiresOn beyond AUDIT_EXEMPTION_MAX_DAYS', { body: body({ expiresOn: '2027-12-31' }) }, 400],
    ['an expiresOn that is no date', { body: body({ expiresOn: '2026-02-30' }) }, 400],
    ['a missing reason', { body: body({ reason: undefined }) }, 400],
    ['a blank owner', { body: body({ owner: ' ' }) }, 400],
    ['a reason over 2000 characters', { body: body({ reason: 'r'.repeat(2001) }) }, 400],
    ['an owner over 256 characters', { body: body({ owner: 'o'.repeat(257) }) }, 400],
    ['a ticket over 256 characters', { body: body({ ticket: 't'.repeat(257) }) }, 400],
    ['an unknown finding code', { body: body({ codes: ['FIPS_OFF'] }) }, 400],
    ['an unknown field', { body: body({ expiresAt: '2026-12-31' }) }, 400],
    ['a body ID other than the path ID', { body: body({ id: 'someone-else' }) }, 400],
    ['a path ID with characters IDs may not hold', { id: 'bad id!', body: body() }, 400],
    ['a path ID over 64 characters', { id: 'x'.repeat(65), body: body() }, 400],
    ['a malformed If-Match', { headers: { 'if-match': 'no-quotes' }, body: body() }, 400],
    ['If-None-Match other than *', { headers: { 'if-none-match': '"abc"' }, body: body() }, 400],
    ['an unknown query parameter', { query: 'force=true', body: body() }, 400],
    [
      'a body over the size limit',
      { rawBody: oversized, headers: { 'content-type': 'application/json' } },
      413,
    ],
    [
      'a Content-Length over the size limit',
      {
        rawBody: '{}',
        headers: {
          'content-type': 'application/json',
          'content-length': String(10 * MAX_EXEMPTION_BODY_BYTES),
        },
      },
      413,
    ],
  ];

  let a: Api;
  let etag: string;
  beforeAll(async () => {
    a = await api();
    etag = (await call(a.item, { method: 'PUT', id: 'existing', body: body() })).headers.get('etag')!;
  });

  it('has at least 15 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });

  it.each(cases)('answers %s with a problem and changes nothing', async (_what, c, status) => {
    const before = await snapshot(a.store, ['existing', 'fresh']);
    for (const target of [
      { id: c.id ?? 'fresh', headers: c.headers ?? {} },
      { id: c.id ?? 'existing', headers: { 'if-match': etag, ...c.headers } },
    ]) {
      const answer = await call(a.item, { ...c, method: 'PUT', id: target.id, headers: target.headers });
      expectProblem(answer, status);
      if (status === 400) expect(answer.json.errors?.length ?? 0).toBeGreaterThan(0);
    }
    expect(await snapshot(a.store, ['existing', 'fresh'])).toEqual(before);
  });

  it('names every bad field of one request in the problem', async () => {
    const answer = await call(a.item, {
      method: 'PUT',
      id: 'fresh',
      body: { scope: '/subscriptions/x', reason: '', expiresOn: 'soon' },
    });
    expectProblem(answer, 400);
    expect(answer.json.errors?.map((e) => e.name)).toEqual(['scope', 'reason', 'owner', 'expiresOn']);
    expect(answer.json.errors?.every((e) => e.in === 'body')).toBe(true);
  });
});

describe('without storage settings', () => {
  it('builds the handlers (the app starts) and answers 503 naming the missing setting', async () => {
    const deps = new App(loadConfig({})).exemptionsDependencies();
    const answer = await call(exemptionsHandler(deps), {});
    expectProblem(answer, 503);
    expect(answer.json.detail).toContain('AUDIT_TABLES_ENDPOINT');
  });
});

describe('through the local adapter', () => {
  it('routes the three exemption routes over real HTTP on a free port', async () => {
    const a = await api();
    const server = await serveHttp({ handlers: exemptionApiHandlers(a.deps), port: 0 });
    try {
      const put = await fetch(`${server.url}/api/exemptions/via-http`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body()),
      });
      expect(put.status).toBe(201);
      const etag = put.headers.get('etag')!;
      const get = await fetch(`${server.url}/api/exemptions/via-http`);
      expect(get.headers.get('etag')).toBe(etag);
      expect(((await get.json()) as { scope: string }).scope).toBe(POOL);
      const list = (await (await fetch(`${server.url}/api/exemptions?active`)).json()) as { count: number };
      expect(list.count).toBe(1);
      const del = await fetch(`${server.url}/api/exemptions/via-http`, {
        method: 'DELETE',
        headers: { 'if-match': etag },
      });
      expect(del.status).toBe(204);
      const history = (await (await fetch(`${server.url}/api/exemptions/via-http/history`)).json()) as {
        history: { action: string }[];
      };
      expect(history.history.map((h) => h.action)).toEqual(['deleted', 'created']);
    } finally {
      await server.close();
    }
  });
});
