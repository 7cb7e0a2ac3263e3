// Bounds the pages of one shard that are read but not yet stored: the audit's backpressure, with counters to prove it.

/** What the window holds, live: a test or the benchmark reads it during the run. */
export interface PageWindowStats {
  /** Pages allowed between being read and being stored. */
  limit: number;
  /** Pages read and not yet stored, now. */
  inFlight: number;
  /** The most pages ever in flight at once: never above `limit`. */
  highWater: number;
  /** Pools of the pages in flight, now, and the most ever. */
  poolsInFlight: number;
  poolsHighWater: number;
  pagesRead: number;
  pagesStored: number;
  /** Times the reader waited for storage before asking for the next page. */
  waits: number;
}

export function pageWindowStats(limit: number): PageWindowStats {
  return {
    limit,
    inFlight: 0,
    highWater: 0,
    poolsInFlight: 0,
    poolsHighWater: 0,
    pagesRead: 0,
    pagesStored: 0,
    waits: 0,
  };
}

/**
 * Pages enter when read and leave when stored. The reader asks for the next page only after `ready()`, which
 * waits while `limit` pages are in flight: Resource Graph is paged by its continuation token, so a reader that does
 * not ask reads nothing, and memory holds at most `limit` pages however slow storage is.
 */
export class PageWindow {
  private waiting: (() => void)[] = [];

  constructor(readonly stats: PageWindowStats) {
    if (!Number.isInteger(stats.limit) || stats.limit < 1)
      throw new RangeError(`A page window needs a limit of at least 1; got ${stats.limit}`);
  }

  /** A page was read; returns what to call once it is stored (or its storing failed). */
  enter(pools: number): () => void {
    const s = this.stats;
    if (s.inFlight >= s.limit) throw new Error('A page entered a full window: call ready() before reading');
    s.inFlight += 1;
    s.pagesRead += 1;
    s.poolsInFlight += pools;
    s.highWater = Math.max(s.highWater, s.inFlight);
    s.poolsHighWater = Math.max(s.poolsHighWater, s.poolsInFlight);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      s.inFlight -= 1;
      s.poolsInFlight -= pools;
      s.pagesStored += 1;
      const next = this.waiting.shift();
      next?.();
    };
  }

  /** Resolves when another page may be read. */
  ready(): Promise<void> {
    if (this.stats.inFlight < this.stats.limit) return Promise.resolve();
    this.stats.waits += 1;
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}
