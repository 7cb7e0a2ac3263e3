// Requested emails go only where EMAIL_TO and EMAIL_ALLOWED_RECIPIENTS say, and a run has at most a few of them.

import { RefusedError } from '../../src/errors';
import { toProblem } from '../../src/http/problem';
import {
  assertRecipientsAllowed,
  assertRequestCapNotReached,
  checkRequestedEmail,
  MAX_REQUESTED_EMAILS_PER_RUN,
  recipientsNotAllowed,
} from '../../src/notify/requestedEmailPolicy';
import type { EmailRecord } from '../../src/store/emailStore';

const RUN = '20261129T060000Z-3f9a1c';
const settings = {
  to: ['Compliance@Contoso.com'],
  allowedRecipients: ['auditor@assessor.example', '@fedramp.example'],
};

it.each<[string, string[], string[]]>([
  ['EMAIL_TO, whatever its casing', ['compliance@contoso.com', 'COMPLIANCE@CONTOSO.COM'], []],
  ['an allowed address', ['Auditor@Assessor.example'], []],
  ['any address of an allowed domain', ['pmo@fedramp.example', 'x.y+z@FEDRAMP.example'], []],
  ['another address of EMAIL_TO’s domain', ['ciso@contoso.com'], ['ciso@contoso.com']],
  ['another address of an allowed address’s domain', ['boss@assessor.example'], ['boss@assessor.example']],
  ['a subdomain of an allowed domain', ['a@mail.fedramp.example'], ['a@mail.fedramp.example']],
  ['a look-alike domain', ['a@fedramp.example.evil'], ['a@fedramp.example.evil']],
  [
    'an outside address among allowed ones',
    ['pmo@fedramp.example', 'attacker@evil.example'],
    ['attacker@evil.example'],
  ],
])('judges %s', (_title, to, refused) => {
  expect(recipientsNotAllowed(to, settings)).toEqual(refused);
});

it('allows EMAIL_TO only when EMAIL_ALLOWED_RECIPIENTS is unset', () => {
  expect(
    recipientsNotAllowed(['compliance@contoso.com', 'auditor@assessor.example'], { to: settings.to }),
  ).toEqual(['auditor@assessor.example']);
});

it('refuses with a 403 problem naming EMAIL_ALLOWED_RECIPIENTS and the refused addresses only', () => {
  let error: unknown;
  try {
    assertRecipientsAllowed(['pmo@fedramp.example', 'attacker@evil.example'], settings);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(RefusedError);
  const response = toProblem(error);
  expect(response.status).toBe(403);
  expect(new Headers(response.headers).get('content-type')).toBe('application/problem+json; charset=utf-8');
  const body = JSON.parse(response.body as string) as Record<string, string>;
  expect(body).toMatchObject({
    status: 403,
    type: 'urn:aks-fips-auditor:problem:recipient-not-allowed',
    title: 'Recipient not allowed',
    setting: 'EMAIL_ALLOWED_RECIPIENTS',
  });
  expect(body.detail).toContain('attacker@evil.example is outside');
  expect(body.detail).not.toContain('pmo@fedramp.example');
  expect(body.detail).not.toContain('auditor@assessor.example'); // the allowlist itself is not disclosed
});

/** The email table's request records of a run, in memory. */
const requests = (count: number) => ({
  listed: 0,
  async *listRequests(runId: string): AsyncIterableIterator<EmailRecord> {
    for (let i = 0; i < count; i++) {
      await Promise.resolve();
      this.listed += 1;
      yield { runId, kind: 'request', idempotencyKey: `k${i}` } as EmailRecord;
    }
  },
});

it.each([0, 1, MAX_REQUESTED_EMAILS_PER_RUN - 1])(
  'lets a new key through when the run has %i requested emails',
  async (n) => {
    await expect(assertRequestCapNotReached(requests(n), RUN)).resolves.toBeUndefined();
  },
);

it.each([MAX_REQUESTED_EMAILS_PER_RUN, MAX_REQUESTED_EMAILS_PER_RUN + 25])(
  'refuses a new key when the run has %i requested emails, reading no further than the cap',
  async (n) => {
    const store = requests(n);
    const error = await assertRequestCapNotReached(store, RUN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RefusedError);
    expect(store.listed).toBe(MAX_REQUESTED_EMAILS_PER_RUN);
    const body = JSON.parse(toProblem(error).body as string) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 403,
      type: 'urn:aks-fips-auditor:problem:email-cap-reached',
      limit: MAX_REQUESTED_EMAILS_PER_RUN,
    });
    expect(body.detail).toContain(
      `run ${RUN} has been emailed on request ${MAX_REQUESTED_EMAILS_PER_RUN} times`,
    );
  },
);

it('checks recipients before reading storage, and the cap only for a key not seen before', async () => {
  const full = requests(MAX_REQUESTED_EMAILS_PER_RUN);
  const deps = { emails: full, email: settings };
  await expect(
    checkRequestedEmail(deps, { runId: RUN, to: ['attacker@evil.example'], newKey: true }),
  ).rejects.toMatchObject({ problem: { slug: 'recipient-not-allowed' } });
  expect(full.listed).toBe(0);
  await expect(
    checkRequestedEmail(deps, { runId: RUN, to: undefined, newKey: false }),
  ).resolves.toBeUndefined();
  expect(full.listed).toBe(0);
  await expect(checkRequestedEmail(deps, { runId: RUN, to: undefined, newKey: true })).rejects.toMatchObject({
    problem: { slug: 'email-cap-reached' },
  });
});
