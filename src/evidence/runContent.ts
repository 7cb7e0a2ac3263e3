// What a run's sealed content is: which stored entities, grouped how, and which run record properties are left out.

import { createHash } from 'node:crypto';

import { FINDINGS_SHARDS, findingsPartition } from '../store/resultStore';
import { runRowKey } from '../store/runStore';
import type { SealedTable } from './chainLink';
import { entityDigest, type RawEntity } from './storedEntity';

/**
 * Run record properties written after the run completed, so not part of what its seal covers: the seal itself,
 * where its bundle was retained, the email outcome, and progress counters (bookkeeping, not results). Long
 * values are split by the store into `name_parts`/`name_0…`, which go with them.
 */
export const RUN_ANNOTATIONS = ['chain', 'retention', 'email', 'progress'] as const;
const ANNOTATION = new RegExp(`^(${RUN_ANNOTATIONS.join('|')})(_parts|_\\d+)?$`);

export function isRunAnnotation(name: string): boolean {
  return ANNOTATION.test(name);
}

/** One group of the run's stored entities as sealing and verification read it. */
export interface GroupSpec {
  table: SealedTable;
  partitionKey: string;
  rowKey?: string;
  exclude?: (name: string) => boolean;
}

/**
 * The run's content, in the order it is hashed: its record in `{p}runs`; each of the 16 partitions of its pool and
 * cluster results in `{p}findings`; its report snapshot partition in `{p}reports`; and, when recorded, the FIPS
 * matrix it was judged with in `{p}evidence`. Pool states and history are not a run's content: they are the latest
 * view across runs and change with every run.
 */
export function runGroups(runId: string, matrixDigest: string | null): GroupSpec[] {
  const groups: GroupSpec[] = [
    { table: 'runs', partitionKey: 'run', rowKey: runRowKey(runId), exclude: isRunAnnotation },
  ];
  for (let shard = 0; shard < FINDINGS_SHARDS; shard++) {
    groups.push({ table: 'findings', partitionKey: findingsPartition(runId, shard) });
  }
  groups.push({ table: 'reports', partitionKey: runId });
  if (matrixDigest !== null) groups.push({ table: 'evidence', partitionKey: 'matrix', rowKey: matrixDigest });
  return groups;
}

/** Thrown when storage answers out of key order: a digest over such an answer would not be reproducible. */
export class KeyOrderError extends Error {
  override readonly name = 'KeyOrderError';
}

/** One line of a digest list. */
export interface DigestLine {
  rowKey: string;
  digest: string;
}

/**
 * Builds a group's digest list as entities stream by: `RowKey<TAB>base64url SHA-256 of the canonical entity<LF>`,
 * in the order Table Storage returns a partition (by RowKey, ordinal), which is checked as it goes.
 */
export class DigestListBuilder {
  private readonly hash = createHash('sha256');
  private readonly parts: Buffer[] = [];
  private previous: string | null = null;
  count = 0;

  constructor(private readonly exclude?: (name: string) => boolean) {}

  add(entity: RawEntity): DigestLine {
    const rowKey = String(entity.rowKey);
    if (this.previous !== null && !(this.previous < rowKey)) {
      throw new KeyOrderError(`Storage returned RowKey "${rowKey}" after "${this.previous}"`);
    }
    this.previous = rowKey;
    const line: DigestLine = { rowKey, digest: entityDigest(entity, this.exclude) };
    const bytes = Buffer.from(`${line.rowKey}\t${line.digest}\n`, 'utf8');
    this.hash.update(bytes);
    this.parts.push(bytes);
    this.count += 1;
    return line;
  }

  finish(): { list: Buffer; digest: string; entities: number } {
    return { list: Buffer.concat(this.parts), digest: this.hash.digest('hex'), entities: this.count };
  }
}

/** The lines of a stored digest list. */
export function parseDigestList(list: Buffer): DigestLine[] {
  const lines: DigestLine[] = [];
  for (const line of list.toString('utf8').split('\n')) {
    if (line === '') continue;
    const tab = line.indexOf('\t');
    lines.push({ rowKey: line.slice(0, tab), digest: line.slice(tab + 1) });
  }
  return lines;
}
