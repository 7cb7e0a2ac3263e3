// diffRuns and shouldSendDigest: what changed since the previous good run, and whether that is worth an email.

import { compliancePercent } from '../../src/core/compliancePercent';
import { diffRuns, hasChanges, previousGoodRun } from '../../src/core/diffRuns';
import { shouldSendDigest } from '../../src/core/shouldSendDigest';
import type { RunStatus } from '../../src/core/types';
import {
  CURRENT_RUN,
  FIPS_DISABLED,
  IDS,
  knownEstate,
  pool,
  PREVIOUS_RUN,
  report,
  SUB_A,
  SUB_B,
  unreadable,
} from '../support/digestFixture';

const ids = (pools: { id: string }[]) => pools.map((p) => p.id);

describe('diffRuns on the known estate', () => {
  const { previous, current, noncompliantSince } = knownEstate();
  const diff = diffRuns(current, previous, { noncompliantSince });

  it.each<[string, () => unknown, unknown]>([
    [
      'new noncompliant pools, including one whose exemption lapsed',
      () => ids(diff.newNoncompliant),
      [IDS.lapsed, IDS.newlyBad].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())),
    ],
    [
      'resolved pools, fixed and removed',
      () => diff.resolved.map((r) => [r.previous.id, r.how]),
      [
        [IDS.removed, 'removed'],
        [IDS.resolved, 'compliant'],
      ].sort((a, b) => a[0]!.toLowerCase().localeCompare(b[0]!.toLowerCase())),
    ],
    [
      'still noncompliant pools with their noncompliant-since',
      () => diff.stillNoncompliant.map((s) => [s.pool.id, s.noncompliantSince]),
      [[IDS.still, '2026-11-02T06:00:00.000Z']],
    ],
    ['newly unknown pools', () => ids(diff.newlyUnknown), [IDS.unknown]],
    [
      'exemptions expiring within 14 days',
      () => diff.expiringExemptions.map((e) => [e.pool.id, e.exemption.expiresOn]),
      [[IDS.expiring, '2026-12-04T00:00:00.000Z']],
    ],
    [
      'lapsed exemptions with the exemption that ended',
      () => diff.lapsedExemptions.map((e) => [e.pool.id, e.exemption.id]),
      [[IDS.lapsed, 'ex-lapsed']],
    ],
    ['the previous run', () => [diff.previousRunId, diff.previousSummary?.noncompliant], [PREVIOUS_RUN, 3]],
  ])('finds %s', (_title, actual, expected) => {
    expect(actual()).toEqual(expected);
  });

  it('finds changes, so EMAIL_MODE=changes sends', () => {
    expect(hasChanges(diff)).toBe(true);
  });
});

describe('diffRuns in a partial run', () => {
  const scope = `/subscriptions/${SUB_B}`;
  const previous = report(PREVIOUS_RUN, '2026-11-28T06:00:00.000Z', [
    pool(SUB_A, 'rg', 'aks', 'a', 'compliant'),
    pool(SUB_B, 'rg', 'aks', 'b', 'noncompliant', [FIPS_DISABLED]),
    pool(SUB_B, 'rg', 'aks', 'gone-or-unread', 'noncompliant', [FIPS_DISABLED]),
    pool(SUB_B, 'rg', 'aks', 'c', 'compliant'),
  ]);
  const current = report(
    CURRENT_RUN,
    '2026-11-29T06:00:00.000Z',
    [
      pool(SUB_A, 'rg', 'aks', 'a', 'compliant'),
      pool(SUB_B, 'rg', 'aks', 'b', 'unknown', [unreadable(scope, 'noncompliant')]),
      pool(SUB_B, 'rg', 'aks', 'c', 'unknown', [unreadable(scope, 'compliant')]),
    ],
    'partial',
    [
      {
        scope,
        code: 'AuthorizationFailed',
        message: 'The client does not have authorization to read the scope.',
      },
    ],
  );
  const diff = diffRuns(current, previous);

  it('never reports pools of an unreadable scope, or pools it did not see, as resolved', () => {
    expect(diff.resolved).toEqual([]);
  });

  it('reports them unknown, and the scope as newly unreadable with its pool count', () => {
    expect(ids(diff.newlyUnknown)).toEqual([
      pool(SUB_B, 'rg', 'aks', 'b', 'unknown').id,
      pool(SUB_B, 'rg', 'aks', 'c', 'unknown').id,
    ]);
    expect(diff.unreadableScopes).toEqual([expect.objectContaining({ scope, pools: 2, isNew: true })]);
    expect(hasChanges(diff)).toBe(true);
  });

  it('counts a pool that was unreadable before as still noncompliant when its state says so', () => {
    const after = report('20261130T060000Z-cccccc', '2026-11-30T06:00:00.000Z', [
      pool(SUB_A, 'rg', 'aks', 'a', 'compliant'),
      pool(SUB_B, 'rg', 'aks', 'b', 'noncompliant', [FIPS_DISABLED]),
      pool(SUB_B, 'rg', 'aks', 'c', 'noncompliant', [FIPS_DISABLED]),
    ]);
    const since = new Map([
      [pool(SUB_B, 'rg', 'aks', 'b', 'unknown').id.toLowerCase(), '2026-11-20T06:00:00.000Z'],
    ]);
    const next = diffRuns(after, current, { noncompliantSince: since });
    expect(next.stillNoncompliant.map((s) => s.pool.pool)).toEqual(['b']);
    expect(next.newNoncompliant.map((p) => p.pool)).toEqual(['c']);
    expect(next.resolved).toEqual([]);
  });
});

