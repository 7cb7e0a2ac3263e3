// What changed between a run and the previous good run: new, resolved, still noncompliant, unknown, exemptions.

import { isCompleted } from './run';
import type { Exemption, PoolResult, Report, RunStatus, ScopeError, Summary } from './types';

/** Exemptions that expire within this many days of the run are listed as expiring. */
export const EXPIRING_WITHIN_DAYS = 14;
const DAY_IN_MS = 86_400_000;

/** A pool that was noncompliant in the previous good run and is not now. */
export interface ResolvedPool {
  /** The pool as the previous run saw it (noncompliant, with the findings that are gone). */
  previous: PoolResult;
  /** The pool now; null when it no longer exists (only ever in a run that read every scope). */
  current: PoolResult | null;
  how: 'compliant' | 'exempt' | 'removed';
}

export interface StillNoncompliant {
  pool: PoolResult;
  /** When the pool became noncompliant (its pool state); null when no state says. */
  noncompliantSince: string | null;
}

export interface UnreadableScope extends ScopeError {
  /** Pools of this scope that this run reports unknown because it could not read them. */
  pools: number;
  /** Readable in the previous good run (or there was none). */
  isNew: boolean;
}

export interface ExemptionNotice {
  pool: PoolResult;
  exemption: Exemption;
}

export interface RunDiff {
  runId: string;
  runStatus: RunStatus;
  /** The previous good run compared against; null for the first run. */
  previousRunId: string | null;
  previousSummary: Summary | null;
  newNoncompliant: PoolResult[];
  resolved: ResolvedPool[];
  stillNoncompliant: StillNoncompliant[];
  /** Unknown now, and not unknown (or absent) in the previous run. */
  newlyUnknown: PoolResult[];
  /** Unknown now and in the previous run too. */
  stillUnknown: PoolResult[];
  unreadableScopes: UnreadableScope[];
  /** Exempt pools whose exemption ends within EXPIRING_WITHIN_DAYS of the run's start. */
  expiringExemptions: ExemptionNotice[];
  /** Exempt in the previous run and no longer (expired or withdrawn) while the pool still fails; the old exemption. */
  lapsedExemptions: ExemptionNotice[];
}

export interface DiffOptions {
  /** Lowercased pool ID → when it became noncompliant, from the pool states. */
  noncompliantSince?: ReadonlyMap<string, string>;
  expiringWithinDays?: number;
}

export function isUnreadable(pool: PoolResult): boolean {
  return pool.status === 'unknown' && pool.findings.some((f) => f.code === 'SCOPE_UNREADABLE');
}

const byId = (a: { id: string }, b: { id: string }) => a.id.toLowerCase().localeCompare(b.id.toLowerCase());

export function scopeContains(scope: string, poolId: string): boolean {
  const s = scope.toLowerCase().replace(/\/+$/, '');
  return s === '' || poolId.toLowerCase() === s || poolId.toLowerCase().startsWith(`${s}/`);
}

/**
 * The good run to compare with: the newest `succeeded` or `partial` run started before `current`, never a
 * `failed` or `running` one. `sameScope` narrows to runs that audited the same scopes, so an on-demand audit of
 * one subscription does not make every other pool look resolved.
 */
export function previousGoodRun<T extends { id: string; status: RunStatus; startedAt: string }>(
  runs: readonly T[],
  current: { id: string; startedAt: string },
  sameScope: (run: T) => boolean = () => true,
): T | undefined {
  const before = Date.parse(current.startedAt);
  return runs
    .filter(
      (r) =>
        r.id !== current.id &&
        isCompleted(r.status) &&
        (Date.parse(r.startedAt) < before || (r.startedAt === current.startedAt && r.id < current.id)) &&
        sameScope(r),
    )
    .sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt) || b.id.localeCompare(a.id))[0];
}

/**
 * Compares `current` with the previous good run. Rules, each for a reason:
 * - a pool absent from a `partial` run may sit in a scope that could not be read, so it is never resolved; in a
 *   run that read everything, an absent pool was removed and counts as resolved;
 * - a pool unknown because its scope was unreadable is unknown, never resolved, whatever it was before;
 * - a pool unreadable in the previous run and noncompliant now is "still" noncompliant when its pool state says it
 *   became noncompliant before this run, else new.
 */
export function diffRuns(current: Report, previous: Report | null, options: DiffOptions = {}): RunDiff {
  const diff = emptyDiff(current, previous);
  const rules = diffRules(current.run.startedAt, options);
  const before = new Map((previous?.pools ?? []).map((p) => [p.id.toLowerCase(), p]));
  const seen = new Set<string>();

  for (const pool of current.pools) {
    const key = pool.id.toLowerCase();
    seen.add(key);
    const old = before.get(key);
    classifyPool(diff, pool, old, rules);
  }

  // Only a run that read every scope may say a pool is gone.
  if (previous && current.run.status === 'succeeded') {
    for (const [key, old] of before) {
      if (!seen.has(key) && old.status === 'noncompliant')
        diff.resolved.push({ previous: old, current: null, how: 'removed' });
    }
  }

  const previousScopes = new Set((previous?.errors ?? []).map((e) => e.scope.toLowerCase()));
  const unreadable = current.pools.filter(isUnreadable);
  diff.unreadableScopes = current.errors.map((error) => ({
    ...error,
    pools: unreadable.filter((p) => scopeContains(error.scope, p.id)).length,
    isNew: !previousScopes.has(error.scope.toLowerCase()),
  }));

  sortDiff(diff);
  return diff;
}

