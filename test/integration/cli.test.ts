// The aks-fips-auditor command: exports as input, exit codes, and --json output that parses and matches the schema.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { parse } from 'csv-parse/sync';

import { generateEstate, toAzAksListExport, toGraphQueryExport } from '../../emulators/estateGenerator';
import { type CliIo, EXIT, main } from '../../src/cli/main';
import { reportSchema } from '../../src/core/reportSchema';
import type { Report } from '../../src/core/types';
import { CSV_COLUMNS, UTF8_BOM } from '../../src/render/reportCsv';

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
