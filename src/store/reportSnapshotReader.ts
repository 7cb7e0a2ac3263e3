// Reads a run's report snapshot a frame at a time, so a page of the report reads only the entities it needs.

import { promisify } from 'node:util';
import { inflateRaw } from 'node:zlib';

import type { ClusterResult, PoolResult, PoolStatus } from '../core/types';

const inflate = promisify(inflateRaw);

/** Position of each status in a frame's counts (`s`): the order the report page lists them in. */
export const FRAME_STATUS_INDEX: Record<PoolStatus, 0 | 1 | 2 | 3> = {
  noncompliant: 0,
  unknown: 1,
  exempt: 2,
  compliant: 3,
};

/** One frame of a snapshot part's pools stream, as its manifest lists it (short names: there may be thousands). */
export interface PoolFrameIndexEntry {
  /** Pools in the frame. */
  n: number;
  /** Pools of each status, in FRAME_STATUS_INDEX order. */
  s: [number, number, number, number];
  /** Where the frame starts in the part's pools stream, and its length in bytes (header included). */
  o: number;
  l: number;
}

/** What the store read of one part's manifest. */
export interface SnapshotManifestRow {
  writer: string;
  pools: number;
  clusters: number;
  clusterChunks: number;
  poolsSorted: boolean;
  firstPoolId: string | null;
  lastPoolId: string | null;
  /** Null for a part written before frames were indexed. */
  poolFrames: PoolFrameIndexEntry[] | null;
}

/** One frame of pools, with its counts per status: enough to page without reading it. */
export interface SnapshotFrame {
  pools: number;
  counts: Record<PoolStatus, number>;
}

/** Reads one chunk entity's bytes: `writer`'s `kind` stream, chunk `index`. */
export type ChunkReader = (writer: string, kind: 'pools' | 'clusters', index: number) => Promise<Buffer>;

interface FrameLocation {
  writer: string;
  offset: number;
  length: number;
}

/**
 * A run's snapshot opened for paging: the frames in the report's order (parts by writer name, each sorted by ID,
 * checked when written), their counts, and reads of one frame's pools that fetch only the chunk entities the
 * frame lies in. Chunks are kept (deflated, about 110 bytes a pool) for the reader's life.
 */
export class ReportSnapshotReader {
  readonly frames: readonly SnapshotFrame[];
  private readonly locations: FrameLocation[];
  private readonly chunkCache = new Map<string, Promise<Buffer>>();

  private constructor(
    private readonly manifests: readonly SnapshotManifestRow[],
    private readonly readChunk: ChunkReader,
    private readonly entityBytes: number,
  ) {
    const frames: SnapshotFrame[] = [];
    const locations: FrameLocation[] = [];
    for (const manifest of manifests) {
      for (const entry of manifest.poolFrames ?? []) {
        frames.push({
          pools: entry.n,
          counts: {
            noncompliant: entry.s[0],
            unknown: entry.s[1],
            exempt: entry.s[2],
            compliant: entry.s[3],
          },
        });
        locations.push({ writer: manifest.writer, offset: entry.o, length: entry.l });
      }
    }
    this.frames = frames;
    this.locations = locations;
  }

  /**
   * The reader, or null when the parts cannot be paged in the report's order: a part without a frame index,
   * pools out of order, parts that overlap, or counts that do not add up to the run's.
   */
  static open(
    manifests: readonly SnapshotManifestRow[],
    expected: { pools: number; clusters: number },
    readChunk: ChunkReader,
    entityBytes: number,
  ): ReportSnapshotReader | null {
    const parts = [...manifests].sort((a, b) => a.writer.localeCompare(b.writer));
    let pools = 0;
    let clusters = 0;
    let previousLast: string | null = null;
    for (const part of parts) {
      pools += part.pools;
      clusters += part.clusters;
      if (!part.poolFrames) return null;
      if (part.poolFrames.reduce((n, f) => n + f.n, 0) !== part.pools) return null;
      if (part.pools === 0) continue;
      if (!part.poolsSorted || !part.firstPoolId || !part.lastPoolId) return null;
      if (previousLast !== null && previousLast.localeCompare(part.firstPoolId) > 0) return null;
      previousLast = part.lastPoolId;
    }
    if (parts.length === 0 || pools !== expected.pools || clusters !== expected.clusters) return null;
    return new ReportSnapshotReader(parts, readChunk, entityBytes);
  }

