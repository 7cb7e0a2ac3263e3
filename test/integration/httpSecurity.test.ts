// Least authority on every route, email only where it is meant to go, bodies without prototype keys, links that a
// request cannot redirect, and a local server no request can knock over: through real handlers, called both as the
// Functions host calls them (HttpRequest objects) and through `serve` (real sockets).

import { AcsEmailEmulator } from '../../emulators/acsEmailEmulator';
import { generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { trustCertificate } from '../../emulators/tls';
import { App } from '../../src/app';
import { AcsEmailSender } from '../../src/azure/emailSender';
import type { CliIo } from '../../src/cli/main';
import { main } from '../../src/cli/main';
import { type Env, loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { APP_ROLES, type AppRole, type RouteName } from '../../src/http/routes';
import { problemSchema, reportPageSchema } from '../../src/http/schemas';
import { type ApiHandlers, type RunningServer, serveHttp } from '../../src/http/serveHttp';
import { MAX_REQUESTED_EMAILS_PER_RUN } from '../../src/notify/requestedEmailPolicy';
import { callHandler, type CallResult } from '../support/httpCall';
import { problemDefect, rawExchange, type RawResponse } from '../support/rawHttp';

const estate = generateEstate({ seed: 18, pools: 40, subscriptions: 2 });
const RECIPIENT = 'compliance@contoso.com';
const KEY = 'c2VydmUta2V5LWZvci10ZXN0cy0wMTIzNDU2Nzg5YWJj';
let local: LocalAzure;
let acs: AcsEmailEmulator;
let prefixes = 0;
/** Apps whose queued audits are awaited before the emulators stop. */
const background: App[] = [];
const servers: RunningServer[] = [];

beforeAll(async () => {
  local = await startLocalAzure(estate);
  acs = await AcsEmailEmulator.start({ retryAfterInSeconds: 0 });
  trustCertificate(acs.certificatePem);
}, 120_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(background.map((app) => app.drain()));
  for (const app of background) app.close();
  await acs?.close();
  await local?.stop();
});

/**
 * An app over its own tables, mailing through the ACS emulator; `extra` adds or overrides settings. The sender
 * polls the send's status every 20 ms (the SDK's default waits 2 s a poll), unless `extra` sets its own
 * EMAIL_CONNECTION_STRING: then the app builds its sender from the settings, as in production.
 */
function app(extra: Env = {}): App {
  prefixes += 1;
  const config = loadConfig({
    ...local.env,
    AUDIT_TABLE_PREFIX: `sec${prefixes}`,
    EMAIL_CONNECTION_STRING: acs.connectionString,
    EMAIL_SENDER: 'DoNotReply@contoso.com',
    EMAIL_TO: RECIPIENT,
    EMAIL_MODE: 'off',
    ...extra,
  });
  if (extra.EMAIL_CONNECTION_STRING !== undefined) return new App(config);
  const sender = new AcsEmailSender({ connectionString: acs.connectionString, pollIntervalInMs: 20 });
  return new App(config, { notify: { sender } });
}

/** Every route's real handler over `service`, as `serve` wires them; audits it queues are awaited at the end. */
function handlersOf(service: App): ApiHandlers {
  background.push(service);
  return service.httpHandlers();
}

async function serve(service: App, options: { host?: string; key?: string } = {}) {
  const server = await serveHttp({ handlers: handlersOf(service), port: 0, ...options });
  servers.push(server);
  return server;
}

const principal = (roles: readonly string[], name = 'Pat Caller') =>
  Buffer.from(
    JSON.stringify({
      auth_typ: 'aad',
      name_typ: 'name',
      role_typ: 'roles',
      claims: [{ typ: 'name', val: name }, ...roles.map((val) => ({ typ: 'roles', val }))],
    }),
  ).toString('base64');

interface Call {
  method: string;
  path: string;
  params?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
}

/** The same request through the Functions-style handler call, or through a live `serve` with fetch. */
type Transport = (route: RouteName, call: Call) => Promise<CallResult>;

function viaHandlers(handlers: ApiHandlers): Transport {
  return (route, call) =>
    callHandler(handlers[route]!, {
      method: call.method,
      url: call.path,
      ...(call.params ? { params: call.params } : {}),
      ...(call.headers ? { headers: call.headers } : {}),
      ...(call.body !== undefined ? { body: call.body } : {}),
    });
}

function viaServe(server: RunningServer): Transport {
  return async (_route, call) => {
    const res = await fetch(`${server.url}${call.path}`, {
      method: call.method,
      headers: call.headers ?? {},
      ...(call.body !== undefined ? { body: call.body } : {}),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString('utf8');
    return {
      status: res.status,
      headers: res.headers,
      text,
      bytes,
      json: <T>() => JSON.parse(text) as T,
      logs: [],
    };
  };
}

function expectProblem(res: CallResult, status: number, detail?: RegExp): Record<string, unknown> {
  expect([res.status, res.text.slice(0, 300)]).toEqual([status, expect.any(String)]);
  expect(res.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
  const problem = problemSchema.loose().parse(res.json());
  expect(problem.status).toBe(status);
  if (detail) expect(problem.detail).toMatch(detail);
  return problem;
}

const json = { 'content-type': 'application/json' };

// ------------------------------------------------------------------------------------------------ roles

describe('who may call what, with App Service Authentication on', () => {
  let service: App;
  let runId: string;
  let transports: [string, Transport][];

  beforeAll(async () => {
    service = app({ WEBSITE_AUTH_ENABLED: 'True' });
    runId = (await service.audit({ trigger: 'timer' })).run.id;
    await service.exemptionStore.ensureTable();
    transports = [
      ['as the Functions host calls it', viaHandlers(handlersOf(service))],
      ['through serve', viaServe(await serve(service))],
    ];
  }, 120_000);

  /**
   * Each operation with the role it needs and what a caller holding it gets: chosen so the request reaches the
   * handler's own validation or lookup and changes nothing (no audit starts, nothing is sent or written).
   */
  const operations = (): [string, RouteName, AppRole, Call, number][] => [
    ['GET the report', 'report', APP_ROLES.reportsRead, { method: 'GET', path: '/api/report' }, 200],
    ['GET the runs', 'runs', APP_ROLES.reportsRead, { method: 'GET', path: '/api/runs' }, 200],
    [
      'GET a run',
      'run',
      APP_ROLES.reportsRead,
      { method: 'GET', path: `/api/runs/${runId}`, params: { runId } },
      200,
    ],
    [
      'GET the OpenAPI document',
      'openApi',
      APP_ROLES.reportsRead,
      { method: 'GET', path: '/api/openapi.json' },
      200,
    ],
    [
      'GET the exemptions',
      'exemptions',
      APP_ROLES.reportsRead,
      { method: 'GET', path: '/api/exemptions' },
      200,
    ],
    [
      'GET an exemption',
      'exemption',
      APP_ROLES.reportsRead,
      { method: 'GET', path: '/api/exemptions/none', params: { id: 'none' } },
      404,
    ],
    [
      'GET an exemption history',
      'exemptionHistory',
      APP_ROLES.reportsRead,
      { method: 'GET', path: '/api/exemptions/none/history', params: { id: 'none' } },
      404,
    ],
    [
      'POST an audit',
      'startAudit',
      APP_ROLES.auditsRun,
      { method: 'POST', path: '/api/audits', headers: json, body: '{"email":"yes"}' },
      400,
    ],
    [
      'POST an email',
      'emailRun',
      APP_ROLES.reportsSend,
      { method: 'POST', path: `/api/runs/${runId}/email`, params: { runId } },
      400,
    ],
    [
      'PUT an exemption',
      'exemption',
      APP_ROLES.exemptionsWrite,
      { method: 'PUT', path: '/api/exemptions/x1', params: { id: 'x1' }, headers: json, body: '{}' },
      400,
    ],
    [
      'DELETE an exemption',
      'exemption',
      APP_ROLES.exemptionsWrite,
      { method: 'DELETE', path: '/api/exemptions/none', params: { id: 'none' } },
      404,
    ],
  ];

  it('covers every function-level operation of the route table', () => {
    const covered = new Set(operations().map(([, route, , call]) => `${route} ${call.method}`));
    expect(covered.size).toBe(11);
  });

  it.each([0, 1])('refuses the function key alone with 401 naming the role (transport %i)', async (t) => {
    const [, send] = transports[t]!;
    for (const [title, route, role, call] of operations()) {
      const problem = expectProblem(await send(route, call), 401, new RegExp(`app role ${role}`));
      expect([title, problem.requiredRole]).toEqual([title, role]);
    }
  });

  it.each([0, 1])(
    'refuses a caller holding every other role with 403 naming the role (transport %i)',
    async (t) => {
      const [, send] = transports[t]!;
      for (const [title, route, role, call] of operations()) {
        const others = Object.values(APP_ROLES).filter((r) => r !== role);
        const res = await send(route, {
          ...call,
          headers: { ...call.headers, 'x-ms-client-principal': principal(others) },
        });
        const problem = expectProblem(res, 403, /Pat Caller does not hold/);
        expect([title, problem.requiredRole]).toEqual([title, role]);
      }
    },
  );

  it.each([0, 1])('lets a caller holding the role reach the handler (transport %i)', async (t) => {
    const [, send] = transports[t]!;
    for (const [title, route, role, call, status] of operations()) {
      const res = await send(route, {
        ...call,
        headers: { ...call.headers, 'x-ms-client-principal': principal([role]) },
      });
      expect([title, res.status]).toEqual([title, status]);
    }
    expect(acs.messages.filter((m) => m.headers['X-FIPS-Audit-Run'] === runId)).toEqual([]);
  });

  it('keeps health anonymous', async () => {
    for (const [, send] of transports) {
      expect((await send('health', { method: 'GET', path: '/api/health' })).status).toBe(200);
    }
  });
});

describe('with App Service Authentication off', () => {
  it('ignores a forged principal: the function key alone starts an audit and mails EMAIL_TO', async () => {
    const service = app();
    const runId = (await service.audit({ trigger: 'cli' })).run.id;
    const noRoles = { 'x-ms-client-principal': principal([]) };
    for (const [label, send] of [
      ['handlers', viaHandlers(handlersOf(service))],
      ['serve', viaServe(await serve(service))],
    ] as const) {
      const res = await send('emailRun', {
        method: 'POST',
        path: `/api/runs/${runId}/email`,
        params: { runId },
        headers: { ...noRoles, 'Idempotency-Key': `forged-${label}` },
      });
      expect([label, res.status]).toEqual([label, 200]);
      expect(res.json()).toMatchObject({ state: 'sent', recipients: [RECIPIENT] });
    }
  });
});

// ------------------------------------------------------------------------------------------------ email

describe('email only where it is meant to go', () => {
  const emailCall = (runId: string, key: string, to?: string[], extra = ''): Call => ({
    method: 'POST',
    path: `/api/runs/${runId}/email`,
    params: { runId },
    headers: { 'Idempotency-Key': key, ...(to || extra ? json : {}) },
    ...(to || extra ? { body: extra || JSON.stringify({ to }) } : {}),
  });
  const sentFor = (runId: string) => acs.messages.filter((m) => m.headers['X-FIPS-Audit-Run'] === runId);

  it.each(['handlers', 'serve'])(
    'refuses an outside recipient with 403 naming EMAIL_ALLOWED_RECIPIENTS, sends nothing and records nothing (%s)',
    async (transport) => {
      const service = app({ EMAIL_ALLOWED_RECIPIENTS: 'auditor@assessor.example,@fedramp.example' });
      const runId = (await service.audit({ trigger: 'cli' })).run.id;
      const send = transport === 'serve' ? viaServe(await serve(service)) : viaHandlers(handlersOf(service));
      for (const to of [
        ['attacker@evil.example'],
        ['auditor@assessor.example', 'attacker@evil.example'],
        ['boss@assessor.example'],
        ['pmo@mail.fedramp.example'],
      ]) {
        const problem = expectProblem(await send('emailRun', emailCall(runId, `k-${to.join()}`, to)), 403);
        expect(problem).toMatchObject({
          type: 'urn:aks-fips-auditor:problem:recipient-not-allowed',
          setting: 'EMAIL_ALLOWED_RECIPIENTS',
        });
      }
      expect(sentFor(runId)).toEqual([]);
      const records: unknown[] = [];
      const emails = service.emailStore;
      for await (const record of emails.listRequests(runId)) records.push(record);
      expect(records).toEqual([]);

      const allowed = await send(
        'emailRun',
        emailCall(runId, 'allowed', ['Auditor@Assessor.example', 'pmo@fedramp.example', RECIPIENT]),
      );
      expect(allowed.status).toBe(200);
      expect(sentFor(runId).map((m) => m.to)).toEqual([
        ['Auditor@Assessor.example', 'pmo@fedramp.example', RECIPIENT],
      ]);
    },
  );

  it('allows only EMAIL_TO when EMAIL_ALLOWED_RECIPIENTS is unset', async () => {
    const service = app();
    const runId = (await service.audit({ trigger: 'cli' })).run.id;
    const send = viaHandlers(handlersOf(service));
    expectProblem(
      await send('emailRun', emailCall(runId, 'a', ['secops@contoso.com'])),
      403,
      /EMAIL_ALLOWED_RECIPIENTS/,
    );
    expect((await send('emailRun', emailCall(runId, 'b', [RECIPIENT.toUpperCase()]))).status).toBe(200);
    expect((await send('emailRun', emailCall(runId, 'c'))).status).toBe(200);
    expect(sentFor(runId)).toHaveLength(2);
  });

  it(`sends at most ${MAX_REQUESTED_EMAILS_PER_RUN} requested emails per run, while a repeated key still replays`, async () => {
    const service = app();
    const runId = (await service.audit({ trigger: 'cli' })).run.id;
    const send = viaServe(await serve(service));
    for (let i = 1; i <= MAX_REQUESTED_EMAILS_PER_RUN; i++) {
      expect([i, (await send('emailRun', emailCall(runId, `cap-${i}`))).status]).toEqual([i, 200]);
    }
    const over = expectProblem(
      await send('emailRun', emailCall(runId, 'cap-over')),
      403,
      /emailed on request/,
    );
    expect(over).toMatchObject({
      type: 'urn:aks-fips-auditor:problem:email-cap-reached',
      limit: MAX_REQUESTED_EMAILS_PER_RUN,
    });
    const replay = await send('emailRun', emailCall(runId, 'cap-1'));
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(sentFor(runId)).toHaveLength(MAX_REQUESTED_EMAILS_PER_RUN);
    // Another run has its own allowance.
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // run IDs have one-second resolution
    const next = (await service.audit({ trigger: 'cli' })).run.id;
    expect((await send('emailRun', emailCall(next, 'cap-over'))).status).toBe(200);
  });

  it('sends with an EMAIL_CONNECTION_STRING whose endpoint ends in "//" (normalised at start-up, not a 500)', async () => {
    const doubled = acs.connectionString.replace(/;accesskey=/i, '/;accesskey=');
    expect(doubled).toMatch(/^endpoint=https:\/\/[^;]+\/\/;accesskey=/);
    const service = app({ EMAIL_CONNECTION_STRING: doubled });
    expect(service.config.email.connectionString).toBe(acs.connectionString);
    const runId = (await service.audit({ trigger: 'cli' })).run.id;
    const res = await viaHandlers(handlersOf(service))('emailRun', emailCall(runId, 'slashes'));
    expect([res.status, res.text.slice(0, 200)]).toEqual([200, expect.any(String)]);
    expect(sentFor(runId)).toHaveLength(1);
  });
});

// ------------------------------------------------------------------------------------------------ bodies

describe('bodies without prototype keys', () => {
  it.each(['handlers', 'serve'])(
    'refuses __proto__, constructor and prototype as unknown fields, changing nothing (%s)',
    async (transport) => {
      const service = app();
      const runId = (await service.audit({ trigger: 'cli' })).run.id;
      await service.exemptionStore.ensureTable();
      const send = transport === 'serve' ? viaServe(await serve(service)) : viaHandlers(handlersOf(service));
      const exemption = {
        scope: `/subscriptions/${estate.subscriptions[0]!.subscriptionId}`,
        reason: 'rebuild planned',
        owner: 'platform-team',
        expiresOn: new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10),
      };
      const cases: [RouteName, Call, string][] = [
        [
          'exemption',
          {
            method: 'PUT',
            path: '/api/exemptions/p1',
            params: { id: 'p1' },
            headers: json,
            body: `{"__proto__": {"owner": "attacker"}, ${JSON.stringify(exemption).slice(1)}`,
          },
          '__proto__',
        ],
        [
          'exemption',
          {
            method: 'PUT',
            path: '/api/exemptions/p2',
            params: { id: 'p2' },
            headers: json,
            body: JSON.stringify({ ...exemption, codes: null, constructor: { prototype: {} } }),
          },
          'constructor',
        ],
        [
          'emailRun',
          {
            method: 'POST',
            path: `/api/runs/${runId}/email`,
            params: { runId },
            headers: { ...json, 'Idempotency-Key': 'proto' },
            body: '{"to": ["compliance@contoso.com"], "__proto__": {"to": ["attacker@evil.example"]}}',
          },
          '__proto__',
        ],
        [
          'startAudit',
          { method: 'POST', path: '/api/audits', headers: json, body: '{"prototype": 1}' },
          'prototype',
        ],
      ];
      for (const [route, call, field] of cases) {
        const problem = expectProblem(await send(route, call), 400, /is not a field/);
        expect(problem.errors).toEqual([
          { in: 'body', name: field, detail: expect.stringContaining('never are') as string },
        ]);
      }
      expect(await service.exemptionStore.get('p1')).toBeUndefined();
      expect(await service.exemptionStore.get('p2')).toBeUndefined();
      expect(acs.messages.filter((m) => m.headers['X-FIPS-Audit-Run'] === runId)).toEqual([]);
      const runs: string[] = [];
      for await (const run of service.stores.reports.listRuns({})) runs.push(run.id);
      expect(runs).toEqual([runId]);
    },
  );
});

// ------------------------------------------------------------------------------------------------ links

describe('links that a request cannot redirect', () => {
  let plain: App;
  let based: App;

  beforeAll(async () => {
    plain = app();
    await plain.audit({ trigger: 'cli' });
    based = app({ REPORT_BASE_URL: 'https://fips-auditor.example.org/compliance/' });
    await based.audit({ trigger: 'cli' });
  }, 120_000);

  const linkOf = (headers: Headers | Record<string, string>) =>
    headers instanceof Headers ? headers.get('link') : (headers.link ?? null);

  it('builds the next-page link from REPORT_BASE_URL, or relative without it, whatever URL the host passes', async () => {
    for (const [service, prefix] of [
      [plain, '/api/report?format=json&continuationToken='],
      [based, 'https://fips-auditor.example.org/compliance/api/report?format=json&continuationToken='],
    ] as const) {
      const res = await callHandler(handlersOf(service).report!, {
        url: 'https://evil.example:8443/api/report?top=1',
      });
      expect(res.status).toBe(200);
      const page = reportPageSchema.parse(res.json()).page;
      expect(page.nextLink?.startsWith(prefix)).toBe(true);
      expect(linkOf(res.headers)).toBe(`<${page.nextLink}>; rel="next"`);
      expect(res.text).not.toContain('evil.example');
    }
  });

  it.each<[string, string, number]>([
    [
      'a target starting with //',
      'GET //evil.example/api/report?top=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      404,
    ],
    [
      'an absolute-form target',
      'GET http://evil.example/api/report?top=1 HTTP/1.1\r\nHost: evil.example\r\n\r\n',
      200,
    ],
    ['a forged Host header', 'GET /api/report?top=1 HTTP/1.1\r\nHost: evil.example\r\n\r\n', 200],
    [
      'a forged X-Forwarded-Host',
      'GET /api/report?top=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\n\r\n',
      200,
    ],
  ])('never links to the host of %s through serve', async (_title, request, status) => {
    for (const service of [plain, based]) {
      const server = await serve(service);
      const { responses, malformed } = await rawExchange(server.port, request);
      expect(malformed).toBeNull();
      const [res] = responses as [RawResponse];
      expect(res.status).toBe(status);
      // The 404 may echo the path it was given; no header or link may point at that host.
      expect(JSON.stringify(res.headers)).not.toContain('evil.example');
      expect(res.body.toString()).not.toMatch(/https?:\/\/evil\.example/);
      if (status === 200) {
        const link = res.headers.link ?? '';
        expect(link).toMatch(
          service === plain
            ? /^<\/api\/report\?format=json&/
            : /^<https:\/\/fips-auditor\.example\.org\/compliance\/api\/report\?/,
        );
      } else {
        expect(problemDefect(res)).toBeNull();
      }
    }
  });
});

// ------------------------------------------------------------------------------------------------ serve

describe('a local server that holds', () => {
  let service: App;
  let server: RunningServer;

  beforeAll(async () => {
    service = app();
    await service.audit({ trigger: 'cli' });
    server = await serve(service);
  }, 120_000);

  const health = async (port: number) => (await fetch(`http://127.0.0.1:${port}/api/health`)).status;

  it.each<[string, string, number]>([
    ['//[/api/health', 'GET //[/api/health HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['//a:99999/…', 'GET //a:99999/api/health HTTP/1.1\r\nHost: x\r\n\r\n', 404],
    ['http://[::1/…', 'GET http://[::1/api/health HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['//x%00y/…', 'GET //x%00y/api/health HTTP/1.1\r\nHost: x\r\n\r\n', 404],
    ['//user@:80/…', 'GET //user@:80/api/health HTTP/1.1\r\nHost: x\r\n\r\n', 404],
    ['http://user:pw@host/…', 'GET http://user:pw@h/api/health HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['*', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a backslash', 'GET /api\\health HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a broken percent-encoding', 'GET /api/health%zz HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a request line Node refuses', 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['an unknown method', 'FROB /api/health HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a NUL in a header name', 'GET /api/health HTTP/1.1\r\nHost: x\r\nX\x00: 1\r\n\r\n', 400],
    [
      'headers over 16 KiB',
      `GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
    ],
    ['CONNECT', 'CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n', 405],
  ])('answers the target %s with a problem+json and keeps serving', async (_title, request, status) => {
    const { responses, malformed, hung } = await rawExchange(server.port, request);
    expect({ malformed, hung, count: responses.length }).toEqual({ malformed: null, hung: false, count: 1 });
    const [res] = responses as [RawResponse];
    expect(res.status).toBe(status);
    expect(problemDefect(res)).toBeNull();
    expect(await health(server.port)).toBe(200);
  });

  it('refuses to listen off loopback without a key, naming AUDIT_SERVE_KEY', async () => {
    const error = await serveHttp({ handlers: handlersOf(service), port: 0, host: '0.0.0.0' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(
      /AUDIT_SERVE_KEY \(or --key\) must be set to serve on 0\.0\.0\.0/,
    );
  });

  it.each(['0.0.0.0', '127.0.0.1'])(
    'requires the key on every route but health when given one (on %s)',
    async (host) => {
      const keyed = await serve(service, { host, key: KEY });
      expect(keyed.keyRequired).toBe(true);
      const get = (path: string, headers: Record<string, string> = {}) =>
        fetch(`http://127.0.0.1:${keyed.port}${path}`, { headers });
      for (const [path, headers] of [
        ['/api/report', {}],
        ['/api/report', { 'x-functions-key': 'wrong' }],
        ['/api/report', { 'x-functions-key': KEY.slice(0, -1) }],
        ['/api/report?code=wrong', {}],
        ['/api/runs', { 'x-functions-key': `${KEY}x` }],
      ] as const) {
        const res = await get(path, headers);
        expect([path, headers, res.status]).toEqual([path, headers, 401]);
        expect(res.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
        expect(await res.text()).not.toContain(KEY);
      }
      expect((await get('/api/report', { 'x-functions-key': KEY })).status).toBe(200);
      expect((await get(`/api/report?code=${encodeURIComponent(KEY)}`)).status).toBe(200);
      expect((await get('/api/health')).status).toBe(200);
      expect((await get('/api/nothing')).status).toBe(404);
    },
  );

  describe('the serve command', () => {
    class Capture {
      text = '';
      write(chunk: string) {
        this.text += chunk;
        return true;
      }
    }
    const cli = async (args: string[], env: Env = {}) => {
      const stdout = new Capture();
      const stderr = new Capture();
      const code = await main(args, { stdout, stderr, env: { ...local.env, ...env } } as unknown as CliIo);
      return { code, stdout: stdout.text, stderr: stderr.text };
    };

    it('will not serve off loopback without a key (exit 2, naming AUDIT_SERVE_KEY)', async () => {
      const result = await cli(['serve', '--host', '0.0.0.0', '--port', '0']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('AUDIT_SERVE_KEY (or --key) must be set to serve on 0.0.0.0');
    });

    it.each<[string, string[], Env, RegExp]>([
      [
        'WEBSITE_AUTH_ENABLED=True',
        [],
        { WEBSITE_AUTH_ENABLED: 'True' },
        /no App Service Authentication stands/,
      ],
      ['a short --key', ['--key', 'short'], {}, /^--key must be 32-256 characters/],
      [
        'a short AUDIT_SERVE_KEY',
        [],
        { AUDIT_SERVE_KEY: 'short' },
        /AUDIT_SERVE_KEY must be 32-256 characters/,
      ],
    ])('refuses %s with exit 2', async (_title, args, env, message) => {
      const result = await cli(['serve', '--port', '0', ...args], env);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toContain('short\n');
    });
  });
});
