// The app's shard-queue client authenticates as the identity AUDIT_QUEUE__credential/__clientId name, like the host.

import { randomUUID } from 'node:crypto';
import https from 'node:https';

import { ManagedIdentityCredential } from '@azure/identity';

import { closeServer, listenOnLoopback } from '../../emulators/loopbackServer';
import { ManagedIdentityEmulator } from '../../emulators/managedIdentityEmulator';
import { createTestCertificate, trustCertificate } from '../../emulators/tls';
import { type Env, loadConfig } from '../../src/config';
import { createQueueClient } from '../../src/pipeline/pipelineQueue';

/** A loopback HTTPS stand-in for the queue service that answers Put Message and keeps each bearer token. */
class QueueServiceStandIn {
  readonly tokens: string[] = [];
  private constructor(
    private readonly server: https.Server,
    readonly endpoint: string,
  ) {}

  static async start(): Promise<QueueServiceStandIn> {
    const { cert, key } = await createTestCertificate();
    trustCertificate(cert);
    const server = https.createServer({ cert, key });
    const port = await listenOnLoopback(server);
    // An IP endpoint is path-style for the storage client: the account is the first path segment.
    const standIn = new QueueServiceStandIn(server, `https://127.0.0.1:${port}/devstoreaccount1`);
    server.on('request', (req, res) => {
      req.resume();
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ')) {
        res.writeHead(401, {
          'WWW-Authenticate':
            'Bearer authorization_uri=https://login.microsoftonline.com/tenant/oauth2/authorize resource_id=https://storage.azure.com',
        });
        res.end();
        return;
      }
      standIn.tokens.push(auth.slice('Bearer '.length));
      const now = new Date().toUTCString();
      res.writeHead(201, { 'Content-Type': 'application/xml', 'x-ms-request-id': randomUUID() });
      res.end(
        `<?xml version="1.0" encoding="utf-8"?><QueueMessagesList><QueueMessage><MessageId>${randomUUID()}</MessageId>` +
          `<InsertionTime>${now}</InsertionTime><ExpirationTime>${now}</ExpirationTime><PopReceipt>p</PopReceipt>` +
          `<TimeNextVisible>${now}</TimeNextVisible></QueueMessage></QueueMessagesList>`,
      );
    });
    return standIn;
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }
}

const APP_IDENTITY = randomUUID();
const QUEUE_IDENTITY = randomUUID();
let identity: ManagedIdentityEmulator;
let queueService: QueueServiceStandIn;

beforeAll(async () => {
  identity = await ManagedIdentityEmulator.start();
  queueService = await QueueServiceStandIn.start();
  for (const name of [
    'AZURE_CLIENT_SECRET',
    'AZURE_TENANT_ID',
    'AZURE_CLIENT_ID',
    'AZURE_FEDERATED_TOKEN_FILE',
  ]) {
    delete process.env[name];
  }
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.identityHeader;
});

afterAll(async () => {
  await queueService?.close();
  await identity?.close();
});

/** Sends one message through the app's queue client and says which identity the queue service saw. */
async function identitySeenBy(env: Env): Promise<string | undefined> {
  const config = loadConfig({ AUDIT_TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true', ...env });
  const appCredential = new ManagedIdentityCredential({ clientId: APP_IDENTITY });
  const client = createQueueClient(config.queue.connection!, 'fipsaudit-shards', appCredential);
  const before = queueService.tokens.length;
  await client.sendMessage('e30=');
  const token = queueService.tokens[before];
  expect(token).toBeDefined();
  const issued = identity.lookupToken(token!);
  expect(issued?.audience).toMatch(/^https:\/\/storage\.azure\.com/);
  return issued?.clientId;
}

it('uses AUDIT_QUEUE__clientId with AUDIT_QUEUE__credential=managedidentity, as the queue trigger does', async () => {
  const seen = await identitySeenBy({
    AUDIT_SHARDING: 'subscriptions',
    AZURE_CLIENT_ID: APP_IDENTITY,
    AUDIT_QUEUE__queueServiceUri: queueService.endpoint,
    AUDIT_QUEUE__credential: 'managedidentity',
    AUDIT_QUEUE__clientId: QUEUE_IDENTITY,
  });
  expect(seen).toBe(QUEUE_IDENTITY);
});

it('uses the system-assigned identity when the credential is managedidentity without a client ID', async () => {
  const seen = await identitySeenBy({
    AUDIT_SHARDING: 'subscriptions',
    AZURE_CLIENT_ID: APP_IDENTITY,
    AUDIT_QUEUE__queueServiceUri: queueService.endpoint,
    AUDIT_QUEUE__credential: 'managedidentity',
  });
  expect(seen).toBe(identity.systemAssignedClientId);
});

it("uses the app's own credential when the connection names no identity", async () => {
  const seen = await identitySeenBy({ AUDIT_QUEUE__queueServiceUri: queueService.endpoint });
  expect(seen).toBe(APP_IDENTITY);
});
