// Writes a finding's clauses as an Azure Policy condition over one pool's aliases.
//
// Every comparison is guarded by `exists`. The docs say how `exists` and comparisons behave on a property that
// is set, but not whether `equals` on a member property that is missing (inside `count … where`) is false or
// vacuously true (a `[*]` field condition means "all selected values", and a missing property selects none).
// With the guard the condition means the same under either reading; test/unit/policyEvaluation.test.ts runs
// the definitions under both. `exists` inside `where` is how the built-in AKS definitions test a member property.

import type { PolicyClause, TimeWindow } from './fipsPolicyClauses';
import type { PoolAliases } from './policyAliases';
import type { PolicyCondition } from './policyTypes';

const exists = (field: string): PolicyCondition => ({ field, exists: 'true' });
const missing = (field: string): PolicyCondition => ({ field, exists: 'false' });

function allOf(conditions: PolicyCondition[]): PolicyCondition {
  return conditions.length === 1 ? conditions[0]! : { allOf: conditions };
}

function anyOf(conditions: PolicyCondition[]): PolicyCondition {
  return conditions.length === 1 ? conditions[0]! : { anyOf: conditions };
}

/** enableFIPS is missing or anything but true (`false`, or an unexpected value): FIPS is off. */
export function fipsOffCondition(aliases: PoolAliases): PolicyCondition {
  const field = aliases.enableFips.alias;
  return anyOf([missing(field), allOf([exists(field), { field, notEquals: 'true' }])]);
}

function osSkuMissing(aliases: PoolAliases): PolicyCondition {
  const field = aliases.osSku.alias;
  return anyOf([missing(field), allOf([exists(field), { field, equals: '' }])]);
}

function osTypeIs(aliases: PoolAliases, osType: 'Linux' | 'Windows'): PolicyCondition {
  const field = aliases.osType.alias;
  // AKS reads a missing osType as Linux, and so does the audit (any value but Windows is Linux).
  return osType === 'Windows'
    ? allOf([exists(field), { field, equals: 'Windows' }])
    : anyOf([missing(field), allOf([exists(field), { field, notEquals: 'Windows' }])]);
}

/** The policy's clock: utcNow() compared with a day, which reads the same as a date or as a string. */
export function windowConditions(window: TimeWindow): PolicyCondition[] {
  return [
    ...(window.from ? [{ value: '[utcNow()]', greaterOrEquals: window.from }] : []),
    ...(window.before ? [{ value: '[utcNow()]', less: window.before }] : []),
  ];
}

function clauseCondition(clause: PolicyClause, aliases: PoolAliases): PolicyCondition {
  const field = aliases.osSku.alias;
  const { selector } = clause;
  const selects: PolicyCondition[] =
    selector.kind === 'osSku'
      ? [exists(field), { field, in: selector.osSkus }]
      : selector.kind === 'noOsSku'
        ? [osSkuMissing(aliases), osTypeIs(aliases, selector.osType)]
        : [exists(field), { field, notEquals: '' }, { field, notIn: selector.knownOsSkus }];
  return allOf([
    ...selects,
    ...windowConditions(clause.window),
    ...(clause.fipsOff ? [fipsOffCondition(aliases)] : []),
  ]);
}

/** True for a pool any clause flags. Comparisons of strings are case-insensitive in Azure Policy, as in the audit. */
export function poolCondition(clauses: readonly PolicyClause[], aliases: PoolAliases): PolicyCondition {
  if (clauses.length === 0) throw new RangeError('poolCondition needs at least one clause');
  return anyOf(clauses.map((clause) => clauseCondition(clause, aliases)));
}
