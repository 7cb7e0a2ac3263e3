// Whether two runs audited the same scopes, so one may be compared with the other.

export interface AuditScope {
  subscriptions: readonly string[] | null;
  managementGroups: readonly string[] | null;
}

/** The same subscriptions and management groups, in any order and casing (null: every one the identity reads). */
export function sameScope(a: AuditScope, b: AuditScope): boolean {
  const norm = (values: readonly string[] | null) =>
    values
      ? [...values]
          .map((v) => v.toLowerCase())
          .sort()
          .join(',')
      : null;
  return (
    norm(a.subscriptions) === norm(b.subscriptions) && norm(a.managementGroups) === norm(b.managementGroups)
  );
}
