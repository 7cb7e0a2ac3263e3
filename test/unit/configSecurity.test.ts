// Settings that decide where data goes: URL settings in one normal form or refused, the email allowlist, the serve key.

import { type Config, type Env, loadConfig, type SettingName, SETTINGS } from '../../src/config';
import { ConfigError } from '../../src/errors';

const noFile = (path: string): string => {
  throw new Error(`no file ${path} in a unit test`);
};

function problemsOf(env: Env): string[] {
  try {
    loadConfig(env, noFile);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

const KEY = 'YWNjZXNza2V5PT0=';

/** A URL setting: how to set it to a value, and where the config keeps its normal form. */
interface UrlSetting {
  name: SettingName;
  env: (url: string) => Env;
  read: (config: Config) => unknown;
  /** The setting's own value for a base URL, as read back (connection strings are rebuilt around it). */
  expect: (url: string) => unknown;
  /** Whether a base path (Azurite's path-style account, a reverse proxy's prefix) is allowed. */
  path: boolean;
  host: string;
}

const storage = (config: Config) =>
  config.storage?.kind === 'endpoint' ? config.storage.endpoint : config.storage?.connectionString;
const queue = (config: Config) =>
  config.queue.connection?.kind === 'endpoint'
    ? config.queue.connection.endpoint
    : config.queue.connection?.connectionString;

const URL_SETTINGS: UrlSetting[] = [
  {
    name: 'REPORT_BASE_URL',
    env: (url) => ({ REPORT_BASE_URL: url }),
    read: (c) => c.reportBaseUrl,
    expect: (url) => url,
    path: true,
    host: 'https://fips-auditor.azurewebsites.us',
  },
  {
    name: 'EMAIL_ENDPOINT',
    env: (url) => ({ EMAIL_ENDPOINT: url, EMAIL_MODE: 'off' }),
    read: (c) => c.email.endpoint,
    expect: (url) => url,
    path: false,
    host: 'https://my-acs.communication.azure.com',
  },
  {
    name: 'EMAIL_CONNECTION_STRING',
    env: (url) => ({ EMAIL_CONNECTION_STRING: `endpoint=${url};accesskey=${KEY}`, EMAIL_MODE: 'off' }),
    read: (c) => c.email.connectionString,
    expect: (url) => `endpoint=${url}/;accesskey=${KEY}`,
    path: false,
    host: 'https://my-acs.communication.azure.com',
  },
  {
    name: 'AUDIT_TABLES_ENDPOINT',
    env: (url) => ({ AUDIT_TABLES_ENDPOINT: url }),
    read: storage,
    expect: (url) => url,
    path: true,
    host: 'https://myauditstore.table.core.windows.net',
  },
  {
    name: 'AUDIT_TABLES_CONNECTION_STRING',
    env: (url) => ({
      AUDIT_TABLES_CONNECTION_STRING: `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${KEY};TableEndpoint=${url}`,
    }),
    read: storage,
    expect: (url) => `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${KEY};TableEndpoint=${url}`,
    path: true,
    host: 'https://myauditstore.table.core.windows.net',
  },
  {
    name: 'AUDIT_ARM_ENDPOINT',
    env: (url) => ({ AUDIT_ARM_ENDPOINT: url }),
    read: (c) => c.cloud.armEndpoint,
    expect: (url) => url,
    path: false,
    host: 'https://management.local.azurestack.external',
  },
  {
    name: 'AUDIT_QUEUE__queueServiceUri',
    env: (url) => ({ AUDIT_QUEUE__queueServiceUri: url }),
    read: queue,
    expect: (url) => url,
    path: true,
    host: 'https://myauditstore.queue.core.windows.net',
  },
  {
    name: 'AUDIT_QUEUE',
    env: (url) => ({ AUDIT_QUEUE: `AccountName=a;AccountKey=${KEY};QueueEndpoint=${url}` }),
    read: queue,
    expect: (url) => `AccountName=a;AccountKey=${KEY};QueueEndpoint=${url}`,
    path: true,
    host: 'https://myauditstore.queue.core.windows.net',
  },
];

describe.each(URL_SETTINGS.map((s) => [s.name, s] as const))('the URL setting %s', (name, setting) => {
  const read = (url: string) => setting.read(loadConfig(setting.env(url), noFile));
  const refused = (url: string) => {
    const problems = problemsOf(setting.env(url));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.startsWith(`${name} `)).toBe(true);
    expect(problems[0]).toContain(`(example: ${name}=${SETTINGS[name]})`);
    return problems[0]!;
  };

  it('keeps a plain value as it is', () => {
    expect(read(setting.host)).toEqual(setting.expect(setting.host));
  });

  it('drops trailing slashes, a double one included, so a client appending its path cannot make "//"', () => {
    expect(read(`${setting.host}/`)).toEqual(setting.expect(setting.host));
    expect(read(`${setting.host}//`)).toEqual(setting.expect(setting.host));
  });

  it('lowercases the host and drops the default port', () => {
    const shouty = setting.host.replace(
      /^https:\/\/(.*)$/,
      (_, host: string) => `https://${host.toUpperCase()}`,
    );
    expect(read(`${shouty}:443`)).toEqual(setting.expect(setting.host));
  });

  it('refuses an empty segment (//) inside the path', () => {
    expect(refused(`${setting.host}//base`)).toContain(setting.path ? 'empty path segment' : 'no path');
  });

  it(setting.path ? 'keeps a base path, without its trailing slash' : 'refuses a path', () => {
    if (setting.path) expect(read(`${setting.host}/base/`)).toEqual(setting.expect(`${setting.host}/base`));
    else expect(refused(`${setting.host}/base`)).toContain('no path');
  });

  it.each([
    ['a query', '/?sv=2024-01-01&sig=abc', 'query'],
    ['an empty query', '?', 'query'],
    ['a fragment', '#top', 'fragment'],
  ])('refuses %s', (_title, suffix, word) => {
    expect(refused(`${setting.host}${suffix}`)).toContain(word);
  });

  it('refuses credentials in the URL', () => {
    expect(refused(setting.host.replace('https://', 'https://user:pass@'))).toContain(
      'user name or password',
    );
  });

  it('refuses another scheme', () => {
    expect(refused(setting.host.replace('https://', 'ftp://'))).toMatch(/must (start with|look like)/);
  });
});

it('accepts http only where a local emulator needs it (storage, the report base URL)', () => {
  expect(
    loadConfig({ AUDIT_TABLES_ENDPOINT: 'http://127.0.0.1:10002/devstoreaccount1' }, noFile).storage,
  ).toEqual({ kind: 'endpoint', endpoint: 'http://127.0.0.1:10002/devstoreaccount1' });
  expect(loadConfig({ REPORT_BASE_URL: 'http://127.0.0.1:7071/' }, noFile).reportBaseUrl).toBe(
    'http://127.0.0.1:7071',
  );
  expect(problemsOf({ AUDIT_ARM_ENDPOINT: 'http://127.0.0.1:8443' })[0]).toMatch(
    /^AUDIT_ARM_ENDPOINT must start with https:\/\//,
  );
  expect(problemsOf({ EMAIL_ENDPOINT: 'http://acs.example', EMAIL_MODE: 'off' })[0]).toMatch(
    /^EMAIL_ENDPOINT must start with https:\/\//,
  );
});

it('keeps a connection string without endpoints (UseDevelopmentStorage, AccountName only) unchanged', () => {
  for (const text of [
    'UseDevelopmentStorage=true',
    `AccountName=a;AccountKey=${KEY};EndpointSuffix=core.windows.net`,
  ]) {
    expect(storage(loadConfig({ AUDIT_TABLES_CONNECTION_STRING: text }, noFile))).toBe(text);
  }
});

describe('EMAIL_ALLOWED_RECIPIENTS', () => {
  it('is empty by default: requested emails may go to EMAIL_TO only', () => {
    expect(loadConfig({}, noFile).email.allowedRecipients).toEqual([]);
  });

  it('reads addresses and @domain entries, lowercased, ignoring blanks', () => {
    const config = loadConfig(
      { EMAIL_ALLOWED_RECIPIENTS: ' Auditor@Assessor.example, ,@Contoso.COM ' },
      noFile,
    );
    expect(config.email.allowedRecipients).toEqual(['auditor@assessor.example', '@contoso.com']);
    expect(Object.isFrozen(config.email.allowedRecipients)).toBe(true);
  });

  it.each([
    '*',
    '*@contoso.com',
    '@*.contoso.com',
    'contoso.com',
    '@',
    '@contoso',
    'a@b@contoso.com',
    '@-x.com',
  ])('refuses the entry %j, naming the setting with an example', (entry) => {
    const problems = problemsOf({ EMAIL_ALLOWED_RECIPIENTS: `ok@contoso.com,${entry}` });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^EMAIL_ALLOWED_RECIPIENTS must be email addresses or @domain entries/);
    expect(problems[0]).toContain(`bad: ${entry.toLowerCase()}`);
    expect(problems[0]).toContain(`(example: EMAIL_ALLOWED_RECIPIENTS=${SETTINGS.EMAIL_ALLOWED_RECIPIENTS})`);
  });
});

