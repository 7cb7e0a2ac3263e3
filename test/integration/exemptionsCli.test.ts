// `aks-fips-auditor exemptions list|add|remove` against Azurite: the API's validation, exit 2 on bad input.

import { Writable } from 'node:stream';

import { type AzuriteInstance, startAzurite } from '../../emulators/azurite';
import { type CliIo, EXIT, main } from '../../src/cli/main';

const SUB = '0b1f6471-1bf0-4dda-aec3-111122223333';
const POOL = `/subscriptions/${SUB}/resourceGroups/rg-Payments/providers/Microsoft.ContainerService/managedClusters/aks-pay/agentPools/win19`;
const DAY = 86_400_000;

let azurite: AzuriteInstance;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  azurite = await startAzurite();
  env = {
    AUDIT_TABLES_CONNECTION_STRING: azurite.connectionString,
    AUDIT_TABLE_PREFIX: 'cliexempt',
    AUDIT_EXEMPTION_MAX_DAYS: '30',
    USER: 'alice',
  };
});

afterAll(async () => {
  await azurite?.stop();
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

async function run(...args: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(['exemptions', ...args], { stdout, stderr, env } as unknown as CliIo);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const inDays = (days: number) => new Date(Date.now() + days * DAY).toISOString().slice(0, 10);
const valid = () => [
  '--scope',
  POOL,
  '--reason',
  'Vendor image awaiting FIPS',
  '--owner',
  'platform-team',
  '--expires',
  inDays(20),
];

it('adds, lists with filters, and removes an exemption, recording the CLI user', async () => {
  const added = await run(
    'add',
    ...valid(),
    '--codes',
    'FIPS_DISABLED,OS_RETIRED',
    '--ticket',
    'RISK-7',
    '--id',
    'cli-one',
    '--json',
  );
  expect(added.code).toBe(EXIT.ok);
  const stored = JSON.parse(added.stdout) as { etag: string };
  expect(stored).toMatchObject({
    id: 'cli-one',
    codes: ['FIPS_DISABLED', 'OS_RETIRED'],
    createdBy: 'cli:alice',
  });
  expect(stored.etag).toMatch(/^".+"$/);
  expect(added.stderr).toContain('No audit has completed yet');

  const generated = await run('add', ...valid());
  expect(generated.code).toBe(EXIT.ok);
  expect(generated.stdout).toMatch(/^Added exemption ex-\d{8}-[0-9a-f]{6}: /);

  expect((await run('add', ...valid(), '--id', 'CLI-ONE')).code).toBe(EXIT.failed);

  const listed = await run('list');
  expect(listed.code).toBe(EXIT.ok);
  expect(listed.stdout).toContain('cli-one\tactive');
  expect(JSON.parse((await run('list', '--json')).stdout)).toHaveLength(2);
  expect(JSON.parse((await run('list', '--active', '--json')).stdout)).toHaveLength(2);
  expect(JSON.parse((await run('list', '--expired', '--json')).stdout)).toHaveLength(0);
  expect(JSON.parse((await run('list', '--expiring-within', '14', '--json')).stdout)).toHaveLength(0);
  expect(JSON.parse((await run('list', '--expiring-within', '21', '--json')).stdout)).toHaveLength(2);

  expect((await run('remove', '--id', 'cli-one')).code).toBe(EXIT.ok);
  expect((await run('remove', '--id', 'cli-one')).code).toBe(EXIT.failed);
  expect(JSON.parse((await run('list', '--json')).stdout)).toHaveLength(1);
});

it.each<[string, string[]]>([
  ['no --expires', valid().slice(0, 6)],
  ['an expiry in the past', [...valid().slice(0, 7), inDays(-1)]],
  ['an expiry beyond AUDIT_EXEMPTION_MAX_DAYS', [...valid().slice(0, 7), inDays(32)]],
  ['an expiry that is no date', [...valid().slice(0, 7), '2026-02-30']],
  ['no --reason', [...valid().slice(0, 2), ...valid().slice(4)]],
  ['a scope that is not an ARM ID', ['--scope', 'aks-pay/win19', ...valid().slice(2)]],
  ['an unknown code', [...valid(), '--codes', 'FIPS_DISABLED,NOPE']],
  ['a bad --id', [...valid(), '--id', 'has space']],
  ['an unknown option', [...valid(), '--force']],
])('exits 2 on add with %s and stores nothing', async (_what, args) => {
  const before = (await run('list', '--json')).stdout;
  const result = await run('add', ...args);
  expect(result.code).toBe(EXIT.usage);
  expect(result.stderr.length).toBeGreaterThan(10);
  expect((await run('list', '--json')).stdout).toBe(before);
});

it.each<[string, string[]]>([
  ['no action', []],
  ['an unknown action', ['edit']],
  ['remove without --id', ['remove']],
  ['list with a non-numeric --expiring-within', ['list', '--expiring-within', 'soon']],
  ['list with two filters', ['list', '--active', '--expired']],
])('exits 2 for %s', async (_what, args) => {
  expect((await run(...args)).code).toBe(EXIT.usage);
});

it('names the option to fix in the message', async () => {
  const result = await run('add', '--scope', POOL, '--owner', 'x', '--expires', inDays(60));
  expect(result.stderr).toContain('--reason is required');
  expect(result.stderr).toContain('--expires is more than 30 days ahead');
});
