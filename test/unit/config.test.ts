// loadConfig: defaults, sovereign clouds, and one ConfigError that lists every bad setting with an example.

import {
  CLOUDS,
  type Config,
  type Env,
  loadConfig,
  requireStorage,
  type SettingName,
  SETTINGS,
} from '../../src/config';
import { builtInMatrix } from '../../src/core/fipsMatrix';
import { ConfigError } from '../../src/errors';

const SUB_A = '0B1F6471-1BF0-4DDA-AEC3-111122223333';
const SUB_B = '7c2e9c1d-0d5f-4a55-9e1e-444455556666';

/** Catches the ConfigError loadConfig throws, failing the test when it throws none or another error. */
function configError(env: Env, readFile?: (path: string) => string): ConfigError {
  try {
    loadConfig(env, readFile);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

const noFile = (path: string): string => {
  throw new Error(`no file ${path} in a unit test`);
};

describe('loadConfig defaults', () => {
  const config = loadConfig({}, noFile);

  it.each<[string, (c: Config) => unknown, unknown]>([
    ['the public cloud', (c) => c.cloud.name, 'AzureCloud'],
    ['the public ARM endpoint', (c) => c.cloud.armEndpoint, 'https://management.azure.com'],
    ['every readable subscription (no list)', (c) => c.subscriptions, null],
    ['no management groups', (c) => c.managementGroups, null],
    ['a daily schedule at 06:00', (c) => c.schedule, '0 0 6 * * *'],
    ['the system-assigned identity', (c) => c.clientId, null],
    ['no storage', (c) => c.storage, null],
    ['the table prefix fipsaudit', (c) => c.tablePrefix, 'fipsaudit'],
    ['no email endpoint', (c) => c.email.endpoint, null],
    ['no email connection string', (c) => c.email.connectionString, null],
    ['no email sender', (c) => c.email.sender, null],
    ['no recipients', (c) => c.email.to, []],
    ['email mode always', (c) => c.email.mode, 'always'],
    ['no report base URL', (c) => c.reportBaseUrl, null],
    ['no matrix file', (c) => c.matrixFile, null],
    ['a 30-day node image limit', (c) => c.nodeImageMaxAgeInDays, 30],
  ])('defaults to %s', (_title, read, expected) => {
    expect(read(config)).toEqual(expected);
  });

  it('uses the built-in matrix without AUDIT_MATRIX_FILE', () => {
    expect(config.matrix).toBe(builtInMatrix);
  });

  it('treats blank settings as unset', () => {
    const blank = loadConfig(
      { AZURE_CLOUD: '  ', AUDIT_SUBSCRIPTIONS: '', AUDIT_SCHEDULE: ' ', EMAIL_MODE: '' },
      noFile,
    );
    expect(blank).toMatchObject({
      cloud: { name: 'AzureCloud' },
      subscriptions: null,
      schedule: '0 0 6 * * *',
      email: { mode: 'always' },
    });
  });
});

describe('loadConfig clouds', () => {
  // The sovereign-cloud table of docs/azure-wire.md.
  it.each<[string, string, string, string, string]>([
    [
      'AzureCloud',
      'https://management.azure.com',
      'https://management.azure.com/.default',
      'https://login.microsoftonline.com',
      'core.windows.net',
    ],
    [
      'AzureUSGovernment',
      'https://management.usgovcloudapi.net',
      'https://management.usgovcloudapi.net/.default',
      'https://login.microsoftonline.us',
      'core.usgovcloudapi.net',
    ],
    [
      'AzureChinaCloud',
      'https://management.chinacloudapi.cn',
      'https://management.chinacloudapi.cn/.default',
      'https://login.chinacloudapi.cn',
      'core.chinacloudapi.cn',
    ],
  ])(
    'gives %s its ARM endpoint, token scope, authority host and table suffix',
    (name, armEndpoint, armScope, authorityHost, tableSuffix) => {
      expect(loadConfig({ AZURE_CLOUD: name }, noFile).cloud).toEqual({
        name,
        armEndpoint,
        armScope,
        authorityHost,
        tableSuffix,
      });
    },
  );

  it('knows exactly the three clouds of the contract', () => {
    expect(Object.keys(CLOUDS).sort()).toEqual(['AzureChinaCloud', 'AzureCloud', 'AzureUSGovernment']);
  });

  it.each<[string, string, string]>([
    ['AzureCloud', 'https://armstack.local:8443/', 'https://management.azure.com/.default'],
    ['AzureUSGovernment', 'https://127.0.0.1:44321', 'https://management.usgovcloudapi.net/.default'],
  ])(
    'lets AUDIT_ARM_ENDPOINT override the %s endpoint (%s) but not the token scope',
    (cloud, endpoint, scope) => {
      const config = loadConfig({ AZURE_CLOUD: cloud, AUDIT_ARM_ENDPOINT: endpoint }, noFile);
      expect(config.cloud.armEndpoint).toBe(endpoint.replace(/\/+$/, ''));
      expect(config.cloud.armScope).toBe(scope);
      expect(config.cloud.authorityHost).toBe(CLOUDS[cloud as keyof typeof CLOUDS].authorityHost);
    },
  );

  it.each<[string, string]>([
    ['azureusgovernment', 'AzureUSGovernment'],
    ['AZUREUSGOVERNMENT', 'AzureUSGovernment'],
    ['azurecloud', 'AzureCloud'],
    ['AzureChinacloud', 'AzureChinaCloud'],
    [' AzureUSGovernment ', 'AzureUSGovernment'],
  ])('accepts AZURE_CLOUD=%s in any case and keeps the canonical name %s', (value, name) => {
    const config = loadConfig({ AZURE_CLOUD: value }, noFile);
    expect(config.cloud.name).toBe(name);
    expect(config.cloud.armEndpoint).toBe(CLOUDS[name as keyof typeof CLOUDS].armEndpoint);
  });

  it.each([
    'AzureGermanCloud',
    'azure-cloud',
    'Public',
    'constructor',
    'toString',
    '__proto__',
    'hasOwnProperty',
  ])('rejects AZURE_CLOUD=%s with a ConfigError listing the clouds', (value) => {
    const error = configError({ AZURE_CLOUD: value }, noFile);
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain('AZURE_CLOUD');
    expect(error.problems[0]).toContain('AzureCloud, AzureUSGovernment, AzureChinaCloud');
    expect(error.problems[0]).toContain(`got "${value}"`);
  });
});

describe('loadConfig settings', () => {
  it('reads subscriptions as a lowercased list of GUIDs, ignoring blanks and spaces', () => {
    expect(loadConfig({ AUDIT_SUBSCRIPTIONS: ` ${SUB_A} ,, ${SUB_B} ` }, noFile).subscriptions).toEqual([
      SUB_A.toLowerCase(),
      SUB_B,
    ]);
  });

  it('reads management groups as a list', () => {
    expect(
      loadConfig({ AUDIT_MANAGEMENT_GROUPS: 'mg-prod, mg_fed.ramp(1)' }, noFile).managementGroups,
    ).toEqual(['mg-prod', 'mg_fed.ramp(1)']);
  });

  it.each<[Env, Config['storage']]>([
    [
      { AUDIT_TABLES_ENDPOINT: 'https://myauditstore.table.core.windows.net/' },
      { kind: 'endpoint', endpoint: 'https://myauditstore.table.core.windows.net' },
    ],
    [
      { AUDIT_TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true' },
      { kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' },
    ],
    [
      {
        AUDIT_TABLES_CONNECTION_STRING:
          'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;',
      },
      {
        kind: 'connectionString',
        connectionString:
          'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;',
      },
    ],
  ])('reads storage from %j', (env, storage) => {
    expect(loadConfig(env, noFile).storage).toEqual(storage);
  });

  it('reads the email settings', () => {
    const config = loadConfig(
      {
        EMAIL_ENDPOINT: 'https://my-acs.communication.azure.com',
        EMAIL_SENDER: 'DoNotReply@contoso.com',
        EMAIL_TO: 'compliance@contoso.com, secops@contoso.com',
        EMAIL_MODE: 'changes',
        REPORT_BASE_URL: 'https://fips-auditor.azurewebsites.us/',
      },
      noFile,
    );
    expect(config.email).toEqual({
      endpoint: 'https://my-acs.communication.azure.com',
      connectionString: null,
      sender: 'DoNotReply@contoso.com',
      to: ['compliance@contoso.com', 'secops@contoso.com'],
      mode: 'changes',
      allowedRecipients: [],
    });
    expect(config.reportBaseUrl).toBe('https://fips-auditor.azurewebsites.us');
  });

  it.each([
    '0 0 6 * * *',
    '0 */15 * * * *',
    '0 30 9 * * MON-FRI',
    '0 0 6 1,15 * *',
    '0 0 0 1 Jan *',
    '30 5 2-4/2 * * 0,6',
  ])('accepts the NCRONTAB schedule "%s"', (schedule) => {
    expect(loadConfig({ AUDIT_SCHEDULE: schedule }, noFile).schedule).toBe(schedule);
  });

  it.each([
    '0 6 * * *',
    '0 0 6 * * * *',
    'daily',
    '0 0 25 * * *',
    '0 60 6 * * *',
    '0 0 6 32 * *',
    '0 0 6 * 13 *',
    '0 0 6 * * 8',
    '0 0 6 * * FOO',
    '0 */0 * * * *',
    '0 0 9-5 * * *',
  ])('rejects the schedule "%s"', (schedule) => {
    const error = configError({ AUDIT_SCHEDULE: schedule }, noFile);
    expect(error.problems).toEqual([
      expect.stringContaining('AUDIT_SCHEDULE must be an NCRONTAB expression of 6 fields, seconds first'),
    ]);
    expect(error.problems[0]).toContain(`got "${schedule}"`);
    expect(error.problems[0]).toContain('(example: AUDIT_SCHEDULE=0 0 6 * * *)');
  });

  it.each<[string, string]>([
    [
      'a b c d e f',
      'the second field "a" is not a number (0-59), a range (0-59), a list (a,b) or a step (*/n)',
    ],
    ['0 x 6 * * *', 'the minute field "x" is not a number (0-59)'],
    ['0 0 6 * foo *', 'the month field "foo" is not a number (1-12) or a name (jan-dec), a range'],
    [
      '0 0 6 * * Mon-Funday',
      'the weekday field "Mon-Funday": "Funday" is not a number (0-6) or a name (sun-sat)',
    ],
    ['0 0 25 * * *', 'the hour field "25" is outside 0-23'],
    ['0 0 9-5 * * *', 'the hour range "9-5" runs backwards (write it low-high)'],
    ['0 */0 * * * *', 'the minute step in "*/0" must be at least 1'],
    ['0 6 * * *', 'it has 5 fields (a 5-field cron has no seconds: put 0 in front)'],
    ['daily', 'it has 1 field'],
    ['0 0 6 L * *', 'the day field "L" is not a number (1-31)'],
    ['0 0 6 ? * *', 'the day field "?" is not a number (1-31)'],
  ])('says what is wrong with the schedule "%s"', (schedule, detail) => {
    const error = configError({ AUDIT_SCHEDULE: schedule }, noFile);
    expect(error.problems[0]).toContain(`got "${schedule}": ${detail}`);
  });

  it('reads the node image age limit', () => {
    expect(loadConfig({ AUDIT_NODE_IMAGE_MAX_AGE_DAYS: '14' }, noFile).nodeImageMaxAgeInDays).toBe(14);
  });

  it('bounds the waits on Azure as the services do by default, and as set', () => {
    expect(loadConfig({}, noFile).requests).toEqual({
      armTimeoutInMs: 75_000,
      armMaxAttempts: 6,
      tablesTimeoutInMs: 40_000,
    });
    expect(
      loadConfig(
        { AUDIT_ARM_TIMEOUT_SECONDS: '5', AUDIT_ARM_MAX_ATTEMPTS: '1', AUDIT_TABLES_TIMEOUT_SECONDS: '3' },
        noFile,
      ).requests,
    ).toEqual({ armTimeoutInMs: 5_000, armMaxAttempts: 1, tablesTimeoutInMs: 3_000 });
  });

  it('reads the owner tag, off by default', () => {
    expect(loadConfig({}, noFile).ownerTag).toBeNull();
    expect(loadConfig({ AUDIT_OWNER_TAG: ' cost owner ' }, noFile).ownerTag).toBe('cost owner');
  });
});

describe('loadConfig errors', () => {
  // Each bad setting alone: one problem, naming the setting, with an example.
  it.each<[SettingName, Env]>([
    ['AZURE_CLOUD', { AZURE_CLOUD: 'Mars' }],
    ['AUDIT_ARM_ENDPOINT', { AUDIT_ARM_ENDPOINT: 'http://management.azure.com' }],
    ['AUDIT_ARM_ENDPOINT', { AUDIT_ARM_ENDPOINT: 'management.azure.com' }],
    ['AUDIT_SUBSCRIPTIONS', { AUDIT_SUBSCRIPTIONS: `${SUB_A},prod-subscription` }],
    ['AUDIT_SUBSCRIPTIONS', { AUDIT_SUBSCRIPTIONS: '/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333' }],
    ['AUDIT_MANAGEMENT_GROUPS', { AUDIT_MANAGEMENT_GROUPS: 'mg prod' }],
    ['AUDIT_SCHEDULE', { AUDIT_SCHEDULE: '0 6 * * *' }],
    ['AZURE_CLIENT_ID', { AZURE_CLIENT_ID: 'my-identity' }],
    ['AUDIT_TABLES_ENDPOINT', { AUDIT_TABLES_ENDPOINT: 'myauditstore' }],
    [
      'AUDIT_TABLES_ENDPOINT',
      {
        AUDIT_TABLES_ENDPOINT: 'https://a.table.core.windows.net',
        AUDIT_TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true',
      },
    ],
    ['AUDIT_TABLES_CONNECTION_STRING', { AUDIT_TABLES_CONNECTION_STRING: 'secret' }],
    ['AUDIT_TABLE_PREFIX', { AUDIT_TABLE_PREFIX: 'fips-audit' }],
    ['AUDIT_TABLE_PREFIX', { AUDIT_TABLE_PREFIX: '1fips' }],
    ['AUDIT_NODE_IMAGE_MAX_AGE_DAYS', { AUDIT_NODE_IMAGE_MAX_AGE_DAYS: '0' }],
    ['AUDIT_NODE_IMAGE_MAX_AGE_DAYS', { AUDIT_NODE_IMAGE_MAX_AGE_DAYS: '1e3' }],
    ['AUDIT_NODE_IMAGE_MAX_AGE_DAYS', { AUDIT_NODE_IMAGE_MAX_AGE_DAYS: 'thirty' }],
    ['EMAIL_ENDPOINT', { EMAIL_ENDPOINT: 'http://my-acs.communication.azure.com', EMAIL_MODE: 'off' }],
    ['EMAIL_CONNECTION_STRING', { EMAIL_CONNECTION_STRING: 'accesskey=abc', EMAIL_MODE: 'off' }],
    ['EMAIL_SENDER', { EMAIL_SENDER: 'not an address' }],
    ['EMAIL_SENDER', { EMAIL_ENDPOINT: 'https://my-acs.communication.azure.com', EMAIL_TO: 'a@contoso.com' }],
    ['EMAIL_TO', { EMAIL_TO: 'a@contoso.com,b' }],
    ['EMAIL_TO', { EMAIL_ENDPOINT: 'https://my-acs.communication.azure.com', EMAIL_SENDER: 'a@contoso.com' }],
    ['EMAIL_MODE', { EMAIL_MODE: 'sometimes' }],
    ['REPORT_BASE_URL', { REPORT_BASE_URL: 'fips-auditor' }],
    ['AUDIT_OWNER_TAG', { AUDIT_OWNER_TAG: 'team/owner' }],
    ['AUDIT_OWNER_TAG', { AUDIT_OWNER_TAG: 'x'.repeat(513) }],
    ['AUDIT_ARM_TIMEOUT_SECONDS', { AUDIT_ARM_TIMEOUT_SECONDS: '0' }],
    ['AUDIT_ARM_TIMEOUT_SECONDS', { AUDIT_ARM_TIMEOUT_SECONDS: '1.5' }],
    ['AUDIT_ARM_MAX_ATTEMPTS', { AUDIT_ARM_MAX_ATTEMPTS: '11' }],
    ['AUDIT_TABLES_TIMEOUT_SECONDS', { AUDIT_TABLES_TIMEOUT_SECONDS: 'forty' }],
  ])('reports a bad %s by name with an example (%j)', (name, env) => {
    const error = configError(env, noFile);
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]!.startsWith(`${name} `)).toBe(true);
    expect(error.problems[0]).toContain(`(example: ${name}=${SETTINGS[name]})`);
    expect(error.message).toContain(error.problems[0]);
  });

  it.each<[SettingName, string, string]>([
    ['AUDIT_NODE_IMAGE_MAX_AGE_DAYS', '3651', 'days from 1 to 3650'],
    ['AUDIT_EXEMPTION_MAX_DAYS', '0', 'days from 1 to 3650'],
    ['AUDIT_SHARD_SIZE', '801', 'subscriptions per shard from 1 to 800'],
    ['AUDIT_LEASE_TTL_SECONDS', '9', 'seconds from 10 to 3600'],
    ['AUDIT_EVIDENCE_RETENTION_DAYS', '146001', 'days from 1 to 146000'],
    ['AUDIT_ARM_TIMEOUT_SECONDS', '601', 'seconds from 1 to 600'],
    ['AUDIT_ARM_MAX_ATTEMPTS', '0', 'attempts from 1 to 10'],
    ['AUDIT_TABLES_TIMEOUT_SECONDS', '301', 'seconds from 1 to 300'],
  ])('reports %s=%s outside its range, saying the range', (name, value, range) => {
    const error = configError({ [name]: value }, noFile);
    expect(error.problems).toEqual([
      `${name} must be a whole number of ${range}; got "${value}" (example: ${name}=${SETTINGS[name]})`,
    ]);
  });

  it('reports every bad setting in ONE ConfigError', () => {
    const error = configError(
      {
        AZURE_CLOUD: 'Mars',
        AUDIT_SUBSCRIPTIONS: 'prod',
        AUDIT_SCHEDULE: '0 6 * * *',
        AZURE_CLIENT_ID: 'x',
        AUDIT_TABLES_ENDPOINT: 'https://a.table.core.windows.net',
        AUDIT_TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true',
        EMAIL_MODE: 'sometimes',
        REPORT_BASE_URL: 'nope',
        AUDIT_MATRIX_FILE: '/x.json',
      },
      () => '{"version": ""}',
    );
    const named = error.problems.map((p) => p.split(' ')[0]);
    expect(named).toEqual([
      'AZURE_CLOUD',
      'AUDIT_SUBSCRIPTIONS',
      'AUDIT_SCHEDULE',
      'AZURE_CLIENT_ID',
      'AUDIT_TABLES_ENDPOINT',
      'EMAIL_MODE',
      'REPORT_BASE_URL',
      'AUDIT_MATRIX_FILE',
    ]);
    // One line per problem, each naming its setting and an example.
    const lines = error.message.split('\n');
    expect(lines[0]).toBe('Invalid settings:');
    expect(lines.slice(1)).toHaveLength(error.problems.length);
    for (const [i, line] of lines.slice(1).entries()) {
      expect(line).toBe(`  - ${error.problems[i]}`);
      expect(line).toMatch(/\(example: [A-Z_]+=.+\)$/);
    }
  });

  it('names the subscriptions that are not GUIDs', () => {
    expect(configError({ AUDIT_SUBSCRIPTIONS: `${SUB_A},prod,dev` }, noFile).problems[0]).toContain(
      'not GUIDs: prod, dev',
    );
  });

  it('accepts settings that are fine alongside ones that are not, reporting only the bad', () => {
    const error = configError(
      { AZURE_CLOUD: 'AzureUSGovernment', AUDIT_SUBSCRIPTIONS: SUB_A, EMAIL_MODE: 'x' },
      noFile,
    );
    expect(error.problems.map((p) => p.split(' ')[0])).toEqual(['EMAIL_MODE']);
  });

  it.each<[string, string, string[]]>([
    [
      'an invalid override',
      JSON.stringify({
        version: 'v',
        operatingSystems: { foo: { name: 'Foo', fips: 'sometimes', retiredOn: null } },
      }),
      ['operatingSystems.foo.fips', '/etc/fips-override.json'],
    ],
    [
      'an override naming an unknown OS',
      JSON.stringify({ version: 'v', osSkus: { Foo: { osType: 'Linux', releases: [{ os: 'nope' }] } } }),
      ['osSkus.Foo.releases.0.os'],
    ],
    ['a file that is not JSON', '{ version: 1 ', ['could not be read as JSON']],
  ])('reports AUDIT_MATRIX_FILE with %s', (_title, text, mentions) => {
    const error = configError({ AUDIT_MATRIX_FILE: '/etc/fips-override.json' }, () => text);
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]!.startsWith('AUDIT_MATRIX_FILE ')).toBe(true);
    expect(error.problems[0]).not.toContain('\n');
    for (const text of mentions) expect(error.problems[0]).toContain(text);
    expect(error.problems[0]).toContain(`(example: AUDIT_MATRIX_FILE=${SETTINGS.AUDIT_MATRIX_FILE})`);
  });

  it('reports AUDIT_MATRIX_FILE when the file cannot be read', () => {
    const error = configError({ AUDIT_MATRIX_FILE: '/missing.json' }, noFile);
    expect(error.problems[0]).toMatch(/^AUDIT_MATRIX_FILE .*no file \/missing\.json/);
  });

  it('applies a valid AUDIT_MATRIX_FILE, reading the named file', () => {
    const read: string[] = [];
    const config = loadConfig({ AUDIT_MATRIX_FILE: '/etc/fips-override.json' }, (path) => {
      read.push(path);
      return JSON.stringify({ version: '2026-12-01-ops', sources: ['ops review'] });
    });
    expect(read).toEqual(['/etc/fips-override.json']);
    expect(config.matrixFile).toBe('/etc/fips-override.json');
    expect(config.matrix.version).toBe('2026-12-01-ops');
    // A source written the old way, as a string without a URL, is kept as a title with no link.
    expect(config.matrix.sources[0]).toEqual({ url: null, title: 'ops review', retrieved: null });
  });

  it('reads sources of an AUDIT_MATRIX_FILE as { url, title, retrieved }', () => {
    const source = {
      url: 'https://contoso.example/fips',
      title: 'Contoso FIPS review',
      retrieved: '2026-12-01',
    };
    const config = loadConfig({ AUDIT_MATRIX_FILE: '/etc/fips-override.json' }, () =>
      JSON.stringify({ version: '2026-12-01-ops', sources: [source] }),
    );
    expect(config.matrix.sources[0]).toEqual(source);
  });
});

