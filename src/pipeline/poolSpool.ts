// Holds a run's judged pools deflated in memory, in buckets, until the run's end updates their states.

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

/**
 * Pool results are ~1 KB of JSON each and repetitive (finding messages, remediations), so they deflate
 * to a fraction: 100,000 pools take a few tens of MB instead of a few hundred. Pools are kept in buckets
 * (by `bucketOf`, e.g. the first character of the subscription ID) so the end of the run can take one
 * bucket at a time: a slice of the estate in memory, and storage reads that cover key ranges. Pages are
 * compressed on the libuv thread pool, so the audit keeps reading while they are.
 */
export class PoolSpool {
  private readonly buckets = new Map<string, Promise<Buffer>[]>();
  private count = 0;

  constructor(private readonly bucketOf: (pool: PoolResult) => string) {}

  get pools(): number {
    return this.count;
  }

  /** Adds one page; the caller may drop its own references to the pools at once. */
  add(page: readonly SpooledPool[]): void {
    const split = new Map<string, [string | null, PoolResult][]>();
    for (const { pool, scope } of page) {
      const bucket = this.bucketOf(pool);
      const list = split.get(bucket) ?? [];
      list.push([scope, pool]);
      split.set(bucket, list);
    }
    for (const [bucket, entries] of split) {
      const segments = this.buckets.get(bucket) ?? [];
      const segment = deflate(JSON.stringify(entries), {
        level: constants.Z_BEST_SPEED,
        // Fewer, larger output chunks: each chunk is a round trip to the main thread.
        chunkSize: SEGMENT_CHUNK_BYTES,
      });
      // Awaited when read; until then a failure must not surface as an unhandled rejection.
      segment.catch(() => undefined);
      segments.push(segment);
      this.buckets.set(bucket, segments);
      this.count += entries.length;
    }
  }

  /** Every bucket's pools, buckets in key order, one bucket inflated at a time. */
  async *readBuckets(): AsyncIterableIterator<SpooledPool[]> {
    for (const bucket of [...this.buckets.keys()].sort()) {
      const pools: SpooledPool[] = [];
      for (const segment of this.buckets.get(bucket) ?? []) {
        const entries = JSON.parse(
          (await inflate(await segment, { chunkSize: SEGMENT_CHUNK_BYTES })).toString('utf8'),
        ) as [string | null, PoolResult][];
        for (const [scope, pool] of entries) pools.push({ pool, scope });
      }
      yield pools;
    }
  }
}
