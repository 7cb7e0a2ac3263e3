// Stores each run's results: every pool's and cluster's verdict, and the run's report snapshot.

import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';

import { runInfoOf, type RunRecord } from '../core/run';
import { isRunId } from '../core/runId';
import type { ClusterResult, PoolResult, Report } from '../core/types';
import { checkEntity, type Entity, packJson, unpackJson } from './entityCodec';
import {
  compareIdsIgnoringCase,
  inflate,
  MIN_ZLIB_CHUNK,
  ReportSnapshotWriter,
  SNAPSHOT_ENTITY_BYTES,
  snapshotIndex,
  type SnapshotManifest,
  sortByIdIgnoringCase,
  splitFrames,
} from './reportSnapshot';
import {
  type PoolFrameIndexEntry,
  ReportSnapshotReader,
  type SnapshotManifestRow,
} from './reportSnapshotReader';
import { requireRunId } from './runStore';
import type { StoreStats, TableClientFactory } from './tableClientFactory';
import { KEY_SEPARATOR, KEY_SEPARATOR_END, resourceIdKey, stableHash } from './tableKeys';
import { forEachLimited, submitTransactions } from './tableTransactions';

export const FINDINGS_TABLE = 'findings';
export const REPORTS_TABLE = 'reports';

/**
 * Part of the stored format: the findings of run R are spread over partitions `R-00` … `R-15`.
 * Changing it makes older runs unreadable.
 */
export const FINDINGS_SHARDS = 16;
const POOL_PREFIX = `p${KEY_SEPARATOR}`;
const CLUSTER_PREFIX = `c${KEY_SEPARATOR}`;

/** The findings partition of shard `shard` (0 … FINDINGS_SHARDS - 1) of the run: part of the stored format. */
export function findingsPartition(runId: string, shard: number): string {
  return `${runId}-${String(shard).padStart(2, '0')}`;
}

function shardOf(resourceId: string): number {
  return stableHash(resourceId.toLowerCase()) % FINDINGS_SHARDS;
}

function shards(): number[] {
  return Array.from({ length: FINDINGS_SHARDS }, (_, i) => i);
}

/** The report's order; the same comparison the audit uses, so a rebuilt report equals the one returned. */
function byIdIgnoringCase(a: { id: string }, b: { id: string }): number {
  return a.id.toLowerCase().localeCompare(b.id.toLowerCase());
}

/**
 * Tables `{prefix}findings` (PK `runId-NN`, NN = hash of the lowercased resource ID mod 16; RK `p|key(pool id)` or
 * `c|key(cluster id)`) and `{prefix}reports` (PK run ID; the report snapshot's chunks and manifests).
 */
export class ResultStore {
  private readonly findings: TableClient;
  private readonly reports: TableClient;
  private readonly stats: StoreStats;
  private readonly concurrency: number;
  private readonly writeOptions: { concurrency: number; stats: StoreStats };

  constructor(tables: TableClientFactory) {
    this.findings = tables.client(FINDINGS_TABLE);
    this.reports = tables.client(REPORTS_TABLE);
    this.stats = tables.stats;
    this.concurrency = tables.concurrency;
    this.writeOptions = { concurrency: tables.concurrency, stats: tables.stats };
  }

  /**
   * Stores a run's full results. A retry of the same run ID first deletes what the earlier attempt
   * stored, so the run overwrites itself: exactly `pools` and `clusters` are left, never a mix.
   */
  async replaceRunResults(runId: string, pools: PoolResult[], clusters: ClusterResult[]): Promise<void> {
    await this.deleteRunResults(runId);
    await this.appendRunResults(runId, pools, clusters);
  }

