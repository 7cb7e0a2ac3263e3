// Sharded audits against Azurite's queue service: several workers, one completion per run, redeliveries, poison.

import { TableClient } from '@azure/data-tables';
import { InvocationContext, type Timer } from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';

import { ArmEmulator } from '../../emulators/armEmulator';
import { type AzuriteInstance, startAzurite } from '../../emulators/azurite';
import { generateEstate } from '../../emulators/estateGenerator';
import { ManagedIdentityEmulator } from '../../emulators/managedIdentityEmulator';
import { trustCertificate } from '../../emulators/tls';
import { AuditService } from '../../src/auditService';
import type { RunRecord } from '../../src/azure/runStore';
import { poisonQueueName } from '../../src/azure/shardQueue';
import { newRunId } from '../../src/azure/tableKeys';
import { loadConfig } from '../../src/config';
import { auditShardHandler, auditShardPoisonHandler } from '../../src/handlers/auditShardHandler';
import { auditTimerHandler } from '../../src/handlers/auditTimerHandler';
import {
  createShardedAuditDependencies,
  type ShardedAuditDependencies,
  startShardedAudit,
} from '../../src/shardedAudit';

const estate = generateEstate({ seed: 11, pools: 400, subscriptions: 10 });
const SHARD_SIZE = 3; // 10 subscriptions → 4 shards
const MAX_DEQUEUE_COUNT = 3;

let azurite: AzuriteInstance;
let identity: ManagedIdentityEmulator;
let arm: ArmEmulator;
let counter = 0;

interface Setup {
  service: AuditService;
  deps: ShardedAuditDependencies;
  queue: QueueClient;
  poison: QueueClient;
  completions: RunRecord[];
}

function setup(): Setup {
  counter += 1;
  const queueName = `shards-${counter}-${Date.now().toString(36)}`;
  const service = new AuditService(
    loadConfig({
      AZURE_CLOUD: 'AzureCloud',
      AUDIT_ARM_ENDPOINT: arm.endpoint,
      AUDIT_TABLES_CONNECTION_STRING: azurite.connectionString,
      AUDIT_TABLE_PREFIX: `shard${counter}t${Date.now().toString(36)}`,
      EMAIL_MODE: 'off',
      AUDIT_SHARDING: 'subscriptions',
      AUDIT_SHARD_SIZE: String(SHARD_SIZE),
      AUDIT_SHARD_QUEUE: queueName,
      AUDIT_QUEUE: azurite.connectionString,
    }),
  );
  const completions: RunRecord[] = [];
  const deps = createShardedAuditDependencies(service, {
    onCompleted: (run) => {
      completions.push(run);
      return Promise.resolve();
    },
  });
  return {
    service,
    deps,
    queue: new QueueClient(azurite.connectionString, queueName),
    poison: new QueueClient(azurite.connectionString, poisonQueueName(queueName)),
    completions,
  };
}

type QueueHandler = (entry: unknown, context: InvocationContext) => Promise<void>;

function context(name: string, dequeueCount: number, id: string): InvocationContext {
  return new InvocationContext({
    functionName: name,
    invocationId: `${name}-${Math.random().toString(36).slice(2)}`,
    triggerMetadata: { dequeueCount, id },
    logHandler: () => undefined,
  });
}

/**
 * Plays the Functions host for a queue trigger with `workers` instances: receive, decode (base64 JSON), call
 * the handler, delete on success; on failure make the message visible again, and after MAX_DEQUEUE_COUNT
 * deliveries move it to the poison queue, whose own handler runs the same way. Returns when both queues are
 * empty and no worker holds a message.
 */
