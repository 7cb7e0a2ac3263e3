// Signed seals against the Key Vault emulator, and bundles retained in an Azurite blob container reached by identity.

import { createHash } from 'node:crypto';

import { TableClient } from '@azure/data-tables';
import { ContainerClient } from '@azure/storage-blob';

import { type AzuriteInstance, startAzurite } from '../../emulators/azurite';
import { generateEstate } from '../../emulators/estateGenerator';
import { KeyVaultEmulator } from '../../emulators/keyVaultEmulator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { trustCertificate } from '../../emulators/tls';
import { App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { bundleBlobName } from '../../src/evidence/blobBundleRetention';
import type { BundleManifest } from '../../src/evidence/evidenceBundle';
import { getEvidenceHealth } from '../../src/evidence/evidenceHealth';
import { KeyVaultLinkVerifier } from '../../src/evidence/keyVaultLinkSigning';
import { verifyChain, verifyRun } from '../../src/evidence/verifyChain';
import { unzip } from '../support/evidenceZip';

const estate = generateEstate({ seed: 47, pools: 120, subscriptions: 3 });
let local: LocalAzure;
let blobs: AzuriteInstance;
let vault: KeyVaultEmulator;
let keyId: string;

beforeAll(async () => {
  local = await startLocalAzure(estate);
  blobs = await startAzurite({ blob: true });
  trustCertificate(blobs.blobCertificatePem!);
  vault = await KeyVaultEmulator.start({ identity: local.identity });
  trustCertificate(vault.certificatePem);
  keyId = vault.createRsaKey('audit-chain');
});

afterAll(async () => {
  await vault?.close();
  await blobs?.stop();
  await local?.stop();
});

function service(prefix: string, extra: Record<string, string>): App {
  return new App(loadConfig({ ...local.env, AUDIT_TABLE_PREFIX: prefix, ...extra }));
}

it("signs each run's chain digest with the Key Vault key and verifies it with the key's public part", async () => {
  const svc = service('kvsigned', { AUDIT_SIGNING_KEY_ID: keyId });
  const store = svc.hostEvidence.evidenceStore;
  const first = await svc.audit({ trigger: 'cli' });
  const second = await svc.audit({ trigger: 'cli' });
  const link = await store.getLink(2);
  expect(link?.runId).toBe(second.run.id);
  expect(link?.signature).toMatchObject({ alg: 'RS256', keyId });
  expect((await store.runs.getRun(second.run.id))?.chain).toMatchObject({ signature: { keyId } });

  // The client's challenge flow: a first request without a token (401 naming the resource), then with one.
  expect(vault.requests[0]).toMatchObject({ auth: 'none', status: 401 });
  expect(
    vault.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/sign') && r.status === 200),
  ).toHaveLength(2);
  expect(local.identity.requests.some((r) => r.resource.startsWith('https://vault.azure.net'))).toBe(true);

  const verifier = new KeyVaultLinkVerifier(svc.credential);
  expect(await verifyRun(store, first.run.id, { verifier })).toMatchObject({
    status: 'intact',
    signature: 'valid',
  });
  expect(await verifyChain(store, { verifier })).toMatchObject({ status: 'intact', links: 2 });

  // A signature altered in storage no longer verifies; one stripped from a link after a signed one is missed.
  const evidence = TableClient.fromConnectionString(
    local.env.AUDIT_TABLES_CONNECTION_STRING!,
    'kvsignedevidence',
    {
      allowInsecureConnection: true,
    },
  );
  const ref = store.linkRef(2);
  const forged = { ...link!.signature!, value: Buffer.alloc(256, 7).toString('base64url') };
  await evidence.updateEntity(
    { partitionKey: ref.partitionKey, rowKey: ref.rowKey, signature: JSON.stringify(forged) },
    'Merge',
  );
  expect(await verifyRun(store, second.run.id, { verifier })).toMatchObject({
    status: 'mismatch',
    problem: { kind: 'signatureInvalid', entity: ref },
  });
  const {
    signature: _signature,
    etag: _etag,
    timestamp: _timestamp,
    ...stripped
  } = await evidence.getEntity<Record<string, unknown>>(ref.partitionKey, ref.rowKey);
  await evidence.updateEntity({ ...stripped, partitionKey: ref.partitionKey, rowKey: ref.rowKey }, 'Replace');
  expect((await verifyChain(store, { verifier })).problem).toMatchObject({
    kind: 'signatureMissing',
    entity: ref,
  });
});

it("writes each completed run's bundle to the blob container, and records where", async () => {
  const container = new ContainerClient(
    `${blobs.blobEndpoint!}/evidence`,
    new App(loadConfig(local.env)).credential,
  );
  await container.createIfNotExists();
  const svc = service('retained', {
    AUDIT_SIGNING_KEY_ID: keyId,
    AUDIT_EVIDENCE_CONTAINER: `${blobs.blobEndpoint!}/evidence`,
  });
  const store = svc.hostEvidence.evidenceStore;
  const report = await svc.audit({ trigger: 'cli' });

  const zip = await container.getBlockBlobClient(bundleBlobName(report.run.id)).downloadToBuffer();
  const files = await unzip(zip);
  const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8')) as BundleManifest;
  expect(manifest).toMatchObject({
    runId: report.run.id,
    verification: 'intact',
    chain: { seq: 1, signature: { keyId } },
  });
  for (const file of manifest.files) {
    expect(createHash('sha256').update(files.get(file.name)!).digest('hex')).toBe(file.sha256);
  }
  const [record] = await (async () => {
    const all = [];
    for await (const r of store.listRetention()) all.push(r);
    return all;
  })();
  expect(record).toMatchObject({ runId: report.run.id, state: 'retained', bytes: zip.length });
  expect(record?.sha256).toBe(createHash('sha256').update(zip).digest('hex'));
  expect((await store.runs.getRun(report.run.id))?.retention).toMatchObject({ state: 'retained' });
  expect((await getEvidenceHealth(store, svc.config, { now: new Date() })).retention.latest).toMatchObject({
    runId: report.run.id,
    state: 'retained',
  });
  // Completing the same run again finds its bundle already written and changes nothing.
  await svc.evidence.onRunCompleted(report.run.id);
  expect(
    (await container.getBlockBlobClient(bundleBlobName(report.run.id)).downloadToBuffer()).equals(zip),
  ).toBe(true);
});

it('records a bundle that could not be retained, keeps the run completed, and reports it in health', async () => {
  const svc = service('unretained', { AUDIT_EVIDENCE_CONTAINER: `${blobs.blobEndpoint!}/no-such-container` });
  const store = svc.hostEvidence.evidenceStore;
  const report = await svc.audit({ trigger: 'cli' });
  expect(report.run.status).toBe('succeeded');
  const run = await store.runs.getRun(report.run.id);
  expect(run?.status).toBe('succeeded');
  expect(run?.retention).toMatchObject({ state: 'failed' });
  expect((await verifyRun(store, report.run.id))?.status).toBe('intact');
  const health = await getEvidenceHealth(store, svc.config, { now: new Date() });
  expect(health.status).toBe('degraded');
  expect(health.retention).toMatchObject({
    failuresSinceLastRetained: 1,
    lastFailure: { runId: report.run.id },
  });
  expect(health.warnings[0]).toContain('could not be retained');
});