  /**
   * Adds results page by page as the audit reads them (upserts; a pool written twice keeps the last).
   * Call deleteRunResults first when the run ID may have been used by an earlier attempt.
   */
  async appendRunResults(runId: string, pools: PoolResult[], clusters: ClusterResult[]): Promise<void> {
    requireRunId(runId);
    const actions: TransactionAction[] = [];
    for (const pool of pools) {
      const entity: Entity = {
        partitionKey: findingsPartition(runId, shardOf(pool.id)),
        rowKey: POOL_PREFIX + resourceIdKey(pool.id),
        kind: 'pool',
        id: pool.id,
        status: pool.status,
      };
      packJson(entity, 'data', pool);
      actions.push(['upsert', checkEntity(entity, `Pool ${pool.id}`), 'Replace']);
    }
    for (const cluster of clusters) {
      const entity: Entity = {
        partitionKey: findingsPartition(runId, shardOf(cluster.id)),
        rowKey: CLUSTER_PREFIX + resourceIdKey(cluster.id),
        kind: 'cluster',
        id: cluster.id,
      };
      packJson(entity, 'data', cluster);
      actions.push(['upsert', checkEntity(entity, `Cluster ${cluster.id}`), 'Replace']);
    }
    await submitTransactions(this.findings, actions, this.writeOptions);
  }

