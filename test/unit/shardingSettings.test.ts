// Sharding settings: the shard size and the identity of the AUDIT_QUEUE connection, read as the Functions host reads it.

import { type Env, loadConfig, type QueueConnection } from '../../src/config';
import { ConfigError } from '../../src/errors';

const QUEUE_URI = 'https://myauditstore.queue.core.windows.net';
const APP_IDENTITY = '5b1e2f3a-0c4d-4e5f-8a9b-0c1d2e3f4a5b';
const OTHER_IDENTITY = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const base: Env = { AUDIT_TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true' };

function problemsOf(env: Env): string[] {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

describe('AUDIT_QUEUE__credential and AUDIT_QUEUE__clientId', () => {
  it.each<[string, Env, QueueConnection]>([
    [
      'a user-assigned identity for the queue (what infra/main.bicep sets with sharding on)',
      {
        AUDIT_SHARDING: 'subscriptions',
        AZURE_CLIENT_ID: APP_IDENTITY,
        AUDIT_QUEUE__queueServiceUri: `${QUEUE_URI}/`,
        AUDIT_QUEUE__credential: 'managedidentity',
        AUDIT_QUEUE__clientId: APP_IDENTITY,
      },
      {
        kind: 'endpoint',
        endpoint: QUEUE_URI,
        identity: { credential: 'managedidentity', clientId: APP_IDENTITY },
      },
    ],
    [
      'the system-assigned identity, chosen explicitly',
      {
        AUDIT_SHARDING: 'subscriptions',
        AZURE_CLIENT_ID: APP_IDENTITY,
        AUDIT_QUEUE__queueServiceUri: QUEUE_URI,
        AUDIT_QUEUE__credential: 'ManagedIdentity',
      },
      { kind: 'endpoint', endpoint: QUEUE_URI, identity: { credential: 'managedidentity', clientId: null } },
    ],
    [
      'another user-assigned identity than the app runs as',
      {
        AUDIT_SHARDING: 'subscriptions',
        AZURE_CLIENT_ID: APP_IDENTITY,
        AUDIT_QUEUE__queueServiceUri: QUEUE_URI,
        AUDIT_QUEUE__credential: 'managedidentity',
        AUDIT_QUEUE__clientId: OTHER_IDENTITY,
      },
      {
        kind: 'endpoint',
        endpoint: QUEUE_URI,
        identity: { credential: 'managedidentity', clientId: OTHER_IDENTITY },
      },
    ],
    [
      'no identity settings for an app without a user-assigned identity (developer or system identity)',
      { AUDIT_SHARDING: 'subscriptions', AUDIT_QUEUE__queueServiceUri: QUEUE_URI },
      { kind: 'endpoint', endpoint: QUEUE_URI },
    ],
    [
      'a connection string (Azurite) needs none',
      { AUDIT_SHARDING: 'subscriptions', AUDIT_QUEUE: 'UseDevelopmentStorage=true' },
      { kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' },
    ],
  ])('reads %s', (_title, env, queue) => {
    expect(loadConfig({ ...base, ...env }).queue.connection).toEqual(queue);
  });

  it.each<[string, Env, RegExp]>([
    [
      'an app running as a user-assigned identity whose queue trigger would fall back to the system-assigned one',
      {
        AUDIT_SHARDING: 'subscriptions',
        AZURE_CLIENT_ID: APP_IDENTITY,
        AUDIT_QUEUE__queueServiceUri: QUEUE_URI,
      },
      new RegExp(
        `^AUDIT_QUEUE__clientId and AUDIT_QUEUE__credential=managedidentity must be set .*system-assigned identity \\(example: AUDIT_QUEUE__clientId=${APP_IDENTITY}\\)`,
      ),
    ],
    [
      'a credential other than managedidentity',
      { AUDIT_QUEUE__queueServiceUri: QUEUE_URI, AUDIT_QUEUE__credential: 'clientsecret' },
      /^AUDIT_QUEUE__credential must be managedidentity; got "clientsecret" \(example: AUDIT_QUEUE__credential=managedidentity\)/,
    ],
    [
      'a client ID without the credential (the host would take it for a local service principal)',
      { AUDIT_QUEUE__queueServiceUri: QUEUE_URI, AUDIT_QUEUE__clientId: APP_IDENTITY },
      /^AUDIT_QUEUE__credential must be managedidentity when AUDIT_QUEUE__clientId is set/,
    ],
    [
      'a client ID that is not a GUID',
      {
        AUDIT_QUEUE__queueServiceUri: QUEUE_URI,
        AUDIT_QUEUE__credential: 'managedidentity',
        AUDIT_QUEUE__clientId: 'id-fips-auditor',
      },
      /^AUDIT_QUEUE__clientId must be the client ID GUID of a user-assigned identity; got "id-fips-auditor"/,
    ],
    [
      'an identity for a connection-string queue',
      { AUDIT_QUEUE: 'UseDevelopmentStorage=true', AUDIT_QUEUE__credential: 'managedidentity' },
      /^AUDIT_QUEUE__credential only applies to an identity-based queue connection/,
    ],
  ])('refuses %s, naming the setting and an example', (_title, env, problem) => {
    const problems = problemsOf(env);
    expect(problems.some((p) => problem.test(p))).toBe(true);
  });
});

describe('AUDIT_SHARD_SIZE', () => {
  it.each<[string | undefined, number]>([
    [undefined, 500],
    ['1', 1],
    ['250', 250],
    ['800', 800],
  ])('reads %s as %i subscriptions per shard', (text, size) => {
    const env: Env = text === undefined ? {} : { AUDIT_SHARD_SIZE: text };
    expect(loadConfig({ ...base, ...env }).sharding.shardSize).toBe(size);
  });

  it.each(['0', '801', '12.5', 'many'])('refuses %s', (text) => {
    expect(problemsOf({ AUDIT_SHARD_SIZE: text }).some((p) => p.startsWith('AUDIT_SHARD_SIZE '))).toBe(true);
  });
});