describe('diffRuns edge cases', () => {
  it('treats every finding of the first run as new', () => {
    const { current } = knownEstate();
    const diff = diffRuns(current, null);
    expect(diff.previousRunId).toBeNull();
    expect(diff.newNoncompliant).toHaveLength(current.summary.noncompliant);
    expect(diff.resolved).toEqual([]);
    expect(hasChanges(diff)).toBe(true);
  });

  it('compares pool IDs case-insensitively, as ARM does', () => {
    const before = report(PREVIOUS_RUN, '2026-11-28T06:00:00.000Z', [
      pool(SUB_A, 'RG-Pay', 'AKS', 'np', 'noncompliant', [FIPS_DISABLED]),
    ]);
    const now = report(CURRENT_RUN, '2026-11-29T06:00:00.000Z', [
      pool(SUB_A, 'rg-pay', 'aks', 'np', 'noncompliant', [FIPS_DISABLED]),
    ]);
    const diff = diffRuns(now, before);
    expect(diff.newNoncompliant).toEqual([]);
    expect(diff.stillNoncompliant).toHaveLength(1);
    expect(hasChanges(diff)).toBe(false);
  });

  it('refuses to compare with a failed run', () => {
    const failed = {
      ...report(PREVIOUS_RUN, '2026-11-28T06:00:00.000Z', []),
      run: { ...report(PREVIOUS_RUN, '2026-11-28T06:00:00.000Z', []).run, status: 'failed' as const },
    };
    expect(() => diffRuns(knownEstate().current, failed)).toThrow(RangeError);
  });

  it.each<[string, { pools: number; compliant: number; exempt: number; unknown: number }, number | null]>([
    ['3 of 105 judged pools noncompliant', { pools: 110, compliant: 100, exempt: 2, unknown: 5 }, 97.1],
    [
      'one bad pool among 10,000 (never rounded up to 100)',
      { pools: 10_000, compliant: 9_999, exempt: 0, unknown: 0 },
      99.9,
    ],
    ['nothing judged', { pools: 4, compliant: 0, exempt: 0, unknown: 4 }, null],
  ])('computes the compliance percentage: %s', (_title, counts, expected) => {
    const summary = {
      subscriptions: 1,
      clusters: 1,
      noncompliant: counts.pools - counts.compliant - counts.exempt - counts.unknown,
      ...counts,
    };
    expect(compliancePercent(summary)).toBe(expected);
  });
});

describe('previousGoodRun', () => {
  const run = (id: string, status: RunStatus, startedAt: string, scope = 'all') => ({
    id,
    status,
    startedAt,
    scope,
  });
  const runs = [
    run('20261129T060000Z-000001', 'running', '2026-11-29T06:00:00.000Z'),
    run('20261128T060000Z-000002', 'failed', '2026-11-28T06:00:00.000Z'),
    run('20261127T120000Z-000003', 'succeeded', '2026-11-27T12:00:00.000Z', 'one subscription'),
    run('20261127T060000Z-000004', 'partial', '2026-11-27T06:00:00.000Z'),
    run('20261126T060000Z-000005', 'succeeded', '2026-11-26T06:00:00.000Z'),
  ];
  const current = run('20261129T070000Z-000006', 'succeeded', '2026-11-29T07:00:00.000Z');

  it('skips running and failed runs and runs of another scope', () => {
    expect(previousGoodRun(runs, current, (r) => r.scope === 'all')?.id).toBe('20261127T060000Z-000004');
  });

  it('never picks the run itself or a later one', () => {
    expect(previousGoodRun(runs, runs[4]!)).toBeUndefined();
  });
});

describe('shouldSendDigest', () => {
  const { previous, current } = knownEstate();
  const changed = diffRuns(current, previous);
  // The same pools twice, none of them exempt (an exemption near its end is news on its own).
  const steady = current.pools.filter((p) => p.status !== 'exempt');
  const unchanged = diffRuns(
    report(CURRENT_RUN, current.run.startedAt, steady),
    report(PREVIOUS_RUN, previous.run.startedAt, steady),
  );

  it.each<[string, Parameters<typeof shouldSendDigest>[1], 'changed' | 'unchanged', boolean]>([
    [
      'always: every scheduled run',
      { mode: 'always', trigger: 'timer', requested: false, undeliveredEarlier: 0 },
      'unchanged',
      true,
    ],
    [
      'changes: a run with news',
      { mode: 'changes', trigger: 'timer', requested: false, undeliveredEarlier: 0 },
      'changed',
      true,
    ],
    [
      'changes: a run without news',
      { mode: 'changes', trigger: 'timer', requested: false, undeliveredEarlier: 0 },
      'unchanged',
      false,
    ],
    [
      'changes: no news, but an earlier digest failed',
      { mode: 'changes', trigger: 'timer', requested: false, undeliveredEarlier: 1 },
      'unchanged',
      true,
    ],
    [
      'off: never for the schedule',
      { mode: 'off', trigger: 'timer', requested: false, undeliveredEarlier: 0 },
      'changed',
      false,
    ],
    [
      'off: but when asked',
      { mode: 'off', trigger: 'http', requested: true, undeliveredEarlier: 0 },
      'changed',
      true,
    ],
    [
      'an on-demand audit nobody asked to mail',
      { mode: 'always', trigger: 'http', requested: false, undeliveredEarlier: 0 },
      'changed',
      false,
    ],
    [
      'a CLI audit follows the mode like the timer',
      { mode: 'changes', trigger: 'cli', requested: false, undeliveredEarlier: 0 },
      'changed',
      true,
    ],
  ])('%s', (_title, context, which, send) => {
    expect(shouldSendDigest(which === 'changed' ? changed : unchanged, context).send).toBe(send);
  });
});
