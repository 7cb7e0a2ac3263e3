// One page of a run's pools, the ones that need attention first, reading only the frames of pools it must.

import type { PoolResult, PoolStatus } from './types';

/** The order of the report page: what needs attention first; within a status, the report's order (by ID). */
export const PAGE_STATUS_ORDER: readonly PoolStatus[] = ['noncompliant', 'unknown', 'exempt', 'compliant'];

/** A run's pools as consecutive frames in the report's order, each with its counts per status. */
export interface PoolFrames {
  readonly frames: readonly { pools: number; counts: Readonly<Record<PoolStatus, number>> }[];
  /** The pools of one frame, in the report's order. */
  pools(index: number): Promise<readonly PoolResult[]>;
}

export interface PageSelection {
  /** Only these statuses (all when absent). */
  statuses?: readonly PoolStatus[];
  /** Any other filter; absent when the statuses are the only one, so pages are counted without reading frames. */
  matches?: (pool: PoolResult) => boolean;
  offset: number;
  limit: number;
}

export interface PoolPage {
  pools: PoolResult[];
  /** Pools of the run that pass the filters. */
  matched: number;
  /** Frames read for this page: the measure of what paging saved. */
  framesRead: number;
}

/** Frames over pools already in memory (a report read whole), for the same paging. */
export function framesOf(pools: readonly PoolResult[], size = 1000): PoolFrames {
  const frames: { pools: number; counts: Record<PoolStatus, number> }[] = [];
  for (let at = 0; at < pools.length; at += size) {
    const counts: Record<PoolStatus, number> = { noncompliant: 0, unknown: 0, exempt: 0, compliant: 0 };
    for (const pool of pools.slice(at, at + size)) counts[pool.status] += 1;
    frames.push({ pools: Math.min(size, pools.length - at), counts });
  }
  return { frames, pools: (index) => Promise.resolve(pools.slice(index * size, (index + 1) * size)) };
}

/**
 * The page `[offset, offset + limit)` of the pools that pass the selection, ordered by PAGE_STATUS_ORDER and
 * then as the frames hold them. With statuses as the only filter the frames' counts place the page, and only
 * the frames holding it are read; any other filter reads every frame once, keeping at most offset + limit
 * pools of each status, so memory stays bounded by the page, never by the run.
 */
export async function pagePools(source: PoolFrames, selection: PageSelection): Promise<PoolPage> {
  const statuses = PAGE_STATUS_ORDER.filter((s) => !selection.statuses || selection.statuses.includes(s));
  const { offset, limit } = selection;
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`offset must be ≥ 0; got ${offset}`);
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be ≥ 1; got ${limit}`);
  const loaded = new Map<number, Promise<readonly PoolResult[]>>();
  const load = (index: number) => {
    let frame = loaded.get(index);
    if (!frame) loaded.set(index, (frame = source.pools(index)));
    return frame;
  };

  if (!selection.matches) {
    let matched = 0;
    for (const frame of source.frames) for (const s of statuses) matched += frame.counts[s];
    const pools: PoolResult[] = [];
    let skip = offset;
    for (const status of statuses) {
      for (let i = 0; i < source.frames.length && pools.length < limit; i++) {
        const inFrame = source.frames[i]!.counts[status];
        if (inFrame === 0) continue;
        if (skip >= inFrame) {
          skip -= inFrame;
          continue;
        }
        const ofStatus = (await load(i)).filter((p) => p.status === status);
        pools.push(...ofStatus.slice(skip, skip + limit - pools.length));
        skip = 0;
      }
      if (pools.length >= limit) break;
    }
    return { pools, matched, framesRead: loaded.size };
  }

  const keep = offset + limit;
  const kept = new Map<PoolStatus, PoolResult[]>(statuses.map((s) => [s, []]));
  let matched = 0;
  for (let i = 0; i < source.frames.length; i++) {
    const frame = source.frames[i]!;
    if (!statuses.some((s) => frame.counts[s] > 0)) continue;
    for (const pool of await load(i)) {
      const list = kept.get(pool.status);
      if (!list || !selection.matches(pool)) continue;
      matched += 1;
      if (list.length < keep) list.push(pool);
    }
    // Parsed frames are not kept: the next frame replaces this one.
    loaded.set(i, Promise.resolve([]));
  }
  const ordered = statuses.flatMap((s) => kept.get(s) ?? []);
  return { pools: ordered.slice(offset, offset + limit), matched, framesRead: loaded.size };
}

/** The statuses a selection keeps, and whether a status is one of them. */
function keepsStatus(selection: Pick<PageSelection, 'statuses'>): (status: PoolStatus) => boolean {
  return (status) => !selection.statuses || selection.statuses.includes(status);
}

/** Pools of one frame's counts that a status selection keeps. */
function keptInFrame(frame: PoolFrames['frames'][number], keeps: (status: PoolStatus) => boolean): number {
  let count = 0;
  for (const status of PAGE_STATUS_ORDER) if (keeps(status)) count += frame.counts[status];
  return count;
}

/**
 * The slice `[offset, offset + limit)` of the pools that pass the selection, in the frames' own order (the
 * report's, by ID), and how many pass in all: the JSON report's page. With statuses as the only filter the
 * frames' counts place the slice and only the frames holding it are read; any other filter reads every frame
 * once, keeping at most `limit` pools.
 */
export async function slicePools(source: PoolFrames, selection: PageSelection): Promise<PoolPage> {
  const { offset, limit } = selection;
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`offset must be ≥ 0; got ${offset}`);
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be ≥ 1; got ${limit}`);
  const keeps = keepsStatus(selection);
  const pools: PoolResult[] = [];
  let matched = 0;
  let framesRead = 0;
  for (let i = 0; i < source.frames.length; i++) {
    const inFrame = keptInFrame(source.frames[i]!, keeps);
    if (inFrame === 0) continue;
    const needed = matched + inFrame > offset && pools.length < limit;
    if (!selection.matches && !needed) {
      matched += inFrame;
      continue;
    }
    framesRead += 1;
    for (const pool of await source.pools(i)) {
      if (!keeps(pool.status) || (selection.matches && !selection.matches(pool))) continue;
      if (matched >= offset && pools.length < limit) pools.push(pool);
      matched += 1;
    }
  }
  return { pools, matched, framesRead };
}

/**
 * The pools that pass the selection, in the frames' own order, a frame at a time: frames without a pool of a
 * kept status are not read, and a frame is let go before the next is read.
 */
export async function* selectedPools(
  source: PoolFrames & { retainFrom?(index: number): void },
  selection: Pick<PageSelection, 'statuses' | 'matches'> = {},
): AsyncIterableIterator<readonly PoolResult[]> {
  const keeps = keepsStatus(selection);
  const filtered = selection.statuses !== undefined || selection.matches !== undefined;
  for (let i = 0; i < source.frames.length; i++) {
    source.retainFrom?.(i);
    if (keptInFrame(source.frames[i]!, keeps) === 0) continue;
    const pools = await source.pools(i);
    yield filtered
      ? pools.filter((p) => keeps(p.status) && (!selection.matches || selection.matches(p)))
      : pools;
  }
}
