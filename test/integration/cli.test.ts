// The aks-fips-auditor command: exports as input, report files, every exit code against the emulators, serve's errors.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { parse } from 'csv-parse/sync';

import { generateEstate, toAzAksListExport, toGraphQueryExport } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { App } from '../../src/app';
import { type CliIo, EXIT, main } from '../../src/cli/main';
import { loadConfig } from '../../src/config';
import { reportSchema } from '../../src/core/reportSchema';
import type { Report } from '../../src/core/types';
import { CSV_COLUMNS, renderReportCsv, UTF8_BOM } from '../../src/render/reportCsv';
import { summaryText } from '../../src/render/summaryText';

const estate = generateEstate({ seed: 11, pools: 240, subscriptions: 5 });
const dir = mkdtempSync(join(tmpdir(), 'fips-cli-'));
const half = Math.floor(estate.clusters.length / 2);
const aksList = join(dir, 'aks-list.json');
const graph = join(dir, 'graph.json');
const all = join(dir, 'all.json');
writeFileSync(
  aksList,
  JSON.stringify(toAzAksListExport({ ...estate, clusters: estate.clusters.slice(0, half) })),
);
writeFileSync(
  graph,
  JSON.stringify(toGraphQueryExport({ ...estate, clusters: estate.clusters.slice(half) })),
);
writeFileSync(all, JSON.stringify(toAzAksListExport(estate)));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

