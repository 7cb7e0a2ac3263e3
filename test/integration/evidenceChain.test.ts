// The chain of runs and the evidence bundle against Azurite: seals, verification, tampering through the Tables API.

import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { TableClient } from '@azure/data-tables';

import { generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { App } from '../../src/app';
import type { CliIo } from '../../src/cli/cliIo';
import { EXIT } from '../../src/cli/exitCodes';
import { main } from '../../src/cli/main';
import { loadConfig } from '../../src/config';
import { newRunId } from '../../src/core/runId';
import type { Report } from '../../src/core/types';
import { type BundleManifest, openEvidenceBundle } from '../../src/evidence/evidenceBundle';
import type { EvidenceStore } from '../../src/evidence/evidenceStore';
import type { RunEvidence } from '../../src/evidence/runEvidence';
import { sealRun } from '../../src/evidence/sealRun';
import { EvidenceMismatchError, verifyChain, verifyRun } from '../../src/evidence/verifyChain';
import { serveHttp } from '../../src/http/serveHttp';
import { FINDINGS_SHARDS, findingsPartition } from '../../src/store/resultStore';
import { runRowKey } from '../../src/store/runStore';
import { oscalValidator, unzip } from '../support/evidenceZip';

const estate = generateEstate({ seed: 31, pools: 240, subscriptions: 5 });
let local: LocalAzure;
let prefixCounter = 0;

beforeAll(async () => {
  local = await startLocalAzure(estate);
});

afterAll(async () => {
  await local?.stop();
});

function settings(prefix: string): Record<string, string> {
  return { ...local.env, AUDIT_TABLE_PREFIX: prefix };
}

function fresh(): { prefix: string; service: App; store: EvidenceStore } {
  prefixCounter += 1;
  const prefix = `ev${prefixCounter}audit`;
  const service = new App(loadConfig(settings(prefix)));
  return { prefix, service, store: service.hostEvidence.evidenceStore };
}

/** A seal that fails: what a completed run whose evidence step could not seal it leaves behind. */
const sealFails: RunEvidence = { onRunCompleted: () => Promise.resolve(null) };

/** An audit that completes, stored, but not sealed; its clock `offsetInMs` from now (run IDs sort by start). */
function unsealedAudit(service: App, offsetInMs: number) {
  return new App(service.config, {
    evidence: sealFails,
    now: () => new Date(Date.now() + offsetInMs),
  }).runAudit({ trigger: 'cli' });
}

function table(prefix: string, name: string): TableClient {
  return TableClient.fromConnectionString(local.env.AUDIT_TABLES_CONNECTION_STRING!, `${prefix}${name}`, {
    allowInsecureConnection: true,
  });
}

/** One stored pool result of the run, as Storage Explorer would show it. */
async function somePoolEntity(prefix: string, runId: string) {
  for (let shard = 0; shard < FINDINGS_SHARDS; shard++) {
    for await (const entity of table(prefix, 'findings').listEntities({
      queryOptions: { filter: `PartitionKey eq '${findingsPartition(runId, shard)}'` },
    })) {
      if (entity.kind === 'pool')
        return entity as Record<string, unknown> & { partitionKey: string; rowKey: string };
    }
  }
  throw new Error('no stored pool');
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

async function cli(args: string[], env: Record<string, string>) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(args, { stdout, stderr, env } as unknown as CliIo);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('the chain of runs', () => {
  let ctx: ReturnType<typeof fresh>;
  let first: Report;
  let second: Report;

  beforeAll(async () => {
    ctx = fresh();
    first = await ctx.service.audit({ trigger: 'cli' });
    second = await ctx.service.audit({ trigger: 'cli' });
  });

  it('seals each completed run as it completes, chained to the run before', async () => {
    const one = await verifyRun(ctx.store, first.run.id);
    const two = await verifyRun(ctx.store, second.run.id);
    expect(one).toMatchObject({ status: 'intact', seq: 1, signature: 'none' });
    expect(two).toMatchObject({ status: 'intact', seq: 2 });
    const link = await ctx.store.getLink(2);
    expect(link?.previousDigest).toBe(one?.digest);
    expect(link?.previousRunId).toBe(first.run.id);
    // The run record carries a copy of its seal.
    expect((await ctx.store.runs.getRun(second.run.id))?.chain).toMatchObject({
      seq: 2,
      digest: two?.digest,
    });
    // 16 findings partitions, the record, the snapshot and the matrix: every pool and cluster is covered.
    expect(two?.entities).toBeGreaterThan(second.summary.pools + second.summary.clusters);
  });

  it('passes verify on an untouched store (exit 0) and sealing again changes nothing', async () => {
    const before = await ctx.store.getLink(2);
    const again = await sealRun(ctx.store, second.run.id, { matrix: ctx.service.config.matrix });
    expect(again).toMatchObject({ state: 'sealed', alreadySealed: true });
    expect(await ctx.store.getLink(2)).toEqual(before);
    expect(await ctx.store.getHeadLink()).toEqual(before);
    const result = await cli(['verify', '--all'], settings(ctx.prefix));
    expect(result).toMatchObject({ code: EXIT.ok });
    expect(result.stdout).toContain('The chain is intact: 2 link(s) verified');
  });

  it('names the stored pool result edited through the Tables API, and is intact again once it is restored', async () => {
    const entity = await somePoolEntity(ctx.prefix, first.run.id);
    const findings = table(ctx.prefix, 'findings');
    const original = JSON.parse(entity.data as string) as { status: string };
    const forged = { ...original, status: original.status === 'compliant' ? 'noncompliant' : 'compliant' };
    await findings.updateEntity(
      { partitionKey: entity.partitionKey, rowKey: entity.rowKey, data: JSON.stringify(forged) },
      'Merge',
    );
    const chain = await verifyChain(ctx.store);
    expect(chain.status).toBe('mismatch');
    expect(chain.problem).toMatchObject({
      runId: first.run.id,
      kind: 'edited',
      entity: { table: `${ctx.prefix}findings`, partitionKey: entity.partitionKey, rowKey: entity.rowKey },
    });
    const result = await cli(['verify', '--all'], settings(ctx.prefix));
    expect(result.code).toBe(EXIT.evidenceMismatch);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain(`Run ${first.run.id}`);
    expect(result.stderr).toContain(
      `${ctx.prefix}findings PartitionKey=${entity.partitionKey} RowKey=${entity.rowKey}`,
    );
    // No bundle is made of a run that no longer matches its seal.
    await expect(openEvidenceBundle(ctx.store, first.run.id)).rejects.toThrow(EvidenceMismatchError);

    await findings.updateEntity(
      { partitionKey: entity.partitionKey, rowKey: entity.rowKey, data: entity.data },
      'Merge',
    );
    expect((await verifyChain(ctx.store)).status).toBe('intact');
  });

  it('names a deleted pool result', async () => {
    const entity = await somePoolEntity(ctx.prefix, second.run.id);
    const findings = table(ctx.prefix, 'findings');
    const { etag: _etag, timestamp: _timestamp, ...restorable } = entity as Record<string, unknown>;
    await findings.deleteEntity(entity.partitionKey, entity.rowKey);
    const result = await verifyRun(ctx.store, second.run.id);
    expect(result).toMatchObject({
      status: 'mismatch',
      problem: {
        kind: 'missing',
        entity: { table: `${ctx.prefix}findings`, partitionKey: entity.partitionKey, rowKey: entity.rowKey },
      },
    });
    await findings.createEntity(restorable as never);
    expect((await verifyRun(ctx.store, second.run.id))?.status).toBe('intact');
  });

  it('names an edited run record, but not its annotations (email, progress, seal copy)', async () => {
    const runs = table(ctx.prefix, 'runs');
    const rowKey = runRowKey(second.run.id);
    const stored = await runs.getEntity<Record<string, unknown>>('run', rowKey);
    await runs.updateEntity(
      { partitionKey: 'run', rowKey, email: JSON.stringify({ state: 'sent' }) },
      'Merge',
    );
    expect((await verifyRun(ctx.store, second.run.id))?.status).toBe('intact');

    const summary = JSON.parse(stored.summary as string) as { noncompliant: number; compliant: number };
    await runs.updateEntity(
      { partitionKey: 'run', rowKey, summary: JSON.stringify({ ...summary, noncompliant: 0 }) },
      'Merge',
    );
    const result = await verifyChain(ctx.store);
    expect(result.problem).toMatchObject({
      runId: second.run.id,
      kind: 'edited',
      entity: { table: `${ctx.prefix}runs`, partitionKey: 'run', rowKey },
    });
    await runs.updateEntity({ partitionKey: 'run', rowKey, summary: stored.summary }, 'Merge');
    expect((await verifyChain(ctx.store)).status).toBe('intact');
  });

  it('catches a forged link: the chain no longer hashes', async () => {
    const evidence = table(ctx.prefix, 'evidence');
    const link = await ctx.store.getLink(1);
    const ref = ctx.store.linkRef(1);
    await evidence.updateEntity(
      { partitionKey: ref.partitionKey, rowKey: ref.rowKey, sealedAt: '2020-01-01T00:00:00.000Z' },
      'Merge',
    );
    expect((await verifyChain(ctx.store)).problem).toMatchObject({ kind: 'linkEdited', entity: ref });
    await evidence.updateEntity(
      { partitionKey: ref.partitionKey, rowKey: ref.rowKey, sealedAt: link!.sealedAt },
      'Merge',
    );
    expect((await verifyChain(ctx.store)).status).toBe('intact');
  });
});

describe('sealing under concurrency and failure', () => {
  it('orders two runs completing at once into one chain, each sealed exactly once', async () => {
    const ctx = fresh();
    // Two stored runs whose completion did not seal them (as if both completed at the same moment).
    const a = await unsealedAudit(ctx.service, -1000);
    const b = await unsealedAudit(ctx.service, 0);
    const outcomes = await Promise.all([
      sealRun(ctx.store, a.id, { matrix: ctx.service.config.matrix }),
      sealRun(ctx.store, b.id, { matrix: ctx.service.config.matrix }),
      sealRun(ctx.store, b.id, { matrix: ctx.service.config.matrix }),
    ]);
    expect(outcomes.every((o) => o.state === 'sealed')).toBe(true);
    const links = await ctx.store.listLinks();
    expect(links.map((l) => l.seq)).toEqual([1, 2]);
    expect(new Set(links.map((l) => l.runId))).toEqual(new Set([a.id, b.id]));
    expect(links[1]?.previousDigest).toBe(links[0]?.digest);
    expect((await verifyChain(ctx.store)).status).toBe('intact');
  });

  it('leaves failed runs out of the chain, and reports a completed run left unsealed', async () => {
    const ctx = fresh();
    await ctx.service.audit({ trigger: 'cli' });
    const failedId = newRunId(new Date(Date.now() + 1000));
    const failed = await ctx.store.runs.getLatestRun();
    await ctx.store.runs.putRun({ ...failed!, id: failedId, status: 'failed', chain: undefined });
    expect(await sealRun(ctx.store, failedId)).toEqual({
      state: 'notSealable',
      reason: `run ${failedId} is failed`,
    });
    expect((await verifyChain(ctx.store)).status).toBe('intact');

    // A completed run whose seal failed: verification says so, and the next run's seal catches it up.
    const unsealed = await unsealedAudit(ctx.service, 2000);
    const chain = await verifyChain(ctx.store);
    expect(chain).toMatchObject({
      status: 'mismatch',
      problem: { runId: unsealed.id, kind: 'unsealed' },
    });
    const next = await new App(ctx.service.config, { now: () => new Date(Date.now() + 3000) }).audit({
      trigger: 'cli',
    });
    expect((await verifyRun(ctx.store, unsealed.id))?.seq).toBe(2);
    expect((await verifyRun(ctx.store, next.run.id))?.seq).toBe(3);
    expect((await verifyChain(ctx.store)).status).toBe('intact');
  });
});

describe('the evidence bundle', () => {
  it('holds the report, CSV, page, matrix and OSCAL of an audited estate, with a manifest an assessor can check', async () => {
    const ctx = fresh();
    const report = await ctx.service.audit({ trigger: 'cli' });
    const bundle = await openEvidenceBundle(ctx.store, report.run.id);
    const zip = await readAll(bundle.zip);
    const manifest: BundleManifest = await bundle.manifest;
    const files = await unzip(zip);
    expect([...files.keys()]).toEqual([
      'report.json',
      'pools.csv',
      'report.html',
      'fips-matrix.json',
      'oscal-assessment-results.json',
      'manifest.json',
    ]);
    // sha256sum -c: every file's hash as the manifest lists it.
    const listed = JSON.parse(files.get('manifest.json')!.toString('utf8')) as BundleManifest;
    expect(listed).toEqual(manifest);
    for (const file of listed.files) {
      expect(createHash('sha256').update(files.get(file.name)!).digest('hex')).toBe(file.sha256);
      expect(files.get(file.name)!.length).toBe(file.bytes);
    }
    const link = await ctx.store.getLink(1);
    expect(listed).toMatchObject({
      runId: report.run.id,
      verification: 'intact',
      chain: { seq: 1, digest: link!.digest },
    });
    expect(createHash('sha256').update(listed.chain!.link).digest('hex')).toBe(listed.chain!.digest);

    const stored = JSON.parse(files.get('report.json')!.toString('utf8')) as Report;
    expect(stored.schemaVersion).toBe(1);
    expect(stored.run.id).toBe(report.run.id);
    expect(stored.pools.map((p) => p.id).sort()).toEqual(report.pools.map((p) => p.id).sort());
    expect(files.get('pools.csv')!.toString('utf8').split('\r\n').length).toBe(report.summary.pools + 2);
    expect(files.get('report.html')!.toString('utf8')).toContain(`<code id="run-id">${report.run.id}</code>`);
    const matrix = JSON.parse(files.get('fips-matrix.json')!.toString('utf8')) as {
      version: string;
      osSkus: object;
    };
    expect(matrix.version).toBe(report.run.matrix.version);
    expect(matrix.osSkus).toBeDefined();

    const oscal = JSON.parse(files.get('oscal-assessment-results.json')!.toString('utf8')) as {
      'assessment-results': {
        results: { observations: unknown[]; findings?: unknown[]; risks?: unknown[] }[];
      };
    };
    const validate = oscalValidator();
    expect(validate.errors ?? []).toEqual([]);
    const valid = validate(oscal);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    const [result] = oscal['assessment-results'].results;
    expect(result?.observations).toHaveLength(report.summary.pools);
    expect(result?.findings).toHaveLength(report.summary.pools - report.summary.compliant);

    // Rebuilt from the same run: the same bytes.
    const again = await openEvidenceBundle(ctx.store, report.run.id);
    expect((await readAll(again.zip)).equals(zip)).toBe(true);
  });
});

describe('the bundle and the verification over HTTP and the CLI', () => {
  it('serves the zip streamed, the verification as JSON, and refuses a bundle of a tampered run with 422', async () => {
    const ctx = fresh();
    const report = await ctx.service.audit({ trigger: 'cli' });
    const server = await serveHttp({ handlers: ctx.service.httpHandlers(), port: 0 });
    try {
      const response = await fetch(`${server.url}/api/runs/${report.run.id}/evidence`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/zip');
      expect(response.headers.get('content-disposition')).toContain(
        `fips-audit-evidence-${report.run.id}.zip`,
      );
      const files = await unzip(Buffer.from(await response.arrayBuffer()));
      expect(files.size).toBe(6);
      const verification = await fetch(`${server.url}/api/runs/${report.run.id}/verification`);
      expect(await verification.json()).toMatchObject({ runId: report.run.id, status: 'intact', seq: 1 });

      const entity = await somePoolEntity(ctx.prefix, report.run.id);
      await table(ctx.prefix, 'findings').updateEntity(
        { partitionKey: entity.partitionKey, rowKey: entity.rowKey, status: 'compliant', data: '{}' },
        'Merge',
      );
      const mismatch = (await (
        await fetch(`${server.url}/api/runs/${report.run.id}/verification`)
      ).json()) as {
        status: string;
        problem: { entity: { rowKey: string } };
      };
      expect(mismatch).toMatchObject({
        status: 'mismatch',
        problem: { kind: 'edited', entity: { rowKey: entity.rowKey } },
      });
      const refused = await fetch(`${server.url}/api/runs/${report.run.id}/evidence`);
      expect(refused.status).toBe(422);
      expect(refused.headers.get('content-type')).toContain('application/problem+json');
      expect(await refused.json()).toMatchObject({ verification: { entity: { rowKey: entity.rowKey } } });
      expect((await fetch(`${server.url}/api/runs/20200101T000000Z-000000/evidence`)).status).toBe(404);
      expect((await fetch(`${server.url}/api/runs/not-a-run/verification`)).status).toBe(400);
    } finally {
      await server.close();
    }
  });

  it('answers HEAD of the evidence as GET does: 200 while the run matches its seal, 422 once a stored verdict is edited', async () => {
    const ctx = fresh();
    const report = await ctx.service.audit({ trigger: 'cli' });
    const server = await serveHttp({ handlers: ctx.service.httpHandlers(), port: 0 });
    const url = `${server.url}/api/runs/${report.run.id}/evidence`;
    const both = async () => {
      const head = await fetch(url, { method: 'HEAD' });
      const get = await fetch(url);
      await get.arrayBuffer();
      return { head, get };
    };
    const headersOf = (response: Response) =>
      ['content-type', 'content-disposition', 'cache-control'].map((name) => response.headers.get(name));
    try {
      const intact = await both();
      expect([intact.head.status, intact.get.status]).toEqual([200, 200]);
      expect(headersOf(intact.head)).toEqual(headersOf(intact.get));
      expect(await intact.head.text()).toBe('');

      const entity = await somePoolEntity(ctx.prefix, report.run.id);
      const original = JSON.parse(entity.data as string) as { status: string };
      const forged = { ...original, status: original.status === 'compliant' ? 'noncompliant' : 'compliant' };
      await table(ctx.prefix, 'findings').updateEntity(
        { partitionKey: entity.partitionKey, rowKey: entity.rowKey, data: JSON.stringify(forged) },
        'Merge',
      );
      const edited = await both();
      expect([edited.head.status, edited.get.status]).toEqual([422, 422]);
      expect(headersOf(edited.head)).toEqual(headersOf(edited.get));
      expect(edited.head.headers.get('content-type')).toContain('application/problem+json');
      expect(await edited.head.text()).toBe('');

      const missing = await fetch(`${server.url}/api/runs/20200101T000000Z-000000/evidence`, {
        method: 'HEAD',
      });
      expect(missing.status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('writes the bundle of the latest completed run with the CLI, and answers --help for both commands', async () => {
    const ctx = fresh();
    const report = await ctx.service.audit({ trigger: 'cli' });
    const dir = mkdtempSync(join(tmpdir(), 'fips-evidence-'));
    try {
      const out = join(dir, 'bundle.zip');
      const written = await cli(['evidence', '--out', out], settings(ctx.prefix));
      expect(written).toMatchObject({ code: 0 });
      expect(written.stdout).toContain(report.run.id);
      expect(existsSync(`${out}.partial`)).toBe(false);
      const files = await unzip(readFileSync(out));
      expect(JSON.parse(files.get('manifest.json')!.toString('utf8'))).toMatchObject({
        runId: report.run.id,
      });
      expect((await cli(['evidence', '--help'], {})).code).toBe(0);
      expect((await cli(['verify', '--help'], {})).stdout).toContain('Exit status: 0 intact; 5');
      expect((await cli(['evidence'], settings(ctx.prefix))).code).toBe(EXIT.usage);
      const single = await cli(['verify', '--run', report.run.id], settings(ctx.prefix));
      expect(single.code).toBe(0);
      expect(single.stdout).toContain(`Run ${report.run.id} is intact`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