  /** Deletes every result stored for the run; returns how many entities went. */
  async deleteRunResults(runId: string): Promise<number> {
    requireRunId(runId);
    let deleted = 0;
    await forEachLimited(shards(), this.concurrency, async (shard) => {
      const partitionKey = findingsPartition(runId, shard);
      const actions: TransactionAction[] = [];
      // Keys first, then deletes: paging over a partition while deleting from it is not worth the doubt.
      const entities = this.findings.listEntities({
        queryOptions: { filter: odata`PartitionKey eq ${partitionKey}`, select: ['RowKey'] },
      });
      for await (const entity of entities) {
        actions.push(['delete', { partitionKey, rowKey: entity.rowKey as string }]);
      }
      await submitTransactions(this.findings, actions, this.writeOptions);
      deleted += actions.length;
    });
    const snapshot: TransactionAction[] = [];
    const entities = this.reports.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${runId}`, select: ['RowKey'] },
    });
    for await (const entity of entities)
      snapshot.push(['delete', { partitionKey: runId, rowKey: entity.rowKey as string }]);
    await submitTransactions(this.reports, snapshot, this.writeOptions);
    return deleted;
  }

  /**
   * A writer of the run's report snapshot: the same pools and clusters as its findings, deflated into a few
   * large entities, so the report of 100,000 pools is a dozen reads instead of 125,000 entities. `writer`
   * names the part (`run`, or one per shard of a sharded run); parts are read in the order of their names,
   * and pools given in the report's order (by ID) need no sorting when read.
   */
  reportSnapshotWriter(runId: string, writer: string): ReportSnapshotWriter {
    requireRunId(runId);
    if (!/^[a-z0-9]{1,32}$/.test(writer))
      throw new RangeError(`writer must be 1-32 lowercase letters or digits; got "${writer}"`);
    return new ReportSnapshotWriter(
      async (entity) => {
        await this.reports.upsertEntity(entity, 'Replace');
        this.stats.entitiesWritten += 1;
      },
      runId,
      writer,
    );
  }

  /** The run's report from its snapshot; null when there is none or it does not cover the whole run. */
  private async readReportSnapshot(
    run: RunRecord,
  ): Promise<{ pools: PoolResult[]; clusters: ClusterResult[] } | null> {
    if (run.status === 'running') return null;
    const manifests = new Map<string, SnapshotManifest>();
    const chunks = new Map<string, Uint8Array[]>();
    for await (const entity of this.reports.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${run.id}` },
    })) {
      this.stats.entitiesRead += 1;
      const rowKey = entity.rowKey as string;
      const [type, writer = '', kind = '', index = ''] = rowKey.split(KEY_SEPARATOR);
      if (type === 'manifest') {
        manifests.set(writer, {
          pools: Number(entity.pools),
          clusters: Number(entity.clusters),
          poolChunks: Number(entity.poolChunks),
          clusterChunks: Number(entity.clusterChunks),
          poolsSorted: entity.poolsSorted === true,
          firstPoolId: typeof entity.firstPoolId === 'string' ? entity.firstPoolId : null,
          lastPoolId: typeof entity.lastPoolId === 'string' ? entity.lastPoolId : null,
        });
      } else if (type === 'chunk') {
        const parts: Uint8Array[] = [];
        const count = Number(entity.parts);
        for (let i = 0; i < count; i++) {
          const part = entity[`bin_${i}`];
          if (!(part instanceof Uint8Array)) return null;
          parts.push(part);
        }
        chunks.set(`${writer}${KEY_SEPARATOR}${kind}${KEY_SEPARATOR}${index}`, parts);
      }
    }
    let poolCount = 0;
    let clusterCount = 0;
    for (const m of manifests.values()) {
      poolCount += m.pools;
      clusterCount += m.clusters;
    }
    if (manifests.size === 0 || poolCount !== run.summary.pools || clusterCount !== run.summary.clusters)
      return null;
    const streams: { kind: 'pools' | 'clusters'; bytes: Buffer }[] = [];
    const writers = [...manifests.keys()].sort();
    // Each part checked its own order when written; across parts, only their boundaries need a look.
    let poolsSorted = true;
    let previousLast: string | null = null;
    for (const writer of writers) {
      const m = manifests.get(writer) as SnapshotManifest;
      if (m.pools === 0) continue;
      if (!m.poolsSorted || !m.firstPoolId || !m.lastPoolId) poolsSorted = false;
      else if (previousLast !== null && compareIdsIgnoringCase(previousLast, m.firstPoolId) > 0)
        poolsSorted = false;
      previousLast = m.lastPoolId;
    }
    for (const writer of writers) {
      const manifest = manifests.get(writer) as SnapshotManifest;
      for (const [kind, count] of [
        ['pools', manifest.poolChunks],
        ['clusters', manifest.clusterChunks],
      ] as const) {
        const parts: Uint8Array[] = [];
        for (let i = 0; i < count; i++) {
          const chunk = chunks.get(`${writer}${KEY_SEPARATOR}${kind}${KEY_SEPARATOR}${snapshotIndex(i)}`);
          if (!chunk) return null;
          parts.push(...chunk);
        }
        streams.push({ kind, bytes: Buffer.concat(parts) });
      }
    }
    // Inflate every segment at once (the thread pool works in parallel), each in one output chunk: the
    // default 16 KiB chunks cost a round trip to the main thread each, four times the inflating itself.
    const segments = streams.flatMap(({ kind, bytes }) =>
      splitFrames(bytes).map((frame): { kind: typeof kind; json: Promise<Buffer> | null } => {
        const json = inflate(frame.deflated, { chunkSize: Math.max(MIN_ZLIB_CHUNK, frame.rawLength) });
        // Observed in order below; a segment after a failed one must not surface as an unhandled rejection.
        json.catch(() => undefined);
        return { kind, json };
      }),
    );
    const pools: PoolResult[] = [];
    const clusters: ClusterResult[] = [];
    try {
      for (const segment of segments) {
        const inflated = segment.json;
        // Let go as soon as parsed: 100 MB of inflated buffers held to the end cost the reader full GCs.
        segment.json = null;
        if (!inflated) continue;
        const values = JSON.parse((await inflated).toString('utf8')) as unknown[];
        if (segment.kind === 'pools') for (const v of values) pools.push(v as PoolResult);
        else for (const v of values) clusters.push(v as ClusterResult);
      }
    } catch {
      // A damaged snapshot is only a slower report: the findings hold the same results.
      return null;
    }
    if (pools.length !== poolCount || clusters.length !== clusterCount) return null;
    return {
      pools: poolsSorted ? pools : sortByIdIgnoringCase(pools),
      clusters: sortByIdIgnoringCase(clusters),
    };
  }

  /**
   * The run's report snapshot opened for paging: its manifests only (a page then reads the chunk entities its
   * frames lie in). Null for a running run, or when the snapshot is missing, incomplete, written before frames
   * were indexed, or not in the report's order: read the whole report with getReport then.
   */
  async openReportSnapshot(run: RunRecord): Promise<ReportSnapshotReader | null> {
    if (run.status === 'running' || !isRunId(run.id)) return null;
    const manifests: SnapshotManifestRow[] = [];
    const filter = odata`PartitionKey eq ${run.id} and RowKey ge ${`manifest${KEY_SEPARATOR}`} and RowKey lt ${`manifest${KEY_SEPARATOR_END}`}`;
    for await (const entity of this.reports.listEntities({ queryOptions: { filter } })) {
      this.stats.entitiesRead += 1;
      const [, writer = ''] = (entity.rowKey as string).split(KEY_SEPARATOR);
      manifests.push({
        writer,
        pools: Number(entity.pools),
        clusters: Number(entity.clusters),
        clusterChunks: Number(entity.clusterChunks),
        poolsSorted: entity.poolsSorted === true,
        firstPoolId: typeof entity.firstPoolId === 'string' ? entity.firstPoolId : null,
        lastPoolId: typeof entity.lastPoolId === 'string' ? entity.lastPoolId : null,
        poolFrames: unpackJson<PoolFrameIndexEntry[]>(entity, 'poolFrames') ?? null,
      });
    }
    const readChunk = async (writer: string, kind: 'pools' | 'clusters', index: number): Promise<Buffer> => {
      const rowKey = ['chunk', writer, kind, snapshotIndex(index)].join(KEY_SEPARATOR);
      const entity = await this.reports.getEntity(run.id, rowKey);
      this.stats.entitiesRead += 1;
      const parts: Uint8Array[] = [];
      for (let i = 0; i < Number(entity.parts); i++) {
        const part = entity[`bin_${i}`];
        if (!(part instanceof Uint8Array))
          throw new Error(`Snapshot chunk ${run.id}/${rowKey} lacks part ${i}`);
        parts.push(part);
      }
      return Buffer.concat(parts);
    };
    return ReportSnapshotReader.open(
      manifests,
      { pools: run.summary.pools, clusters: run.summary.clusters },
      readChunk,
      SNAPSHOT_ENTITY_BYTES,
    );
  }

  /** The run's pool results, in storage order (by shard, then key); getReport sorts them. */
  async *listRunPools(runId: string): AsyncIterableIterator<PoolResult> {
    if (!isRunId(runId)) return;
    for (const shard of shards()) yield* this.listShard<PoolResult>(runId, shard, POOL_PREFIX);
  }

  async *listRunClusters(runId: string): AsyncIterableIterator<ClusterResult> {
    if (!isRunId(runId)) return;
    for (const shard of shards()) yield* this.listShard<ClusterResult>(runId, shard, CLUSTER_PREFIX);
  }

  private async *listShard<T>(runId: string, shard: number, prefix: string): AsyncIterableIterator<T> {
    const partitionKey = findingsPartition(runId, shard);
    const end = prefix.slice(0, -1) + KEY_SEPARATOR_END;
    const filter = odata`PartitionKey eq ${partitionKey} and RowKey ge ${prefix} and RowKey lt ${end}`;
    for await (const entity of this.findings.listEntities({ queryOptions: { filter } })) {
      this.stats.entitiesRead += 1;
      const value = unpackJson<T>(entity, 'data');
      if (value === undefined) throw new Error(`Stored result ${partitionKey}/${entity.rowKey} has no data`);
      yield value;
    }
  }

  /** Rebuilds the report JSON of a stored run (pools and clusters sorted by ID). */
  async getReport(run: RunRecord): Promise<Report> {
    const runId = run.id;
    const snapshot = await this.readReportSnapshot(run);
    let pools: PoolResult[] = [];
    let clusters: ClusterResult[] = [];
    if (snapshot) {
      ({ pools, clusters } = snapshot);
    } else {
      // No complete snapshot (a running run, or one stored before snapshots): the findings, 16 shards in parallel.
      await forEachLimited(shards(), this.concurrency, async (shard) => {
        for await (const pool of this.listShard<PoolResult>(runId, shard, POOL_PREFIX)) pools.push(pool);
        for await (const cluster of this.listShard<ClusterResult>(runId, shard, CLUSTER_PREFIX))
          clusters.push(cluster);
      });
      pools = pools.sort(byIdIgnoringCase);
      clusters = clusters.sort(byIdIgnoringCase);
    }
    return {
      schemaVersion: 1,
      run: runInfoOf(run),
      summary: run.summary,
      pools,
      clusters,
      errors: run.errors,
    };
  }
}
