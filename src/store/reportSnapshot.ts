// A run's report snapshot: its pools (sorted) and clusters as deflated JSON frames in a few large entities.

import { promisify } from 'node:util';
import { constants as zlibConstants, deflateRaw, inflateRaw } from 'node:zlib';

import type { ClusterResult, PoolResult } from '../core/types';
import { checkEntity, type Entity, packJson } from './entityCodec';
import { FRAME_STATUS_INDEX, type PoolFrameIndexEntry } from './reportSnapshotReader';
import { KEY_SEPARATOR } from './tableKeys';

const deflate = promisify(deflateRaw);
export const inflate = promisify(inflateRaw);
/**
 * A binary property holds at most 64 KiB. Ten of them keep a snapshot entity inside the 1 MiB limit even
 * where the limit is applied to the request body, in which binary travels as base64 (Azurite does so).
 */
export const SNAPSHOT_PART_BYTES = 64 * 1024;
export const SNAPSHOT_PARTS_PER_ENTITY = 10;
export const SNAPSHOT_ENTITY_BYTES = SNAPSHOT_PART_BYTES * SNAPSHOT_PARTS_PER_ENTITY;

/** Pools per frame of the pools stream: a page of the report inflates and parses one or two frames. */
const POOLS_PER_FRAME = 1000;

export const MIN_ZLIB_CHUNK = 64;
export const MAX_DEFLATE_CHUNK = 1024 * 1024;

export interface SnapshotManifest {
  pools: number;
  clusters: number;
  poolChunks: number;
  clusterChunks: number;
  /** The writer checked that every pool came after the one before, in the report's order. */
  poolsSorted: boolean;
  firstPoolId: string | null;
  lastPoolId: string | null;
}

export function snapshotIndex(i: number): string {
  return String(i).padStart(5, '0');
}

/**
 * The frames of a snapshot stream: each a 4-byte big-endian length of the deflated bytes, a 4-byte length of
 * the JSON they inflate to, then the deflated bytes.
 */
export function splitFrames(bytes: Buffer): { deflated: Buffer; rawLength: number }[] {
  const frames: { deflated: Buffer; rawLength: number }[] = [];
  for (let at = 0; at < bytes.length;) {
    const length = bytes.readUInt32BE(at);
    const rawLength = bytes.readUInt32BE(at + 4);
    frames.push({ deflated: bytes.subarray(at + 8, at + 8 + length), rawLength });
    at += 8 + length;
  }
  return frames;
}

export function compareIdsIgnoringCase(a: string, b: string): number {
  return a.toLowerCase().localeCompare(b.toLowerCase());
}

/** The report's order, lowercasing each ID once rather than at every comparison. */
export function sortByIdIgnoringCase<T extends { id: string }>(items: T[]): T[] {
  return items
    .map((item) => ({ key: item.id.toLowerCase(), item }))
    .sort((a, b) => a.key.localeCompare(b.key))
    .map(({ item }) => item);
}

/**
 * Writes one part of a run's report snapshot (see RunStore.reportSnapshotWriter). Pools and clusters are
 * deflated a segment per call and framed into two byte streams, cut into entities of 640 KiB as they fill;
 * `finish` writes what is left and then the manifest, without which the part is ignored when read.
 */
export class ReportSnapshotWriter {
  private readonly pending = { pools: [] as Buffer[], clusters: [] as Buffer[] };
  private readonly pendingBytes = { pools: 0, clusters: 0 };
  private readonly chunks = { pools: 0, clusters: 0 };
  private readonly counts = { pools: 0, clusters: 0 };
  private readonly streamBytes = { pools: 0, clusters: 0 };
  private readonly poolFrames: PoolFrameIndexEntry[] = [];
  private writes: Promise<void> = Promise.resolve();
  private poolsSorted = true;
  private firstPoolKey: string | null = null;
  private lastPoolKey: string | null = null;

  constructor(
    private readonly put: (entity: Entity) => Promise<void>,
    private readonly runId: string,
    private readonly writer: string,
  ) {}

