// The "audit could not complete" alert: why in words, every error with its fix, no figure, everything escaped.

import { type RunRecord, startedRunRecord } from '../../src/core/run';
import { summarizeRun } from '../../src/core/summarizeRun';
import type { ScopeError } from '../../src/core/types';
import { renderFailureAlert } from '../../src/render/failureAlert';

const RUN_ID = '20261129T060000Z-3f9a1c';

function failedRun(errors: ScopeError[], status: RunRecord['status'] = 'failed'): RunRecord {
  return {
    ...startedRunRecord({
      id: RUN_ID,
      trigger: 'timer',
      startedAt: '2026-11-29T06:00:00.000Z',
      cloud: 'AzureUSGovernment',
      matrix: { version: '2026-11-01', sources: [] },
      scope: { subscriptions: null, managementGroups: null },
    }),
    status,
    finishedAt: '2026-11-29T06:00:03.000Z',
    errors,
  };
}

const nothingRead: ScopeError = {
  scope: '/',
  code: 'NothingRead',
  message: 'No scope of this audit could be read.',
};

it.each<[string, ScopeError[], string]>([
  [
    'no credential',
    [
      {
        scope: '/',
        code: 'CredentialUnavailable',
        message: 'No Azure credential is available. Run `az login`.',
      },
    ],
    'no Azure credential is available',
  ],
  [
    'a refused token',
    [{ scope: '/', code: 'InvalidAuthenticationToken', message: 'refused the access token' }],
    'Azure refused its access token',
  ],
  [
    'a token for another cloud',
    [{ scope: '/', code: 'InvalidAuthenticationTokenAudience', message: 'wrong audience' }],
    'its access token is for another cloud (AZURE_CLOUD)',
  ],
  [
    '403 on every subscription (the summary error after them is not the reason)',
    [{ scope: '/subscriptions/a', code: 'AuthorizationFailed', message: 'no Reader' }, nothingRead],
    'the identity may not read the audited scopes',
  ],
  [
    'no readable subscription',
    [{ scope: '/', code: 'NoReadableSubscriptions', message: 'The identity can read no subscription' }],
    'the identity can read no subscription',
  ],
  [
    'a hung call',
    [{ scope: '/', code: 'RequestTimeout', message: 'did not answer within 75000 ms' }, nothingRead],
    'Azure did not answer in time',
  ],
  [
    'persistent server errors',
    [{ scope: '/', code: 'InternalServerError', message: 'failed 6 times' }, nothingRead],
    'Azure kept failing (InternalServerError)',
  ],
  ['an unknown code', [{ scope: '/', code: 'SomethingNew', message: 'x' }], 'SomethingNew'],
  ['no recorded error', [], 'no reason was recorded'],
])('says why in the subject for %s', (_what, errors, reason) => {
  expect(renderFailureAlert(failedRun(errors), null).subject).toBe(
    `[FIPS audit] Audit could not complete: ${reason} (run ${RUN_ID})`,
  );
});

it('lists every error with its fix in both parts, says no figure, and links the run record', () => {
  const errors: ScopeError[] = [
    {
      scope: '/subscriptions/a',
      code: 'AuthorizationFailed',
      message:
        'Give it the Reader role there: `az role assignment create --role Reader --scope /subscriptions/a`.',
    },
    nothingRead,
  ];
  const alert = renderFailureAlert(failedRun(errors), 'https://fips.example.us/');
  expect(alert.text).toContain(
    'The timer FIPS audit 20261129T060000Z-3f9a1c (AzureUSGovernment) started 2026-11-29T06:00:00.000Z failed at 2026-11-29T06:00:03.000Z.',
  );
  expect(alert.text).toContain(
    'It judged no node pool, so it reports no compliance figure. The last completed report stays the latest.',
  );
  expect(alert.text).toContain(
    '- /subscriptions/a: AuthorizationFailed: Give it the Reader role there: `az role assignment create --role Reader --scope /subscriptions/a`.',
  );
  expect(alert.text).toContain('- /: NothingRead: No scope of this audit could be read.');
  expect(alert.text).toContain(`Run record: https://fips.example.us/api/runs/${RUN_ID}`);
  expect(alert.html).toContain('<b>AuthorizationFailed</b>: Give it the Reader role there:');
  expect(alert.html).toContain(`<a href="https://fips.example.us/api/runs/${RUN_ID}">`);
  for (const part of [alert.subject, alert.text, alert.html]) expect(part).not.toMatch(/\d%/);
});

it('says the figures are not the estate’s when a sharded run failed after some shards read', () => {
  const run = { ...failedRun([{ scope: '/', code: 'InvalidAuthenticationToken', message: 'refused' }]) };
  run.summary = { ...summarizeRun([], []), pools: 4, compliant: 3, noncompliant: 1 };
  const alert = renderFailureAlert(run, null);
  expect(alert.text).toContain(
    'It could not read everything it was asked to audit, so it reports no compliance figure.',
  );
  expect(alert.text).not.toContain('judged no node pool');
});

it('escapes hostile values in the HTML part and keeps the text part to one line per error', () => {
  const alert = renderFailureAlert(
    failedRun([
      { scope: '/subscriptions/<img src=x>', code: 'E<1>', message: 'line one\nFAKE: line two</li><script>' },
    ]),
    null,
  );
  expect(alert.html).toContain('&lt;img src=x&gt;');
  expect(alert.html).not.toMatch(/<(script|img)/);
  expect(alert.text).toContain('- /subscriptions/<img src=x>: E<1>: line one FAKE: line two</li><script>');
  expect(alert.text).not.toMatch(/^FAKE/m);
});

it('calls an abandoned run abandoned', () => {
  const alert = renderFailureAlert(
    failedRun([{ scope: '/', code: 'RunAbandoned', message: 'its lease expired' }], 'abandoned'),
    null,
  );
  expect(alert.subject).toBe(
    `[FIPS audit] Audit could not complete: its worker stopped before it finished (run ${RUN_ID})`,
  );
  expect(alert.text).toContain('abandoned at 2026-11-29T06:00:03.000Z');
});
