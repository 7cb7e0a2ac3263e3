// The one audit pipeline as the Function App runs it: the real @azure/functions handlers over Azurite's queue,
// timer → plan → shards → completion → one digest, sharded and unsharded, with redeliveries and poison.

import { TableClient } from '@azure/data-tables';
import { InvocationContext } from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';

import { AcsEmailEmulator } from '../../emulators/acsEmailEmulator';
import { generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { trustCertificate } from '../../emulators/tls';
import { App } from '../../src/app';
import { AcsEmailSender } from '../../src/azure/emailSender';
import { loadConfig } from '../../src/config';
import type { Report } from '../../src/core/types';
import { auditPipelineHandler, auditPipelinePoisonHandler } from '../../src/handlers/auditPipelineHandler';
import { auditTimerHandler } from '../../src/handlers/auditTimerHandler';
import { poisonQueueName } from '../../src/pipeline/pipelineQueue';
import { drainQueue, type HostedQueue, type QueueHandler } from '../support/functionsHost';

const estate = generateEstate({ seed: 11, pools: 400, subscriptions: 10 });
const SHARD_SIZE = 3; // 10 subscriptions → 4 shards
const MAX_DEQUEUE_COUNT = 3;

let local: LocalAzure;
let acs: AcsEmailEmulator;
let counter = 0;

beforeAll(async () => {
  local = await startLocalAzure(estate, { queue: true });
  acs = await AcsEmailEmulator.start({ retryAfterInSeconds: 0 });
  trustCertificate(acs.certificatePem);
}, 120_000);

afterAll(async () => {
  await acs?.close();
  await local?.stop();
});

interface FunctionApp {
  app: App;
  host: HostedQueue;
  timer: ReturnType<typeof auditTimerHandler>;
  digests: () => number;
}

/** One Function App over its own tables and queue, as src/functions/* wires it. */
function functionApp(options: { sharded: boolean; tablePrefix?: string; queueName?: string }): FunctionApp {
  counter += 1;
  const queueName = options.queueName ?? `pipeline-${counter}-${Date.now().toString(36)}`;
  const app = new App(
    loadConfig({
      ...local.env,
      AUDIT_TABLE_PREFIX: options.tablePrefix ?? `pipe${counter}t${Date.now().toString(36)}`,
      AUDIT_SHARD_QUEUE: queueName,
      // Hourly: the timer's latest occurrence is always recent, whatever the hour the suite runs at (with a
      // daily schedule it would be more than 20 hours old, hence missed, in the hours before the day's run).
      AUDIT_SCHEDULE: '0 0 * * * *',
      EMAIL_CONNECTION_STRING: acs.connectionString,
      EMAIL_SENDER: 'DoNotReply@contoso.com',
      EMAIL_TO: 'compliance@contoso.com',
      EMAIL_MODE: 'always',
      ...(options.sharded ? { AUDIT_SHARDING: 'subscriptions', AUDIT_SHARD_SIZE: String(SHARD_SIZE) } : {}),
    }),
    {
      queue: 'storage',
      notify: {
        sender: new AcsEmailSender({ connectionString: acs.connectionString, pollIntervalInMs: 20 }),
      },
    },
  );
  const deps = {
    handle: (...args: Parameters<App['pipeline']['handle']>) => app.pipeline.handle(...args),
    poison: (...args: Parameters<App['pipeline']['poison']>) => app.pipeline.poison(...args),
  };
  const host: HostedQueue = {
    queue: new QueueClient(local.env.AUDIT_QUEUE!, queueName),
    poison: new QueueClient(local.env.AUDIT_QUEUE!, poisonQueueName(queueName)),
    handler: auditPipelineHandler(deps),
    poisonHandler: auditPipelinePoisonHandler(deps),
    maxDequeueCount: MAX_DEQUEUE_COUNT,
  };
  const timer = auditTimerHandler({
    schedule: app.config.schedule,
    startScheduled: (at, log) => app.pipeline.startScheduled(at, log),
  });
  const digests = () => acs.messages.filter((m) => m.subject.startsWith('[FIPS audit]')).length;
  return { app, host, timer, digests };
}

const timerInfo = {
  isPastDue: false,
  schedule: { adjustForDST: true },
  scheduleStatus: { last: '', next: '', lastUpdated: '' },
};
const timerContext = () => new InvocationContext({ functionName: 'auditTimer', invocationId: 'timer' });

async function latestReport(app: App): Promise<Report> {
  const run = await app.stores.reports.getLatestRun();
  if (!run) throw new Error('no run stored');
  return (await app.getReport(run.id))!;
}

const verdicts = (report: Report) =>
  report.pools.map((p) => [p.id.toLowerCase(), p.status, p.findings.map((f) => f.code)]);

it('runs a scheduled audit through the queue unsharded and sharded, with the same report and one digest each', async () => {
  const results: Report[] = [];
  for (const sharded of [false, true]) {
    const f = functionApp({ sharded });
    const before = acs.messages.length;
    await f.timer(timerInfo, timerContext());
    // The timer only started the run: it is queued, and nothing has been read yet.
    const queued = await f.app.stores.reports.getLatestRun();
    expect(queued).toMatchObject({ trigger: 'timer', status: 'running', stage: 'queued' });
    expect((await f.host.queue.getProperties()).approximateMessagesCount).toBe(1);

    await drainQueue(f.host, { workers: 3 });

    const report = await latestReport(f.app);
    expect(report.run.status).toBe('succeeded');
    expect(report.summary.pools).toBe(400);
    const run = await f.app.stores.reports.getRun(report.run.id);
    expect(run?.shards).toBe(sharded ? 4 : 1);
    expect(acs.messages.length - before).toBe(1);
    expect(acs.messages[acs.messages.length - 1]!.headers['X-FIPS-Audit-Run']).toBe(report.run.id);
    // The lease went with the run: another audit may start at once.
    const next = await f.app.pipeline.start({ trigger: 'cli' });
    expect(next.status).toBe('running');
    results.push(report);
  }
  const [unsharded, sharded] = results as [Report, Report];
  expect(verdicts(sharded)).toEqual(verdicts(unsharded));
  expect(sharded.summary).toEqual(unsharded.summary);
  expect(sharded.clusters).toEqual(unsharded.clusters);
});

it('treats redelivered and duplicated shard messages as done: the same results and one completion', async () => {
  const f = functionApp({ sharded: true });
  const run = await f.app.pipeline.start({ trigger: 'timer' });
  // Plan first, then every shard message twice, handled concurrently by three workers.
  const planOnly: QueueHandler = async (entry, ctx) => {
    await f.host.handler(entry, ctx);
    if ((entry as { kind?: string }).kind === 'plan') {
      for (let shard = 0; shard < 4; shard++) {
        await f.app.queue.send({
          v: 2,
          kind: 'shard',
          runId: run.id,
          generation: run.leaseGeneration!,
          shard,
          shards: 4,
        });
      }
    }
  };
  const before = f.digests();
  await drainQueue({ ...f.host, handler: planOnly }, { workers: 3 });
  const stored = await f.app.stores.reports.getRun(run.id);
  expect(stored).toMatchObject({ status: 'succeeded', summary: { pools: 400 } });
  expect(f.digests() - before).toBe(1);
  const report = (await f.app.getReport(run.id))!;
  expect(new Set(report.pools.map((p) => p.id.toLowerCase())).size).toBe(400);

  // A late redelivery of a finished shard, after the run completed: nothing changes, nothing is mailed.
  await f.app.queue.send({
    v: 2,
    kind: 'shard',
    runId: run.id,
    generation: run.leaseGeneration!,
    shard: 2,
    shards: 4,
  });
  await drainQueue(f.host);
  expect(await f.app.stores.reports.getRun(run.id)).toEqual(stored);
  expect(f.digests() - before).toBe(1);
});

it('records a shard that fails on every delivery with its last error, its pools unknown, and the run partial', async () => {
  const f = functionApp({ sharded: true });
  await f.app.pipeline.start({ trigger: 'timer' });
  await drainQueue(f.host, { workers: 2 });
  const first = await latestReport(f.app);
  expect(first.run.status).toBe('succeeded');

  const run = await f.app.pipeline.start({ trigger: 'timer' });
  let crashes = 0;
  const crashingOnShard1: QueueHandler = async (entry, ctx) => {
    const message = entry as { kind?: string; shard?: number };
    if (message.kind === 'shard' && message.shard === 1) {
      crashes += 1;
      // The stage notes each delivery's failure before it throws; this crash is the worker's own.
      await f.app.stores.shards.noteShardFailure(
        run.id,
        1,
        `delivery ${crashes}: simulated crash of the worker`,
      );
      throw new Error('simulated crash of the worker');
    }
    await f.host.handler(entry, ctx);
  };
  await drainQueue({ ...f.host, handler: crashingOnShard1 }, { workers: 2 });

  expect(crashes).toBe(MAX_DEQUEUE_COUNT);
  const report = (await f.app.getReport(run.id))!;
  expect(report.run.status).toBe('partial');
  expect(report.errors).toEqual([
    expect.objectContaining({ code: 'ShardFailed', scope: `/subscriptions/{${SHARD_SIZE} subscriptions}` }),
  ]);
  expect(report.errors[0]!.message).toContain('simulated crash of the worker');
  expect(report.pools).toHaveLength(400);
  const shard = await f.app.stores.shards.getShard(run.id, 1);
  const failedSubscriptions = new Set(shard?.scope.subscriptions);
  const ofFailed = report.pools.filter((p) => failedSubscriptions.has(p.subscriptionId.toLowerCase()));
  expect(ofFailed.length).toBeGreaterThan(0);
  expect(ofFailed.every((p) => p.status === 'unknown' && p.findings[0]?.code === 'SCOPE_UNREADABLE')).toBe(
    true,
  );
  // The failed shard's pools keep their good state from the first run.
  for await (const state of f.app.stores.poolStates.listPoolStates()) {
    const failed = failedSubscriptions.has(state.subscriptionId.toLowerCase());
    expect(state.lastRunId).toBe(failed ? first.run.id : run.id);
  }
});

it('fails a run whose plan fails on every delivery, with the error, and frees the lease', async () => {
  const f = functionApp({ sharded: false });
  const run = await f.app.pipeline.start({ trigger: 'http' });
  const crashingPlan: QueueHandler = async (entry, ctx) => {
    if ((entry as { kind?: string }).kind === 'plan') {
      await f.app.stores.shards.notePlanFailure(run.id, 'Error: simulated planner crash');
      throw new Error('simulated planner crash');
    }
    await f.host.handler(entry, ctx);
  };
  await drainQueue({ ...f.host, handler: crashingPlan });
  const failed = await f.app.stores.reports.getRun(run.id);
  expect(failed?.status).toBe('failed');
  expect(failed?.errors).toEqual([
    expect.objectContaining({
      code: 'PlanFailed',
      message: expect.stringContaining('simulated planner crash') as string,
    }),
  ]);
  // Never served as the latest report, and the next audit starts.
  expect(await f.app.stores.reports.getLatestRun({ statuses: ['succeeded', 'partial'] })).toBeUndefined();
  await expect(f.app.pipeline.start({ trigger: 'cli' })).resolves.toMatchObject({ status: 'running' });
});

it('plans again when an earlier delivery died before its plan was complete', async () => {
  const f = functionApp({ sharded: true });
  const run = await f.app.pipeline.start({ trigger: 'timer' });
  // What a planner that died half-way leaves: a shard, but no plan entity.
  const table = TableClient.fromConnectionString(
    local.env.AUDIT_TABLES_CONNECTION_STRING!,
    `${f.app.config.tablePrefix}shards`,
    {
      allowInsecureConnection: true,
    },
  );
  await table.createEntity({
    partitionKey: run.id,
    rowKey: 'shard|00000',
    index: 0,
    shards: 9,
    scope: JSON.stringify({
      subscriptions: ['00000000-0000-0000-0000-000000000000'],
      managementGroups: null,
    }),
    status: 'pending',
  });
  await drainQueue(f.host, { workers: 2 });
  expect(await f.app.stores.reports.getRun(run.id)).toMatchObject({
    status: 'succeeded',
    shards: 4,
    summary: { pools: 400 },
  });
});

it.each([
  { title: 'fails in planning', poison: false },
  { title: 'is failed by the poison path of its plan', poison: true },
])(
  'sends the failure alert of a run that $title once, when the completion hook failed on its first call',
  async ({ poison }) => {
    const f = functionApp({ sharded: true });
    const run = await f.app.pipeline.start({ trigger: 'timer' });
    const context = f.app.pipeline.context;
    const hook = context.onRunCompleted;
    let hookCalls = 0;
    context.onRunCompleted = async (completed, info) => {
      hookCalls += 1;
      if (hookCalls === 1) throw new Error('simulated storage outage in the completion hook');
      await hook(completed, info);
    };
    // Planning fails on its own (Azure refuses to list the subscriptions), or its worker crashes on every delivery.
    const crashingPlan: QueueHandler = async (entry, ctx) => {
      if ((entry as { kind?: string }).kind === 'plan') throw new Error('simulated planner crash');
      await f.host.handler(entry, ctx);
    };
    local.arm.faults.forbidAll = !poison;
    try {
      await drainQueue(poison ? { ...f.host, handler: crashingPlan } : f.host);
    } finally {
      local.arm.faults.forbidAll = false;
    }

    expect(await f.app.stores.reports.getRun(run.id)).toMatchObject({
      status: 'failed',
      errors: [expect.objectContaining({ code: 'PlanFailed' })],
    });
    expect(hookCalls).toBe(2);
    const alerts = acs.messages.filter((m) => m.headers['X-FIPS-Audit-Run'] === run.id);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.subject).toMatch(/could not complete/i);
    // The hook finished: a late redelivery of the plan does not run it again.
    await f.app.queue.send({ v: 2, kind: 'plan', runId: run.id, generation: run.leaseGeneration! });
    await drainQueue(f.host);
    expect(hookCalls).toBe(2);
  },
);
