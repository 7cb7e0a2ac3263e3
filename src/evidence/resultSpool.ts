// Holds a sequence of JSON values deflated in memory, to be read back in order as often as needed.

import { promisify } from 'node:util';
import { constants, deflateRaw, inflateRaw } from 'node:zlib';

const deflate = promisify(deflateRaw);
const inflate = promisify(inflateRaw);
const SEGMENT_ITEMS = 500;

/**
 * Pool results are ~1 KB of repetitive JSON each and deflate to a fraction, so a 100,000-pool run spools into
 * some 10 MB instead of the few hundred MB its objects take: the bundle reads storage once and each of its
 * files iterates the spool, one segment of 500 values inflated at a time.
 */
export class ResultSpool<T> {
  private readonly segments: Promise<Buffer>[] = [];
  private pending: T[] = [];
  private total = 0;

  get count(): number {
    return this.total;
  }

  add(value: T): void {
    this.pending.push(value);
    this.total += 1;
    if (this.pending.length >= SEGMENT_ITEMS) this.flush();
  }

  /** Every value in the order added. */
  async *values(): AsyncGenerator<T> {
    this.flush();
    for (const segment of this.segments) {
      const items = JSON.parse((await inflate(await segment)).toString('utf8')) as T[];
      yield* items;
    }
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const segment = deflate(Buffer.from(JSON.stringify(this.pending), 'utf8'), {
      level: constants.Z_BEST_SPEED,
    });
    // Awaited when read; until then a failure must not surface as an unhandled rejection.
    segment.catch(() => undefined);
    this.segments.push(segment);
    this.pending = [];
  }
}
