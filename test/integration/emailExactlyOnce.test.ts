// Exactly one digest per run against Azurite and the ACS emulator: crashes, retries, races and idempotency keys.

import { AcsEmailEmulator } from '../../emulators/acsEmailEmulator';
import { type Estate, generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { trustCertificate } from '../../emulators/tls';
import { App } from '../../src/app';
import { AcsEmailSender, type EmailSender } from '../../src/azure/emailSender';
import { loadConfig } from '../../src/config';
import { emailRunHandler } from '../../src/handlers/emailRunHandler';
import { getEmailHealth } from '../../src/notify/emailHealth';
import {
  createNotifier,
  EMAIL_CLAIM_TTL_IN_MS,
  EMAIL_RETRY_POLICY,
  type NotifyDependencies,
  type NotifyOutcome,
} from '../../src/notify/notifyRun';
import type { EmailStore } from '../../src/store/emailStore';
import { callHandler } from '../support/httpCall';

const estate: Estate = generateEstate({ seed: 21, pools: 50, subscriptions: 2 });
let local: LocalAzure;
let acs: AcsEmailEmulator;
let prefixCounter = 0;
function settings(prefix: string, extra: Record<string, string>) {
  return loadConfig({
    ...local.env,
    AUDIT_TABLE_PREFIX: prefix,
    EMAIL_CONNECTION_STRING: acs.connectionString,
    EMAIL_SENDER: 'DoNotReply@contoso.com',
    EMAIL_TO: 'compliance@contoso.com',
    EMAIL_MODE: 'always',
    ...extra,
  });
}

function quickNotify(overrides: Partial<NotifyDependencies>): Partial<NotifyDependencies> {
  return {
    sender: new AcsEmailSender({ connectionString: acs.connectionString, pollIntervalInMs: 20 }),
    retryPolicy: { ...EMAIL_RETRY_POLICY, baseDelayInMs: 20 },
    ...overrides,
  };
}

/**
 * One "instance" of the app, its own clients over the shared Azurite tables and the one ACS emulator, whose
 * audits do not mail by themselves: these tests call the notifier directly.
 */
function instance(
  prefix: string,
  extra: Record<string, string> = {},
  overrides: Partial<NotifyDependencies> = {},
) {
  const service = new App(settings(prefix, extra), { email: false });
  const deps = service.notifyDependencies(quickNotify(overrides));
  return { service, deps, notify: createNotifier(deps) };
}

/** An instance as the Function App runs it: each completed run is mailed by the completion hook. */
function mailingInstance(
  prefix: string,
  extra: Record<string, string> = {},
  overrides: Partial<NotifyDependencies> = {},
) {
  const logs: string[] = [];
  const app = new App(settings(prefix, extra), {
    notify: quickNotify(overrides),
    retryDelayInMs: 20,
    log: (m) => logs.push(m),
  });
  return { app, deps: app.notifyDependencies(quickNotify(overrides)), logs };
}

function newPrefix(): string {
  prefixCounter += 1;
  return `once${prefixCounter}`;
}

/** The instance dies right after ACS accepted the message: the record never reaches `sent`. */
function crashingBeforeRecord(emails: EmailStore): EmailStore {
  const store = Object.create(emails) as EmailStore;
  store.update = async (record, changes) => {
    if (changes.state === 'sent') throw new Error('simulated crash between the send and its record');
    return emails.update(record, changes);
  };
  return store;
}

/** Messages ACS accepted for the digest of one run (the sender marks each with the run ID). */
const messagesOf = (runId: string) => acs.messages.filter((m) => m.headers['X-FIPS-Audit-Run'] === runId);

beforeAll(async () => {
  local = await startLocalAzure(estate);
  acs = await AcsEmailEmulator.start({ retryAfterInSeconds: 0 });
  trustCertificate(acs.certificatePem);
});

afterAll(async () => {
  await acs?.close();
  await local?.stop();
});

beforeEach(() => {
  acs.faults.length = 0;
});

it('sends once when an instance crashes between the send and its record and the send is retried later', async () => {
  const prefix = newPrefix();
  const first = instance(prefix);
  const report = await first.service.audit({ trigger: 'timer' });
  const crashed = instance(prefix, {}, { emails: crashingBeforeRecord(first.deps.emails) });

  await expect(crashed.notify(report.run.id)).rejects.toThrow('simulated crash');
  expect(messagesOf(report.run.id)).toHaveLength(1);
  const accepted = messagesOf(report.run.id)[0]!;

  // While the claim lasts, another instance leaves it alone.
  expect((await instance(prefix).notify(report.run.id)).status).toBe('inProgress');
  // Once it has expired, a retry takes it over and sends with the same Operation-Id: ACS treats it as one send.
  const later = () => new Date(Date.now() + EMAIL_CLAIM_TTL_IN_MS + 60_000);
  const repeats = acs.repeatedOperationIds;
  const outcome = await instance(prefix, {}, { now: later }).notify(report.run.id);

  expect(outcome.status).toBe('sent');
  expect(messagesOf(report.run.id)).toHaveLength(1);
  expect(acs.repeatedOperationIds - repeats).toBe(1);
  const record = await first.deps.emails.get({ runId: report.run.id, kind: 'digest' });
  expect(record).toMatchObject({ state: 'sent', attempts: 2, operationId: accepted.operationId });
  expect((await instance(prefix).notify(report.run.id)).status).toBe('alreadySent');
  expect(messagesOf(report.run.id)).toHaveLength(1);
});

it('sends once when the connection drops after ACS accepted the message: the retry reuses the Operation-Id', async () => {
  const prefix = newPrefix();
  const real = new AcsEmailSender({ connectionString: acs.connectionString, pollIntervalInMs: 20 });
  let drops = 1;
  const flaky: EmailSender = {
    provider: 'acs',
    idempotent: true,
    async send(message, options) {
      const result = await real.send(message, options);
      if (drops-- > 0) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      return result;
    },
  };
  const { service, deps, notify } = instance(prefix, {}, { sender: flaky });
  const report = await service.audit({ trigger: 'timer' });

  expect((await notify(report.run.id)).status).toBe('sent');
  expect(messagesOf(report.run.id)).toHaveLength(1);
  expect(await deps.emails.get({ runId: report.run.id, kind: 'digest' })).toMatchObject({
    state: 'sent',
    attempts: 2,
  });
});

it('sends once when the worker that completed a run crashed in its email step and the queue delivered it again', async () => {
  const prefix = newPrefix();
  // The first attempt to record the send fails, as if the worker died right after ACS accepted the message.
  let crashes = 1;
  const emails = instance(prefix).deps.emails;
  const crashingOnce = Object.create(emails) as EmailStore;
  crashingOnce.update = async (record, changes) => {
    if (changes.state === 'sent' && crashes-- > 0)
      throw new Error('simulated crash between the send and its record');
    return emails.update(record, changes);
  };
  const { app, deps, logs } = mailingInstance(prefix, {}, { emails: crashingOnce });
  const repeats = acs.repeatedOperationIds;

  const run = await app.runAudit({ trigger: 'timer' });
  app.close();

  expect(run.status).toBe('succeeded'); // the email failure did not touch the audit
  expect(logs.join('\n')).toContain('its completion hook failed');
  // The redelivery took the unfinished send over, under the same Operation-Id: ACS counted one message.
  expect(messagesOf(run.id)).toHaveLength(1);
  expect(acs.repeatedOperationIds - repeats).toBe(1);
  expect(await deps.emails.get({ runId: run.id, kind: 'digest' })).toMatchObject({
    state: 'sent',
    attempts: 2,
  });
  expect((await app.stores.reports.getRun(run.id))?.email).toMatchObject({ state: 'sent' });
  const runs = [];
  for await (const r of app.stores.reports.listRuns({})) runs.push(r.id);
  expect(runs).toEqual([run.id]);
});

it('sends once when two instances notify the same run at the same time', async () => {
  const prefix = newPrefix();
  const a = instance(prefix);
  const b = instance(prefix);
  const report = await a.service.audit({ trigger: 'timer' });
  await a.deps.emails.ensureTable();

  const outcomes: NotifyOutcome[] = await Promise.all([a.notify(report.run.id), b.notify(report.run.id)]);

  expect(outcomes.filter((o) => o.status === 'sent')).toHaveLength(1);
  expect(outcomes.every((o) => ['sent', 'inProgress', 'alreadySent'].includes(o.status))).toBe(true);
  expect(messagesOf(report.run.id)).toHaveLength(1);
});

it('sends once when two timer invocations fire at once: one audits and mails, the other finds it started', async () => {
  const prefix = newPrefix();
  const a = mailingInstance(prefix);
  const b = mailingInstance(prefix);
  const scheduledAt = new Date();

  const outcomes = await Promise.all([
    a.app.pipeline.startScheduled(scheduledAt),
    b.app.pipeline.startScheduled(scheduledAt),
  ]);
  await Promise.all([a.app.drain(), b.app.drain()]);
  a.app.close();
  b.app.close();

  expect(outcomes.map((o) => o.status).sort()).toEqual(['alreadyStarted', 'started']);
  const runs = [];
  for await (const run of a.app.stores.reports.listRuns({})) runs.push(run);
  expect(runs).toHaveLength(1);
  expect(runs[0]!.status).toBe('succeeded');
  expect(messagesOf(runs[0]!.id)).toHaveLength(1);
});

it('keeps a failed email from failing the scheduled audit, and shows it in health', async () => {
  const prefix = newPrefix();
  const { app, deps } = mailingInstance(prefix);
  acs.faults.push({
    on: 'outcome',
    status: 'Failed',
    code: 'InvalidSenderDomain',
    message: 'The sender domain is not verified.',
  });

  await app.runAudit({ trigger: 'timer' });
  app.close();

  const run = (await app.stores.reports.getLatestRun())!;
  expect(run.status).toBe('succeeded');
  expect(run.email).toMatchObject({ state: 'failed' });
  const health = await getEmailHealth(deps.emails);
  expect(health).toMatchObject({ status: 'failing', failures: [expect.objectContaining({ runId: run.id })] });
  expect(health.failures[0]!.reason).toContain('InvalidSenderDomain');
});

it('with EMAIL_MODE=changes mails the first run, nothing for a run without change, and one for a new finding', async () => {
  const prefix = newPrefix();
  const { app: service, deps } = mailingInstance(prefix, { EMAIL_MODE: 'changes' });
  const audit = () => service.runAudit({ trigger: 'timer' });
  const runIds = async () => {
    const ids: string[] = [];
    for await (const run of service.stores.reports.listRuns({})) ids.push(run.id);
    return ids;
  };

  await audit();
  const [first] = await runIds();
  expect(messagesOf(first!)).toHaveLength(1);
  expect(messagesOf(first!)[0]!.subject).toMatch(/^\[FIPS audit\] First audit: /);

  await new Promise((resolve) => setTimeout(resolve, 1_100)); // run IDs have one-second resolution
  await audit();
  const [second] = await runIds();
  expect(second).not.toBe(first);
  expect(messagesOf(second!)).toHaveLength(0);
  const skipped = await deps.emails.get({ runId: second!, kind: 'digest' });
  expect(skipped?.state).toBe('skipped');
  expect(skipped?.reason).toContain('nothing changed');

  // A compliant pool loses FIPS: the next run has news.
  const report = (await service.getReport(second!))!;
  const target = report.pools.find(
    (p) => p.status === 'compliant' && p.enableFips === true && p.osType === 'Linux',
  )!;
  const row = estate.clusters
    .flatMap((c) => c.properties.agentPoolProfiles.map((pool) => ({ c, pool })))
    .find(({ c, pool }) => `${c.id}/agentPools/${pool.name}`.toLowerCase() === target.id.toLowerCase())!;
  const before = row.pool.enableFIPS;
  row.pool.enableFIPS = false;
  local.arm.reindex();
  try {
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await audit();
  } finally {
    row.pool.enableFIPS = before;
    local.arm.reindex();
  }
  const [third] = await runIds();
  const mails = messagesOf(third!);
  expect(mails).toHaveLength(1);
  expect(mails[0]!.subject).toMatch(/^\[FIPS audit\] 1 new noncompliant node pool — \d+\.\d% compliant$/);
  expect(mails[0]!.plainText).toContain('FIPS_DISABLED');
});

it('sends once for two POSTs with the same Idempotency-Key, and again only for a new key', async () => {
  const prefix = newPrefix();
  const { service, notify } = instance(prefix, { EMAIL_ALLOWED_RECIPIENTS: '@contoso.com' });
  const report = await service.audit({ trigger: 'http' });
  const handler = emailRunHandler({ notify, config: service.config });
  const post = (key: string | undefined, body?: unknown) =>
    callHandler(handler, {
      method: 'POST',
      url: `/api/runs/${report.run.id}/email`,
      params: { runId: report.run.id },
      headers: {
        ...(key ? { 'Idempotency-Key': key } : {}),
        ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  const body = { to: ['auditor@contoso.com', 'AUDITOR@contoso.com', 'ciso@contoso.com'] };

  const [a, b] = await Promise.all([post('7f3e-retry-safe', body), post('7f3e-retry-safe', body)]);
  const statuses = [a.status, b.status].sort();
  expect(statuses[0]).toBe(200);
  expect([200, 409]).toContain(statuses[1]);
  const again = await post('7f3e-retry-safe', body);
  expect(again.status).toBe(200);
  expect(again.headers.get('idempotent-replayed')).toBe('true');
  expect(again.json()).toMatchObject({
    runId: report.run.id,
    state: 'sent',
    recipients: ['AUDITOR@contoso.com', 'ciso@contoso.com'],
  });
  expect(messagesOf(report.run.id)).toHaveLength(1);
  expect(messagesOf(report.run.id)[0]!.to).toEqual(['AUDITOR@contoso.com', 'ciso@contoso.com']);

  const reused = await post('7f3e-retry-safe', { to: ['someone-else@contoso.com'] });
  expect(reused.status).toBe(422);
  expect(reused.headers.get('content-type')).toContain('application/problem+json');

  expect((await post('a-new-key')).status).toBe(200); // to EMAIL_TO
  expect(messagesOf(report.run.id)).toHaveLength(2);
  expect(messagesOf(report.run.id)[1]!.to).toEqual(['compliance@contoso.com']);
  // An on-demand audit is not mailed by itself: only these requests sent anything.
  expect((await notify(report.run.id)).status).toBe('skipped');
  expect(messagesOf(report.run.id)).toHaveLength(2);
});

it('answers the email route with problem details a person can act on', async () => {
  const { service, notify } = instance(newPrefix());
  const report = await service.audit({ trigger: 'cli' });
  const handler = emailRunHandler({ notify, config: service.config });
  const call = (runId: string, headers: Record<string, string>, body?: string) =>
    callHandler(handler, {
      method: 'POST',
      url: `/api/runs/${runId}/email`,
      params: { runId },
      headers,
      ...(body !== undefined ? { body } : {}),
    });

  const noKey = await call(report.run.id, {});
  expect(noKey.status).toBe(400);
  expect(noKey.json<{ errors: { in: string; name: string }[] }>().errors[0]).toMatchObject({
    in: 'header',
    name: 'Idempotency-Key',
  });
  const badAddress = await call(
    report.run.id,
    { 'Idempotency-Key': 'k1', 'Content-Type': 'application/json' },
    '{"to":["not an address"]}',
  );
  expect(badAddress.status).toBe(400);
  expect(badAddress.text).toContain('must be an email address');
  const unknownRun = await call('20200101T000000Z-abcdef', { 'Idempotency-Key': 'k2' });
  expect(unknownRun.status).toBe(404);
  const wrongMethod = await callHandler(handler, {
    method: 'GET',
    url: `/api/runs/${report.run.id}/email`,
    params: { runId: report.run.id },
  });
  expect(wrongMethod.status).toBe(405);
  expect(messagesOf(report.run.id)).toHaveLength(0);
});
