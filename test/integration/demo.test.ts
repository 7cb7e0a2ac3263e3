// `aks-fips-auditor demo`: fourteen daily audits of the sample estate, today's report with the trend, and a
// digest preview with the changes since yesterday, written to files it names.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { simpleParser } from 'mailparser';

import { HOSTILE_SUBSCRIPTION_NAME } from '../../emulators/estateGenerator';
import { type CliIo, EXIT, main } from '../../src/cli/main';
import { reportSchema } from '../../src/core/reportSchema';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

const out = mkdtempSync(join(tmpdir(), 'fips-demo-'));
let result: { code: number; stdout: string; stderr: string };

beforeAll(async () => {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(['demo', '--out', out], { stdout, stderr, env: {} } as unknown as CliIo);
  result = { code, stdout: stdout.text, stderr: stderr.text };
  // Fourteen audits of 360 pools with Azurite: allow for a loaded machine (not a timed assertion).
}, 300_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

it('exits 0 after auditing once a day for 14 days, one of them partial', () => {
  expect(result.code).toBe(EXIT.ok);
  const days = result.stdout.match(/^ {2}day +\d+ {2}\d{4}-\d{2}-\d{2} {2}(SUCCEEDED|PARTIAL)/gm) ?? [];
  expect(days).toHaveLength(14);
  expect(days.filter((d) => d.endsWith('PARTIAL'))).toHaveLength(1);
  expect(result.stdout).toContain('first audit of the estate');
  expect(result.stdout).toMatch(/the platform team enabled the FIPS image on \d node pool\(s\)/);
  expect(result.stdout).toMatch(/a new cluster \S+ \(\d pools\) appeared/);
  expect(result.stdout).toMatch(/exempted \S+ until \d{4}-\d{2}-\d{2}/);
  expect(result.stdout).toMatch(/ran out at the end of \d{4}-\d{2}-\d{2}/);
  expect(result.stdout).toMatch(/Reader role on subscription \S+ was removed by mistake/);
});

it('names every file it wrote, and each exists', () => {
  const written = [...result.stdout.matchAll(/^ {2}today's .*? {2,}(\S+)$/gm)].map((m) => m[1]!);
  expect(written.map((p) => p.split(/[\\/]/).pop())).toEqual([
    'report.html',
    'report.json',
    'report.csv',
    'digest.eml',
    'digest.html',
  ]);
  for (const name of ['report.html', 'report.json', 'report.csv', 'digest.eml', 'digest.html']) {
    expect(existsSync(join(out, name))).toBe(true);
  }
});

it("writes today's report, succeeded, with realistic names and no hostile ones", () => {
  const report = reportSchema.parse(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')));
  expect(report.run.status).toBe('succeeded');
  expect(report.summary.pools).toBeGreaterThan(360);
  expect(report.summary.exempt).toBeGreaterThan(0);
  const text = readFileSync(join(out, 'report.json'), 'utf8');
  expect(text).not.toContain(HOSTILE_SUBSCRIPTION_NAME);
  expect(text).not.toMatch(/<img|onerror|=HYPERLINK/);
  for (const pool of report.pools) {
    expect(pool.subscriptionName).toMatch(/^[a-z]+-[a-z]+-\d{3}$/);
    expect(pool.cluster).toMatch(/^aks-[a-z]+-[a-z]+-[0-9a-z]{3}$/);
  }
});

it('draws the 14-day trend in the HTML report', () => {
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  expect(html).toContain('over the last 14 run(s)');
});

it('previews a digest with the trend and the changes since yesterday, and says it was not sent', async () => {
  const html = readFileSync(join(out, 'digest.html'), 'utf8');
  expect(html).toContain('Trend, last 14 runs');
  for (const section of [
    /New noncompliant node pools \(\d+\)/,
    /Resolved \(\d+\)/,
    /Exemptions that lapsed \(1\)/,
    /Exemptions expiring within 14 days \(1\)/,
  ]) {
    expect(html).toMatch(section);
  }
  const eml = await simpleParser(readFileSync(join(out, 'digest.eml')));
  expect(eml.subject).toMatch(/^\[FIPS audit\] .*resolved.*exemption lapsed/);
  expect(eml.html).toBe(html);
  expect(result.stdout).toContain(`Digest subject: ${eml.subject}`);
  expect(result.stdout).toMatch(/today's digest email, not sent/);
  expect(result.stdout + result.stderr).not.toMatch(/EMAIL_MODE is off|skipped/);
});
