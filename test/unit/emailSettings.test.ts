// Email settings (which provider, SMTP_*), and which send failures are worth another attempt.

import { classifySendError, EmailSendError, SmtpEmailSender } from '../../src/azure/emailSender';
import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';

const noFile = (): string => {
  throw new Error('no file expected');
};
const MAIL = { EMAIL_SENDER: 'DoNotReply@contoso.com', EMAIL_TO: 'compliance@contoso.com' };
const SECRET = 'Tr0ub4dor&3 with spaces ';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env, noFile);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('the email provider follows from the settings that are set', () => {
  it.each<[string, Record<string, string>, 'acs' | 'smtp' | null]>([
    ['nothing', {}, null],
    ['EMAIL_ENDPOINT', { ...MAIL, EMAIL_ENDPOINT: 'https://my-acs.communication.azure.com' }, 'acs'],
    [
      'EMAIL_CONNECTION_STRING',
      { ...MAIL, EMAIL_CONNECTION_STRING: 'endpoint=https://a.communication.azure.com/;accesskey=abc=' },
      'acs',
    ],
    ['SMTP_HOST', { ...MAIL, SMTP_HOST: 'smtp.office365.us' }, 'smtp'],
    [
      'SMTP_HOST left blank by the infra',
      {
        ...MAIL,
        EMAIL_ENDPOINT: 'https://my-acs.communication.azure.com',
        SMTP_HOST: ' ',
        SMTP_USER: '',
        SMTP_PASSWORD: '',
      },
      'acs',
    ],
  ])('%s', (_title, env, provider) => {
    expect(loadConfig(env, noFile).emailProvider).toBe(provider);
  });

  it('reads the SMTP settings, with port 587 by default and the password kept as given', () => {
    const config = loadConfig(
      { ...MAIL, SMTP_HOST: 'smtp.office365.us', SMTP_USER: 'auditor@contoso.com', SMTP_PASSWORD: SECRET },
      noFile,
    );
    expect(config.smtp).toEqual({
      host: 'smtp.office365.us',
      port: 587,
      user: 'auditor@contoso.com',
      password: SECRET,
      problem: null,
    });
    expect(Object.isFrozen(config.smtp)).toBe(true);
  });

  it('turns a Key Vault reference the platform could not resolve into a send problem, not a failed start', () => {
    const config = loadConfig(
      {
        ...MAIL,
        SMTP_HOST: 'smtp.office365.us',
        SMTP_USER: 'auditor@contoso.com',
        SMTP_PASSWORD:
          '@Microsoft.KeyVault(SecretUri=https://v.vault.usgovcloudapi.net/secrets/smtp-password)',
      },
      noFile,
    );
    expect(config.smtp?.password).toBeNull();
    expect(config.smtp?.problem).toMatch(/^SMTP_PASSWORD still holds its Key Vault reference/);
  });
});

