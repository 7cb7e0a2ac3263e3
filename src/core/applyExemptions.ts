// Applies time-boxed exemptions to judged pools. Pure: the clock is passed in.

import type { Exemption, PoolResult } from './types';

/** An exemption counts from its creation until (not including) its expiry. */
export function isActive(exemption: Exemption, asOf: Date): boolean {
  const t = asOf.getTime();
  return Date.parse(exemption.createdAt) <= t && t < Date.parse(exemption.expiresOn);
}

/** True when `scope` is the pool's ID or one of its parents (cluster, resource group, subscription). */
export function scopeCovers(scope: string, poolId: string): boolean {
  const s = scope.toLowerCase().replace(/\/+$/, '');
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
    .filter((e) => pool.status !== 'unknown' || e.scope.toLowerCase().replace(/\/+$/, '') === pool.id.toLowerCase());
  if (candidates.length === 0) return pool;
  const blocking = pool.findings.filter((f) => f.severity === 'high' || f.undecided);
  const covered = blocking.every((f) => candidates.some((e) => e.codes === null || e.codes.includes(f.code)));
  if (!covered) return pool;
  // The most specific waiver is the one shown: longest scope, then the one that lasts longest.
  const shown = [...candidates].sort(
    (a, b) => b.scope.length - a.scope.length || Date.parse(b.expiresOn) - Date.parse(a.expiresOn),
  )[0]!;
  return { ...pool, status: 'exempt', exemption: shown };
}
