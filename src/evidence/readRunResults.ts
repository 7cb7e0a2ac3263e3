// Reads a run's stored pool and cluster results once, in key order, checked against its seal, into spools.

import type { ClusterResult, PoolResult } from '../core/types';
import { FINDINGS_SHARDS, findingsPartition } from '../store/resultStore';
import type { ChainLink, StoredGroup } from './chainLink';
import type { EvidenceStore } from './evidenceStore';
import { ResultSpool } from './resultSpool';
import type { RawEntity } from './storedEntity';
import { GroupChecker } from './verifyChain';

export interface RunResults {
  pools: ResultSpool<PoolResult>;
  clusters: ResultSpool<ClusterResult>;
  /** Pools that are not compliant (they get an OSCAL finding and risk). */
  flagged: number;
  /** Clusters with findings of their own (a few; kept for the page and the OSCAL remarks). */
  clusterFindings: ClusterResult[];
}

/** The text of a property as stored (`{ value, type }` when read without type conversion). */
function textOf(entity: RawEntity, name: string): string | undefined {
  const value = entity[name];
  if (typeof value === 'string') return value;
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { value?: unknown }).value === 'string'
  ) {
    return (value as { value: string }).value;
  }
  return undefined;
}

/** The JSON value the run store packed into `data` (or `data_parts` and `data_0…`). */
export function unpackData<T>(entity: RawEntity): T {
  let json = textOf(entity, 'data');
  if (json === undefined) {
    const count = Number(textOf(entity, 'data_parts'));
    if (!Number.isInteger(count) || count < 1) {
      throw new Error(`Stored result ${String(entity.partitionKey)}/${String(entity.rowKey)} has no data`);
    }
    json = '';
    for (let i = 0; i < count; i++) json += textOf(entity, `data_${i}`) ?? '';
  }
  return JSON.parse(json) as T;
}

interface Cursor {
  entities: AsyncIterator<RawEntity>;
  head: RawEntity | null;
  checker: GroupChecker | null;
}

async function advance(cursor: Cursor): Promise<void> {
  const next = await cursor.entities.next();
  cursor.head = next.done ? null : next.value;
  if (cursor.head) cursor.checker?.check(cursor.head);
}

/**
 * Merges the run's 16 findings partitions by RowKey (the stored key: `c|` clusters, then `p|` pools, each by
 * the encoded, lowercased resource ID), so every reader sees the same order. With a link, each entity is checked
 * against the sealed digest list as it arrives (GroupChecker): the first one that no longer matches throws
 * EvidenceMismatchError, and nothing built from it is kept.
 */
export async function readRunResults(
  store: EvidenceStore,
  runId: string,
  link: ChainLink | null,
): Promise<RunResults> {
  const cursors: Cursor[] = [];
  for (let shard = 0; shard < FINDINGS_SHARDS; shard++) {
    const partitionKey = findingsPartition(runId, shard);
    const group: StoredGroup | undefined = link?.groups.find(
      (g) => g.table === 'findings' && g.partitionKey === partitionKey,
    );
    const checker = group && link ? new GroupChecker(store, runId, group) : null;
    await checker?.prepare();
    const entities = store.listRawEntities({ table: 'findings', partitionKey })[Symbol.asyncIterator]();
    cursors.push({ entities, head: null, checker });
  }
  await Promise.all(cursors.map(advance));
  const results: RunResults = {
    pools: new ResultSpool(),
    clusters: new ResultSpool(),
    flagged: 0,
    clusterFindings: [],
  };
  for (;;) {
    let next: Cursor | null = null;
    for (const cursor of cursors) {
      if (cursor.head && (!next?.head || String(cursor.head.rowKey) < String(next.head.rowKey)))
        next = cursor;
    }
    if (!next?.head) break;
    const entity = next.head;
    const kind = textOf(entity, 'kind');
    if (kind === 'pool') {
      const pool = unpackData<PoolResult>(entity);
      results.pools.add(pool);
      if (pool.status !== 'compliant') results.flagged += 1;
    } else if (kind === 'cluster') {
      const cluster = unpackData<ClusterResult>(entity);
      results.clusters.add(cluster);
      if (cluster.findings.length) results.clusterFindings.push(cluster);
    }
    await advance(next);
  }
  for (const cursor of cursors) cursor.checker?.finish();
  return results;
}
