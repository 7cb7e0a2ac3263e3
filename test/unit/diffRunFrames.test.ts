// diffRunFrames: the digest's merge-join over two runs' frames gives exactly the RunDiff diffRuns gives.

import { diffRunFrames } from '../../src/core/diffRunFrames';
import { type DiffOptions, diffRuns } from '../../src/core/diffRuns';
import type { PoolResult, PoolStatus, Report, ScopeError } from '../../src/core/types';
import {
  CURRENT_RUN,
  exemption,
  FIPS_DISABLED,
  knownEstate,
  pool,
  PREVIOUS_RUN,
  report,
  SUB_A,
  SUB_B,
  unreadable,
} from '../support/digestFixture';
import { fixtureReport, framedFixture } from '../support/reportFixture';

/** The report's order, as the store gives a report and a snapshot: IDs lowercased, localeCompare. */
function sorted(r: Report): Report {
  return {
    ...r,
    pools: [...r.pools].sort((a, b) => a.id.toLowerCase().localeCompare(b.id.toLowerCase())),
  };
}

/** A small deterministic generator, so the mutated estates are the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const STATUSES: PoolStatus[] = ['compliant', 'noncompliant', 'exempt', 'unknown'];

/**
 * The fixture estate as the next run sees it: pools removed and added, statuses changed, IDs recased, exemptions
 * that lapse or run out within the horizon, a scope that could not be read.
 */
function nextRun(previous: Report, seed: number, runStatus: 'succeeded' | 'partial'): Report {
  const next = random(seed);
  const startedAt = '2026-11-30T06:00:00.000Z';
  const unreadableSub = previous.pools[0]!.subscriptionId;
  const scope = `/subscriptions/${unreadableSub}`;
  const pools: PoolResult[] = [];
  for (const old of previous.pools) {
    const roll = next();
    if (roll < 0.08) continue; // removed
    let p: PoolResult = { ...old };
    if (roll < 0.3) {
      const status = STATUSES[Math.floor(next() * STATUSES.length)]!;
      p = {
        ...p,
        status,
        findings: status === 'compliant' ? [] : [FIPS_DISABLED],
        exemption:
          status === 'exempt'
            ? exemption(p.id, next() < 0.5 ? '2026-12-05T00:00:00.000Z' : '2027-06-01T00:00:00.000Z')
            : null,
      };
    }
    if (runStatus === 'partial' && p.subscriptionId === unreadableSub && next() < 0.7) {
      p = { ...p, status: 'unknown', findings: [unreadable(scope, old.status)], exemption: null };
    }
    if (next() < 0.1) p = { ...p, id: next() < 0.5 ? p.id.toUpperCase() : p.id.toLowerCase() };
    pools.push(p);
  }
  for (let i = 0; i < 12; i++) {
    const status = STATUSES[i % STATUSES.length]!;
    pools.push(
      pool(
        SUB_A,
        `rg-new-${i}`,
        `aks-new-${i}`,
        `np${i}`,
        status,
        status === 'compliant' ? [] : [FIPS_DISABLED],
      ),
    );
  }
  const errors: ScopeError[] =
    runStatus === 'partial'
      ? [{ scope, code: 'AuthorizationFailed', message: 'No Reader on the scope.' }]
      : [];
  const r = report('20261130T060000Z-dddddd', startedAt, pools, runStatus, errors);
  return sorted(r);
}

/** The fixture estate with exemptions on some pools, some of which the next run lets lapse. */
function withExemptions(r: Report): Report {
  const next = random(7);
  return {
    ...r,
    pools: r.pools.map((p) =>
      next() < 0.15
        ? {
            ...p,
            status: 'exempt',
            findings: [FIPS_DISABLED],
            exemption: exemption(
              p.id,
              next() < 0.5 ? '2026-11-30T12:00:00.000Z' : '2026-12-20T00:00:00.000Z',
            ),
          }
        : p,
    ),
  };
}