describe('bad email settings name the setting and an example', () => {
  it.each<[string, Record<string, string>, string]>([
    [
      'SMTP_PORT',
      { ...MAIL, SMTP_HOST: 'smtp.office365.us', SMTP_PORT: '70000' },
      'SMTP_PORT must be a port number',
    ],
    ['SMTP_HOST', { ...MAIL, SMTP_HOST: 'smtp host!' }, 'SMTP_HOST must be a host name'],
    [
      'SMTP_HOST',
      { ...MAIL, SMTP_HOST: 'smtp.office365.us', EMAIL_ENDPOINT: 'https://my-acs.communication.azure.com' },
      'SMTP_HOST is set together with EMAIL_ENDPOINT',
    ],
    [
      'SMTP_PASSWORD',
      { ...MAIL, SMTP_HOST: 'smtp.office365.us', SMTP_USER: 'auditor@contoso.com' },
      'SMTP_PASSWORD must be set when SMTP_USER is',
    ],
    [
      'SMTP_USER',
      { ...MAIL, SMTP_HOST: 'smtp.office365.us', SMTP_PASSWORD: SECRET },
      'SMTP_USER must be set when SMTP_PASSWORD is',
    ],
    [
      'EMAIL_SENDER',
      { EMAIL_TO: 'a@contoso.com', SMTP_HOST: 'smtp.office365.us' },
      'EMAIL_SENDER is required when SMTP_HOST is set',
    ],
    [
      'EMAIL_TO',
      { EMAIL_SENDER: 'a@contoso.com', SMTP_HOST: 'smtp.office365.us' },
      'EMAIL_TO is required when SMTP_HOST is set',
    ],
    [
      'EMAIL_CONNECTION_STRING',
      {
        ...MAIL,
        EMAIL_ENDPOINT: 'https://a.communication.azure.com',
        EMAIL_CONNECTION_STRING: 'endpoint=https://a.communication.azure.com/;accesskey=abc=',
      },
      'EMAIL_CONNECTION_STRING and EMAIL_ENDPOINT are both set',
    ],
  ])('%s', (setting, env, message) => {
    const problems = problemsOf(env);
    expect(problems).toEqual([expect.stringContaining(message)]);
    expect(problems[0]).toMatch(new RegExp(`^${setting} .*\\(example: ${setting}=`));
  });

  it('never puts the password in a message', () => {
    const problems = problemsOf({ ...MAIL, SMTP_HOST: 'smtp host!', SMTP_PASSWORD: SECRET });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).not.toContain(SECRET.trim());
  });
});

describe('classifySendError', () => {
  const restError = (statusCode: number | undefined, headers: Record<string, string> = {}, code?: string) =>
    Object.assign(new Error('boom'), {
      name: 'RestError',
      statusCode,
      code,
      response: { headers: { get: (name: string) => headers[name.toLowerCase()] } },
    });

  it.each<[string, unknown, boolean, number | null]>([
    ['429 with Retry-After', restError(429, { 'retry-after': '7' }), true, 7000],
    ['503', restError(503), true, null],
    ['a connection reset', restError(undefined, {}, 'ECONNRESET'), true, null],
    ['401', restError(401), false, null],
    ['400 InvalidSenderDomain', restError(400, {}, 'InvalidSenderDomain'), false, null],
    [
      'an operation that ended Failed',
      new EmailSendError('ACS did not deliver the message', 'Failed'),
      false,
      null,
    ],
    ['SMTP 451', Object.assign(new Error('try later'), { responseCode: 451 }), true, null],
    [
      'SMTP 550',
      Object.assign(new Error('no such user'), { responseCode: 550, permanent: true }),
      false,
      null,
    ],
    [
      'SMTP auth failure',
      Object.assign(new Error('Invalid login'), { code: 'EAUTH', responseCode: 535 }),
      false,
      null,
    ],
    [
      'an SMTP connection that dropped',
      Object.assign(new Error('Connection closed'), { code: 'ECONNECTION' }),
      true,
      null,
    ],
  ])('%s', (_title, error, transient, retryAfterInMs) => {
    expect(classifySendError(error, new Date('2026-11-29T06:00:00Z'))).toMatchObject({
      transient,
      retryAfterInMs,
    });
  });

  it('removes secrets from the reason', () => {
    const error = new Error('failed for https://user:hunter2@smtp.contoso.com and Bearer abc.def.ghi');
    expect(classifySendError(error).reason).not.toMatch(/hunter2|abc\.def/);
  });
});

it('an SMTP sender with a configuration problem fails every send with it, before connecting', async () => {
  const sender = new SmtpEmailSender({
    host: '127.0.0.1',
    port: 1,
    user: 'u',
    password: null,
    problem: 'SMTP_PASSWORD still holds its Key Vault reference',
  });
  const message = {
    from: 'a@contoso.com',
    to: ['b@contoso.com'],
    subject: 's',
    html: 'h',
    text: 't',
    attachments: [],
    headers: {},
  };
  const error = await sender
    .send(message, { operationId: '00000000-0000-4000-8000-000000000000' })
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(EmailSendError);
  expect(classifySendError(error)).toMatchObject({
    transient: false,
    reason: expect.stringContaining('Key Vault') as string,
  });
});
