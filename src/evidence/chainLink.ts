// A link of the chain of runs: what one run's seal records, and how its digests are computed (pure).

import { createHash } from 'node:crypto';

import { canonicalJson } from './canonicalJson';

/** The version of the canonical form; part of every link digest, so a future form cannot be confused with it. */
export const SEAL_FORMAT = 'aks-fips-auditor/run-seal/v1';

/** The logical tables a run's content lives in (the stored names carry AUDIT_TABLE_PREFIX in front). */
export type SealedTable = 'runs' | 'findings' | 'reports' | 'evidence';

/** One group of a run's stored entities: a whole partition, or the one entity `rowKey` names. */
export interface SealedGroup {
  table: SealedTable;
  partitionKey: string;
  /** Set when the group is a single entity (the run record, the matrix). */
  rowKey?: string;
  /** How many entities the group held when sealed. */
  entities: number;
  /** SHA-256 (hex) of the group's digest list: one `RowKey<TAB>entity digest<LF>` line per entity, in key order. */
  digest: string;
}

/** How the group's digest list is stored (not part of the content: how many chunk entities hold it). */
export interface StoredGroup extends SealedGroup {
  chunks: number;
}

/** A signature of the link digest by a Key Vault key. */
export interface LinkSignature {
  /** JWS algorithm name, as Key Vault takes it. */
  alg: 'ES256' | 'RS256';
  /** The key's full identifier, version included, as Key Vault returned it. */
  keyId: string;
  /** base64url of the signature (ES256: the 64-byte R‖S form). */
  value: string;
}

/** The fields the link digest covers. */
export interface LinkFields {
  format: typeof SEAL_FORMAT;
  seq: number;
  runId: string;
  previousRunId: string | null;
  previousDigest: string | null;
  contentDigest: string;
  sealedAt: string;
}

export interface ChainLink extends LinkFields {
  /** SHA-256 (hex) of the canonical link fields: the run's chain digest. */
  digest: string;
  groups: StoredGroup[];
  signature: LinkSignature | null;
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 (hex) of the canonical list of groups, chunk counts left out. */
export function contentDigestOf(groups: readonly SealedGroup[]): string {
  return sha256Hex(
    canonicalJson(
      groups.map((g) => ({
        table: g.table,
        partitionKey: g.partitionKey,
        ...(g.rowKey === undefined ? {} : { rowKey: g.rowKey }),
        entities: g.entities,
        digest: g.digest,
      })),
    ),
  );
}

/** The RFC 8785 text of the link fields: what the link digest is the SHA-256 of, and what a signature signs. */
export function linkText(fields: LinkFields): string {
  return canonicalJson({
    format: fields.format,
    seq: fields.seq,
    runId: fields.runId,
    previousRunId: fields.previousRunId,
    previousDigest: fields.previousDigest,
    contentDigest: fields.contentDigest,
    sealedAt: fields.sealedAt,
  });
}

/** SHA-256 (hex) of the canonical link fields: the digest that chains, and that a signature signs. */
export function linkDigestOf(fields: LinkFields): string {
  return sha256Hex(linkText(fields));
}

/** What a run record carries of its seal (GET /api/runs/{runId}); the evidence table holds the link itself. */
export interface RunChainCopy {
  seq: number;
  digest: string;
  previousRunId: string | null;
  previousDigest: string | null;
  sealedAt: string;
  signature: LinkSignature | null;
}

export function chainCopyOf(link: ChainLink): RunChainCopy {
  return {
    seq: link.seq,
    digest: link.digest,
    previousRunId: link.previousRunId,
    previousDigest: link.previousDigest,
    sealedAt: link.sealedAt,
    signature: link.signature,
  };
}

/** Signs a link digest (the 32 bytes of the SHA-256) with a key the store's writers do not hold. */
export interface LinkSigner {
  readonly keyId: string;
  sign(digestHex: string): Promise<LinkSignature>;
}

/**
 * Checks a link signature with the public part of the key it names. The signed message is the link text
 * (linkText): Key Vault signs its SHA-256, the link digest, as ES256/RS256 sign the hash of a JWS input.
 */
export interface LinkSignatureVerifier {
  verify(message: string, signature: LinkSignature): Promise<boolean>;
}