/** Noncompliant-since of some pools, before and after the current run's start, some under other casings. */
function sinceOf(current: Report, seed: number): Map<string, string> {
  const next = random(seed);
  const since = new Map<string, string>();
  for (const p of current.pools) {
    if (p.status !== 'noncompliant' || next() < 0.2) continue;
    since.set(p.id.toLowerCase(), next() < 0.8 ? '2026-11-10T06:00:00.000Z' : current.run.startedAt);
  }
  return since;
}

interface DiffCase {
  current: Report;
  previous: Report | null;
  options?: DiffOptions;
}

function cases(): [string, DiffCase][] {
  const known = knownEstate();
  const partialScope = `/subscriptions/${SUB_B}`;
  const partialPrevious = report(PREVIOUS_RUN, '2026-11-28T06:00:00.000Z', [
    pool(SUB_A, 'rg', 'aks', 'a', 'compliant'),
    pool(SUB_B, 'rg', 'aks', 'b', 'noncompliant', [FIPS_DISABLED]),
    pool(SUB_B, 'rg', 'aks', 'gone-or-unread', 'noncompliant', [FIPS_DISABLED]),
    pool(SUB_B, 'rg', 'aks', 'c', 'compliant'),
  ]);
  const partialCurrent = report(
    CURRENT_RUN,
    '2026-11-29T06:00:00.000Z',
    [
      pool(SUB_A, 'rg', 'aks', 'a', 'compliant'),
      pool(SUB_B, 'rg', 'aks', 'b', 'unknown', [unreadable(partialScope, 'noncompliant')]),
      pool(SUB_B, 'rg', 'aks', 'c', 'unknown', [unreadable(partialScope, 'compliant')]),
    ],
    'partial',
    [{ scope: partialScope, code: 'AuthorizationFailed', message: 'No Reader on the scope.' }],
  );
  const afterPartial = report('20261130T060000Z-cccccc', '2026-11-30T06:00:00.000Z', [
    pool(SUB_A, 'rg', 'aks', 'a', 'compliant'),
    pool(SUB_B, 'rg', 'aks', 'b', 'noncompliant', [FIPS_DISABLED]),
    pool(SUB_B, 'rg', 'aks', 'c', 'noncompliant', [FIPS_DISABLED]),
  ]);
  const base = withExemptions(fixtureReport({ pools: 240 }));
  const other = fixtureReport({ seed: 12, pools: 180 });
  const recased = report(PREVIOUS_RUN, '2026-11-28T06:00:00.000Z', [
    pool(SUB_A, 'RG-Pay', 'AKS', 'np', 'noncompliant', [FIPS_DISABLED]),
    pool(SUB_A, 'rg-pay', 'aks', 'NP2', 'exempt', [FIPS_DISABLED], {
      exemption: exemption('x', '2026-11-28T12:00:00.000Z'),
    }),
    pool(SUB_B, 'RG', 'aks', 'Only-Before', 'noncompliant', [FIPS_DISABLED]),
  ]);
  const recasedNow = report(CURRENT_RUN, '2026-11-29T06:00:00.000Z', [
    pool(SUB_A, 'rg-pay', 'aks', 'np', 'noncompliant', [FIPS_DISABLED]),
    pool(SUB_A, 'RG-PAY', 'AKS', 'np2', 'noncompliant', [FIPS_DISABLED]),
    pool(SUB_A, 'rg-pay', 'aks', 'only-now', 'unknown', [FIPS_DISABLED]),
  ]);
  // The same pool twice under two casings (a stored report never has it; the map diffRuns builds keeps the last).
  const twice = report(PREVIOUS_RUN, '2026-11-28T06:00:00.000Z', [
    pool(SUB_A, 'rg', 'aks', 'dup', 'compliant'),
    pool(SUB_A, 'RG', 'aks', 'dup', 'noncompliant', [FIPS_DISABLED]),
    pool(SUB_A, 'rg', 'aks', 'gone', 'noncompliant', [FIPS_DISABLED]),
  ]);
  const twiceNow = report(CURRENT_RUN, '2026-11-29T06:00:00.000Z', [
    pool(SUB_A, 'rg', 'AKS', 'dup', 'compliant'),
    pool(SUB_A, 'Rg', 'aks', 'dup', 'exempt', [FIPS_DISABLED], {
      exemption: exemption('x', '2026-12-01T00:00:00.000Z'),
    }),
  ]);
  return [
    [
      'the known estate: new, resolved, still noncompliant, unknown, expiring and lapsed exemptions, a removed pool',
      {
        current: sorted(known.current),
        previous: sorted(known.previous),
        options: { noncompliantSince: known.noncompliantSince },
      },
    ],
    ['a first run (nothing to compare with)', { current: sorted(known.current), previous: null }],
    [
      'a partial run with an unreadable scope',
      { current: sorted(partialCurrent), previous: sorted(partialPrevious) },
    ],
    [
      'the run after a partial one: unreadable before, noncompliant now',
      {
        current: sorted(afterPartial),
        previous: sorted(partialCurrent),
        options: {
          noncompliantSince: new Map([[afterPartial.pools[1]!.id.toLowerCase(), '2026-11-20T06:00:00.000Z']]),
        },
      },
    ],
    [
      'a generated estate, pools added, removed, changed and recased',
      (() => {
        const current = nextRun(base, 3, 'succeeded');
        return { current, previous: base, options: { noncompliantSince: sinceOf(current, 4) } };
      })(),
    ],
    [
      'a generated estate in a partial run',
      (() => {
        const current = nextRun(base, 5, 'partial');
        return {
          current,
          previous: base,
          options: { noncompliantSince: sinceOf(current, 6), expiringWithinDays: 30 },
        };
      })(),
    ],
    ['two unrelated estates (every pool added and removed)', { current: other, previous: base }],
    ['IDs in another case in each run', { current: sorted(recasedNow), previous: sorted(recased) }],
    ['the same pool twice under two casings', { current: sorted(twiceNow), previous: sorted(twice) }],
    [
      'an empty run after a full one',
      { current: report(CURRENT_RUN, '2026-11-29T06:00:00.000Z', []), previous: base },
    ],
  ];
}