describe('the config', () => {
  const config = loadConfig(
    {
      AUDIT_SUBSCRIPTIONS: SUB_A,
      AUDIT_MANAGEMENT_GROUPS: 'mg-prod',
      AUDIT_TABLES_ENDPOINT: 'https://a.table.core.windows.net',
      EMAIL_ENDPOINT: 'https://my-acs.communication.azure.com',
      EMAIL_SENDER: 'DoNotReply@contoso.com',
      EMAIL_TO: 'a@contoso.com',
    },
    noFile,
  );

  it.each<[string, (c: Config) => unknown]>([
    ['the config', (c) => c],
    ['its cloud', (c) => c.cloud],
    ['its email settings', (c) => c.email],
    ['its recipients', (c) => c.email.to],
    ['its subscriptions', (c) => c.subscriptions],
    ['its management groups', (c) => c.managementGroups],
    ['its storage', (c) => c.storage],
  ])('freezes %s', (_title, part) => {
    expect(Object.isFrozen(part(config))).toBe(true);
  });

  it('cannot be changed by a caller', () => {
    expect(() => {
      (config as { schedule: string }).schedule = '* * * * * *';
    }).toThrow(TypeError);
    expect(() => config.subscriptions!.push('x')).toThrow(TypeError);
    expect(config.schedule).toBe('0 0 6 * * *');
  });
});

describe('requireStorage', () => {
  it('throws a ConfigError naming AUDIT_TABLES_ENDPOINT, with an example, when no storage is set', () => {
    const config = loadConfig({}, noFile);
    let error: unknown;
    try {
      requireStorage(config);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('AUDIT_TABLES_ENDPOINT');
    expect((error as ConfigError).message).toContain(
      `example: AUDIT_TABLES_ENDPOINT=${SETTINGS.AUDIT_TABLES_ENDPOINT}`,
    );
    expect((error as ConfigError).problems).toEqual(['AUDIT_TABLES_ENDPOINT']);
  });

  it('returns the storage settings when set', () => {
    expect(
      requireStorage(loadConfig({ AUDIT_TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true' }, noFile)),
    ).toEqual({
      kind: 'connectionString',
      connectionString: 'UseDevelopmentStorage=true',
    });
  });
});
