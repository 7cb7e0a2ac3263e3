// `aks-fips-auditor policy`: the files it writes, from the matrix in use and the exemptions stored in Azurite.

import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { type AzuriteInstance, startAzurite } from '../../emulators/azurite';
import { type CliIo, EXIT, main } from '../../src/cli/main';
import { POLICY_FILE_NAMES } from '../../src/policy/policyFileNames';
import type { PolicyDefinition } from '../../src/policy/policyTypes';

const SUB = '0b1f6471-1bf0-4dda-aec3-111122224444';
const CLUSTER = `/subscriptions/${SUB}/resourceGroups/rg-Payments/providers/Microsoft.ContainerService/managedClusters/aks-pay`;
const DAY = 86_400_000;

let azurite: AzuriteInstance;
let work: string;

beforeAll(async () => {
  azurite = await startAzurite();
  work = await mkdtemp(join(tmpdir(), 'fips-policy-'));
});

afterAll(async () => {
  await azurite?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

async function run(env: NodeJS.ProcessEnv, ...argv: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(argv, { stdout, stderr, env } as unknown as CliIo);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const readJson = async <T>(dir: string, name: string) =>
  JSON.parse(await readFile(join(dir, name), 'utf8')) as T;
const inDays = (days: number) => new Date(Date.now() + days * DAY).toISOString().slice(0, 10);

it('documents the command in --help, its own and the tool’s', async () => {
  const own = await run({}, 'policy', '--help');
  expect(own.code).toBe(EXIT.ok);
  expect(own.stdout).toContain('aks-fips-auditor policy');
  for (const name of Object.values(POLICY_FILE_NAMES)) expect(own.stdout).toContain(name);
  expect(own.stdout).toContain('--effect audit|deny|disabled');
  const all = await run({}, '--help');
  expect(all.stdout).toMatch(/^ {2}policy\b/m);
});

it('writes every file without an exemption store, and says it carries no exemptions', async () => {
  const out = join(work, 'no-store');
  const result = await run({}, 'policy', '--effect', 'deny', '--out', out);
  expect(result.code).toBe(EXIT.ok);
  expect(result.stderr).toContain('No exemption store is configured');
  expect((await readdir(out)).sort()).toEqual(Object.values(POLICY_FILE_NAMES).sort());
  const definitions = await readJson<PolicyDefinition[]>(out, POLICY_FILE_NAMES.definitions);
  expect(definitions.map((d) => d.properties.parameters.effect?.defaultValue)).toEqual(
    definitions.map(() => 'Deny'),
  );
  const exemptions = await readJson<{ exemptions: unknown[]; exemptionStore: string }>(
    out,
    POLICY_FILE_NAMES.exemptions,
  );
  expect(exemptions.exemptions).toEqual([]);
  expect(exemptions.exemptionStore).toMatch(/^not configured/);
  expect(result.stdout).toContain(`Wrote the Azure Policy of FIPS matrix`);
  expect(result.stdout).toContain('Left to the daily audit');
  expect(await readFile(join(out, POLICY_FILE_NAMES.managementGroupBicep), 'utf8')).toContain(
    "param effect string = 'Deny'",
  );
});

it('refuses an effect it does not know with exit 2', async () => {
  const result = await run({}, 'policy', '--effect', 'block', '--out', join(work, 'never'));
  expect(result.code).toBe(EXIT.usage);
  expect(result.stderr).toContain('--effect takes audit, deny or disabled; got "block"');
});

it('turns the stored exemptions into policy exemptions, and says which it leaves out', async () => {
  const env = {
    AUDIT_TABLES_CONNECTION_STRING: azurite.connectionString,
    AUDIT_TABLE_PREFIX: 'clipolicy',
    USER: 'alice',
  };
  const add = (...args: string[]) =>
    run(env, 'exemptions', 'add', '--owner', 'platform-team', '--expires', inDays(20), ...args);
  expect(
    (
      await add(
        '--id',
        'win19',
        '--scope',
        `${CLUSTER}/agentPools/win19`,
        '--reason',
        'Rebuild in sprint 48',
        '--codes',
        'OS_RETIRED',
        '--ticket',
        'CHG0012345',
      )
    ).code,
  ).toBe(EXIT.ok);
  expect((await add('--id', 'whole', '--scope', CLUSTER, '--reason', 'Decommissioned next week')).code).toBe(
    EXIT.ok,
  );
  expect(
    (
      await add(
        '--id',
        'images',
        '--scope',
        CLUSTER,
        '--reason',
        'Image pinned',
        '--codes',
        'NODE_IMAGE_OUTDATED',
      )
    ).code,
  ).toBe(EXIT.ok);

  const out = join(work, 'with-store');
  const result = await run(env, 'policy', '--out', out);
  expect(result.code).toBe(EXIT.ok);
  expect(result.stderr).toBe('');
  const file = await readJson<{
    exemptions: {
      name: string;
      level: string;
      scope: string;
      properties: { description: string; expiresOn: string; policyDefinitionReferenceIds: string[] };
    }[];
    assignmentParameters: Record<string, { value: { poolId: string }[] }>;
    notDeployed: { exemptionId: string; reason: string }[];
  }>(out, POLICY_FILE_NAMES.exemptions);
  expect(file.exemptions.map((e) => [e.name, e.level, e.scope])).toEqual([
    ['fips-whole', 'cluster', CLUSTER],
    ['fips-win19', 'pool', `${CLUSTER}/agentPools/win19`],
  ]);
  const pool = file.exemptions[1]!;
  expect(pool.properties.policyDefinitionReferenceIds).toEqual(['os-retired-agentpools']);
  expect(pool.properties.description).toBe(
    'Waiver from aks-fips-auditor exemption win19. Owner: platform-team. Ticket: CHG0012345. Reason: Rebuild in sprint 48',
  );
  expect(pool.properties.expiresOn).toBe(`${inDays(20)}T23:59:59.9990000Z`);
  expect(file.assignmentParameters.waivedPoolsOsRetired?.value.map((w) => w.poolId)).toEqual([
    `${CLUSTER}/agentPools/win19`,
  ]);
  expect(file.notDeployed).toEqual([
    { exemptionId: 'images', reason: expect.stringContaining('findings a policy does not judge') as string },
  ]);
  expect(result.stdout).toContain('images: it waives only findings a policy does not judge');
});

it('generates from an AUDIT_MATRIX_FILE override: a new SKU is known, a new retirement is flagged', async () => {
  const override = join(work, 'matrix.override.json');
  await writeFile(
    override,
    JSON.stringify({
      version: '2026-12-01-local',
      osSkus: { AzureLinux3OSGuard: { osType: 'Linux', releases: [{ os: 'azurelinuxosguard3' }] } },
      operatingSystems: {
        flatcar: { name: 'Flatcar Container Linux', fips: 'none', retiredOn: '2026-06-01' },
      },
    }),
  );
  const out = join(work, 'override');
  const result = await run({ AUDIT_MATRIX_FILE: override }, 'policy', '--out', out);
  expect(result.code).toBe(EXIT.ok);
  const definitions = await readJson<PolicyDefinition[]>(out, POLICY_FILE_NAMES.definitions);
  expect(new Set(definitions.map((d) => d.properties.metadata.aksFipsAuditor.matrixVersion))).toEqual(
    new Set(['2026-12-01-local']),
  );
  const text = (name: string) =>
    JSON.stringify(definitions.find((d) => d.name === name)!.properties.policyRule);
  expect(text('aks-fips-os-sku-unrecognized-agentpools')).toContain('"AzureLinux3OSGuard"');
  expect(text('aks-fips-os-retired-agentpools')).toMatch(
    /"in":\["Flatcar"\]\},\{"value":"\[utcNow\(\)\]","greaterOrEquals":"2026-06-01"/,
  );
});

it('writes nothing and exits 1 when the configured exemption store cannot be read', async () => {
  const out = join(work, 'unreadable');
  const result = await run(
    {
      AUDIT_TABLES_CONNECTION_STRING:
        'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;',
    },
    'policy',
    '--out',
    out,
  );
  expect(result.code).toBe(EXIT.failed);
  expect(result.stderr).toContain('Could not read the exemptions, so no policy was written');
  expect(result.stderr).not.toContain('a2V5');
  await expect(readdir(out)).rejects.toThrow();
});