describe.each([1, 7, 1000])('diffRunFrames over frames of %i pools', (frameSize) => {
  it.each(cases())('gives the RunDiff diffRuns gives: %s', async (_title, { current, previous, options }) => {
    const expected = diffRuns(current, previous, options);
    const actual = await diffRunFrames(
      framedFixture(current, frameSize),
      previous ? framedFixture(previous, frameSize) : null,
      options,
    );
    expect(actual).toEqual(expected);
    // The same pool objects in the same order, not only equal ones.
    expect(actual.resolved.map((r) => r.previous)).toStrictEqual(expected.resolved.map((r) => r.previous));
  });
});

describe('diffRunFrames refuses what diffRuns refuses or cannot merge', () => {
  it('refuses to compare with a failed run', async () => {
    const { current, previous } = knownEstate();
    const failed = { ...sorted(previous), run: { ...previous.run, status: 'failed' as const } };
    await expect(diffRunFrames(framedFixture(sorted(current)), framedFixture(failed))).rejects.toThrow(
      RangeError,
    );
  });

  it.each<[string, boolean]>([
    ['the run', true],
    ['the previous run', false],
  ])(
    'refuses pools of %s out of the report order, rather than miss a match',
    async (_title, currentOutOfOrder) => {
      const { current, previous } = knownEstate();
      const reversed = (r: Report): Report => ({ ...sorted(r), pools: sorted(r).pools.reverse() });
      const [c, p] = currentOutOfOrder
        ? [reversed(current), sorted(previous)]
        : [sorted(current), reversed(previous)];
      await expect(diffRunFrames(framedFixture(c, 2), framedFixture(p, 2))).rejects.toThrow(/report's order/);
    },
  );
});