class Capture extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = new Capture();
  const stderr = new Capture();
  const io = { stdout, stderr, env } as unknown as CliIo;
  const code = await main(args, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

it('audits an az aks list export with --json: exit 0, only the report on stdout, valid against the schema', async () => {
  const result = await run(['audit', '--input', all, '--no-store', '--json']);
  expect(result.code).toBe(EXIT.ok);
  const report = JSON.parse(result.stdout) as Report;
  expect(reportSchema.safeParse(report).success).toBe(true);
  expect(report.summary.pools).toBe(240);
  expect(report.run.trigger).toBe('cli');
  // No Azure was asked: freshness is judged by build date, and the finding says so.
  const outdated = report.pools.flatMap((p) => p.findings).filter((f) => f.code === 'NODE_IMAGE_OUTDATED');
  expect(outdated.length).toBeGreaterThan(0);
  expect(outdated.every((f) => f.message.includes("basis: the image's build date"))).toBe(true);
});

it('audits several exports of mixed casing as one estate', async () => {
  const split = JSON.parse(
    (await run(['audit', '--input', aksList, '--input', graph, '--no-store', '--json'])).stdout,
  ) as Report;
  const whole = JSON.parse((await run(['audit', '--input', all, '--no-store', '--json'])).stdout) as Report;
  expect(split.summary).toEqual(whole.summary);
  expect(split.pools.map((p) => [p.id, p.status])).toEqual(whole.pools.map((p) => [p.id, p.status]));
});

it('prints a human summary without --json', async () => {
  const result = await run(['audit', '--input', all, '--no-store']);
  expect(result.code).toBe(EXIT.ok);
  expect(result.stdout).toMatch(/FIPS audit .* SUCCEEDED/);
  expect(result.stdout).toMatch(/noncompliant \d+/);
});

it('exits 3 with --fail-on noncompliant when noncompliant pools were found', async () => {
  const result = await run(['audit', '--input', all, '--no-store', '--fail-on', 'noncompliant']);
  expect(result.code).toBe(EXIT.gate);
  expect(result.stderr).toMatch(/Exit 3: --fail-on noncompliant tripped: \d+ noncompliant node pools/);
});

it.each<[string, string, string[], (written: string, stdout: string) => void]>([
  [
    'json',
    'report.json',
    ['--format', 'json'],
    (written) => expect(reportSchema.parse(JSON.parse(written)).summary.pools).toBe(240),
  ],
  [
    'csv',
    'report.csv',
    [],
    (written) => {
      expect(written.startsWith(UTF8_BOM)).toBe(true);
      const rows = parse<Record<string, string>>(written, { bom: true, columns: true });
      expect(rows).toHaveLength(240);
      expect(Object.keys(rows[0]!)).toEqual(CSV_COLUMNS.map((c) => c.name));
    },
  ],
  [
    'html',
    'report.html',
    [],
    (written) => {
      expect(written).toMatch(/^<!doctype html>/i);
      expect(written).toContain('id="pool-table"');
    },
  ],
  [
    'text',
    'summary.txt',
    ['--format', 'text'],
    (written, stdout) => expect(stdout.startsWith(written)).toBe(true),
  ],
])(
  'writes the %s report to --out %s, as the API renders it, and the summary to stdout',
  async (format, name, args, check) => {
    const out = join(dir, name);
    const result = await run(['audit', '--input', all, '--no-store', '--out', out, ...args]);
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toMatch(/^FIPS audit .* SUCCEEDED/);
    expect(result.stdout).toContain(`Report (${format}): ${out}\n`);
    check(readFileSync(out, 'utf8'), result.stdout);
  },
);

it('prints the CSV report on stdout with --format csv, nothing else', async () => {
  const result = await run(['audit', '--input', all, '--no-store', '--format', 'csv']);
  expect(result.code).toBe(EXIT.ok);
  const rows = parse<Record<string, string>>(result.stdout, { bom: true, columns: true });
  expect(rows).toHaveLength(240);
});

it.each([
  ['an unknown command', ['frobnicate'], {}, /Unknown command 'frobnicate'/],
  ['a mistyped command', ['audti'], {}, /Unknown command 'audti'\. Did you mean 'audit'\?/],
  ['an unknown option', ['audit', '--frob'], {}, /Unknown option '--frob'/],
  ['a mistyped option', ['audit', '--jsn'], {}, /Unknown option '--jsn'\. Did you mean '--json'\?/],
  [
    'a bad --fail-on',
    ['audit', '--input', all, '--no-store', '--fail-on', 'always'],
    {},
    /--fail-on takes noncompliant or unknown/,
  ],
  [
    'an unknown --format',
    ['audit', '--input', all, '--no-store', '--format', 'xml'],
    {},
    /Allowed choices are json, csv, html, text/,
  ],
  [
    '--json with another --format',
    ['audit', '--input', all, '--no-store', '--json', '--format', 'csv'],
    {},
    /--json is --format json/,
  ],
  [
    'an --out that says no format',
    ['audit', '--input', all, '--no-store', '--out', join(dir, 'report')],
    {},
    /say which format with --format/,
  ],
  [
    'an --out in a missing folder',
    ['audit', '--input', all, '--no-store', '--out', join(dir, 'nope', 'r.json')],
    {},
    /does not exist or cannot be written/,
  ],
  ['a missing input file', ['audit', '--input', join(dir, 'nope.json'), '--no-store'], {}, /cannot be read/],
  ['an input that is not JSON', ['audit', '--input', __filename, '--no-store'], {}, /is not valid JSON/],
  [
    'a bad setting',
    ['audit', '--input', all, '--no-store'],
    { AZURE_CLOUD: 'Mars' },
    /AZURE_CLOUD must be one of .*example: AZURE_CLOUD=/,
  ],
  [
    'storage needed but not set',
    ['audit', '--input', all],
    {},
    /AUDIT_TABLES_ENDPOINT or AUDIT_TABLES_CONNECTION_STRING must be set/,
  ],
  ['a malformed run ID', ['report', '--run', 'latest; drop'], {}, /--run must be a run ID/],
])('exits 2 for %s, saying what is wrong', async (_title, args, env, message) => {
  const result = await run(args, env);
  expect(result.code).toBe(EXIT.usage);
  expect(result.stderr).toMatch(message);
  expect(result.stdout).toBe('');
});

it('rejects an export that has no clusters array', async () => {
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ value: [] }));
  const result = await run(['audit', '--input', bad, '--no-store']);
  expect(result.code).toBe(EXIT.usage);
  expect(result.stderr).toMatch(/neither a JSON array of clusters/);
});

