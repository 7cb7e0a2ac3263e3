// The SMTP path end to end: a real SMTP server in this process (smtp-server), STARTTLS, auth, parsed with mailparser.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';

import { generateEstate, HOSTILE_SUBSCRIPTION_NAME } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { createTestCertificate, trustCertificate } from '../../emulators/tls';
import { App } from '../../src/app';
import { type CliIo, main } from '../../src/cli/main';
import { loadConfig } from '../../src/config';
import { createNotifier, EMAIL_RETRY_POLICY } from '../../src/notify/notifyRun';
import type { EmailStore } from '../../src/store/emailStore';

const USER = 'fips-auditor@contoso.com';
const PASSWORD = 'pa$$w0rd with spaces and @ and /';

interface Received {
  mail: ParsedMail;
  session: SMTPServerSession;
  envelopeTo: string[];
}

let local: LocalAzure;
let tlsPair: { cert: string; key: string };
let prefixCounter = 0;
const servers: SMTPServer[] = [];

/**
 * A fresh SMTP server on a free loopback port; STARTTLS with the test certificate, AUTH only after TLS.
 * `refuseFirst` answers the first message with that transient error, as a busy relay does.
 */
async function startSmtp(
  options: Partial<SMTPServerOptions> = {},
  refuseFirst?: { responseCode: number; message: string },
) {
  const received: Received[] = [];
  let refusals = refuseFirst ? 1 : 0;
  const server = new SMTPServer({
    secure: false,
    key: tlsPair.key,
    cert: tlsPair.cert,
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: false,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === USER && auth.password === PASSWORD) callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          if (refuseFirst && refusals-- > 0) {
            callback(
              Object.assign(new Error(refuseFirst.message), { responseCode: refuseFirst.responseCode }),
            );
            return;
          }
          received.push({ mail, session, envelopeTo: session.envelope.rcptTo.map((r) => r.address) });
          callback();
        })
        .catch((error: Error) => callback(error));
    },
    ...options,
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return { server, port, received };
}

function settings(port: number, extra: Record<string, string> = {}): Record<string, string> {
  prefixCounter += 1;
  return {
    ...local.env,
    AUDIT_TABLE_PREFIX: `smtp${prefixCounter}`,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(port),
    SMTP_USER: USER,
    SMTP_PASSWORD: PASSWORD,
    EMAIL_SENDER: 'DoNotReply@contoso.com',
    EMAIL_TO: 'compliance@contoso.com,secops@contoso.com',
    EMAIL_MODE: 'always',
    REPORT_BASE_URL: 'https://fips-auditor.azurewebsites.us',
    ...extra,
  };
}

function setup(port: number, extra: Record<string, string> = {}) {
  const config = loadConfig(settings(port, extra));
  // Audits that do not mail by themselves: each test sends the digest itself.
  const service = new App(config, { email: false });
  const logs: string[] = [];
  const deps = service.notifyDependencies({
    retryPolicy: { ...EMAIL_RETRY_POLICY, baseDelayInMs: 20 },
    log: (m) => logs.push(m),
  });
  return { config, service, deps, notify: createNotifier(deps), logs };
}

beforeAll(async () => {
  local = await startLocalAzure(generateEstate({ seed: 3, pools: 60, subscriptions: 3, hostileNames: true }));
  tlsPair = await createTestCertificate();
  trustCertificate(tlsPair.cert);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  await local?.stop();
});

