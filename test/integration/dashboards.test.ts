// The shipped dashboards against a live `serve`: every Grafana query, and the fields every Power BI query reads.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { API_ROUTES, ROUTE_PREFIX } from '../../src/http/routes';
import { type RunningServer, serveHttp } from '../../src/http/serveHttp';

const ROOT = join(__dirname, '..', '..');

/** The Infinity query model (grafana/grafana-infinity-datasource src/types/query.types.ts) as the dashboard uses it. */
interface InfinityTarget {
  refId: string;
  datasource: { type: string; uid: string };
  type: string;
  source: string;
  parser: string;
  format: string;
  url: string;
  url_options: { method: string; params: { key: string; value: string }[] };
  root_selector: string;
  columns: { selector: string; text: string; type: 'string' | 'number' | 'timestamp' }[];
}

interface Panel {
  id: number;
  title: string;
  type: string;
  targets: InfinityTarget[];
  transformations?: { id: string; options: { fields?: string[] } }[];
}

interface Dashboard {
  __inputs: { name: string; pluginId: string }[];
  templating: { list: { name: string; current: { value: string } }[] };
  panels: Panel[];
}

const dashboard = JSON.parse(
  readFileSync(join(ROOT, 'dashboards', 'grafana', 'aks-fips-auditor.json'), 'utf8'),
) as Dashboard;
const powerQuery = readFileSync(join(ROOT, 'dashboards', 'powerbi', 'aks-fips-auditor.pq'), 'utf8');

let local: LocalAzure;
let server: RunningServer;

beforeAll(async () => {
  local = await startLocalAzure(generateEstate({ seed: 12, pools: 300, subscriptions: 6 }));
  const service = new App(
    loadConfig({ ...local.env, AUDIT_TABLE_PREFIX: 'dashboards', AUDIT_OWNER_TAG: 'team' }),
  );
  await service.runAudit({ trigger: 'timer' });
  await service.runAudit({ trigger: 'timer' });
  server = await serveHttp({ handlers: service.httpHandlers(), port: 0 });
}, 180_000);

afterAll(async () => {
  await server?.close();
  await local?.stop();
});

/** A dot path (`summary.byCode`), or JSONata's array constructor around one (`[summary]`), as the queries use. */
function select(value: unknown, path: string): unknown {
  const wrapped = /^\[(.+)\]$/.exec(path);
  if (wrapped) return [select(value, wrapped[1]!)];
  return path
    .split('.')
    .reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], value);
}

/** `${name}` replaced by the dashboard variable's current value, `${baseUrl}` by the live server. */
function substitute(text: string): string {
  return text.replace(/\$\{(\w+)\}/g, (_m, name: string) => {
    if (name === 'baseUrl') return server.url;
    const variable = dashboard.templating.list.find((v) => v.name === name);
    if (!variable) throw new Error(`The dashboard uses \${${name}} but defines no such variable`);
    return variable.current.value;
  });
}

const targets = dashboard.panels.flatMap((panel) => panel.targets.map((target) => ({ panel, target })));

describe('the Grafana dashboard', () => {
  it('charts compliance %, by code and by subscription over time, with the Infinity data source as an input', () => {
    expect(dashboard.__inputs).toEqual([
      expect.objectContaining({ name: 'DS_INFINITY', pluginId: 'yesoreyeram-infinity-datasource' }),
    ]);
    const titles = dashboard.panels.map((p) => p.title);
    for (const title of [
      'Compliance % over time',
      'Noncompliant pools by finding code over time',
      'Noncompliant pools by subscription over time',
    ])
      expect(titles).toContain(title);
    expect(targets.length).toBeGreaterThanOrEqual(8);
  });

  it.each(targets.map(({ panel, target }) => [panel.title, panel, target] as const))(
    'answers the query of "%s" with the fields the panel uses',
    async (_title, panel, target) => {
      expect(target).toMatchObject({
        datasource: { type: 'yesoreyeram-infinity-datasource', uid: '${DS_INFINITY}' },
        type: 'json',
        source: 'url',
        parser: 'backend',
        url_options: { method: 'GET' },
      });
      expect(['table', 'timeseries']).toContain(target.format);
      const url = new URL(substitute(target.url));
      for (const { key, value } of target.url_options.params) url.searchParams.append(key, substitute(value));
      const route = url.pathname.replace(`/${ROUTE_PREFIX}/`, '');
      expect(Object.values(API_ROUTES).map((r) => r.route)).toContain(route);

      const response = await fetch(url);
      expect(response.status).toBe(200);
      const rows = select(await response.json(), target.root_selector);
      expect(Array.isArray(rows)).toBe(true);
      expect((rows as unknown[]).length).toBeGreaterThan(0);
      for (const row of rows as unknown[]) {
        for (const column of target.columns) {
          const value = select(row, column.selector);
          expect([column.selector, value === undefined]).toEqual([column.selector, false]);
          if (value === null) continue;
          if (column.type === 'number') expect(typeof value).toBe('number');
          if (column.type === 'string') expect(typeof value).toBe('string');
          if (column.type === 'timestamp') expect(Number.isNaN(Date.parse(value as string))).toBe(false);
        }
      }
      // A transformation that splits series by a field needs that field among the columns.
      for (const transformation of panel.transformations ?? []) {
        for (const field of transformation.options.fields ?? [])
          expect(target.columns.map((c) => c.text)).toContain(field);
      }
    },
  );
});

describe('the Power BI queries', () => {
  /** Each `// ---- query: Name` section of the script. */
  const sections = powerQuery.split(/^\/\/ ---- query: /m).slice(1);
  const named = new Map(sections.map((s) => [s.slice(0, s.indexOf(' ')), s]));
  /** Where each query finds its rows in the response. */
  const rowsOf: Record<string, { path: string; rows: string }> = {
    Runs: { path: 'api/runs?top=365', rows: 'runs' },
    TrendBySubscription: { path: 'api/trend?by=subscription&top=365', rows: 'rows' },
    TrendByCode: { path: 'api/trend?by=code&top=365', rows: 'rows' },
    FixFirst: { path: 'api/report?top=1', rows: 'summary.byCode' },
    Pools: { path: 'api/report?top=5000', rows: 'pools' },
  };

  it('defines the parameters, the API function and a query per table', () => {
    expect([...named.keys()].sort()).toEqual(
      ['BaseUrl', 'FunctionKey', 'FipsApi', ...Object.keys(rowsOf)].sort(),
    );
    expect(named.get('FipsApi')).toContain('RelativePath = path');
    expect(named.get('FipsApi')).toContain('#"x-functions-key" = FunctionKey');
  });

  it.each(Object.entries(rowsOf))('reads only fields the API returns: %s', async (name, { path, rows }) => {
    const section = named.get(name)!;
    expect(section).toContain(`FipsApi("${path.slice(0, path.indexOf('?'))}"`);
    const body = await (await fetch(`${server.url}/${path}`)).json();
    const list = select(body, rows) as Record<string, unknown>[];
    expect(list.length).toBeGreaterThan(0);
    const fields = /Table\.FromRecords\(\s*\w+,\s*\{([^}]*)\}/
      .exec(section)![1]!
      .match(/"(\w+)"/g)!
      .map((f) => f.slice(1, -1));
    expect(fields.length).toBeGreaterThan(3);
    for (const field of fields) {
      // The Runs query lifts the summary's counts to the row.
      const present = list.some(
        (row) =>
          field in row || (typeof row.summary === 'object' && row.summary !== null && field in row.summary),
      );
      expect([field, present]).toEqual([field, true]);
    }
  });
});