describe('AUDIT_SERVE_KEY', () => {
  it('is unset by default', () => {
    expect(loadConfig({}, noFile).serveKey).toBeNull();
  });

  it('reads a long random key', () => {
    expect(loadConfig({ AUDIT_SERVE_KEY: SETTINGS.AUDIT_SERVE_KEY }, noFile).serveKey).toBe(
      SETTINGS.AUDIT_SERVE_KEY,
    );
  });

  it.each(['short', 'x'.repeat(31), `${'x'.repeat(40)} y`, `${'x'.repeat(40)}&code=1`, 'x'.repeat(257)])(
    'refuses %j, saying how to make one',
    (key) => {
      const problems = problemsOf({ AUDIT_SERVE_KEY: key });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^AUDIT_SERVE_KEY must be 32-256 characters/);
      expect(problems[0]).toContain('openssl rand');
      expect(problems[0]).not.toContain(key.slice(0, 20)); // a key, even a bad one, is not echoed
    },
  );
});

describe('a refused setting that carries a secret', () => {
  const SIG = 'c2VjcmV0LXNpZ25hdHVyZQ';
  const SAS = `sv=2024-08-04&sr=c&sp=rw&sig=${SIG}`;
  // Each value is refused (a query, a scheme), and its problem quotes it: the SAS signature or password in it
  // must not reach stderr or the host's log, which show these problems as they are.
  it.each<[SettingName, Env, string]>([
    [
      'AUDIT_EVIDENCE_CONTAINER',
      { AUDIT_EVIDENCE_CONTAINER: `https://myevidence.blob.core.windows.net/evidence?${SAS}` },
      SIG,
    ],
    [
      'AUDIT_TABLES_CONNECTION_STRING',
      {
        AUDIT_TABLES_CONNECTION_STRING: `AccountName=myauditstore;TableEndpoint=https://myauditstore.table.core.windows.net/?${SAS}`,
      },
      SIG,
    ],
    [
      'AUDIT_QUEUE__queueServiceUri',
      { AUDIT_QUEUE__queueServiceUri: `https://q.queue.core.windows.net/?${SAS}` },
      SIG,
    ],
    ['REPORT_BASE_URL', { REPORT_BASE_URL: 'ftp://admin:hunter2-pw@fips-auditor.example' }, 'hunter2-pw'],
  ])('%s: names the setting and the problem, without the secret', (name, env, secret) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name} `));
    expect(problems[0]).toContain(`(example: ${name}=${SETTINGS[name]})`);
    expect(problems[0]).not.toContain(secret);
  });
});