  /** The pools of frame `index`, in the report's order. */
  async pools(index: number): Promise<PoolResult[]> {
    const location = this.locations[index];
    if (!location) throw new RangeError(`The snapshot has no frame ${index}`);
    const bytes = await this.streamBytes(location.writer, 'pools', location.offset, location.length);
    return this.parseFrames(bytes) as Promise<PoolResult[]>;
  }

  /**
   * Lets go of the cached chunks that frame `index` and the frames after it do not need: a reader going through
   * the frames in order (the CLI writing a whole report) then holds a chunk or two, not the run.
   */
  retainFrom(index: number): void {
    const location = this.locations[index];
    if (!location) {
      this.chunkCache.clear();
      return;
    }
    const first = Math.floor(location.offset / this.entityBytes);
    const writers = this.manifests.map((m) => m.writer);
    const current = writers.indexOf(location.writer);
    for (const key of [...this.chunkCache.keys()]) {
      const [writer = '', kind = '', chunk = ''] = key.split('|');
      if (kind !== 'pools') continue;
      const before =
        writers.indexOf(writer) < current || (writer === location.writer && Number(chunk) < first);
      if (before) this.chunkCache.delete(key);
    }
  }

  /** Every cluster result of the run (a few bytes each: a cluster without findings is its ID). */
  async clusters(): Promise<ClusterResult[]> {
    const out: ClusterResult[] = [];
    for (const manifest of this.manifests) {
      if (manifest.clusterChunks === 0) continue;
      const chunks = await Promise.all(
        Array.from({ length: manifest.clusterChunks }, (_, i) => this.chunk(manifest.writer, 'clusters', i)),
      );
      for (const cluster of (await this.parseFrames(Buffer.concat(chunks))) as ClusterResult[])
        out.push(cluster);
    }
    return out.sort((a, b) => a.id.toLowerCase().localeCompare(b.id.toLowerCase()));
  }

  private async streamBytes(
    writer: string,
    kind: 'pools' | 'clusters',
    offset: number,
    length: number,
  ): Promise<Buffer> {
    const first = Math.floor(offset / this.entityBytes);
    const last = Math.floor((offset + length - 1) / this.entityBytes);
    const chunks = await Promise.all(
      Array.from({ length: last - first + 1 }, (_, i) => this.chunk(writer, kind, first + i)),
    );
    const at = offset - first * this.entityBytes;
    return Buffer.concat(chunks).subarray(at, at + length);
  }

  private chunk(writer: string, kind: 'pools' | 'clusters', index: number): Promise<Buffer> {
    const key = `${writer}|${kind}|${index}`;
    let chunk = this.chunkCache.get(key);
    if (!chunk) {
      chunk = this.readChunk(writer, kind, index);
      // A failed read is not kept: the next request reads it again.
      chunk.catch(() => this.chunkCache.delete(key));
      this.chunkCache.set(key, chunk);
    }
    return chunk;
  }

  /** Values of consecutive frames: each a 4-byte length of the deflated bytes, a 4-byte inflated length, the bytes. */
  private async parseFrames(bytes: Buffer): Promise<unknown[]> {
    const values: unknown[] = [];
    for (let at = 0; at < bytes.length;) {
      const length = bytes.readUInt32BE(at);
      const rawLength = bytes.readUInt32BE(at + 4);
      const json = await inflate(bytes.subarray(at + 8, at + 8 + length), {
        chunkSize: Math.max(64, rawLength),
      });
      for (const value of JSON.parse(json.toString('utf8')) as unknown[]) values.push(value);
      at += 8 + length;
    }
    return values;
  }
}
