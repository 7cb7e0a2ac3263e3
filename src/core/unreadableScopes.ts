// What a failed or partial run could not read, as every surface lists it: the scope errors, without the summary.

import type { ScopeError } from './types';

/** The code of the summary error of a run whose every scope failed (completeRun): it names no scope of its own. */
export const NOTHING_READ = 'NothingRead';

/**
 * The errors that say what could not be read and why, in the run's order: every scope error, without the
 * NothingRead summary that follows them when no scope was read (kept when it is the only one).
 */
export function unreadableScopes(errors: readonly ScopeError[]): ScopeError[] {
  const scoped = errors.filter((e) => e.code !== NOTHING_READ);
  return scoped.length > 0 ? scoped : [...errors];
}
