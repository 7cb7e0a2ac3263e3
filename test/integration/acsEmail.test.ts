// ACS Email through the real EmailClient against the emulator: HMAC and bearer auth, polling, 429/5xx, Failed.

import { AcsEmailEmulator } from '../../emulators/acsEmailEmulator';
import { generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { trustCertificate } from '../../emulators/tls';
import { App, createEmailSender } from '../../src/app';
import { createCredential } from '../../src/azure/azureClients';
import { AcsEmailSender, classifySendError, type EmailMessage } from '../../src/azure/emailSender';
import { loadConfig } from '../../src/config';
import { getEmailHealth } from '../../src/notify/emailHealth';
import { createNotifier, EMAIL_RETRY_POLICY, type NotifyDependencies } from '../../src/notify/notifyRun';

let local: LocalAzure;
let acs: AcsEmailEmulator;
let prefixCounter = 0;

const message: EmailMessage = {
  from: 'DoNotReply@contoso.com',
  to: ['compliance@contoso.com', 'secops@contoso.com'],
  subject: '[FIPS audit] test',
  html: '<p>hello</p>',
  text: 'hello',
  attachments: [
    { name: 'report.csv', contentType: 'text/csv', content: Buffer.from('\uFEFFid,status\r\na,ok\r\n') },
  ],
  headers: { 'X-FIPS-Audit-Run': '20261129T060000Z-3f9a1c' },
};

function settings(extra: Record<string, string> = {}): Record<string, string> {
  prefixCounter += 1;
  return {
    ...local.env,
    AUDIT_TABLE_PREFIX: `acs${prefixCounter}`,
    EMAIL_CONNECTION_STRING: acs.connectionString,
    EMAIL_SENDER: 'DoNotReply@contoso.com',
    EMAIL_TO: 'compliance@contoso.com',
    EMAIL_MODE: 'always',
    ...extra,
  };
}

/** A service and notifier whose ACS client polls quickly; retries wait `retryDelayInMs` unless Retry-After says. */
function setup(extra: Record<string, string> = {}, retryDelayInMs = 20) {
  // Audits that do not mail by themselves: each test sends the digest itself.
  const service = new App(loadConfig(settings(extra)), { email: false });
  const deps: NotifyDependencies = service.notifyDependencies({
    sender: new AcsEmailSender({ connectionString: acs.connectionString, pollIntervalInMs: 20 }),
    retryPolicy: { ...EMAIL_RETRY_POLICY, baseDelayInMs: retryDelayInMs, maxDelayInMs: 5_000 },
  });
  return { service, deps, notify: createNotifier(deps) };
}

beforeAll(async () => {
  local = await startLocalAzure(generateEstate({ seed: 11, pools: 40, subscriptions: 2 }));
  acs = await AcsEmailEmulator.start({ identity: local.identity, retryAfterInSeconds: 0 });
  trustCertificate(acs.certificatePem);
});

afterAll(async () => {
  await acs?.close();
  await local?.stop();
});

beforeEach(() => {
  acs.faults.length = 0;
  acs.retryAfterInSeconds = 0;
  acs.runningPolls = 2;
});

it('sends with a connection string: HMAC-SHA256 signed, 202, then polls Operation-Location to Succeeded', async () => {
  const before = acs.messages.length;
  const sender = new AcsEmailSender({ connectionString: acs.connectionString, pollIntervalInMs: 20 });
  const operationId = '6a1d2f4e-1b7c-4e8a-9f3d-0c5b7a9e2d11';

  const result = await sender.send(message, { operationId });

  expect(result.messageId).toBe(operationId);
  expect(acs.messages.length - before).toBe(1);
  const got = acs.messages.at(-1)!;
  expect(got).toMatchObject({
    operationId,
    auth: 'hmac',
    senderAddress: 'DoNotReply@contoso.com',
    to: ['compliance@contoso.com', 'secops@contoso.com'],
    subject: '[FIPS audit] test',
    html: '<p>hello</p>',
    plainText: 'hello',
    headers: { 'X-FIPS-Audit-Run': '20261129T060000Z-3f9a1c' },
    userEngagementTrackingDisabled: true,
  });
  expect(got.attachments).toEqual([
    { name: 'report.csv', contentType: 'text/csv', content: Buffer.from('\uFEFFid,status\r\na,ok\r\n') },
  ]);
  const polls = acs.requests.filter((r) => r.method === 'GET' && r.operationId === operationId);
  expect(polls.map((p) => p.status)).toEqual([200, 200, 200]); // Running at once, Running again, Succeeded
  expect(acs.operationStatus(operationId)).toBe('Succeeded');
});

it('waits for the Retry-After of a Running operation before polling again', async () => {
  acs.retryAfterInSeconds = 1;
  const sender = new AcsEmailSender({ connectionString: acs.connectionString, pollIntervalInMs: 20 });
  const started = Date.now();
  await sender.send(message, { operationId: '0b6c1e2a-7d3f-4a9b-8c1d-2e3f4a5b6c7d' });
  expect(Date.now() - started).toBeGreaterThanOrEqual(900);
});

it('is refused with 401 when the request is signed with another key, and nothing is delivered', async () => {
  const before = acs.messages.length;
  const wrongKey = Buffer.alloc(32, 7).toString('base64');
  const sender = new AcsEmailSender({ connectionString: `endpoint=${acs.endpoint}/;accesskey=${wrongKey}` });

  const error = await sender.send(message, { operationId: 'a3c9e1f2-5b7d-4c8e-9a1f-3b5d7e9f1a2c' }).then(
    () => undefined,
    (e: unknown) => e,
  );

  expect(error).toMatchObject({ name: 'RestError', statusCode: 401 });
  expect(classifySendError(error).transient).toBe(false);
  expect(acs.requests.at(-1)).toMatchObject({ status: 401, auth: 'invalid' });
  expect(acs.messages.length).toBe(before);
});

it("sends with the app's managed identity: a bearer token for https://communication.azure.com", async () => {
  const config = loadConfig(settings({ EMAIL_CONNECTION_STRING: '', EMAIL_ENDPOINT: acs.endpoint }));
  expect(config.emailProvider).toBe('acs');
  const sender = createEmailSender(config, () => createCredential(config));
  // The client's own poll interval (2 s) applies when Retry-After is 0: let the emulator ask for 1 s.
  acs.retryAfterInSeconds = 1;
  const before = acs.messages.length;

  await sender!.send(message, { operationId: 'c4d5e6f7-0a1b-4c2d-8e3f-5a6b7c8d9e0f' });

  expect(acs.messages.length - before).toBe(1);
  expect(acs.messages.at(-1)!.auth).toBe('bearer');
  expect(local.identity.requests.map((r) => r.resource)).toContain('https://communication.azure.com/');
});

it('honours Retry-After on a 429 and then sends once', async () => {
  const { service, deps, notify } = setup({}, 5_000);
  const report = await service.audit({ trigger: 'timer' });
  acs.faults.push({ on: 'send', status: 429, retryAfterInSeconds: 1 });
  const before = acs.messages.length;
  const started = Date.now();

  const outcome = await notify(report.run.id);

  expect(outcome.status).toBe('sent');
  expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  expect(Date.now() - started).toBeLessThan(5_000); // Retry-After, not the 5 s backoff
  expect(acs.messages.length - before).toBe(1);
  const record = await deps.emails.get({ runId: report.run.id, kind: 'digest' });
  expect(record).toMatchObject({ state: 'sent', attempts: 2, provider: 'acs' });
  expect(acs.requests.filter((r) => r.status === 429)).toHaveLength(1);
});

it('retries 5xx answers with backoff, on the send and on the poll, and delivers once', async () => {
  const { service, deps, notify } = setup();
  const report = await service.audit({ trigger: 'timer' });
  acs.faults.push({ on: 'send', status: 503 }, { on: 'send', status: 500 }, { on: 'poll', status: 502 });
  const before = acs.messages.length;
  const repeatsBefore = acs.repeatedOperationIds;

  const outcome = await notify(report.run.id);

  expect(outcome.status).toBe('sent');
  expect(acs.messages.length - before).toBe(1);
  // The poll failed after the send was accepted: the retry sent the same Operation-Id, which ACS treats as one send.
  expect(acs.repeatedOperationIds - repeatsBefore).toBe(1);
  const record = await deps.emails.get({ runId: report.run.id, kind: 'digest' });
  expect(record).toMatchObject({ state: 'sent', attempts: 4 });
});

it('records a failure after the last attempt when 5xx persists, without failing the run', async () => {
  const { service, deps, notify } = setup();
  const report = await service.audit({ trigger: 'timer' });
  for (let i = 0; i < EMAIL_RETRY_POLICY.maxAttempts; i++) acs.faults.push({ on: 'send', status: 503 });

  const outcome = await notify(report.run.id);

  expect(outcome.status).toBe('failed');
  const record = await deps.emails.get({ runId: report.run.id, kind: 'digest' });
  expect(record?.state).toBe('failed');
  expect(record?.attempts).toBe(EMAIL_RETRY_POLICY.maxAttempts);
  expect(record?.reason).toMatch(/HTTP 503.*gave up after 5 attempt/);
  expect((await service.stores.reports.getRun(report.run.id))?.status).toBe('succeeded');
});

it('records a Failed final status as a failure, does not resend it, shows it in health and in the next digest', async () => {
  const { service, deps, notify } = setup();
  const first = await service.audit({ trigger: 'timer' });
  acs.faults.push({
    on: 'outcome',
    status: 'Failed',
    code: 'EmailDroppedAllRecipientsSuppressed',
    message: 'Message dropped because all recipients were suppressed.',
  });
  const before = acs.messages.length;

  const outcome = await notify(first.run.id);

  expect(outcome.status).toBe('failed');
  expect(acs.messages.length - before).toBe(1); // accepted, then Failed: not sent again
  const record = await deps.emails.get({ runId: first.run.id, kind: 'digest' });
  expect(record).toMatchObject({ state: 'failed', attempts: 1 });
  expect(record?.reason).toContain('EmailDroppedAllRecipientsSuppressed');
  expect((await notify(first.run.id)).status).toBe('alreadyFailed');
  expect(acs.messages.length - before).toBe(1);
  const run = await service.stores.reports.getRun(first.run.id);
  expect(run).toMatchObject({ status: 'succeeded', email: { state: 'failed', attempts: 1 } });

  const health = await getEmailHealth(deps.emails);
  expect(health.status).toBe('failing');
  expect(health.failures).toEqual([expect.objectContaining({ runId: first.run.id })]);

  const second = await service.audit({ trigger: 'timer' });
  expect((await notify(second.run.id)).status).toBe('sent');
  const next = acs.messages.at(-1)!;
  expect(next.plainText).toContain(`1 earlier digest could not be sent:`);
  expect(next.plainText).toContain(`run ${first.run.id}`);
  expect(next.html).toContain('EmailDroppedAllRecipientsSuppressed');
  expect((await getEmailHealth(deps.emails)).status).toBe('ok');
});
