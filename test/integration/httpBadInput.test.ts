// Malformed requests of every kind get the right status and a problem+json that says what to change; data stays as it was.

import http from 'node:http';

import { generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { App } from '../../src/app';
import { loadConfig } from '../../src/config';
import type { RunRecord } from '../../src/core/run';
import type { Report } from '../../src/core/types';
import { problemSchema } from '../../src/http/schemas';
import { type ApiHandlers, type RunningServer, serveHttp } from '../../src/http/serveHttp';
import { encodeContinuationToken } from '../../src/render/reportJson';
import { callHandler, type CallResult } from '../support/httpCall';

const estate = generateEstate({ seed: 21, pools: 240, subscriptions: 4 });
const SUBSCRIPTIONS = estate.subscriptions.map((s) => s.subscriptionId);
const GUID_OUTSIDE = '0f0f0f0f-0000-4000-8000-000000000001';
let local: LocalAzure;
let service: App;
let handlers: ApiHandlers;
let server: RunningServer;
let runId: string;
let before: { runs: RunRecord[]; report: Report | undefined };
const started: Promise<unknown>[] = [];

async function snapshot(): Promise<{ runs: RunRecord[]; report: Report | undefined }> {
  const runs: RunRecord[] = [];
  for await (const run of service.stores.reports.listRuns({})) runs.push(run);
  return { runs, report: await service.getReport(runId) };
}

beforeAll(async () => {
  local = await startLocalAzure(estate);
  service = new App(
    loadConfig({
      ...local.env,
      AUDIT_TABLE_PREFIX: 'badinput',
      AUDIT_SUBSCRIPTIONS: SUBSCRIPTIONS.join(','),
    }),
  );
  runId = (await service.audit({ trigger: 'timer' })).run.id;
  const all = service.httpHandlers();
  // Any audit a bad request managed to start would show in the runs list; count them either way.
  handlers = {
    ...all,
    startAudit: async (request, context) => {
      const response = await all.startAudit(request, context);
      if (response.status === 202) started.push(service.drain());
      return response;
    },
  };
  server = await serveHttp({ handlers, port: 0 });
  before = await snapshot();
}, 120_000);

afterAll(async () => {
  await server?.close();
  await Promise.all(started);
  service.close();
  await local?.stop();
});

type Route = 'report' | 'runs' | 'run' | 'startAudit' | 'health' | 'openApi';

interface BadRequest {
  title: string;
  route: Route;
  method?: string;
  /** Path and query. */
  url: string;
  params?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  status: number;
  /** A phrase the detail must contain, so the answer says what to change. */
  detail?: RegExp;
}

const token = (state: { runId: string; offset: number; top: number }) =>
  encodeContinuationToken({ ...state, filters: {} });
const forgedToken = (payload: unknown) => `v1.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
const json = { 'content-type': 'application/json' };
const manyGuids = Array.from(
  { length: 101 },
  (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
);
const deep = `{"subscriptions":${'['.repeat(5000)}${']'.repeat(5000)}}`;

const CASES: BadRequest[] = [
  // report: wrong types and huge values
  { title: 'top is not a number', route: 'report', url: '/api/report?top=abc', status: 400, detail: /top/ },
  { title: 'top is zero', route: 'report', url: '/api/report?top=0', status: 400, detail: /at least 1/ },
  { title: 'top is negative', route: 'report', url: '/api/report?top=-5', status: 400 },
  {
    title: 'top is huge',
    route: 'report',
    url: '/api/report?top=99999999999999',
    status: 400,
    detail: /top/,
  },
  {
    title: 'top is above the page limit',
    route: 'report',
    url: '/api/report?top=5001',
    status: 400,
    detail: /5000/,
  },
  { title: 'top is a fraction', route: 'report', url: '/api/report?top=1.5', status: 400 },
  { title: 'top in exponent notation', route: 'report', url: '/api/report?top=1e3', status: 400 },
  {
    title: 'top given twice',
    route: 'report',
    url: '/api/report?top=10&top=20',
    status: 400,
    detail: /given 2 times/,
  },
  {
    title: 'an unknown parameter',
    route: 'report',
    url: '/api/report?stauts=compliant',
    status: 400,
    detail: /not a parameter/,
  },
  // report: formats
  {
    title: 'an unknown format',
    route: 'report',
    url: '/api/report?format=xml',
    status: 400,
    detail: /json, csv, html/,
  },
  { title: 'a format in capitals', route: 'report', url: '/api/report?format=JSON', status: 400 },
  {
    title: 'an Accept header that takes none of the formats',
    route: 'report',
    url: '/api/report',
    headers: { accept: 'image/png' },
    status: 406,
    detail: /format=/,
  },
  {
    title: 'paging asked of the CSV',
    route: 'report',
    url: '/api/report?format=csv&top=10',
    status: 400,
    detail: /JSON report only/,
  },
  // report: filters, including injection attempts
  {
    title: 'an unknown status',
    route: 'report',
    url: '/api/report?status=bogus',
    status: 400,
    detail: /status/,
  },
  {
    title: 'an empty status',
    route: 'report',
    url: '/api/report?status=',
    status: 400,
    detail: /empty value/,
  },
  {
    title: 'an OData injection in status',
    route: 'report',
    url: `/api/report?status=${encodeURIComponent("compliant' or '1' eq '1")}`,
    status: 400,
  },
  {
    title: 'a subscription ID that is no GUID',
    route: 'report',
    url: '/api/report?subscriptionId=prod',
    status: 400,
    detail: /GUID/,
  },
  {
    title: 'an OData injection in subscriptionId',
    route: 'report',
    url: `/api/report?subscriptionId=${encodeURIComponent("00000000-0000-0000-0000-000000000001' or PartitionKey ne '")}`,
    status: 400,
  },
  {
    title: 'a 5,000-character subscription ID',
    route: 'report',
    url: `/api/report?subscriptionId=${'a'.repeat(5000)}`,
    status: 400,
  },
  {
    title: 'too many status values',
    route: 'report',
    url: `/api/report?status=${Array(201).fill('compliant').join(',')}`,
    status: 400,
    detail: /200/,
  },
  {
    title: 'a KQL injection in osType',
    route: 'report',
    url: `/api/report?osType=${encodeURIComponent('Linux | where 1==1')}`,
    status: 400,
  },
  {
    title: 'an unknown finding code',
    route: 'report',
    url: '/api/report?code=NOT_A_CODE',
    status: 400,
    detail: /code/,
  },
  {
    title: 'markup in the finding code',
    route: 'report',
    url: `/api/report?code=${encodeURIComponent('<script>alert(1)</script>')}`,
    status: 400,
  },
  // report: run IDs
  {
    title: 'a path traversal as runId',
    route: 'report',
    url: '/api/report?runId=../../etc/passwd',
    status: 400,
    detail: /run ID/,
  },
  {
    title: 'an OData injection as runId',
    route: 'report',
    url: `/api/report?runId=${encodeURIComponent("20261129T060000Z-3f9a1c' or ''='")}`,
    status: 400,
  },
  {
    title: 'a runId on February 31',
    route: 'report',
    url: '/api/report?runId=20260231T060000Z-abcdef',
    status: 400,
    detail: /real UTC time/,
  },
  {
    title: 'a runId with capital hex',
    route: 'report',
    url: '/api/report?runId=20261129T060000Z-ABCDEF',
    status: 400,
  },
  {
    title: 'a runId that is not stored',
    route: 'report',
    url: '/api/report?runId=20200101T000000Z-000000',
    status: 404,
    detail: /GET \/api\/runs/,
  },
  // report: continuation tokens
  {
    title: 'a garbage continuation token',
    route: 'report',
    url: '/api/report?continuationToken=garbage',
    status: 400,
    detail: /continuationToken/,
  },
  {
    title: 'a forged token with an injected run ID',
    route: 'report',
    url: `/api/report?continuationToken=${forgedToken({ v: 1, runId: "x' or '1'='1", filters: {}, offset: 1, top: 10 })}`,
    status: 400,
    detail: /not one this API issued/,
  },
  {
    title: 'a forged token with an unknown filter',
    route: 'report',
    url: `/api/report?continuationToken=${forgedToken({ v: 1, runId: '20261129T060000Z-3f9a1c', filters: { tags: ['x'] }, offset: 1, top: 10 })}`,
    status: 400,
  },
  {
    title: 'a 5,000-character token',
    route: 'report',
    url: `/api/report?continuationToken=v1.${'A'.repeat(5000)}`,
    status: 400,
  },
  {
    title: 'a token pointing past the end',
    route: 'report',
    url: '/api/report?continuationToken=PLACEHOLDER_PAST_END',
    status: 400,
    detail: /past the end/,
  },
  {
    title: 'a token of another run than runId',
    route: 'report',
    url: '/api/report?runId=20200101T000000Z-000000&continuationToken=PLACEHOLDER_OTHER_RUN',
    status: 400,
    detail: /belongs to run/,
  },
  {
    title: 'a token with other filters than the request',
    route: 'report',
    url: '/api/report?status=unknown&continuationToken=PLACEHOLDER_OTHER_RUN',
    status: 400,
    detail: /other filters/,
  },
  // wrong methods
  {
    title: 'POST to the report',
    route: 'report',
    method: 'POST',
    url: '/api/report',
    status: 405,
    detail: /GET or HEAD/,
  },
  { title: 'DELETE of the report', route: 'report', method: 'DELETE', url: '/api/report', status: 405 },
  {
    title: 'GET of the audits route',
    route: 'startAudit',
    method: 'GET',
    url: '/api/audits',
    status: 405,
    detail: /POST/,
  },
  {
    title: 'PUT on a run',
    route: 'run',
    method: 'PUT',
    url: '/api/runs/x',
    params: { runId: 'x' },
    status: 405,
  },
  { title: 'DELETE of health', route: 'health', method: 'DELETE', url: '/api/health', status: 405 },
  // runs
  {
    title: 'since is not a date-time',
    route: 'runs',
    url: '/api/runs?since=yesterday',
    status: 400,
    detail: /ISO 8601/,
  },
  {
    title: 'since beyond what run IDs hold',
    route: 'runs',
    url: '/api/runs?since=2999-01-01T00:00:00Z',
    status: 400,
    detail: /2285/,
  },
  { title: 'runs top above 1000', route: 'runs', url: '/api/runs?top=1001', status: 400, detail: /1000/ },
  { title: 'runs with a filter of the report', route: 'runs', url: '/api/runs?status=failed', status: 400 },
  // one run
  {
    title: 'a run path that is no run ID',
    route: 'run',
    url: '/api/runs/latest',
    params: { runId: 'latest' },
    status: 400,
    detail: /run ID/,
  },
  {
    title: 'an injection in the run path',
    route: 'run',
    url: '/api/runs/x',
    params: { runId: "20261129T060000Z-3f9a1c' or RowKey ne '" },
    status: 400,
  },
  {
    title: 'a 2,000-character run path',
    route: 'run',
    url: '/api/runs/x',
    params: { runId: 'A'.repeat(2000) },
    status: 400,
  },
  // POST /api/audits bodies
  {
    title: 'a body that is not JSON',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: 'subscriptions=all',
    status: 400,
    detail: /not valid JSON/,
  },
  {
    title: 'subscriptions that are not GUIDs',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: '{"subscriptions":["prod"]}',
    status: 400,
    detail: /GUID/,
  },
  {
    title: 'a KQL injection as a subscription',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: JSON.stringify({ subscriptions: ["00000000-0000-0000-0000-000000000001' | project x //"] }),
    status: 400,
  },
  {
    title: 'subscriptions as a string',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: JSON.stringify({ subscriptions: SUBSCRIPTIONS[0] }),
    status: 400,
  },
  {
    title: 'an empty subscriptions list',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: '{"subscriptions":[]}',
    status: 400,
    detail: /at least one/,
  },
  {
    title: '101 subscriptions',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: JSON.stringify({ subscriptions: manyGuids }),
    status: 400,
    detail: /at most 100/,
  },
  {
    title: 'an unknown body property',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: '{"managementGroups":["mg"]}',
    status: 400,
  },
  {
    title: 'a JSON array body',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: '[]',
    status: 400,
  },
  {
    title: 'a JSON null body',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: 'null',
    status: 400,
  },
  {
    title: 'a prototype-pollution body',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: '{"__proto__":{"polluted":true}}',
    status: 400,
  },
  {
    title: 'a deeply nested body',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: deep,
    status: 400,
  },
  {
    title: 'a body that is not UTF-8',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    status: 400,
    detail: /UTF-8/,
  },
  {
    title: 'a subscription outside AUDIT_SUBSCRIPTIONS',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: JSON.stringify({ subscriptions: [SUBSCRIPTIONS[0], GUID_OUTSIDE] }),
    status: 422,
    detail: new RegExp(GUID_OUTSIDE),
  },
  // content types and sizes
  {
    title: 'a text/plain body',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: { 'content-type': 'text/plain' },
    body: '{}',
    status: 415,
    detail: /application\/json/,
  },
  {
    title: 'a body without Content-Type',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    body: '{}',
    status: 415,
  },
  {
    title: 'an XML body',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: { 'content-type': 'application/xml' },
    body: '<audit/>',
    status: 415,
  },
  {
    title: 'JSON in Latin-1',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: { 'content-type': 'application/json; charset=iso-8859-1' },
    body: '{}',
    status: 415,
  },
  {
    title: 'an oversized body',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: JSON.stringify({ subscriptions: Array(600).fill(SUBSCRIPTIONS[0]) }),
    status: 413,
    detail: /at most 16384 bytes/,
  },
  {
    title: 'a Content-Length announcing 10 MB',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: { ...json, 'content-length': '10000000' },
    body: '{}',
    status: 413,
  },
  {
    title: 'email that is not a boolean',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: '{"email":"yes"}',
    status: 400,
    detail: /email/,
  },
  {
    title: 'email asked for while no email provider is configured',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits',
    headers: json,
    body: JSON.stringify({ subscriptions: [SUBSCRIPTIONS[0]], email: true }),
    status: 422,
    detail: /EMAIL_CONNECTION_STRING .* or SMTP_HOST/,
  },
  {
    title: 'a query on the audits route',
    route: 'startAudit',
    method: 'POST',
    url: '/api/audits?dryRun=true',
    status: 400,
    detail: /not a parameter/,
  },
  // health and OpenAPI take no parameters
  { title: 'a parameter on health', route: 'health', url: '/api/health?verbose=1', status: 400 },
  {
    title: 'a parameter on the OpenAPI document',
    route: 'openApi',
    url: '/api/openapi.json?format=yaml',
    status: 400,
  },
];

function expectProblem(res: CallResult, status: number, detail?: RegExp): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
  expect(res.headers.get('cache-control')).toBe('no-store');
  const problem = problemSchema.parse(res.json());
  expect(problem.status).toBe(status);
  expect(problem.title.length).toBeGreaterThan(3);
  expect(problem.detail.length).toBeGreaterThan(10);
  if (detail) expect(problem.detail).toMatch(detail);
  // Nothing of the server's inside leaks into an answer to a bad request.
  expect(res.text).not.toMatch(/\bat \S+\.(ts|js):\d+|AccountKey|devstoreaccount1/);
}

it('has at least 30 malformed requests in the table', () => {
  expect(CASES.length).toBeGreaterThanOrEqual(30);
});

it.each(CASES)('answers $title with $status and a problem', async (c) => {
  let url = c.url;
  if (url.includes('PLACEHOLDER_PAST_END')) {
    url = url.replace('PLACEHOLDER_PAST_END', token({ runId, offset: 100_000, top: 10 }));
  }
  if (url.includes('PLACEHOLDER_OTHER_RUN'))
    url = url.replace('PLACEHOLDER_OTHER_RUN', token({ runId, offset: 10, top: 10 }));
  const res = await callHandler(handlers[c.route]!, {
    method: c.method ?? 'GET',
    url,
    ...(c.params ? { params: c.params } : {}),
    ...(c.headers ? { headers: c.headers } : {}),
    ...(c.body !== undefined ? { body: c.body } : {}),
  });
  expectProblem(res, c.status, c.detail);
  if (c.status === 405) expect(res.headers.get('allow')).toMatch(/^(GET, HEAD|POST)$/);
});

describe('through the serve adapter', () => {
  async function fetchProblem(path: string, init: RequestInit = {}): Promise<CallResult> {
    const res = await fetch(`${server.url}${path}`, init);
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
  }

  it('answers a path outside the API with 404', async () => {
    expectProblem(await fetchProblem('/api/../../etc/passwd'), 404);
    expectProblem(await fetchProblem('/api/report/extra'), 404);
  });

  it('answers a run path with broken percent-encoding with 400', async () => {
    expectProblem(await fetchProblem('/api/runs/%E0%A4%A'), 400, /percent-encoding/);
  });

  it('answers an encoded traversal in the run path with 400', async () => {
    expectProblem(await fetchProblem('/api/runs/..%2F..%2Fetc%2Fpasswd'), 400, /run ID/);
  });

  it('answers TRACE, which HttpRequest cannot carry, with 405', async () => {
    // fetch refuses TRACE too, so plain node:http sends it.
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(`${server.url}/api/report`, { method: 'TRACE' }, (r) => {
        r.resume();
        r.on('end', () => resolve(r));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res.statusCode).toBe(405);
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
  });

  it('stops reading a body over 1 MiB and answers 413', async () => {
    const res = await fetchProblem('/api/audits', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ subscriptions: Array(40_000).fill(SUBSCRIPTIONS[0]) }),
    });
    expectProblem(res, 413);
  });

  it('answers a wrong method with 405 and Allow', async () => {
    const res = await fetchProblem('/api/runs', { method: 'PATCH' });
    expectProblem(res, 405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('afterwards', () => {
  it('left the stored runs and the latest report exactly as they were, and started no audit', async () => {
    await Promise.all(started);
    expect(started).toHaveLength(0);
    const after = await snapshot();
    expect(after.runs).toEqual(before.runs);
    expect(after.report).toEqual(before.report);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
