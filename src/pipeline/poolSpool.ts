// Holds a shard's judged pools on disk, deflated, in buckets of subscriptions, until the shard's end updates their states.

import type { FileHandle } from 'node:fs/promises';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { constants, deflateRaw, inflateRaw } from 'node:zlib';

import type { PoolResult } from '../core/types';

const deflate = promisify(deflateRaw);
const inflate = promisify(inflateRaw);
const SEGMENT_CHUNK_BYTES = 256 * 1024;

/** One judged pool and the scope it was read through; null for a pool not read in this run (reported unknown). */
export interface SpooledPool {
  pool: PoolResult;
  scope: string | null;
}

interface Segment {
  offset: number;
  length: number;
  rawLength: number;
}

interface Bucket {
  segments: Segment[];
  pools: number;
}

export interface PoolSpoolOptions {
  /** Where the spool file goes (the OS's temp folder by default: local disk on a Function App instance). */
  directory?: string;
}

/**
 * A run's judged pools must wait for its end (a failed run touches no pool state), but holding them would make
 * memory grow with the estate. They wait in a temporary file instead: each page is split by `bucketOf` (e.g. the
 * first two characters of the subscription ID), each part deflated (pool results are repetitive: ~10% of their
 * JSON) and appended; memory holds only where each bucket's segments are. The end reads the buckets back in key
 * order, grouped so that each group is a contiguous range of subscriptions of bounded size: the pool-state step
 * holds one group at a time, whatever the estate. Deflating and file I/O run on the libuv thread pool.
 */
export class PoolSpool {
  private readonly buckets = new Map<string, Bucket>();
  private file: Promise<{ handle: FileHandle; folder: string }> | undefined;
  private size = 0;
  private count = 0;
  private closed = false;

  constructor(
    private readonly bucketOf: (pool: PoolResult) => string,
    private readonly options: PoolSpoolOptions = {},
  ) {}

  /** Pools added so far. */
  get pools(): number {
    return this.count;
  }

  /** Bytes on disk so far. */
  get bytes(): number {
    return this.size;
  }

  /** Adds one page; resolves once it is on disk, and the caller may drop its own references to the pools at once. */
  async add(page: readonly SpooledPool[]): Promise<void> {
    if (this.closed) throw new Error('The pool spool is closed');
    const split = new Map<string, [string | null, PoolResult][]>();
    for (const { pool, scope } of page) {
      const bucket = this.bucketOf(pool);
      let list = split.get(bucket);
      if (!list) split.set(bucket, (list = []));
      list.push([scope, pool]);
    }
    const parts = await Promise.all(
      [...split].map(async ([bucket, entries]) => {
        const json = Buffer.from(JSON.stringify(entries), 'utf8');
        const deflated = await deflate(json, {
          level: constants.Z_BEST_SPEED,
          chunkSize: SEGMENT_CHUNK_BYTES,
        });
        return { bucket, entries: entries.length, deflated, rawLength: json.length };
      }),
    );
    const { handle } = await this.openFile();
    for (const { bucket, entries, deflated, rawLength } of parts) {
      const offset = this.size;
      this.size += deflated.length;
      // Positional writes: each segment's place is reserved before the write, so no two overlap.
      await handle.write(deflated, 0, deflated.length, offset);
      let entry = this.buckets.get(bucket);
      if (!entry) this.buckets.set(bucket, (entry = { segments: [], pools: 0 }));
      entry.segments.push({ offset, length: deflated.length, rawLength });
      entry.pools += entries;
      this.count += entries;
    }
  }

  /**
   * The pools, bucket by bucket in key order, in groups of whole buckets holding at most `maxPools` pools (a
   * bucket larger than that is a group of its own). One group is in memory at a time.
   */
  async *readGroups(maxPools: number): AsyncIterableIterator<SpooledPool[]> {
    let group: string[] = [];
    let pools = 0;
    const keys = [...this.buckets.keys()].sort();
    for (const key of keys) {
      const bucket = this.buckets.get(key) as Bucket;
      if (group.length > 0 && pools + bucket.pools > maxPools) {
        yield await this.readBuckets(group);
        group = [];
        pools = 0;
      }
      group.push(key);
      pools += bucket.pools;
    }
    if (group.length > 0) yield await this.readBuckets(group);
  }

  /** Removes the file; safe to call more than once. */
  async close(): Promise<void> {
    this.closed = true;
    const file = this.file;
    this.file = undefined;
    if (!file) return;
    const { handle, folder } = await file;
    await handle.close().catch(() => undefined);
    await rm(folder, { recursive: true, force: true });
  }

  private async readBuckets(keys: readonly string[]): Promise<SpooledPool[]> {
    const pools: SpooledPool[] = [];
    if (!this.file) return pools;
    const { handle } = await this.file;
    for (const key of keys) {
      for (const segment of this.buckets.get(key)?.segments ?? []) {
        const deflated = Buffer.alloc(segment.length);
        await handle.read(deflated, 0, segment.length, segment.offset);
        const json = await inflate(deflated, { chunkSize: Math.max(64, segment.rawLength) });
        const entries = JSON.parse(json.toString('utf8')) as [string | null, PoolResult][];
        for (const [scope, pool] of entries) pools.push({ pool, scope });
      }
    }
    return pools;
  }

  private openFile(): Promise<{ handle: FileHandle; folder: string }> {
    this.file ??= (async () => {
      const folder = await mkdtemp(join(this.options.directory ?? tmpdir(), 'aks-fips-spool-'));
      const handle = await open(join(folder, 'pools.spool'), 'w+', 0o600);
      return { handle, folder };
    })();
    return this.file;
  }
}