/** The diff of `current` against `previous` before any pool is compared; the previous run must be a good one. */
export function emptyDiff(
  current: Pick<Report, 'run'>,
  previous: Pick<Report, 'run' | 'summary'> | null,
): RunDiff {
  if (previous && !isCompleted(previous.run.status)) {
    throw new RangeError(
      `diffRuns compares with a good run (succeeded or partial); run ${previous.run.id} is ${previous.run.status}`,
    );
  }
  return {
    runId: current.run.id,
    runStatus: current.run.status,
    previousRunId: previous?.run.id ?? null,
    previousSummary: previous?.summary ?? null,
    newNoncompliant: [],
    resolved: [],
    stillNoncompliant: [],
    newlyUnknown: [],
    stillUnknown: [],
    unreadableScopes: [],
    expiringExemptions: [],
    lapsedExemptions: [],
  };
}

/** What a diff judges against: when a pool went noncompliant, the run's start, and the expiry horizon. */
export interface DiffRules {
  since: ReadonlyMap<string, string>;
  asOf: number;
  horizon: number;
}

export function diffRules(startedAt: string, options: DiffOptions = {}): DiffRules {
  const asOf = Date.parse(startedAt);
  return {
    since: options.noncompliantSince ?? new Map<string, string>(),
    asOf,
    horizon: asOf + (options.expiringWithinDays ?? EXPIRING_WITHIN_DAYS) * DAY_IN_MS,
  };
}

/**
 * Adds what one pool of this run says against its previous self (`old`, undefined when the previous run had no
 * such pool) to the diff's lists: the one place the change rules live, for the whole-report and the frame-wise diff.
 */
export function classifyPool(
  diff: RunDiff,
  pool: PoolResult,
  old: PoolResult | undefined,
  rules: DiffRules,
): void {
  const { since, asOf, horizon } = rules;
  const key = pool.id.toLowerCase();
  const wasNoncompliant = old?.status === 'noncompliant';
  switch (pool.status) {
    case 'noncompliant': {
      const sinceAt = since.get(key) ?? null;
      const continued =
        wasNoncompliant ||
        (old !== undefined && isUnreadable(old) && sinceAt !== null && Date.parse(sinceAt) < asOf);
      if (continued) diff.stillNoncompliant.push({ pool, noncompliantSince: sinceAt });
      else diff.newNoncompliant.push(pool);
      break;
    }
    case 'unknown':
      if (old?.status === 'unknown') diff.stillUnknown.push(pool);
      else diff.newlyUnknown.push(pool);
      break;
    case 'compliant':
    case 'exempt':
      if (wasNoncompliant) diff.resolved.push({ previous: old, current: pool, how: pool.status });
      break;
  }
  if (pool.status === 'exempt' && pool.exemption) {
    const ends = Date.parse(pool.exemption.expiresOn);
    if (ends >= asOf && ends <= horizon) diff.expiringExemptions.push({ pool, exemption: pool.exemption });
  }
  if (
    old?.status === 'exempt' &&
    old.exemption &&
    (pool.status === 'noncompliant' || (pool.status === 'unknown' && !isUnreadable(pool)))
  ) {
    diff.lapsedExemptions.push({ pool, exemption: old.exemption });
  }
}

/** Sorts the diff's lists as the digest shows them. */
export function sortDiff(diff: RunDiff): void {
  diff.newNoncompliant.sort(byId);
  diff.resolved.sort((a, b) => byId(a.previous, b.previous));
  // Longest-standing first: those are the ones to escalate.
  diff.stillNoncompliant.sort(
    (a, b) =>
      (a.noncompliantSince ?? '\uffff').localeCompare(b.noncompliantSince ?? '\uffff') ||
      byId(a.pool, b.pool),
  );
  diff.newlyUnknown.sort(byId);
  diff.stillUnknown.sort(byId);
  diff.expiringExemptions.sort(
    (a, b) => a.exemption.expiresOn.localeCompare(b.exemption.expiresOn) || byId(a.pool, b.pool),
  );
  diff.lapsedExemptions.sort((a, b) => byId(a.pool, b.pool));
}

/** True when the diff holds anything a person should hear about under EMAIL_MODE=changes. */
export function hasChanges(diff: RunDiff): boolean {
  return (
    diff.previousRunId === null ||
    diff.newNoncompliant.length > 0 ||
    diff.resolved.length > 0 ||
    diff.newlyUnknown.length > 0 ||
    diff.unreadableScopes.some((s) => s.isNew) ||
    diff.expiringExemptions.length > 0 ||
    diff.lapsedExemptions.length > 0
  );
}