it('delivers the digest over STARTTLS with AUTH: HTML and text parts, the CSV attachment, headers and subject', async () => {
  const smtp = await startSmtp();
  const { config, service, deps, notify } = setup(smtp.port);
  expect(config.emailProvider).toBe('smtp');
  const report = await service.audit({ trigger: 'timer' });

  const outcome = await notify(report.run.id);

  expect(outcome.status).toBe('sent');
  expect(smtp.received).toHaveLength(1);
  const { mail, session, envelopeTo } = smtp.received[0]!;
  expect(session.secure).toBe(true); // upgraded with STARTTLS before anything was sent
  expect(session.user).toBe(USER);
  expect(envelopeTo).toEqual(['compliance@contoso.com', 'secops@contoso.com']);
  expect(mail.subject).toMatch(
    /^\[FIPS audit\] First audit: \d+ noncompliant node pools — \d+\.\d% compliant$/,
  );
  expect(mail.from?.text).toBe('DoNotReply@contoso.com');
  expect(mail.html).toContain('FIPS 140 audit of AKS node pools');
  expect(mail.html).not.toContain(HOSTILE_SUBSCRIPTION_NAME);
  expect(mail.text).toContain(`run ${report.run.id}`);
  expect(mail.text).toContain(
    `Full report: https://fips-auditor.azurewebsites.us/api/report?runId=${report.run.id}&format=html`,
  );

  const record = await deps.emails.get({ runId: report.run.id, kind: 'digest' });
  expect(mail.messageId).toBe(`<${record!.operationId}@contoso.com>`);
  expect(record).toMatchObject({ state: 'sent', provider: 'smtp', attempts: 1, messageId: mail.messageId });
  expect(mail.headers.get('x-fips-audit-run')).toBe(report.run.id);
  expect(mail.headers.get('auto-submitted')).toBe('auto-generated');

  expect(mail.attachments).toHaveLength(1);
  const csv = mail.attachments[0]!;
  expect(csv.filename).toBe(`fips-audit-${report.run.id}.csv`);
  expect(csv.contentType).toBe('text/csv');
  const lines = csv.content.toString('utf8').split('\r\n');
  expect(lines[0]).toMatch(/^\uFEFFsubscriptionName,subscriptionId,/);
  expect(lines.filter((l) => l !== '')).toHaveLength(report.summary.pools + 1);
  // Formula-looking values from Azure are neutralised in the attachment.
  expect(csv.content.toString('utf8')).not.toMatch(/(^|,)=/m);
});

it('refuses to send in plain text to a server without STARTTLS, and records why', async () => {
  const smtp = await startSmtp({ disabledCommands: ['STARTTLS'], authOptional: true });
  const { service, deps, notify } = setup(smtp.port);
  const report = await service.audit({ trigger: 'timer' });

  const outcome = await notify(report.run.id);

  expect(outcome.status).toBe('failed');
  expect(smtp.received).toHaveLength(0);
  const record = await deps.emails.get({ runId: report.run.id, kind: 'digest' });
  expect(record?.reason).toMatch(/STARTTLS|TLS/i);
});

it('records a rejected password as a final failure, tried once, without the password anywhere', async () => {
  const smtp = await startSmtp();
  const { service, deps, notify, logs } = setup(smtp.port, { SMTP_PASSWORD: 'wrong secret value' });
  const report = await service.audit({ trigger: 'timer' });

  const outcome = await notify(report.run.id);

  expect(outcome.status).toBe('failed');
  expect(smtp.received).toHaveLength(0);
  const record = await deps.emails.get({ runId: report.run.id, kind: 'digest' });
  expect(record).toMatchObject({ state: 'failed', attempts: 1 });
  expect(record?.reason).toMatch(/EAUTH|535|Invalid username or password/);
  const everything = JSON.stringify([record, logs, await service.stores.reports.getRun(report.run.id)]);
  expect(everything).not.toContain('wrong secret value');
  expect(everything).not.toContain(PASSWORD);
});

it('retries a transient 451 answer and delivers once', async () => {
  const smtp = await startSmtp({}, { responseCode: 451, message: 'Temporary local problem, try again' });
  const { service, deps, notify } = setup(smtp.port);
  const report = await service.audit({ trigger: 'timer' });

  expect((await notify(report.run.id)).status).toBe('sent');
  expect(smtp.received).toHaveLength(1);
  expect(await deps.emails.get({ runId: report.run.id, kind: 'digest' })).toMatchObject({
    state: 'sent',
    attempts: 2,
  });
});

