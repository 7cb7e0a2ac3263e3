// The terminal summary says first when a run failed or is incomplete, and never shows a percentage of nothing.

import type { Report, RunStatus } from '../../src/core/types';
import { summaryText } from '../../src/render/summaryText';
import { fixtureReport } from '../support/reportFixture';

const base = fixtureReport({ pools: 60, hostileNames: false });
const unreadable = {
  scope: '/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333',
  code: 'AuthorizationFailed',
  message: 'no Reader role',
};

function report(status: RunStatus, errors: Report['errors'] = []): Report {
  return { ...base, run: { ...base.run, status }, errors };
}

it.each<[string, Report, RegExp]>([
  ['a succeeded run', report('succeeded'), /^FIPS audit \S+ \(\w+, AzureCloud\): SUCCEEDED\n/],
  [
    'a partial run',
    report('partial', [unreadable]),
    /^AUDIT INCOMPLETE: 1 scope\(s\) could not be read; their pools are unknown, and the figures cover only what was read\.\nFIPS audit .*: PARTIAL\n/,
  ],
  [
    'a failed run',
    report('failed', [
      { scope: '/', code: 'AuditFailed', message: 'CredentialUnavailableError: no credential' },
    ]),
    /^AUDIT FAILED: it could not read the estate; no figure below describes it\. AuditFailed: CredentialUnavailableError: no credential\nFIPS audit .*: FAILED\n/,
  ],
])('starts %s with what a reader must know first', (_what, input, first) => {
  expect(summaryText(input)).toMatch(first);
});

it('lists the unreadable scopes of a partial run', () => {
  expect(summaryText(report('partial', [unreadable]))).toContain(
    `scopes that could not be read (1):\n    ${unreadable.scope}: AuthorizationFailed: no Reader role`,
  );
});

it('says "no node pools judged" instead of a percentage when nothing was judged', () => {
  const empty: Report = {
    ...report('failed'),
    summary: {
      subscriptions: 0,
      clusters: 0,
      pools: 0,
      compliant: 0,
      noncompliant: 0,
      exempt: 0,
      unknown: 0,
    },
    pools: [],
    clusters: [],
  };
  // Every pool unknown, as in a run whose every scope was unreadable: the breakdowns are counted from them.
  const { byCode: _c, bySubscription: _s, byOwner: _o, ...counts } = base.summary;
  const allUnknown: Report = {
    ...report('partial', [unreadable]),
    summary: { ...counts, compliant: 0, noncompliant: 0, exempt: 0, unknown: base.summary.pools },
    pools: base.pools.map((p) => ({ ...p, status: 'unknown', findings: [] })),
    clusters: [],
  };
  for (const input of [empty, allUnknown]) {
    const text = summaryText(input);
    expect(text).toContain('no node pools judged');
    expect(text).not.toMatch(/\d%/);
  }
});

it('gives the share of judged pools that are compliant or exempt', () => {
  const { compliant, exempt, unknown, pools } = base.summary;
  // Floored to one decimal, so a share just under 100 is never shown as 100.
  const share = (Math.floor(((compliant + exempt) / (pools - unknown)) * 1000) / 10).toFixed(1);
  expect(summaryText(base)).toContain(
    `${share}% compliant (exempt pools count as compliant; unknown pools are not judged)`,
  );
});

it('says a failed run’s first error once: on the first line, not again in the list', () => {
  const credential = {
    scope: '/',
    code: 'CredentialUnavailable',
    message: 'No Azure credential is available.',
  };
  const once = summaryText(report('failed', [credential]));
  expect(once.split('No Azure credential is available.').length - 1).toBe(1);
  expect(once).not.toContain('could not be read (');
  const nothingRead = { scope: '/', code: 'NothingRead', message: 'No scope of this audit could be read.' };
  const several = summaryText(report('failed', [unreadable, credential, nothingRead]));
  expect(several).toMatch(/^AUDIT FAILED: .* AuthorizationFailed: no Reader role\n/);
  expect(several).toContain(
    `  also could not be read (2):\n    /: CredentialUnavailable: No Azure credential is available.\n    /: NothingRead: No scope of this audit could be read.`,
  );
  expect(several.split('no Reader role').length - 1).toBe(1);
});
