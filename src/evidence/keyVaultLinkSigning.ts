// Signs chain links with a Key Vault key (CryptographyClient) and verifies them locally with the key's public part.

import { createPublicKey, type JsonWebKey as NodeJsonWebKey, type KeyObject, verify } from 'node:crypto';

import type { TokenCredential } from '@azure/core-auth';
import {
  CryptographyClient,
  type CryptographyClientOptions,
  KeyClient,
  type KeyVaultKey,
  parseKeyVaultKeyIdentifier,
} from '@azure/keyvault-keys';

import type { LinkSignature, LinkSignatureVerifier, LinkSigner } from './chainLink';

/** Raised when the configured key cannot sign chain links (wrong type, curve or operations). */
export class SigningKeyError extends Error {
  override readonly name = 'SigningKeyError';
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The Key Vault clients answer a 401 challenge by asking for a token for the resource the challenge names, and
 * first check that resource is the vault's own DNS suffix (`<vault>.vault.azure.net` for `vault.azure.net`).
 * A loopback emulator has no such name, so the check is off for loopback hosts only: a token asked for there
 * goes to this very machine. Every other host keeps it.
 */
export function keyVaultClientOptions(vaultUrl: string): CryptographyClientOptions {
  return LOOPBACK_HOSTS.has(new URL(vaultUrl).hostname) ? { disableChallengeResourceVerification: true } : {};
}

function algorithmOf(key: KeyVaultKey): LinkSignature['alg'] {
  const type = key.keyType ?? key.key?.kty;
  if ((type === 'EC' || type === 'EC-HSM') && key.key?.crv === 'P-256') return 'ES256';
  if (type === 'RSA' || type === 'RSA-HSM') return 'RS256';
  throw new SigningKeyError(
    `Key ${key.id ?? key.name} is ${String(type)}${key.key?.crv ? ` ${key.key.crv}` : ''}; chain links are signed with an EC P-256 (ES256) or RSA (RS256) key`,
  );
}

function base64url(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : Buffer.from(bytes).toString('base64url');
}

/** The key's public part as a node:crypto KeyObject. */
export function publicKeyOf(key: KeyVaultKey): KeyObject {
  const jwk = key.key;
  const type = key.keyType ?? jwk?.kty;
  if (!jwk) throw new SigningKeyError(`Key Vault returned no key material for ${key.id ?? key.name}`);
  const material: NodeJsonWebKey =
    type === 'EC' || type === 'EC-HSM'
      ? { kty: 'EC', crv: jwk.crv, x: base64url(jwk.x), y: base64url(jwk.y) }
      : { kty: 'RSA', n: base64url(jwk.n), e: base64url(jwk.e) };
  return createPublicKey({ key: material, format: 'jwk' });
}

/** Fetches a key (public part) by its full identifier. */
async function fetchKey(keyId: string, credential: TokenCredential): Promise<KeyVaultKey> {
  const { vaultUrl, name, version } = parseKeyVaultKeyIdentifier(keyId);
  const client = new KeyClient(vaultUrl, credential, keyVaultClientOptions(vaultUrl));
  return client.getKey(name, version ? { version } : {});
}

/** Signs link digests with the key AUDIT_SIGNING_KEY_ID names: ES256 for an EC P-256 key, RS256 for RSA. */
export class KeyVaultLinkSigner implements LinkSigner {
  private client: Promise<{ crypto: CryptographyClient; alg: LinkSignature['alg'] }> | undefined;

  constructor(
    readonly keyId: string,
    private readonly credential: TokenCredential,
  ) {}

  async sign(digestHex: string): Promise<LinkSignature> {
    this.client ??= this.load().catch((error: unknown) => {
      this.client = undefined;
      throw error;
    });
    const { crypto, alg } = await this.client;
    const result = await crypto.sign(alg, Buffer.from(digestHex, 'hex'));
    return {
      alg,
      keyId: result.keyID ?? this.keyId,
      value: Buffer.from(result.result).toString('base64url'),
    };
  }

  private async load(): Promise<{ crypto: CryptographyClient; alg: LinkSignature['alg'] }> {
    const key = await fetchKey(this.keyId, this.credential);
    const alg = algorithmOf(key);
    const { vaultUrl } = parseKeyVaultKeyIdentifier(this.keyId);
    return { crypto: new CryptographyClient(key, this.credential, keyVaultClientOptions(vaultUrl)), alg };
  }
}

/** Verifies link signatures locally with the public part of the key each names, fetched once per key version. */
export class KeyVaultLinkVerifier implements LinkSignatureVerifier {
  private readonly keys = new Map<string, Promise<KeyObject>>();

  constructor(private readonly credential: TokenCredential) {}

  async verify(message: string, signature: LinkSignature): Promise<boolean> {
    let key = this.keys.get(signature.keyId);
    if (!key) {
      key = fetchKey(signature.keyId, this.credential).then(publicKeyOf);
      key.catch(() => this.keys.delete(signature.keyId));
      this.keys.set(signature.keyId, key);
    }
    return verifyLinkSignature(await key, message, signature);
  }
}

/**
 * Checks a signature over the link text with a public key: ES256 (ECDSA P-256 over its SHA-256, the signature
 * as JWS and Key Vault give it, R‖S, which node:crypto calls ieee-p1363) or RS256 (PKCS#1 v1.5 over SHA-256).
 */
export function verifyLinkSignature(
  publicKey: KeyObject,
  message: string,
  signature: LinkSignature,
): boolean {
  const bytes = Buffer.from(signature.value, 'base64url');
  const data = Buffer.from(message, 'utf8');
  if (signature.alg === 'ES256')
    return verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, bytes);
  if (signature.alg === 'RS256') return verify('sha256', data, publicKey, bytes);
  return false;
}
