// Applies time-boxed exemptions to judged pools. Pure: the clock is passed in.

import type { Exemption, PoolResult } from './types';

/** An exemption counts from its creation until (not including) its expiry. */
export function isActive(exemption: Exemption, asOf: Date): boolean {
  const t = asOf.getTime();
  return Date.parse(exemption.createdAt) <= t && t < Date.parse(exemption.expiresOn);
}

function normalizedScope(scope: string): string {
  return scope.toLowerCase().replace(/\/+$/, '');
}

/** True when `scope` is the pool's ID or one of its parents (cluster, resource group, subscription). */
export function scopeCovers(scope: string, poolId: string): boolean {
  const s = normalizedScope(scope);
  const id = poolId.toLowerCase();
  return id === s || id.startsWith(`${s}/`);
}

/**
 * Makes a pool `exempt` when active exemptions cover every high finding it has. A code-limited
 * exemption covers only its codes. An `unknown` pool is only exempted by an exemption of that very
 * pool: a cluster-, resource-group- or subscription-wide waiver never hides a pool nobody could judge.
 * Compliant pools are left as they are. The findings stay listed, with the exemption attached.
 */
export function applyExemptions(pool: PoolResult, exemptions: readonly Exemption[], asOf: Date): PoolResult {
  if (pool.status === 'compliant' || pool.status === 'exempt') return pool;
  const candidates = exemptions
    .filter((e) => isActive(e, asOf) && scopeCovers(e.scope, pool.id))
    .filter((e) => pool.status !== 'unknown' || normalizedScope(e.scope) === pool.id.toLowerCase());
  if (candidates.length === 0) return pool;
  const blocking = pool.findings.filter((f) => f.severity === 'high' || f.undecided);
  // Only waivers that cover one of the pool's blocking findings count, and only they may be shown: a
  // pool-level waiver of NODE_IMAGE_OUTDATED must not be displayed as the reason FIPS_DISABLED is waived.
  const relevant = blocking.length
    ? candidates.filter((e) => e.codes === null || blocking.some((f) => e.codes!.includes(f.code)))
    : candidates;
  if (relevant.length === 0) return pool;
  const covered = blocking.every((f) => relevant.some((e) => e.codes === null || e.codes.includes(f.code)));
  if (!covered) return pool;
  // The most specific waiver is the one shown: longest scope (all cover this pool, so each is a prefix
  // of its ID), then the one that lasts longest.
  const shown = [...relevant].sort(
    (a, b) =>
      normalizedScope(b.scope).length - normalizedScope(a.scope).length ||
      Date.parse(b.expiresOn) - Date.parse(a.expiresOn),
  )[0]!;
  return { ...pool, status: 'exempt', exemption: shown };
}