  /** Adds pools; give them sorted by ID (case-insensitively), each call after the last, to spare the reader a sort. */
  async addPools(pools: readonly PoolResult[]): Promise<void> {
    // Checked here, off the report's read path, so the reader can trust the order instead of sorting.
    for (const pool of pools) {
      const key = pool.id.toLowerCase();
      if (this.lastPoolKey !== null && this.lastPoolKey.localeCompare(key) > 0) this.poolsSorted = false;
      this.firstPoolKey ??= key;
      this.lastPoolKey = key;
    }
    // Frames of a bounded size, each indexed with its status counts, so a page of the report reads only its frames.
    for (let at = 0; at < pools.length; at += POOLS_PER_FRAME) {
      const frame = pools.slice(at, at + POOLS_PER_FRAME);
      const counts: PoolFrameIndexEntry['s'] = [0, 0, 0, 0];
      for (const pool of frame) counts[FRAME_STATUS_INDEX[pool.status]] += 1;
      const { offset, length } = await this.add('pools', frame);
      this.poolFrames.push({ n: frame.length, s: counts, o: offset, l: length });
    }
  }

  async addClusters(clusters: readonly ClusterResult[]): Promise<void> {
    await this.add('clusters', clusters);
  }

  async finish(): Promise<void> {
    this.flush('pools', true);
    this.flush('clusters', true);
    await this.writes;
    const manifest: Entity = {
      partitionKey: this.runId,
      rowKey: ['manifest', this.writer].join(KEY_SEPARATOR),
      pools: this.counts.pools,
      clusters: this.counts.clusters,
      poolChunks: this.chunks.pools,
      clusterChunks: this.chunks.clusters,
      poolsSorted: this.poolsSorted,
      ...(this.firstPoolKey !== null && this.lastPoolKey !== null
        ? { firstPoolId: this.firstPoolKey, lastPoolId: this.lastPoolKey }
        : {}),
    };
    packJson(manifest, 'poolFrames', this.poolFrames);
    await this.put(checkEntity(manifest, `Snapshot manifest of run ${this.runId}`));
  }

  /** Frames the values into the kind's stream; returns where the frame starts in it and its length in bytes. */
  private async add(
    kind: 'pools' | 'clusters',
    values: readonly unknown[],
  ): Promise<{ offset: number; length: number }> {
    const offset = this.streamBytes[kind];
    if (values.length === 0) return { offset, length: 0 };
    this.counts[kind] += values.length;
    const json = Buffer.from(JSON.stringify(values), 'utf8');
    // Output chunks of up to 1 MiB: few round trips to the main thread, and no large buffer kept behind a slice.
    const frame = await deflate(json, {
      level: zlibConstants.Z_BEST_SPEED,
      chunkSize: Math.min(MAX_DEFLATE_CHUNK, Math.max(MIN_ZLIB_CHUNK, json.length)),
    });
    const header = Buffer.alloc(8);
    header.writeUInt32BE(frame.length, 0);
    header.writeUInt32BE(json.length, 4);
    this.pending[kind].push(header, frame);
    this.pendingBytes[kind] += 8 + frame.length;
    this.streamBytes[kind] += 8 + frame.length;
    this.flush(kind, false);
    // One entity in flight at a time keeps memory flat; a failed write surfaces here.
    await this.writes;
    return { offset, length: 8 + frame.length };
  }

  private flush(kind: 'pools' | 'clusters', all: boolean): void {
    while (this.pendingBytes[kind] >= SNAPSHOT_ENTITY_BYTES || (all && this.pendingBytes[kind] > 0)) {
      const bytes = Buffer.concat(this.pending[kind]);
      const take = Math.min(bytes.length, SNAPSHOT_ENTITY_BYTES);
      const entity: Entity = {
        partitionKey: this.runId,
        rowKey: ['chunk', this.writer, kind, snapshotIndex(this.chunks[kind])].join(KEY_SEPARATOR),
        parts: 0,
      };
      let parts = 0;
      for (let at = 0; at < take; at += SNAPSHOT_PART_BYTES) {
        entity[`bin_${parts++}`] = new Uint8Array(
          bytes.subarray(at, Math.min(at + SNAPSHOT_PART_BYTES, take)),
        );
      }
      entity.parts = parts;
      this.chunks[kind] += 1;
      const rest = bytes.subarray(take);
      this.pending[kind] = rest.length ? [Buffer.from(rest)] : [];
      this.pendingBytes[kind] = rest.length;
      const previous = this.writes;
      this.writes = previous.then(() => this.put(entity));
    }
  }
}
