// A shard read nothing when every scope it audits has an error of its own, whatever Resource Graph paged.

import { everyScopeFailed } from '../../src/core/everyScopeFailed';

const A = '0b1f6471-1bf0-4dda-aec3-111122223333';
const B = '0b1f6471-1bf0-4dda-aec3-444455556666';
const error = (scope: string) => ({ scope, code: 'SCOPE_UNREADABLE', message: 'x' });

it.each<[string, { subscriptions: string[] | null; managementGroups: string[] | null }, string[], boolean]>([
  [
    'both subscriptions failed (any casing)',
    { subscriptions: [A, B], managementGroups: null },
    [`/subscriptions/${A.toUpperCase()}`, `/subscriptions/${B}`],
    true,
  ],
  [
    'one of two subscriptions failed',
    { subscriptions: [A, B], managementGroups: null },
    [`/subscriptions/${A}`],
    false,
  ],
  [
    'the only management group failed',
    { subscriptions: null, managementGroups: ['mg-prod'] },
    ['/providers/Microsoft.Management/managementGroups/mg-prod'],
    true,
  ],
  [
    'a subscription failed, the group did not',
    { subscriptions: [A], managementGroups: ['mg-prod'] },
    [`/subscriptions/${A}`],
    false,
  ],
  ['the tenant-wide read failed', { subscriptions: null, managementGroups: null }, ['/'], true],
  [
    'a cluster row failed in a tenant-wide read',
    { subscriptions: null, managementGroups: null },
    [`/subscriptions/${A}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks`],
    false,
  ],
  ['nothing failed', { subscriptions: [A], managementGroups: null }, [], false],
])('%s', (_what, scope, failed, expected) => {
  expect(everyScopeFailed(scope, failed.map(error))).toBe(expected);
});