async function drain(
  s: Setup,
  handler: QueueHandler,
  poisonHandler: QueueHandler,
  workers = 3,
): Promise<void> {
  await s.poison.createIfNotExists();
  let busy = 0;
  const deadline = Date.now() + 60_000;
  const deliver = async (client: QueueClient, name: string, handle: QueueHandler): Promise<boolean> => {
    const { receivedMessageItems } = await client.receiveMessages({
      numberOfMessages: 1,
      visibilityTimeout: 30,
    });
    const item = receivedMessageItems[0];
    if (!item) return false;
    busy += 1;
    try {
      const entry: unknown = JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8'));
      try {
        await handle(entry, context(name, item.dequeueCount, item.messageId));
        await client.deleteMessage(item.messageId, item.popReceipt);
      } catch {
        if (client === s.queue && item.dequeueCount >= MAX_DEQUEUE_COUNT) {
          await s.poison.sendMessage(item.messageText);
          await client.deleteMessage(item.messageId, item.popReceipt);
        } else {
          await client.updateMessage(item.messageId, item.popReceipt, item.messageText, 0);
        }
      }
    } finally {
      busy -= 1;
    }
    return true;
  };
  const worker = async (): Promise<void> => {
    for (let idle = 0; idle < 3;) {
      if (Date.now() > deadline) throw new Error('the queues did not drain within 60 s');
      const worked =
        (await deliver(s.queue, 'auditShard', handler)) ||
        (await deliver(s.poison, 'auditShardPoison', poisonHandler));
      if (worked) {
        idle = 0;
        continue;
      }
      const [main, poison] = await Promise.all([s.queue.getProperties(), s.poison.getProperties()]);
      const waiting = (main.approximateMessagesCount ?? 0) + (poison.approximateMessagesCount ?? 0);
      idle = waiting === 0 && busy === 0 ? idle + 1 : 0;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
}

async function poolsOf(s: Setup, runId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const pool of s.service.store.listRunPools(runId)) ids.push(pool.id.toLowerCase());
  return ids;
}

beforeAll(async () => {
  azurite = await startAzurite({ queue: true });
  identity = await ManagedIdentityEmulator.start();
  arm = await ArmEmulator.start({ estate, identity, audience: 'https://management.azure.com/' });
  trustCertificate(arm.certificatePem);
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
  process.env.AZURE_TOKEN_CREDENTIALS = 'ManagedIdentityCredential';
});

afterAll(async () => {
  await arm?.close();
  await identity?.close();
  await azurite?.stop();
});

it('audits every pool exactly once across three workers and completes the run exactly once', async () => {
  const s = setup();
  const runId = newRunId(new Date());
  const started = await startShardedAudit(s.deps, { runId, trigger: 'timer' });
  expect(started).toEqual({ runId, shards: 4, sent: 4 });
  expect((await s.service.store.getRun(runId))?.status).toBe('running');

  await drain(s, auditShardHandler(s.deps), auditShardPoisonHandler(s.deps));

  const run = await s.service.store.getRun(runId);
  expect(run?.status).toBe('succeeded');
  expect(run?.summary.pools).toBe(400);
  expect(run?.summary.subscriptions).toBe(10);
  expect(s.completions.map((r) => r.id)).toEqual([runId]);

  const ids = await poolsOf(s, runId);
  expect(ids).toHaveLength(400);
  expect(new Set(ids).size).toBe(400);

  // The same verdicts as one unsharded audit of the same estate.
  const whole = await s.service.audit({ trigger: 'cli', store: false });
  const readBefore = s.service.store.stats.entitiesRead;
  const report = await s.service.store.getReport(runId);
  // From the shards' report snapshot parts: a few entities, not one per pool.
  expect(s.service.store.stats.entitiesRead - readBefore).toBeLessThan(40);
  expect(report?.pools.map((p) => [p.id, p.status])).toEqual(whole.pools.map((p) => [p.id, p.status]));
  // Counts, percentage and breakdowns: the shards' summaries merge into the unsharded run's.
  expect(report?.summary).toEqual(whole.summary);
  expect(report?.summary.bySubscription).toHaveLength(10);
  expect(report?.clusters).toEqual(whole.clusters);

  const states = [];
  for await (const state of s.service.store.listPoolStates()) states.push(state);
  expect(states).toHaveLength(400);
  expect(states.every((state) => state.lastRunId === runId)).toBe(true);
  // The lease went with the run: a new audit may start.
  expect(
    await s.service.store.acquireAuditLease(newRunId(new Date()), { ttlInMs: 1000, now: new Date() }),
  ).toEqual({
    acquired: true,
  });
});

it('treats a redelivered or duplicated shard message as done: same results, no second completion', async () => {
  const s = setup();
  const runId = newRunId(new Date());
  await startShardedAudit(s.deps, { runId, trigger: 'timer' });
  // Every shard twice, handled concurrently by three workers: duplicates race with the originals.
  for (let shard = 0; shard < 4; shard++) await s.deps.queue.send({ v: 1, runId, shard, shards: 4 });
  await drain(s, auditShardHandler(s.deps), auditShardPoisonHandler(s.deps));

  const run = await s.service.store.getRun(runId);
  expect(run?.status).toBe('succeeded');
  expect(run?.summary.pools).toBe(400);
  expect(s.completions).toHaveLength(1);
  const ids = await poolsOf(s, runId);
  expect(ids).toHaveLength(400);

  // A late redelivery of a finished shard, after the run completed: nothing changes.
  await s.deps.queue.send({ v: 1, runId, shard: 2, shards: 4 });
  await drain(s, auditShardHandler(s.deps), auditShardPoisonHandler(s.deps), 1);
  expect(s.completions).toHaveLength(1);
  expect(await s.service.store.getRun(runId)).toEqual(run);
  expect(await poolsOf(s, runId)).toHaveLength(400);
});

it('records a shard that fails on every delivery as failed, so the run is partial with its pools unknown', async () => {
  const s = setup();
  // A first, clean run: the failed shard's pools are then reported from their last known state.
  const first = newRunId(new Date(Date.now() - 60_000));
  await startShardedAudit(s.deps, { runId: first, trigger: 'timer' });
  await drain(s, auditShardHandler(s.deps), auditShardPoisonHandler(s.deps));
  expect((await s.service.store.getRun(first))?.status).toBe('succeeded');

  const runId = newRunId(new Date());
  await startShardedAudit(s.deps, { runId, trigger: 'timer' });
  const healthy = auditShardHandler(s.deps);
  let crashes = 0;
  const crashingOnShard1: QueueHandler = async (entry, ctx) => {
    if ((entry as { shard?: number }).shard === 1) {
      crashes += 1;
      throw new Error('simulated crash of the worker');
    }
    await healthy(entry, ctx);
  };
  await drain(s, crashingOnShard1, auditShardPoisonHandler(s.deps));

  expect(crashes).toBe(MAX_DEQUEUE_COUNT);
  const run = await s.service.store.getRun(runId);
  expect(run?.status).toBe('partial');
  expect(run?.errors).toEqual([
    expect.objectContaining({ code: 'ShardFailed', scope: `/subscriptions/{${SHARD_SIZE} subscriptions}` }),
  ]);
  expect(s.completions.map((r) => r.id)).toEqual([first, runId]);

  const report = await s.service.store.getReport(runId);
  expect(report?.pools).toHaveLength(400);
  const shard = await s.deps.shards.getShard(runId, 1);
  const failedSubscriptions = new Set(shard?.subscriptions);
  const ofFailed = report?.pools.filter((p) => failedSubscriptions.has(p.subscriptionId.toLowerCase())) ?? [];
  expect(ofFailed.length).toBeGreaterThan(0);
  expect(ofFailed.every((p) => p.status === 'unknown' && p.findings[0]?.code === 'SCOPE_UNREADABLE')).toBe(
    true,
  );
  expect(report?.summary.unknown).toBeGreaterThanOrEqual(ofFailed.length);
  // The failed shard's pools keep their good state from the first run.
  for await (const state of s.service.store.listPoolStates()) {
    const failed = failedSubscriptions.has(state.subscriptionId.toLowerCase());
    expect(state.lastRunId).toBe(failed ? first : runId);
  }
});

it('lets the timer plan a sharded run and leave the auditing to the shard workers', async () => {
  const s = setup();
  const timer: Timer = {
    isPastDue: false,
    schedule: { adjustForDST: true },
    scheduleStatus: { last: '', next: '', lastUpdated: '' },
  };
  await auditTimerHandler(s.service)(timer, context('auditTimer', 1, 'timer'));
  const planned = await s.service.store.getLatestRun();
  expect(planned).toMatchObject({ trigger: 'timer', status: 'running' });
  expect((await s.queue.getProperties()).approximateMessagesCount).toBe(4);

  await drain(s, auditShardHandler(s.deps), auditShardPoisonHandler(s.deps));
  expect(await s.service.store.getRun(planned?.id ?? '')).toMatchObject({
    status: 'succeeded',
    summary: { pools: 400 },
  });
  expect(s.completions).toHaveLength(1);
});

it('plans again when an earlier attempt died before its plan was complete', async () => {
  const s = setup();
  const runId = newRunId(new Date());
  // What a planner that died half-way leaves: the run record and a shard, but no plan entity.
  await s.service.store.ensureTables();
  await s.deps.shards.ensureTable();
  await s.service.store.upsertRun({
    id: runId,
    trigger: 'timer',
    status: 'running',
    startedAt: new Date().toISOString(),
    finishedAt: null,
    cloud: 'AzureCloud',
    matrix: { version: 'x', sources: [] },
    summary: {
      subscriptions: 0,
      clusters: 0,
      pools: 0,
      compliant: 0,
      noncompliant: 0,
      exempt: 0,
      unknown: 0,
    },
    errors: [],
    progress: { pagesRead: 0, clustersRead: 0, poolsJudged: 0 },
    scope: { subscriptions: null, managementGroups: null },
  });
  const table = TableClient.fromConnectionString(
    azurite.connectionString,
    `${s.service.config.tablePrefix}shards`,
    {
      allowInsecureConnection: true,
    },
  );
  await table.createEntity({
    partitionKey: runId,
    rowKey: 'shard|00000',
    index: 0,
    shards: 9,
    subscriptions: JSON.stringify(['00000000-0000-0000-0000-000000000000']),
    status: 'pending',
  });

  expect(await startShardedAudit(s.deps, { runId, trigger: 'timer' })).toEqual({ runId, shards: 4, sent: 4 });
  await drain(s, auditShardHandler(s.deps), auditShardPoisonHandler(s.deps));
  expect(await s.service.store.getRun(runId)).toMatchObject({ status: 'succeeded', summary: { pools: 400 } });
  expect(s.completions).toHaveLength(1);
});
