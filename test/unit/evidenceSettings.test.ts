// The evidence settings: a Key Vault key ID with its version, a Blob container URL, and the retention in days.

import { isContainerUrl, isKeyVaultKeyId, loadConfig, SETTINGS } from '../../src/config';
import { ConfigError } from '../../src/errors';

const KEY = 'https://my-vault.vault.azure.net/keys/audit-chain/0123456789abcdef0123456789abcdef';

it('turns signing and retention off by default, with 365 days of retention', () => {
  expect(loadConfig({}).evidence).toEqual({ signingKeyId: null, container: null, retentionDays: 365 });
});

it('reads the three settings when they are valid', () => {
  const config = loadConfig({
    AUDIT_SIGNING_KEY_ID: KEY,
    AUDIT_EVIDENCE_CONTAINER: 'https://myevidence.blob.core.usgovcloudapi.net/evidence/',
    AUDIT_EVIDENCE_RETENTION_DAYS: '2555',
  });
  expect(config.evidence).toEqual({
    signingKeyId: KEY,
    container: 'https://myevidence.blob.core.usgovcloudapi.net/evidence',
    retentionDays: 2555,
  });
});

it.each([
  [KEY, true],
  ['https://my-hsm.managedhsm.azure.net/keys/chain/0123456789abcdef0123456789abcdef', true],
  ['https://127.0.0.1:8443/keys/audit-chain/0123456789abcdef0123456789abcdef', true],
  ['https://my-vault.vault.azure.net/keys/audit-chain', false],
  ['https://my-vault.vault.azure.net/keys/audit-chain/latest', false],
  ['http://my-vault.vault.azure.net/keys/audit-chain/0123456789abcdef0123456789abcdef', false],
  ['https://my-vault.vault.azure.net/secrets/audit-chain/0123456789abcdef0123456789abcdef', false],
])('accepts %s as a signing key ID: %s', (value, valid) => {
  expect(isKeyVaultKeyId(value)).toBe(valid);
});

it.each([
  ['https://myevidence.blob.core.windows.net/evidence', true],
  ['https://127.0.0.1:10000/devstoreaccount1/evidence', true],
  ['https://myevidence.blob.core.windows.net/Evidence', false],
  ['https://myevidence.blob.core.windows.net/', false],
  ['https://myevidence.blob.core.windows.net/evidence?sv=2024&sig=x', false],
  ['http://myevidence.blob.core.windows.net/evidence', false],
  ['https://myevidence.blob.core.windows.net/a/b', false],
])('accepts %s as an evidence container: %s', (value, valid) => {
  expect(isContainerUrl(value)).toBe(valid);
});

it('names each bad evidence setting with an example value', () => {
  let error: unknown;
  try {
    loadConfig({
      AUDIT_SIGNING_KEY_ID: 'my-vault/audit-chain',
      AUDIT_EVIDENCE_CONTAINER: 'evidence',
      AUDIT_EVIDENCE_RETENTION_DAYS: '0',
    });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const problems = (error as ConfigError).problems;
  for (const name of [
    'AUDIT_SIGNING_KEY_ID',
    'AUDIT_EVIDENCE_CONTAINER',
    'AUDIT_EVIDENCE_RETENTION_DAYS',
  ] as const) {
    const problem = problems.find((p) => p.startsWith(name));
    expect(problem).toContain(`example: ${name}=${SETTINGS[name]}`);
  }
  expect(isKeyVaultKeyId(SETTINGS.AUDIT_SIGNING_KEY_ID)).toBe(true);
  expect(isContainerUrl(SETTINGS.AUDIT_EVIDENCE_CONTAINER)).toBe(true);
});
