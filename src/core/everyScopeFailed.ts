// Whether a shard read nothing: every scope it was asked to audit failed, and no cluster came back.

import type { AuditScope } from './sameScope';
import type { ScopeError } from './types';

/** The ARM scope of each audited subscription and management group, lowercased; `/` for the whole tenant. */
function scopesOf(scope: AuditScope): string[] {
  const scopes = [
    ...(scope.subscriptions ?? []).map((id) => `/subscriptions/${id}`),
    ...(scope.managementGroups ?? []).map((id) => `/providers/Microsoft.Management/managementGroups/${id}`),
  ];
  return (scopes.length ? scopes : ['/']).map((s) => s.toLowerCase());
}

/**
 * Every audited scope has an error of its own. Resource Graph answers a query over scopes the identity may not read
 * with an empty page, not an error, so a page read is no proof that anything was: a shard whose every scope failed
 * and that saw no cluster read nothing, and a run of such shards has failed, not passed as partial.
 */
export function everyScopeFailed(scope: AuditScope, errors: readonly ScopeError[]): boolean {
  const failed = new Set(errors.map((e) => e.scope.toLowerCase()));
  return scopesOf(scope).every((s) => failed.has(s));
}
