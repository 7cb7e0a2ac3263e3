// diffRuns as a merge-join over two runs' frames in the report's order: memory holds a frame and the changes, not a run.

import {
  classifyPool,
  type DiffOptions,
  diffRules,
  emptyDiff,
  isUnreadable,
  type ResolvedPool,
  type RunDiff,
  scopeContains,
  sortDiff,
} from './diffRuns';
import { type PoolFrames, selectedPools } from './pagePools';
import type { PoolResult, Report } from './types';

/** A run's pools a frame at a time in the report's order (by ID ignoring case), with its head. */
export interface DiffFrameSource {
  head: Pick<Report, 'run' | 'summary' | 'errors'>;
  frames: PoolFrames & { retainFrom?(index: number): void };
}

/** The report's order, as the store sorts a report and checks a snapshot: lowercased IDs, localeCompare. */
const compareKeys = (a: string, b: string): number => a.localeCompare(b);

/**
 * Previous pools in the report's order, a group at a time: the pools whose keys compare equal (the same pool
 * under another casing, or keys the collation does not tell apart), by key, the last of a key winning, as a Map
 * of every pool by key would have it.
 */
class PreviousCursor {
  private readonly frames: AsyncIterator<readonly PoolResult[]>;
  private frame: readonly PoolResult[] = [];
  private at = 0;
  private done = false;
  private lastKey: string | null = null;

  constructor(source: DiffFrameSource['frames'] | null) {
    const empty: AsyncIterator<readonly PoolResult[]> = {
      next: () => Promise.resolve({ done: true, value: undefined }),
    };
    this.frames = source ? selectedPools(source) : empty;
  }

  /** The next group, or null after the last pool. */
  async nextGroup(): Promise<{ key: string; pools: Map<string, PoolResult> } | null> {
    const first = await this.peek();
    if (!first) return null;
    const key = first.id.toLowerCase();
    const pools = new Map<string, PoolResult>();
    let pool: PoolResult | undefined = first;
    while (pool && compareKeys(pool.id.toLowerCase(), key) === 0) {
      pools.set(pool.id.toLowerCase(), pool);
      this.at += 1;
      pool = await this.peek();
    }
    return { key, pools };
  }

  private async peek(): Promise<PoolResult | undefined> {
    while (this.at >= this.frame.length) {
      if (this.done) return undefined;
      const next = await this.frames.next();
      if (next.done) {
        this.done = true;
        this.frame = [];
        return undefined;
      }
      this.frame = next.value;
      this.at = 0;
    }
    const pool = this.frame[this.at] as PoolResult;
    const key = pool.id.toLowerCase();
    if (this.lastKey !== null && compareKeys(this.lastKey, key) > 0)
      throw new RangeError(`The previous run's pools are not in the report's order at ${pool.id}`);
    this.lastKey = key;
    return pool;
  }
}

/**
 * The same RunDiff as `diffRuns(current, previous, options)`, read a frame at a time from both runs, whose frames
 * must be in the report's order (a stored report's and a snapshot's are; out of order is a RangeError). Each
 * current pool meets the previous pools of its key as both cursors advance, so neither run is held whole: memory
 * holds a frame of each and the pools the diff lists. Lists are filled in the order diffRuns fills them and
 * sorted the same way, so even ties come out the same.
 */
export async function diffRunFrames(
  current: DiffFrameSource,
  previous: DiffFrameSource | null,
  options: DiffOptions = {},
): Promise<RunDiff> {
  const diff = emptyDiff(current.head, previous?.head ?? null);
  const rules = diffRules(current.head.run.startedAt, options);
  const errors = current.head.errors;
  const unreadableInScope = errors.map(() => 0);
  // Previous pools no current pool matched, in the previous run's order: removed, if this run read everything.
  const gone: ResolvedPool[] = [];
  const cursor = new PreviousCursor(previous?.frames ?? null);
  let group = await cursor.nextGroup();
  let matched = new Set<string>();
  const closeGroup = async () => {
    for (const [key, old] of group?.pools ?? []) {
      if (!matched.has(key) && old.status === 'noncompliant')
        gone.push({ previous: old, current: null, how: 'removed' });
    }
    group = await cursor.nextGroup();
    matched = new Set<string>();
  };

  let lastKey: string | null = null;
  for await (const frame of selectedPools(current.frames)) {
    for (const pool of frame) {
      const key = pool.id.toLowerCase();
      if (lastKey !== null && compareKeys(lastKey, key) > 0)
        throw new RangeError(`The run's pools are not in the report's order at ${pool.id}`);
      lastKey = key;
      while (group && compareKeys(group.key, key) < 0) await closeGroup();
      const old = group && compareKeys(group.key, key) === 0 ? group.pools.get(key) : undefined;
      if (old) matched.add(key);
      classify(pool, old);
    }
  }
  while (group) await closeGroup();

  function classify(pool: PoolResult, old: PoolResult | undefined): void {
    classifyPool(diff, pool, old, rules);
    if (isUnreadable(pool)) {
      errors.forEach((error, i) => {
        if (scopeContains(error.scope, pool.id)) unreadableInScope[i] = (unreadableInScope[i] ?? 0) + 1;
      });
    }
  }

  // Only a run that read every scope may say a pool is gone.
  if (previous && current.head.run.status === 'succeeded') diff.resolved.push(...gone);

  const previousScopes = new Set((previous?.head.errors ?? []).map((e) => e.scope.toLowerCase()));
  diff.unreadableScopes = errors.map((error, i) => ({
    ...error,
    pools: unreadableInScope[i] ?? 0,
    isNew: !previousScopes.has(error.scope.toLowerCase()),
  }));

  sortDiff(diff);
  return diff;
}