it('does not resend over SMTP after a crash between the send and its record: it records the outcome as unknown', async () => {
  const smtp = await startSmtp();
  const { service, deps } = setup(smtp.port);
  const report = await service.audit({ trigger: 'timer' });
  // The instance "dies" right after the server accepted the message: the update to `sent` never happens.
  const emails = deps.emails;
  const crashing = Object.create(emails) as EmailStore;
  crashing.update = async (record, changes) => {
    if (changes.state === 'sent') throw new Error('simulated crash between the send and its record');
    return emails.update(record, changes);
  };
  await expect(createNotifier({ ...deps, emails: crashing })(report.run.id)).rejects.toThrow(
    'simulated crash',
  );
  expect(smtp.received).toHaveLength(1);

  // The platform retries the invocation: it takes the claim over, and does not send a second copy.
  const outcome = await createNotifier(deps)(report.run.id, { takeOverClaim: true });

  expect(outcome.status).toBe('failed');
  expect(smtp.received).toHaveLength(1);
  const record = await deps.emails.get({ runId: report.run.id, kind: 'digest' });
  expect(record?.reason).toMatch(/outcome is unknown/);
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

async function cli(args: string[], env: Record<string, string>) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(args, { stdout, stderr, env } as unknown as CliIo);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

it('sends over SMTP after a takeover when the interrupted attempt is known to have failed', async () => {
  const smtp = await startSmtp({}, { responseCode: 450, message: 'Mailbox busy, try again' });
  const { service, deps } = setup(smtp.port);
  const report = await service.audit({ trigger: 'timer' });
  // The instance dies while it waits to retry: its attempt was refused, so nothing was delivered.
  const dying = createNotifier({
    ...deps,
    sleep: () => Promise.reject(new Error('simulated crash while waiting to retry')),
  });
  await expect(dying(report.run.id)).rejects.toThrow('simulated crash');
  expect(await deps.emails.get({ runId: report.run.id, kind: 'digest' })).toMatchObject({
    state: 'sending',
    attemptInFlight: false,
    attempts: 1,
  });

  const outcome = await createNotifier(deps)(report.run.id, { takeOverClaim: true });

  expect(outcome.status).toBe('sent');
  expect(smtp.received).toHaveLength(1);
  expect(await deps.emails.get({ runId: report.run.id, kind: 'digest' })).toMatchObject({
    state: 'sent',
    attempts: 2,
  });
});

describe('the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fips-email-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('audit mails the digest by EMAIL_MODE, and email --run --to sends a stored run again to an allowed address', async () => {
    const smtp = await startSmtp();
    const env = settings(smtp.port);

    const audit = await cli(['audit'], env);
    expect(audit.code).toBe(0);
    expect(smtp.received).toHaveLength(1);
    const runId = smtp.received[0]!.mail.headers.get('x-fips-audit-run') as string;
    expect(audit.stderr).toContain(
      `Digest of run ${runId}: sent to compliance@contoso.com, secops@contoso.com via smtp`,
    );
    expect((await cli(['audit', '--no-email'], env)).code).toBe(0);
    expect(smtp.received).toHaveLength(1);

    // --to follows the API's rule: EMAIL_TO, or what EMAIL_ALLOWED_RECIPIENTS allows (exit 2 otherwise).
    const refused = await cli(['email', '--run', runId, '--to', 'tester@contoso.com'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('tester@contoso.com is outside the recipients this app may mail');
    expect(refused.stderr).toContain('EMAIL_ALLOWED_RECIPIENTS');
    expect(smtp.received).toHaveLength(1);
    const allowed = { ...env, EMAIL_ALLOWED_RECIPIENTS: 'tester@contoso.com' };
    const email = await cli(['email', '--run', runId, '--to', 'tester@contoso.com'], allowed);
    expect(email).toMatchObject({ code: 0 });
    expect(email.stdout).toContain(`Digest of run ${runId}: sent to tester@contoso.com via smtp`);
    expect(smtp.received).toHaveLength(2);
    expect(smtp.received[1]!.envelopeTo).toEqual(['tester@contoso.com']);
  });

  it('email --out writes the .eml and its HTML without sending, and names a missing run', async () => {
    const smtp = await startSmtp();
    const env = settings(smtp.port, { EMAIL_MODE: 'off' });
    expect((await cli(['audit'], env)).code).toBe(0);
    const out = join(dir, 'digest.eml');

    const written = await cli(['email', '--out', out], env);

    expect(written.code).toBe(0);
    expect(written.stdout).toContain(`Wrote ${out} and ${join(dir, 'digest.html')}`);
    expect(smtp.received).toHaveLength(0);
    const parsed = await simpleParser(readFileSync(out));
    expect(parsed.subject).toMatch(/^\[FIPS audit\] First audit: /);
    expect(parsed.attachments.map((a) => a.contentType)).toEqual(['text/csv']);
    expect(readFileSync(join(dir, 'digest.html'), 'utf8')).toBe(parsed.html);
    const missing = await cli(['email', '--run', '20200101T000000Z-abcdef', '--out', out], env);
    expect(missing).toMatchObject({ code: 1, stderr: 'No stored run 20200101T000000Z-abcdef.\n' });
    expect((await cli(['email', '--to', 'not-an-address'], env)).code).toBe(2);
  });
});
