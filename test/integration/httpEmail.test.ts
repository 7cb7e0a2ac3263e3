// Email over HTTP against Azurite and the ACS emulator: `"email": true` on POST /api/audits, the email route in the
// routes table and the serve adapter, and the email part of GET /api/health.

import { AcsEmailEmulator } from '../../emulators/acsEmailEmulator';
import { type Estate, generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { trustCertificate } from '../../emulators/tls';
import { App } from '../../src/app';
import { AcsEmailSender } from '../../src/azure/emailSender';
import { loadConfig } from '../../src/config';
import {
  healthHandler,
  redactAddresses,
  STORAGE_PROBE_TIMEOUT_IN_MS,
} from '../../src/handlers/healthHandler';
import { API_ROUTES } from '../../src/http/routes';
import { healthSchema, problemSchema, startAuditResponseSchema } from '../../src/http/schemas';
import { serveHttp } from '../../src/http/serveHttp';
import { createNotifier, EMAIL_RETRY_POLICY } from '../../src/notify/notifyRun';
import { NO_SCHEDULE_STATE } from '../../src/store/scheduleStore';
import { callHandler } from '../support/httpCall';

const estate: Estate = generateEstate({ seed: 33, pools: 40, subscriptions: 2 });
let local: LocalAzure;
let acs: AcsEmailEmulator;
let prefixCounter = 0;
const RECIPIENT = 'compliance@contoso.com';

beforeAll(async () => {
  local = await startLocalAzure(estate);
  acs = await AcsEmailEmulator.start({ retryAfterInSeconds: 0 });
  trustCertificate(acs.certificatePem);
}, 120_000);

afterAll(async () => {
  await acs?.close();
  await local?.stop();
});

beforeEach(() => {
  acs.faults.length = 0;
});

const newPrefix = () => `httpmail${++prefixCounter}`;
const messagesOf = (runId: string) => acs.messages.filter((m) => m.headers['X-FIPS-Audit-Run'] === runId);

/** An app over its own tables; ACS configured unless `extra` says otherwise. */
function app(extra: Record<string, string> = {}, withAcs = true) {
  const service = new App(
    loadConfig({
      ...local.env,
      AUDIT_TABLE_PREFIX: newPrefix(),
      ...(withAcs
        ? {
            EMAIL_CONNECTION_STRING: acs.connectionString,
            EMAIL_SENDER: 'DoNotReply@contoso.com',
            EMAIL_TO: RECIPIENT,
            EMAIL_MODE: 'always',
          }
        : {}),
      ...extra,
    }),
    {
      notify: {
        sender: withAcs
          ? new AcsEmailSender({ connectionString: acs.connectionString, pollIntervalInMs: 20 })
          : null,
        retryPolicy: { ...EMAIL_RETRY_POLICY, baseDelayInMs: 20 },
      },
      retryDelayInMs: 20,
    },
  );
  return service;
}

/** POST /api/audits through the app's own handler; `settled` waits for the queued audits and their email. */
function instrumented(service: App) {
  const handler = service.httpHandlers().startAudit;
  const post = (body?: unknown) =>
    callHandler(handler, {
      method: 'POST',
      url: '/api/audits',
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
  return {
    handler,
    post,
    settled: () => service.drain(),
    notifyDeps: () => service.notifyDependencies(),
    /** Audits started: each start writes a run record. */
    starts: async () => (await runIdsOf(service).catch(() => [])).length,
  };
}

async function runIdsOf(service: App): Promise<string[]> {
  const ids: string[] = [];
  for await (const run of service.stores.reports.listRuns({})) ids.push(run.id);
  return ids;
}

/** Polls the run record until its email outcome is noted (the adapter's email goes on after the 202). */
async function until(
  what: string,
  read: () => Promise<{ email?: unknown } | undefined>,
  timeoutInMs = 30_000,
): Promise<unknown> {
  const deadline = Date.now() + timeoutInMs;
  for (;;) {
    const value = (await read())?.email;
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('POST /api/audits with "email"', () => {
  it('mails the digest of the on-demand audit exactly once when asked, whatever EMAIL_MODE says', async () => {
    const service = app({ EMAIL_MODE: 'off' });
    const { post, settled, notifyDeps } = instrumented(service);

    const res = await post({ email: true });
    expect(res.status).toBe(202);
    const body = startAuditResponseSchema.parse(res.json());
    expect(body.email).toBe(true);
    expect(res.logs.join('\n')).toContain('it is mailed once it completes');
    await settled();

    const mails = messagesOf(body.runId);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual([RECIPIENT]);
    expect(mails[0]!.subject).toMatch(/^\[FIPS audit\] /);
    const run = await service.stores.reports.getRun(body.runId);
    expect(run?.status).toBe('succeeded');
    expect(run?.trigger).toBe('http');
    expect(run?.email).toMatchObject({ state: 'sent', attempts: 1 });
    expect(await notifyDeps().emails.get({ runId: body.runId, kind: 'digest' })).toMatchObject({
      state: 'sent',
    });

    // Asking again for the same run (a retried notify) sends nothing more.
    expect((await createNotifier(notifyDeps())(body.runId, { requested: true })).status).toBe('alreadySent');
    expect(messagesOf(body.runId)).toHaveLength(1);
  });

  it.each([
    ['no body', undefined],
    ['an empty body', {}],
    ['"email": false', { email: false }],
  ])('does not mail an on-demand audit started with %s', async (_title, requestBody) => {
    const service = app();
    const { post, settled, notifyDeps } = instrumented(service);

    const res = await post(requestBody);
    expect(res.status).toBe(202);
    const body = startAuditResponseSchema.parse(res.json());
    expect(body.email).toBe(false);
    await settled();

    expect((await service.stores.reports.getRun(body.runId))?.status).toBe('succeeded');
    expect(messagesOf(body.runId)).toHaveLength(0);
    await notifyDeps().emails.ensureTable();
    expect(await notifyDeps().emails.get({ runId: body.runId, kind: 'digest' })).toBeUndefined();
  });

  it('answers 422 up front when email is asked for but no provider is configured, and starts nothing', async () => {
    const service = app({}, false);
    expect(service.config.emailProvider).toBeNull();
    await service.stores.ensureTables();
    const { post, starts } = instrumented(service);
    const sent = acs.messages.length;

    const res = await post({ email: true });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    const problem = problemSchema.parse(res.json());
    expect(problem.detail).toContain('"email": true cannot be honoured');
    expect(problem.detail).toMatch(/EMAIL_ENDPOINT or EMAIL_CONNECTION_STRING .* or SMTP_HOST/);
    expect(await starts()).toBe(0);
    expect(await runIdsOf(service)).toEqual([]);
    expect(acs.messages.length).toBe(sent);

    // Without "email" the same app audits as before.
    const plain = await post({});
    expect(plain.status).toBe(202);
    await service.drain();
  });

  it('answers 422 when a provider is set but EMAIL_MODE=off left out the sender and recipients', async () => {
    const service = app({ EMAIL_CONNECTION_STRING: acs.connectionString, EMAIL_MODE: 'off' }, false);
    expect(service.config.emailProvider).toBe('acs');
    const { post, starts } = instrumented(service);

    const res = await post({ email: true });
    expect(res.status).toBe(422);
    expect(problemSchema.parse(res.json()).detail).toContain('EMAIL_SENDER and EMAIL_TO');
    expect(await starts()).toBe(0);
  });

  it('answers 400 for an "email" that is not a boolean', async () => {
    const { post, starts } = instrumented(app());
    const res = await post({ email: 'yes' });
    expect(res.status).toBe(400);
    expect(problemSchema.parse(res.json()).errors?.[0]).toMatchObject({ in: 'body', name: 'email' });
    expect(await starts()).toBe(0);
  });
});

describe('the email route through the serve adapter', () => {
  it('routes POST /api/runs/{runId}/email from the routes table, and mails POST /api/audits with "email": true', async () => {
    expect(API_ROUTES.emailRun).toMatchObject({ name: 'emailRun', route: 'runs/{runId}/email' });
    const service = app();
    // An on-demand audit: not mailed by itself, so the messages below are the route's.
    const report = await service.audit({ trigger: 'http' });
    const server = await serveHttp({ handlers: service.httpHandlers(), port: 0 });
    try {
      const send = (key: string) =>
        fetch(`${server.url}/api/runs/${report.run.id}/email`, {
          method: 'POST',
          headers: { 'Idempotency-Key': key },
        });
      const first = await send('adapter-key-1');
      expect(first.status).toBe(200);
      expect(await first.json()).toMatchObject({
        runId: report.run.id,
        state: 'sent',
        recipients: [RECIPIENT],
      });
      const replay = await send('adapter-key-1');
      expect(replay.status).toBe(200);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(messagesOf(report.run.id)).toHaveLength(1);
      const wrongMethod = await fetch(`${server.url}/api/runs/${report.run.id}/email`);
      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.get('allow')).toBe('POST');

      // The adapter's POST /api/audits sends with the app's own notifier once the audit completes.
      const started = await fetch(`${server.url}/api/audits`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: true }),
      });
      expect(started.status).toBe(202);
      const { runId } = startAuditResponseSchema.parse(await started.json());
      const email = await until('the email outcome on the run', () => service.stores.reports.getRun(runId));
      expect(email).toMatchObject({ state: 'sent' });
      expect(messagesOf(runId)).toHaveLength(1);

      // Health through the adapter sees that digest.
      const health = healthSchema.parse(await (await fetch(`${server.url}/api/health`)).json());
      expect(health.email).toMatchObject({
        provider: 'acs',
        status: 'ok',
        delivery: 'ok',
        lastSent: { runId },
        lastFailure: null,
      });
    } finally {
      await server.close();
    }
  });
});

describe('GET /api/health: email', () => {
  const healthOf = (service: App) => callHandler(service.httpHandlers().health, { url: '/api/health' });

  it('says none before any digest, with the provider and the email settings that are set (names only)', async () => {
    const service = app();
    await service.stores.ensureTables();
    const res = await healthOf(service);
    expect(res.status).toBe(200);
    const health = healthSchema.parse(res.json());
    expect(health.status).toBe('ok');
    expect(health.email).toEqual({
      provider: 'acs',
      status: 'ok',
      delivery: 'none',
      latest: null,
      lastSent: null,
      lastFailure: null,
      failuresSinceLastSent: 0,
      warnings: [],
    });
    expect(health.settings.set).toEqual(
      expect.arrayContaining(['EMAIL_CONNECTION_STRING', 'EMAIL_SENDER', 'EMAIL_TO']),
    );
    expect(res.text).not.toContain(RECIPIENT);
    expect(res.text).not.toMatch(/accesskey|DoNotReply@/i);
  });

  it('shows a final email failure (reason without addresses) until a later digest is sent', async () => {
    // Audits that do not mail by themselves: this test sends each digest itself.
    const service = new App(app().config, {
      email: false,
      notify: {
        sender: new AcsEmailSender({ connectionString: acs.connectionString, pollIntervalInMs: 20 }),
        retryPolicy: { ...EMAIL_RETRY_POLICY, baseDelayInMs: 20 },
      },
    });
    const notify = service.notify;
    const failedRun = await service.audit({ trigger: 'timer' });
    acs.faults.push({
      on: 'outcome',
      status: 'Failed',
      code: 'RecipientRejected',
      message: `The recipient ${RECIPIENT} was rejected by the destination.`,
    });
    expect((await notify(failedRun.run.id)).status).toBe('failed');

    const res = await healthOf(service);
    expect(res.status).toBe(200); // email never makes the app unhealthy
    const health = healthSchema.parse(res.json());
    expect(health.audits.status).toBe('ok');
    expect(health.email).toMatchObject({
      provider: 'acs',
      status: 'degraded',
      delivery: 'failing',
      latest: { runId: failedRun.run.id, state: 'failed' },
      lastSent: null,
      lastFailure: { runId: failedRun.run.id },
      failuresSinceLastSent: 1,
    });
    expect(health.email.lastFailure?.reason).toContain('RecipientRejected');
    expect(health.email.lastFailure?.reason).toContain('The recipient <address> was rejected');
    expect(health.email.warnings.join('\n')).toContain(`of run ${failedRun.run.id}`);
    expect(res.text).not.toContain(RECIPIENT);
    expect(res.text).not.toMatch(/accesskey|DoNotReply@/i);

    await new Promise((resolve) => setTimeout(resolve, 1_100)); // run IDs have one-second resolution
    const nextRun = await service.audit({ trigger: 'timer' });
    expect((await notify(nextRun.run.id)).status).toBe('sent');
    const after = healthSchema.parse((await healthOf(service)).json());
    expect(after.email).toMatchObject({
      status: 'ok',
      delivery: 'ok',
      lastSent: { runId: nextRun.run.id },
      lastFailure: null,
      failuresSinceLastSent: 0,
      warnings: [],
    });
  });

  it('warns of an SMTP password still holding its Key Vault reference, and lists SMTP_* by name only', async () => {
    const reference =
      '@Microsoft.KeyVault(SecretUri=https://my-vault.vault.usgovcloudapi.net/secrets/smtp-password)';
    const service = app(
      {
        SMTP_HOST: 'smtp.office365.us',
        SMTP_PORT: '2525',
        SMTP_USER: 'fips-auditor@contoso.com',
        SMTP_PASSWORD: reference,
        EMAIL_SENDER: 'DoNotReply@contoso.com',
        EMAIL_TO: RECIPIENT,
        EMAIL_MODE: 'always',
      },
      false,
    );
    expect(service.config.smtp?.problem).toBeTruthy();
    await service.stores.ensureTables();
    const res = await healthOf(service);
    expect(res.status).toBe(200);
    const health = healthSchema.parse(res.json());
    expect(health.settings.set).toEqual(
      expect.arrayContaining([
        'SMTP_HOST',
        'SMTP_PORT',
        'SMTP_USER',
        'SMTP_PASSWORD',
        'EMAIL_SENDER',
        'EMAIL_TO',
      ]),
    );
    expect(health.email.provider).toBe('smtp');
    expect(health.email.status).toBe('degraded');
    expect(health.email.warnings).toHaveLength(1);
    expect(health.email.warnings[0]).toMatch(
      /^SMTP cannot send: SMTP_PASSWORD still holds its Key Vault reference/,
    );
    expect(res.text).not.toContain('my-vault');
    expect(res.text).not.toContain('fips-auditor@contoso.com');
    expect(res.text).not.toContain(RECIPIENT);
    expect(res.text).not.toContain('smtp.office365.us');
  });

  it('lists neither SMTP_PORT nor SMTP_USER nor SMTP_PASSWORD when only SMTP_HOST is set', async () => {
    const service = app(
      {
        SMTP_HOST: 'smtp.contoso.com',
        EMAIL_SENDER: 'DoNotReply@contoso.com',
        EMAIL_TO: RECIPIENT,
      },
      false,
    );
    await service.stores.ensureTables();
    const health = healthSchema.parse((await healthOf(service)).json());
    const smtp = health.settings.set.filter((name) => name.startsWith('SMTP_'));
    expect(smtp).toEqual(['SMTP_HOST']);
    expect(health.email).toMatchObject({ provider: 'smtp', status: 'ok', warnings: [] });
  });

  it('reports no provider, and does not read the email records when storage is unreachable', async () => {
    const service = app({}, false);
    let read = false;
    const res = await callHandler(
      healthHandler({
        config: service.config,
        store: { getLatestRun: () => Promise.reject(new Error('connect ECONNREFUSED')) },
        lease: { get: () => Promise.reject(new Error('connect ECONNREFUSED')) },
        schedule: { get: () => Promise.reject(new Error('connect ECONNREFUSED')) },
        emailHealth: () => {
          read = true;
          return Promise.reject(new Error('not expected'));
        },
      }),
      { url: '/api/health' },
    );
    expect(res.status).toBe(503);
    const health = healthSchema.parse(res.json());
    expect(health.email).toMatchObject({ provider: null, status: 'ok', delivery: null });
    expect(health.email.detail).toContain('not read');
    expect(read).toBe(false);
  });

  it('cancels the email and evidence reads it gives up on, so none goes on after the answer', async () => {
    const service = app();
    const cancelled: string[] = [];
    // A read that answers only its abort, as a Table Storage call over a hung link does.
    const hung = (name: string, signal: AbortSignal | undefined) =>
      new Promise<never>((_, reject) => {
        signal?.addEventListener('abort', () => {
          cancelled.push(name);
          reject(new Error(`${name} aborted`));
        });
      });
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const answer = callHandler(
        healthHandler({
          config: service.config,
          store: { getLatestRun: () => Promise.resolve(undefined) },
          lease: { get: () => Promise.resolve(undefined) },
          schedule: { get: () => Promise.resolve({ ...NO_SCHEDULE_STATE }) },
          emailHealth: ({ abortSignal }) => hung('email', abortSignal),
          evidenceHealth: ({ abortSignal }) => hung('evidence', abortSignal),
        }),
        { url: '/api/health' },
      );
      await jest.advanceTimersByTimeAsync(2 * STORAGE_PROBE_TIMEOUT_IN_MS);
      const health = healthSchema.parse((await answer).json());
      expect(health.email.detail).toContain(`no answer within ${STORAGE_PROBE_TIMEOUT_IN_MS} ms`);
      expect(health.evidence?.detail).toContain(`no answer within ${STORAGE_PROBE_TIMEOUT_IN_MS} ms`);
      expect(cancelled).toEqual(['email', 'evidence']);
    } finally {
      jest.useRealTimers();
    }
  });
});

it('redacts anything shaped like an address from a failure reason', () => {
  expect(redactAddresses('SMTP 550: 5.1.1 <a.b+c@mail.contoso.com>: Recipient address rejected')).toBe(
    'SMTP 550: 5.1.1 <<address>>: Recipient address rejected',
  );
  expect(redactAddresses('HTTP 400 BadRequest: no address here')).toBe(
    'HTTP 400 BadRequest: no address here',
  );
});
