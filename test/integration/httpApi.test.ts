// The HTTP API end to end: handlers with real HttpRequest/InvocationContext over Azurite data from real audits.

import { parse } from 'csv-parse/sync';

import { generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { App } from '../../src/app';
import { loadConfig } from '../../src/config';
import type { Report } from '../../src/core/types';
import { openApiText } from '../../src/http/openApi';
import {
  healthSchema,
  HTML_PAGE_SIZE,
  reportPageSchema,
  runRecordSchema,
  runsResponseSchema,
  trendResponseSchema,
} from '../../src/http/schemas';
import { type ApiHandlers, type RunningServer, serveHttp } from '../../src/http/serveHttp';
import { callHandler, type CallOptions, type CallResult } from '../support/httpCall';

const estate = generateEstate({ seed: 7, pools: 3000, subscriptions: 40, poolsPerCluster: 1.5 });
let local: LocalAzure;
let service: App;
let handlers: Required<
  Pick<ApiHandlers, 'report' | 'runs' | 'trend' | 'run' | 'startAudit' | 'health' | 'openApi'>
>;
let first: Report;
let latest: Report;

function call(name: keyof typeof handlers, options: CallOptions): Promise<CallResult> {
  return callHandler(handlers[name], options);
}

const ids = (pools: { id: string }[]) => pools.map((p) => p.id);

beforeAll(async () => {
  local = await startLocalAzure(estate);
  service = new App(loadConfig({ ...local.env, AUDIT_TABLE_PREFIX: 'httpapi' }));
  first = await service.audit({ trigger: 'timer' });
  latest = await service.audit({ trigger: 'timer' });
  const all = service.httpHandlers();
  handlers = {
    report: all.report,
    runs: all.runs,
    trend: all.trend,
    run: all.run,
    startAudit: all.startAudit,
    health: all.health,
    openApi: all.openApi,
  };
}, 180_000);

afterAll(async () => {
  await service.drain();
  service.close();
  await local?.stop();
});

describe('GET /api/report as JSON', () => {
  it('serves the latest completed run: the stored report plus the filter and page it applied', async () => {
    const res = await call('report', { url: '/api/report' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('private, no-cache');
    expect(res.headers.get('vary')).toBe('Accept');
    expect(res.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const body = reportPageSchema.parse(res.json());
    const { filter, page, ...report } = body;
    expect(report).toEqual(await service.getReport(latest.run.id));
    expect(report.run.id).toBe(latest.run.id);
    expect(report.pools).toHaveLength(3000);
    expect(filter).toEqual({ matched: 3000 });
    expect(page).toEqual({ offset: 0, top: null, returned: 3000, continuationToken: null, nextLink: null });
  });

  it('serves an older run by runId', async () => {
    const res = await call('report', { url: `/api/report?runId=${first.run.id}` });
    expect(res.status).toBe(200);
    const body = res.json<Report>();
    expect(body.run.id).toBe(first.run.id);
    expect(ids(body.pools)).toEqual(ids(first.pools));
  });

  it.each([
    ['status=noncompliant', (p: Report['pools'][number]) => p.status === 'noncompliant'],
    [
      'status=compliant,unknown',
      (p: Report['pools'][number]) => p.status === 'compliant' || p.status === 'unknown',
    ],
    [
      'status=compliant&status=unknown',
      (p: Report['pools'][number]) => ['compliant', 'unknown'].includes(p.status),
    ],
    ['osType=Windows', (p: Report['pools'][number]) => p.osType === 'Windows'],
    [
      'code=FIPS_DISABLED',
      (p: Report['pools'][number]) => p.findings.some((f) => f.code === 'FIPS_DISABLED'),
    ],
    [
      'code=OS_RETIRED,NODE_IMAGE_OUTDATED&osType=Linux',
      (p: Report['pools'][number]) =>
        p.osType === 'Linux' &&
        p.findings.some((f) => f.code === 'OS_RETIRED' || f.code === 'NODE_IMAGE_OUTDATED'),
    ],
  ])('filters by %s, keeping the whole run in the summary', async (query, keep) => {
    const res = await call('report', { url: `/api/report?${query}` });
    expect(res.status).toBe(200);
    const body = reportPageSchema.parse(res.json());
    const expected = latest.pools.filter(keep);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(3000);
    expect(ids(body.pools)).toEqual(ids(expected));
    expect(body.filter.matched).toBe(expected.length);
    expect(body.summary).toEqual(latest.summary);
  });

  it('filters by subscription ID whatever its casing, since IDs compare case-insensitively', async () => {
    const sub = estate.subscriptions[5]!.subscriptionId;
    const res = await call('report', { url: `/api/report?subscriptionId=${sub.toUpperCase()}` });
    expect(res.status).toBe(200);
    const body = reportPageSchema.parse(res.json());
    const expected = latest.pools.filter((p) => p.subscriptionId === sub.toLowerCase());
    expect(expected.length).toBeGreaterThan(0);
    expect(ids(body.pools)).toEqual(ids(expected));
    expect(body.filter.subscriptionId).toEqual([sub.toLowerCase()]);
  });

  it('ignores a function key passed as ?code= (the host checked it) while a finding code still filters', async () => {
    const key = 'aBcD3fGhIjKlMnOpQrStUvWxYz0123456789-_abcdefghijklmno==';
    const plain = await call('report', { url: `/api/report?code=${encodeURIComponent(key)}&top=5` });
    expect(plain.status).toBe(200);
    expect(reportPageSchema.parse(plain.json()).filter).toEqual({ matched: 3000 });
    const both = await call('report', {
      url: `/api/report?code=${encodeURIComponent(key)}&code=OS_RETIRED&top=5`,
    });
    expect(both.status).toBe(200);
    const body = reportPageSchema.parse(both.json());
    expect(body.filter.code).toEqual(['OS_RETIRED']);
    expect(body.page.nextLink ?? '').not.toContain(key);
  });

  it.each([500, 777, 3000, 5000])(
    'pages to the end of the 3,000-pool report with top=%i: the union is the report, without duplicates',
    async (top) => {
      const seen: string[] = [];
      let url: string | null = `/api/report?top=${top}`;
      let pages = 0;
      while (url) {
        const res = await call('report', { url });
        expect(res.status).toBe(200);
        const body = reportPageSchema.parse(res.json());
        expect(body.summary).toEqual(latest.summary);
        expect(body.run.id).toBe(latest.run.id);
        expect(body.page.offset).toBe(seen.length);
        expect(body.pools.length).toBeLessThanOrEqual(top);
        seen.push(...ids(body.pools));
        pages += 1;
        if (body.page.nextLink) {
          expect(res.headers.get('link')).toBe(`<${body.page.nextLink}>; rel="next"`);
          // Relative without REPORT_BASE_URL: never the origin the request came with.
          expect(body.page.nextLink.startsWith('/api/report?')).toBe(true);
        }
        url = body.page.nextLink;
      }
      expect(pages).toBe(Math.ceil(3000 / top));
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(ids(latest.pools));
    },
  );

  it('pages through a filtered report with the token alone, and the filters ride in the token', async () => {
    const expected = latest.pools.filter((p) => p.status === 'noncompliant' || p.status === 'unknown');
    const seen: string[] = [];
    let res = await call('report', { url: '/api/report?status=unknown,noncompliant&top=250' });
    for (;;) {
      expect(res.status).toBe(200);
      const body = reportPageSchema.parse(res.json());
      expect(body.filter.matched).toBe(expected.length);
      expect(body.filter.status).toEqual(['noncompliant', 'unknown']);
      seen.push(...ids(body.pools));
      const token = body.page.continuationToken;
      if (!token) break;
      res = await call('report', { url: `/api/report?continuationToken=${encodeURIComponent(token)}` });
    }
    expect(seen).toEqual(ids(expected));
  });

  it('keeps paging the run the token names even when asked without runId after a newer run', async () => {
    const res = await call('report', { url: `/api/report?runId=${first.run.id}&top=2900` });
    const body = reportPageSchema.parse(res.json());
    const next = await call('report', {
      url: `/api/report?continuationToken=${encodeURIComponent(body.page.continuationToken!)}`,
    });
    const rest = reportPageSchema.parse(next.json());
    expect(rest.run.id).toBe(first.run.id);
    expect([...ids(body.pools), ...ids(rest.pools)]).toEqual(ids(first.pools));
  });
});

describe('GET /api/report in other formats', () => {
  it('serves CSV with a BOM, one row per pool, that parses back to the JSON report', async () => {
    const res = await call('report', { url: '/api/report?format=csv' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present');
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="fips-audit-${latest.run.id}.csv"`,
    );
    expect(res.headers.get('cache-control')).toBe('private, no-cache');
    expect(res.headers.get('etag')).toBeTruthy();
    expect(res.bytes.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    const rows = parse<Record<string, string>>(res.bytes, { bom: true, columns: true });
    expect(rows.map((r) => r.id)).toEqual(ids(latest.pools));
    expect(rows.map((r) => r.status)).toEqual(latest.pools.map((p) => p.status));
    expect(rows.map((r) => r.codes)).toEqual(
      latest.pools.map((p) => p.findings.map((f) => f.code).join('\n')),
    );
  });

  it('serves filtered CSV', async () => {
    const res = await call('report', { url: '/api/report?format=csv&status=noncompliant' });
    const rows = parse<Record<string, string>>(res.text, { bom: true, columns: true });
    expect(rows).toHaveLength(latest.summary.noncompliant);
    expect(rows.every((r) => r.status === 'noncompliant')).toBe(true);
  });

  it('serves the HTML page with a fresh nonce that its CSP names, and never caches it', async () => {
    const a = await call('report', { url: '/api/report?format=html' });
    const b = await call('report', { url: '/api/report?format=html' });
    expect(a.status).toBe(200);
    expect(a.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(a.headers.get('cache-control')).toBe('no-store');
    expect(a.headers.get('etag')).toBeNull();
    const csp = a.headers.get('content-security-policy') ?? '';
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toBe(
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
    );
    expect(a.text).toContain(`<script nonce="${nonce}">`);
    expect(a.text).toContain(`<style nonce="${nonce}">`);
    expect(b.headers.get('content-security-policy')).not.toBe(csp);
    expect(a.text.match(/<script/g)).toHaveLength(1);
    expect(a.text).not.toMatch(/<(script|link|img)[^>]+(src|href)="(https?:)?\/\//i);
    expect(a.text).toContain(`id="count-pools" data-count="${latest.summary.pools}"`);
    expect(a.text).toContain(`id="count-noncompliant" data-count="${latest.summary.noncompliant}"`);
    expect(a.text).toContain('<svg id="trend-chart"');
    expect(a.text.match(/<tr data-status=/g)).toHaveLength(HTML_PAGE_SIZE);
  });

  it('serves the HTML table a page at a time, attention first, filtered under the JSON API names', async () => {
    const json = (
      await call('report', { url: '/api/report?status=noncompliant&code=FIPS_DISABLED' })
    ).json<Report>();
    const html = await call('report', {
      url: '/api/report?format=html&status=noncompliant&code=FIPS_DISABLED&page=2',
    });
    expect(html.status).toBe(200);
    expect(html.text).toContain(`<b id="matched-count">${json.pools.length.toLocaleString('en-US')}</b>`);
    expect(html.text).toContain(`<b id="first-shown">${HTML_PAGE_SIZE + 1}</b>`);
    expect(html.text.match(/<tr data-status="noncompliant">/g)).toHaveLength(
      Math.min(HTML_PAGE_SIZE, json.pools.length - HTML_PAGE_SIZE),
    );
  });

  it('ignores the empty choices of the filter form and searches free text', async () => {
    const pool = latest.pools.find((p) => p.status === 'unknown') ?? latest.pools[0]!;
    const res = await call('report', {
      url: `/api/report?format=html&status=&code=&subscriptionId=&osType=&owner=&page=&q=${encodeURIComponent(`${pool.cluster} ${pool.pool}`)}`,
    });
    expect(res.status).toBe(200);
    expect(res.text).toContain(`<b>${pool.cluster} / ${pool.pool}</b>`);
    const json = (
      await call('report', { url: `/api/report?q=${encodeURIComponent(`${pool.cluster} ${pool.pool}`)}` })
    ).json<Report>();
    expect(json.pools.map((p) => p.id)).toContain(pool.id);
  });

  it('refuses page on anything but the HTML report', async () => {
    for (const url of ['/api/report?page=2', '/api/report?format=csv&page=2']) {
      const res = await call('report', { url });
      expect(res.status).toBe(400);
      expect(res.json<{ detail: string }>().detail).toContain('page pages the HTML report only');
    }
  });

  it.each([
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'text/html'],
    ['text/csv', 'text/csv'],
    ['application/json', 'application/json'],
    ['*/*', 'application/json'],
    ['text/*', 'text/html'],
    ['text/csv;q=0.5, application/json;q=0.4', 'text/csv'],
  ])('negotiates Accept: %s → %s', async (accept, type) => {
    const res = await call('report', { url: '/api/report?status=exempt,unknown', headers: { accept } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')?.startsWith(type)).toBe(true);
  });

  it('lets ?format= win over Accept', async () => {
    const res = await call('report', {
      url: '/api/report?format=csv&status=unknown',
      headers: { accept: 'text/html' },
    });
    expect(res.headers.get('content-type')?.startsWith('text/csv')).toBe(true);
  });
});

describe('ETag and If-None-Match', () => {
  it.each(['/api/report', '/api/report?format=csv', '/api/report?status=compliant&top=100'])(
    'answers 304 without a body for a current ETag of %s',
    async (url) => {
      const fresh = await call('report', { url });
      const etag = fresh.headers.get('etag')!;
      const again = await call('report', { url, headers: { 'if-none-match': etag } });
      expect(again.status).toBe(304);
      expect(again.text).toBe('');
      expect(again.headers.get('etag')).toBe(etag);
      expect(again.headers.get('cache-control')).toBe('private, no-cache');
      const weak = await call('report', { url, headers: { 'if-none-match': `"other", W/${etag}` } });
      expect(weak.status).toBe(304);
    },
  );

  it('gives each format, filter, page and run its own ETag', async () => {
    const etags = await Promise.all(
      [
        '/api/report',
        '/api/report?format=csv',
        '/api/report?status=compliant',
        '/api/report?top=10',
        `/api/report?runId=${first.run.id}`,
      ].map(async (url) => (await call('report', { url })).headers.get('etag')),
    );
    expect(new Set(etags).size).toBe(etags.length);
    const stale = await call('report', { url: '/api/report', headers: { 'if-none-match': etags[4]! } });
    expect(stale.status).toBe(200);
  });

  it('answers 304 for runs and one run', async () => {
    for (const [name, url, params] of [
      ['runs', '/api/runs', {}],
      ['run', `/api/runs/${first.run.id}`, { runId: first.run.id }],
    ] as const) {
      const fresh = await call(name, { url, params });
      expect(fresh.status).toBe(200);
      const again = await call(name, {
        url,
        params,
        headers: { 'if-none-match': fresh.headers.get('etag')! },
      });
      expect(again.status).toBe(304);
      expect(again.text).toBe('');
    }
  });
});

describe('runs, health and the OpenAPI document', () => {
  it('lists runs newest first with their summaries', async () => {
    const res = await call('runs', { url: '/api/runs' });
    expect(res.status).toBe(200);
    const { runs } = runsResponseSchema.parse(res.json());
    expect(runs.map((r) => r.id)).toEqual([latest.run.id, first.run.id]);
    expect(runs[0]!.summary).toEqual(latest.summary);
    const one = runsResponseSchema.parse((await call('runs', { url: '/api/runs?top=1' })).json());
    expect(one.runs.map((r) => r.id)).toEqual([latest.run.id]);
    const none = runsResponseSchema.parse(
      (await call('runs', { url: '/api/runs?since=2200-01-01T00:00:00Z' })).json(),
    );
    expect(none.runs).toEqual([]);
  });

  it("carries each run's counts by code and by subscription, counted as the run went", async () => {
    const { runs } = runsResponseSchema.parse((await call('runs', { url: '/api/runs' })).json());
    for (const run of runs) {
      const bySubscription = run.summary.bySubscription!;
      expect(bySubscription).toHaveLength(run.summary.subscriptions);
      expect(bySubscription.reduce((n, r) => n + r.noncompliant, 0)).toBe(run.summary.noncompliant);
      expect(run.summary.byCode!.length).toBeGreaterThan(0);
      expect(run.summary.compliancePercent).toBeGreaterThanOrEqual(0);
    }
  });

  it('serves each run by subscription and by finding code as flat rows for charts, oldest run first', async () => {
    const bySubscription = await call('trend', { url: '/api/trend' });
    expect(bySubscription.status).toBe(200);
    const body = trendResponseSchema.parse(bySubscription.json());
    expect(body.by).toBe('subscription');
    expect(body.rows).toHaveLength(2 * latest.summary.subscriptions);
    expect(body.rows[0]!.runId).toBe(first.run.id);
    expect(body.rows[body.rows.length - 1]!.runId).toBe(latest.run.id);
    const latestRows = body.rows.filter((r) => r.runId === latest.run.id) as { noncompliant: number }[];
    expect(latestRows.reduce((n, r) => n + r.noncompliant, 0)).toBe(latest.summary.noncompliant);

    const byCode = trendResponseSchema.parse(
      (await call('trend', { url: '/api/trend?by=code&top=1' })).json(),
    );
    expect(byCode.rows.map((r) => (r as { code: string }).code)).toEqual(
      latest.summary.byCode!.map((c) => c.code),
    );
    // No owner tag configured: no owner rows, rather than invented ones.
    expect(
      trendResponseSchema.parse((await call('trend', { url: '/api/trend?by=owner' })).json()).rows,
    ).toEqual([]);
    const bad = await call('trend', { url: '/api/trend?by=cluster' });
    expect(bad.status).toBe(400);
  });

  it("serves one run's record, and 404 with a problem for a run that is not stored", async () => {
    const res = await call('run', { url: `/api/runs/${first.run.id}`, params: { runId: first.run.id } });
    expect(res.status).toBe(200);
    expect(runRecordSchema.parse(res.json())).toEqual(await service.stores.reports.getRun(first.run.id));
    const missing = await call('run', {
      url: '/api/runs/20200101T000000Z-000000',
      params: { runId: '20200101T000000Z-000000' },
    });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    const problem = missing.json<{ status: number; title: string; detail: string }>();
    expect(problem).toMatchObject({ status: 404, title: 'Not found' });
    expect(problem.detail).toContain('GET /api/runs');
  });

  it('reports health without secrets: settings set, cloud, matrix, the latest run and its age', async () => {
    const res = await call('health', { url: '/api/health' });
    expect(res.status).toBe(200);
    const health = healthSchema.parse(res.json());
    expect(health.status).toBe('ok');
    expect(health.cloud).toBe('AzureCloud');
    expect(health.matrix.version).toBe(service.config.matrix.version);
    expect(health.settings.set).toEqual(
      expect.arrayContaining(['AUDIT_TABLES_CONNECTION_STRING', 'AUDIT_ARM_ENDPOINT']),
    );
    expect(health.latestRun?.id).toBe(latest.run.id);
    expect(health.latestRun?.ageInSeconds).toBeGreaterThanOrEqual(0);
    expect(health.storage).toEqual({ configured: true, reachable: true });
    // No provider configured and no digest recorded: nothing to warn about.
    expect(health.email).toEqual({
      provider: null,
      status: 'ok',
      delivery: 'none',
      latest: null,
      lastSent: null,
      lastFailure: null,
      failuresSinceLastSent: 0,
      warnings: [],
    });
    expect(health.settings.set.filter((name) => /^(EMAIL|SMTP)_/.test(name))).toEqual([]);
    expect(res.text).not.toMatch(/AccountKey|devstoreaccount1|127\.0\.0\.1|Eby8vdM02/);
  });

  it('serves the OpenAPI document the schemas generate', async () => {
    const res = await call('openApi', { url: '/api/openapi.json' });
    expect(res.status).toBe(200);
    expect(res.text).toBe(openApiText());
  });
});

describe('the serve adapter', () => {
  let server: RunningServer;

  beforeAll(async () => {
    // A fresh set of handlers: nothing cached, so the first report request reads Table Storage.
    server = await serveHttp({ handlers: service.httpHandlers(), port: 0 });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('serves the 3,000-pool report as JSON, CSV and HTML, and reports how long each takes', async () => {
    const fetchTimed = async (base: string, path: string) => {
      const started = performance.now();
      const res = await fetch(`${base}${path}`);
      const body = Buffer.from(await res.arrayBuffer());
      return { res, body, ms: performance.now() - started };
    };
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const lines: string[] = [];
    const results: Record<string, Awaited<ReturnType<typeof fetchTimed>>> = {};
    for (const [label, path] of [
      ['JSON', '/api/report?format=json'],
      ['CSV', '/api/report?format=csv'],
      ['HTML', '/api/report?format=html'],
      ['JSON page (top=500)', '/api/report?top=500'],
    ] as const) {
      // A fresh adapter and handlers: the first request reads the run from Azurite, the next 5 hit the handler's cache.
      const fresh = await serveHttp({ handlers: service.httpHandlers(), port: 0 });
      try {
        const cold = await fetchTimed(fresh.url, path);
        const warm = [];
        for (let i = 0; i < 5; i++) warm.push(await fetchTimed(fresh.url, path));
        results[label] = warm[warm.length - 1]!;
        expect(cold.res.status).toBe(200);
        lines.push(
          `${label.padEnd(20)} first ${cold.ms.toFixed(0).padStart(4)} ms, then median ${median(
            warm.map((r) => r.ms),
          )
            .toFixed(0)
            .padStart(3)} ms  (${(cold.body.length / 1024).toFixed(0)} KiB)`,
        );
      } finally {
        await fresh.close();
      }
    }
    process.stdout.write(
      `Serving the 3,000-pool report through the serve adapter:\n  ${lines.join('\n  ')}\n`,
    );

    const {
      JSON: json,
      CSV: csv,
      HTML: html,
    } = results as Record<'JSON' | 'CSV' | 'HTML', (typeof results)[string]>;
    for (const { res } of [json, csv, html]) expect(res.status).toBe(200);
    expect((JSON.parse(json.body.toString('utf8')) as Report).pools).toHaveLength(3000);
    expect(csv.body.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    // The whole run's JSON and CSV are streamed a frame at a time: chunked, no length known up front.
    for (const { res } of [json, csv]) {
      expect(res.headers.get('content-length')).toBeNull();
      expect(res.headers.get('transfer-encoding')).toBe('chunked');
    }
    // Cells hold several findings one per line (LF); records end with CRLF.
    expect(csv.body.toString('utf8').split('\r\n')).toHaveLength(3002);
    expect(html.res.headers.get('content-security-policy')).toMatch(
      /^default-src 'none'; script-src 'nonce-/,
    );
  });

  it('routes runs/{runId} with its parameter, answers HEAD without a body and unknown paths with a 404 problem', async () => {
    const run = await fetch(`${server.url}/api/runs/${first.run.id}`);
    expect(run.status).toBe(200);
    expect(((await run.json()) as { id: string }).id).toBe(first.run.id);
    const head = await fetch(`${server.url}/api/report`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const unknown = await fetch(`${server.url}/api/nope`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    const conditional = await fetch(`${server.url}/api/report?format=csv`);
    await conditional.arrayBuffer();
    const notModified = await fetch(`${server.url}/api/report?format=csv`, {
      headers: { 'if-none-match': conditional.headers.get('etag')! },
    });
    expect(notModified.status).toBe(304);
  });
});

// Last: the on-demand audit becomes the latest run.
describe('POST /api/audits', () => {
  it('starts an audit of 2 subscriptions: 202 + Location at once, 409 for a second one, progress on the run record', async () => {
    const subscriptions = [
      estate.subscriptions[1]!.subscriptionId,
      estate.subscriptions[2]!.subscriptionId.toUpperCase(),
    ];
    // Slow ARM down so the audit is still running while the test looks at it.
    local.arm.latencyInMs = 150;
    try {
      const res = await call('startAudit', {
        method: 'POST',
        url: '/api/audits',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ subscriptions }),
      });
      expect(res.status).toBe(202);
      const body = res.json<{
        runId: string;
        status: string;
        location: string;
        subscriptions: string[];
        email: boolean;
      }>();
      expect(body.status).toBe('running');
      expect(body.email).toBe(false); // not asked: an on-demand audit is not mailed
      expect(res.headers.get('location')).toBe(`/api/runs/${body.runId}`);
      expect(body.location).toBe(`/api/runs/${body.runId}`);
      expect(body.subscriptions).toEqual(subscriptions.map((s) => s.toLowerCase()));

      const second = await call('startAudit', { method: 'POST', url: '/api/audits' });
      expect(second.status).toBe(409);
      expect(second.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
      expect(second.json()).toMatchObject({ status: 409, runId: body.runId, run: `/api/runs/${body.runId}` });

      const seen: { status: string; poolsJudged: number }[] = [];
      for (;;) {
        const poll = await call('run', { url: body.location, params: { runId: body.runId } });
        expect(poll.status).toBe(200);
        const run = runRecordSchema.parse(poll.json());
        seen.push({ status: run.status, poolsJudged: run.progress.poolsJudged });
        if (run.status !== 'running') break;
        expect(poll.headers.get('cache-control')).toBe('no-store');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(seen[0]!.status).toBe('running');
      const final = seen[seen.length - 1]!;
      expect(final.status).toBe('succeeded');
      const judged = seen.map((s) => s.poolsJudged);
      expect(judged).toEqual([...judged].sort((a, b) => a - b));

      const record = (await service.stores.reports.getRun(body.runId))!;
      expect(record.trigger).toBe('http');
      expect(record.scope.subscriptions).toEqual(subscriptions.map((s) => s.toLowerCase()));
      expect(record.summary.subscriptions).toBe(2);
      expect(final.poolsJudged).toBe(record.summary.pools);
      const report = await call('report', { url: `/api/report?runId=${body.runId}` });
      const pools = reportPageSchema.parse(report.json()).pools;
      expect(new Set(pools.map((p) => p.subscriptionId))).toEqual(
        new Set(subscriptions.map((s) => s.toLowerCase())),
      );
    } finally {
      local.arm.latencyInMs = 0;
      await service.drain();
    }
  });
});
