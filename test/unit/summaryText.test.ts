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
  const allUnknown: Report = {
    ...report('partial', [unreadable]),
    summary: { ...base.summary, compliant: 0, noncompliant: 0, exempt: 0, unknown: base.summary.pools },
  };
  for (const input of [empty, allUnknown]) {
    const text = summaryText(input);
    expect(text).toContain('(no node pools judged)');
    expect(text).not.toMatch(/\d%/);
  }
});

it('gives the share of judged pools that are compliant or exempt', () => {
  const { compliant, exempt, unknown, pools } = base.summary;
  const share = (((compliant + exempt) / (pools - unknown)) * 100).toFixed(1);
  expect(summaryText(base)).toContain(`(${share}% of judged pools compliant)`);
});