describe('exit codes of real audits against the emulators', () => {
  const emulated = generateEstate({ seed: 5, pools: 120, subscriptions: 3 });
  const allSubscriptions = emulated.subscriptions.map((s) => s.subscriptionId).join(',');
  let local: LocalAzure;
  let prefix = 0;
  const settings = (extra: Record<string, string> = {}) => {
    prefix += 1;
    return { ...local.env, AUDIT_TABLE_PREFIX: `cli${prefix}audit`, ...extra };
  };

  beforeAll(async () => {
    local = await startLocalAzure(emulated);
  });
  afterAll(async () => {
    await local?.stop();
  });
  afterEach(() => local.arm.faults.failingSubscriptions.clear());

  it('exits 0 for a succeeded audit, stored, with the summary on stdout', async () => {
    const result = await run(['audit', '--no-email'], settings());
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toMatch(/^FIPS audit \S+ \(cli, AzureCloud\): SUCCEEDED\n/);
    expect(result.stderr).not.toMatch(/Exit \d/);
  });

  it('report writes a stored run as the CSV and HTML files the API serves, and the summary as text', async () => {
    const env = settings();
    expect((await run(['audit', '--no-email'], env)).code).toBe(EXIT.ok);
    const json = await run(['report'], env);
    expect(json.code).toBe(EXIT.ok);
    const stored = reportSchema.parse(JSON.parse(json.stdout));
    const csv = await run(['report', '--format', 'csv'], env);
    expect(parse<Record<string, string>>(csv.stdout, { bom: true, columns: true })).toHaveLength(
      stored.summary.pools,
    );
    const out = join(dir, 'stored.html');
    const html = await run(['report', '--run', stored.run.id, '--out', out], env);
    expect(html).toMatchObject({ code: EXIT.ok, stdout: `Report of run ${stored.run.id} (html): ${out}\n` });
    expect(readFileSync(out, 'utf8')).toContain('id="trend-chart"');
    const text = await run(['report', '--format', 'text'], env);
    expect(text.stdout).toMatch(new RegExp(`^FIPS audit ${stored.run.id} \\(cli, AzureCloud\\): SUCCEEDED`));
  });

  it('streams a stored report frame by frame, byte for byte the JSON, CSV and summary the whole report renders', async () => {
    const env = settings();
    const audited = await run(['audit', '--no-email', '--json'], env);
    expect(audited.code).toBe(EXIT.ok);
    const runId = (JSON.parse(audited.stdout) as Report).run.id;
    const whole = (await new App(loadConfig(env)).getReport(runId)) as Report;
    expect(whole.pools.length).toBeGreaterThan(0);
    expect(audited.stdout).toBe(`${JSON.stringify(whole, null, 2)}\n`);
    expect((await run(['report', '--format', 'json'], env)).stdout).toBe(
      `${JSON.stringify(whole, null, 2)}\n`,
    );
    expect((await run(['report', '--format', 'csv'], env)).stdout).toBe(renderReportCsv(whole));
    expect((await run(['report', '--format', 'text'], env)).stdout).toBe(`${summaryText(whole)}\n`);
    const out = join(dir, 'streamed.json');
    expect((await run(['report', '--out', out], env)).code).toBe(EXIT.ok);
    expect(readFileSync(out, 'utf8')).toBe(`${JSON.stringify(whole, null, 2)}\n`);
  });

  it.each<[string, string]>([
    ['noncompliant', /--fail-on noncompliant tripped: \d+ noncompliant node pools/.source],
    ['unknown', /--fail-on unknown tripped: \d+ unknown node pools/.source],
    [
      'noncompliant,unknown',
      /--fail-on noncompliant,unknown tripped: \d+ noncompliant and \d+ unknown/.source,
    ],
  ])('exits 3 when --fail-on %s trips on a succeeded audit', async (gates, reason) => {
    const result = await run(['audit', '--no-store', '--fail-on', gates], settings());
    expect(result.code).toBe(EXIT.gate);
    expect(result.stdout).toMatch(/: SUCCEEDED\n/);
    expect(result.stderr).toMatch(new RegExp(reason));
  });

  it.each<[string, string[]]>([
    ['without --fail-on', []],
    ['with --fail-on noncompliant', ['--fail-on', 'noncompliant']],
    ['with --fail-on noncompliant,unknown', ['--fail-on', 'noncompliant,unknown']],
  ])('exits 4 for an incomplete (partial) audit %s, and says so first', async (_what, gates) => {
    local.arm.faults.failingSubscriptions.add(emulated.subscriptions[1]!.subscriptionId);
    const result = await run(
      ['audit', '--no-email', ...gates],
      settings({ AUDIT_SUBSCRIPTIONS: allSubscriptions }),
    );
    expect(result.code).toBe(EXIT.incomplete);
    expect(result.stdout).toMatch(/^AUDIT INCOMPLETE: 1 scope\(s\) could not be read/);
    expect(result.stdout).toMatch(/: PARTIAL\n/);
    expect(result.stderr).toContain('Exit 4: the audit is incomplete (partial)');
  });

  it('exits 4 with the report JSON (run.status partial) on stdout and nothing else', async () => {
    local.arm.faults.failingSubscriptions.add(emulated.subscriptions[0]!.subscriptionId);
    const result = await run(
      ['audit', '--no-store', '--json', '--fail-on', 'noncompliant'],
      settings({ AUDIT_SUBSCRIPTIONS: allSubscriptions }),
    );
    expect(result.code).toBe(EXIT.incomplete);
    expect((JSON.parse(result.stdout) as Report).run.status).toBe('partial');
  });

  it('exits 1 with "Audit failed" when the audit cannot store its run at all', async () => {
    // Table Storage that is not one: the ARM emulator answers every table call with an error.
    const result = await run(
      ['audit', '--fail-on', 'noncompliant'],
      settings({
        AUDIT_TABLES_CONNECTION_STRING: `DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;AccountKey=${Buffer.from('not-a-key').toString('base64')};TableEndpoint=${local.arm.endpoint}/devstoreaccount1;`,
      }),
    );
    expect(result.code).toBe(EXIT.failed);
    expect(result.stderr).toMatch(/^Audit failed: /m);
    expect(result.stdout).toBe('');
  });

  it('never exits 0 or 3 when ARM refuses every token (401), and says so before any figure', async () => {
    // The token is for Azure Government's ARM; the emulator, like public ARM, refuses that audience.
    const result = await run(
      ['audit', '--no-store', '--fail-on', 'noncompliant'],
      settings({ AZURE_CLOUD: 'azureusgovernment' }),
    );
    // A run that read nothing has failed: 1, whatever the gate says.
    expect(result.code).toBe(EXIT.failed);
    expect(result.stdout).toMatch(/^AUDIT FAILED: /);
    expect(result.stdout).toContain('no node pools judged');
    expect(result.stdout).not.toMatch(/\d%/);
  });

  it('exits 2 for bad settings before reading anything', async () => {
    const before = local.arm.stats.graphRequests;
    const result = await run(['audit', '--no-store'], settings({ AUDIT_SCHEDULE: 'a b c d e f' }));
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr).toContain('the second field "a" is not a number (0-59)');
    expect(local.arm.stats.graphRequests).toBe(before);
  });
});

describe('serve', () => {
  it('on a busy port says the port is in use and how to pick another, with exit 1 and its own prefix', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as AddressInfo;
    try {
      const result = await run(['serve', '--port', String(port)], {
        AUDIT_TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true',
      });
      expect(result.code).toBe(EXIT.failed);
      expect(result.stderr).toBe(
        `Cannot serve the API: port ${port} is already in use on 127.0.0.1 (another \`serve\`, \`demo --keep\` or \`func start\`?). Stop that process, or pick another port with --port, for example --port ${port + 1} (--port 0 picks a free one).\n`,
      );
      expect(result.stderr).not.toContain('Audit failed');
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});
