// Starting runs in the Function App: POST /api/audits under contention and with no work after its response, and the
// timer's deferral behind a live run, takeover of a dead one, and /api/health while a run is stuck or overdue.

import { InvocationContext } from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';
import type { z } from 'zod';

import { generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { App } from '../../src/app';
import { loadConfig } from '../../src/config';
import type { RunRecord } from '../../src/core/run';
import { latestOccurrence } from '../../src/core/schedule';
import { auditPipelineHandler, auditPipelinePoisonHandler } from '../../src/handlers/auditPipelineHandler';
import { auditTimerHandler } from '../../src/handlers/auditTimerHandler';
import type { healthSchema } from '../../src/http/schemas';
import { poisonQueueName } from '../../src/pipeline/pipelineQueue';
import { SCHEDULE_RETRY_DELAY_IN_SECONDS } from '../../src/pipeline/scheduledRun';
import { ScheduleStore } from '../../src/store/scheduleStore';
import { drainQueue, type HostedQueue } from '../support/functionsHost';
import { callHandler, type CallResult } from '../support/httpCall';

const estate = generateEstate({ seed: 17, pools: 80, subscriptions: 5 });
const subscriptions = estate.subscriptions.map((s) => s.subscriptionId.toLowerCase());
const LEASE_TTL_SECONDS = 10;
const POSTS = 20;

let local: LocalAzure;
let counter = 0;

beforeAll(async () => {
  local = await startLocalAzure(estate, { queue: true });
  local.arm.quota = null;
}, 120_000);

afterAll(async () => {
  await local?.stop();
});

interface FunctionApp {
  app: App;
  host: HostedQueue;
  api: ReturnType<App['httpHandlers']>;
  timer: ReturnType<typeof auditTimerHandler>;
  schedule: ScheduleStore;
}

/** One Function App as src/functions/* wires it; `shared` gives another instance of the same app (tables, queue). */
function functionApp(options: { clockOffsetInMs?: number; shared?: FunctionApp } = {}): FunctionApp {
  counter += 1;
  const shared = options.shared?.app.config;
  const queueName = shared?.queue.name ?? `start-${counter}-${Date.now().toString(36)}`;
  const offset = options.clockOffsetInMs ?? 0;
  const now = () => new Date(Date.now() + offset);
  const app = new App(
    loadConfig({
      ...local.env,
      AUDIT_TABLE_PREFIX: shared?.tablePrefix ?? `start${counter}t${Date.now().toString(36)}`,
      AUDIT_SHARD_QUEUE: queueName,
      AUDIT_LEASE_TTL_SECONDS: String(LEASE_TTL_SECONDS),
      // Hourly: the timer's latest occurrence is always recent, whatever the hour the suite runs at (with a
      // daily schedule it would be more than 20 hours old, hence missed, in the hours before the day's run).
      AUDIT_SCHEDULE: '0 0 * * * *',
    }),
    { queue: 'storage', now },
  );
  const deps = {
    handle: (...args: Parameters<App['pipeline']['handle']>) => app.pipeline.handle(...args),
    poison: (...args: Parameters<App['pipeline']['poison']>) => app.pipeline.poison(...args),
  };
  return {
    app,
    host: {
      queue: new QueueClient(local.env.AUDIT_QUEUE!, queueName),
      poison: new QueueClient(local.env.AUDIT_QUEUE!, poisonQueueName(queueName)),
      handler: auditPipelineHandler(deps),
      poisonHandler: auditPipelinePoisonHandler(deps),
      maxDequeueCount: 5,
    },
    api: app.httpHandlers(),
    timer: auditTimerHandler({
      schedule: app.config.schedule,
      startScheduled: (at, log) => app.pipeline.startScheduled(at, log),
      now,
    }),
    schedule: new ScheduleStore(app.tables),
  };
}

const timerInfo = {
  isPastDue: false,
  schedule: { adjustForDST: true },
  scheduleStatus: { last: '', next: '', lastUpdated: '' },
};
const timerContext = () => new InvocationContext({ functionName: 'auditTimer', invocationId: 'timer' });

const postAudit = (f: FunctionApp, body: unknown) =>
  callHandler(f.api.startAudit, {
    method: 'POST',
    url: '/api/audits',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

async function listRuns(f: FunctionApp): Promise<RunRecord[]> {
  const res = await callHandler(f.api.runs, { url: '/api/runs' });
  expect(res.status).toBe(200);
  return res.json<{ runs: RunRecord[] }>().runs;
}

type Health = z.infer<typeof healthSchema>;
async function health(f: FunctionApp): Promise<{ res: CallResult; body: Health }> {
  const res = await callHandler(f.api.health, { url: '/api/health' });
  return { res, body: res.json<Health>() };
}

const armRequests = () => Object.values(local.arm.stats.requestsByEndpoint).reduce((a, b) => a + b, 0);
const messagesOn = async (queue: QueueClient) => (await queue.getProperties()).approximateMessagesCount;

describe('POST /api/audits', () => {
  it(`${POSTS} at once start exactly one run, the others answer 409 with its ID, and it audits what its request asked`, async () => {
    const f = functionApp();
    // Each request asks for other subscriptions, so the run shows whose request it is.
    const asked = Array.from({ length: POSTS }, (_, i) => [
      subscriptions[i % subscriptions.length]!,
      subscriptions[(i + 2) % subscriptions.length]!,
    ]);
    // Twice: on fresh tables (racing to create the lease) and once the lease exists, released (racing to take it).
    for (const round of [1, 2]) {
      const answers = await Promise.all(asked.map((s) => postAudit(f, { subscriptions: s })));
      const accepted = answers.filter((a) => a.status === 202);
      expect(accepted).toHaveLength(1);
      const body = accepted[0]!.json<{ runId: string; subscriptions: string[] }>();
      const refused = answers.filter((a) => a.status !== 202);
      expect(refused.map((a) => a.status)).toEqual(Array(POSTS - 1).fill(409));
      for (const answer of refused) {
        expect(answer.json()).toMatchObject({
          status: 409,
          runId: body.runId,
          run: `/api/runs/${body.runId}`,
        });
      }
      expect(asked.map((s) => s.join())).toContain(body.subscriptions.join());
      const runs = await listRuns(f);
      expect(runs.map((r) => r.id)).toHaveLength(round);
      expect(runs[0]).toMatchObject({ id: body.runId, trigger: 'http', status: 'running', stage: 'queued' });
      expect(await messagesOn(f.host.queue)).toBe(1);

      await drainQueue(f.host, { workers: 2 });
      const run = (await f.app.stores.reports.getRun(body.runId))!;
      expect(run).toMatchObject({
        status: 'succeeded',
        scope: { subscriptions: body.subscriptions, managementGroups: null },
      });
      const report = (await f.app.getReport(body.runId))!;
      const expected = estate.clusters.filter((c) =>
        body.subscriptions.includes(c.subscriptionId.toLowerCase()),
      );
      expect(report.clusters.map((c) => c.id.toLowerCase()).sort()).toEqual(
        expected.map((c) => c.id.toLowerCase()).sort(),
      );
      expect(new Set(report.pools.map((p) => p.subscriptionId.toLowerCase()))).toEqual(
        new Set(expected.map((c) => c.subscriptionId.toLowerCase())),
      );
    }
  });

  it('answers 202 while the run waits queued: nothing is read from Azure until the queue runs it', async () => {
    const f = functionApp();
    const before = armRequests();
    const res = await postAudit(f, {});
    expect(res.status).toBe(202);
    const { runId } = res.json<{ runId: string }>();
    // Time for any work left running after the response to show itself; none may.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(armRequests()).toBe(before);
    expect(await f.app.stores.reports.getRun(runId)).toMatchObject({
      status: 'running',
      stage: 'queued',
      progress: { pagesRead: 0, clustersRead: 0, poolsJudged: 0 },
    });
    expect(await messagesOn(f.host.queue)).toBe(1);

    await drainQueue(f.host);
    expect(armRequests()).toBeGreaterThan(before);
    expect(await f.app.stores.reports.getRun(runId)).toMatchObject({
      status: 'succeeded',
      summary: { pools: 80 },
    });
  });
});

describe('the scheduled audit', () => {
  it('defers behind a live run, says so in its schedule record, and a later tick the same day runs it once', async () => {
    const f = functionApp();
    const live = await f.app.pipeline.start({ trigger: 'http' });
    const scheduledAt = latestOccurrence(f.app.config.schedule, new Date());

    await f.timer(timerInfo, timerContext());
    const deferred = await f.schedule.get();
    expect(deferred).toMatchObject({
      lastScheduledAt: scheduledAt.toISOString(),
      lastStartedRunId: null,
      deferredBehindRunId: live.id,
    });
    expect(Date.parse(deferred.nextAttemptAt!) - Date.parse(deferred.deferredSince!)).toBe(
      SCHEDULE_RETRY_DELAY_IN_SECONDS * 1000,
    );
    // The live run's plan, and the scheduled audit's retry, invisible until its time.
    expect(await messagesOn(f.host.queue)).toBe(2);
    expect((await listRuns(f)).map((r) => r.id)).toEqual([live.id]);

    // The live run completes; the timer fires again for the same occurrence (the platform's retry) and runs it.
    await drainQueue(f.host, { leave: 1 });
    expect(await f.app.stores.reports.getRun(live.id)).toMatchObject({ status: 'succeeded' });
    await f.timer(timerInfo, timerContext());
    const started = await f.schedule.get();
    expect(started).toMatchObject({
      lastScheduledAt: scheduledAt.toISOString(),
      deferredSince: null,
      deferredBehindRunId: null,
      nextAttemptAt: null,
    });
    const scheduled = started.lastStartedRunId!;
    await drainQueue(f.host, { leave: 1 });
    expect(await f.app.stores.reports.getRun(scheduled)).toMatchObject({
      trigger: 'timer',
      status: 'succeeded',
    });

    // The deferred retry, when its time comes, finds that day's audit done: nothing more starts.
    await f.host.handler(
      { v: 2, kind: 'schedule', scheduledAt: scheduledAt.toISOString() },
      new InvocationContext({ functionName: 'auditPipeline', invocationId: 'retry' }),
    );
    expect((await listRuns(f)).map((r) => r.id)).toEqual([scheduled, live.id]);
    expect(await f.schedule.get()).toEqual(started);
    await f.host.queue.clearMessages();
  });

  it('runs a deferred scheduled audit once the live run ends, also when an earlier occurrence started a run', async () => {
    const f = functionApp();
    const scheduledAt = latestOccurrence(f.app.config.schedule, new Date());
    // The occurrence before this one started a run: the schedule record names it.
    const earlierAt = new Date(scheduledAt.getTime() - 3_600_000);
    await f.app.stores.ensureTables();
    await f.schedule.recordStarted(earlierAt, '20200101T000000Z-aaaaaa', earlierAt);
    const live = await f.app.pipeline.start({ trigger: 'http' });

    await f.timer(timerInfo, timerContext());
    expect(await f.schedule.get()).toMatchObject({
      lastScheduledAt: scheduledAt.toISOString(),
      deferredBehindRunId: live.id,
    });
    await drainQueue(f.host, { leave: 1 });
    expect(await f.app.stores.reports.getRun(live.id)).toMatchObject({ status: 'succeeded' });

    // The retry of the deferred audit starts it: the earlier occurrence's run is not this one's.
    const outcome = await f.app.pipeline.startScheduled(scheduledAt);
    expect(outcome.status).toBe('started');
    const started = await f.schedule.get();
    expect(started).toMatchObject({ lastScheduledAt: scheduledAt.toISOString(), deferredSince: null });
    expect(started.lastStartedRunId).not.toBe('20200101T000000Z-aaaaaa');
    await drainQueue(f.host, { leave: 1 });
    expect(await f.app.stores.reports.getRun(started.lastStartedRunId!)).toMatchObject({
      trigger: 'timer',
      status: 'succeeded',
    });
    // Another retry of the same occurrence starts nothing more.
    expect(await f.app.pipeline.startScheduled(scheduledAt)).toEqual({
      status: 'alreadyStarted',
      runId: started.lastStartedRunId,
    });
    await f.host.queue.clearMessages();
  });

  it('takes over from a dead run, which /api/health reports stuck with its ID until then and /api/runs abandoned after', async () => {
    const f = functionApp();
    // A run started longer ago than the lease lasts, whose worker died: its lease expired, its record says running.
    const deadApp = functionApp({ shared: f, clockOffsetInMs: -(LEASE_TTL_SECONDS + 5) * 1000 });
    const dead = await deadApp.app.pipeline.start({ trigger: 'http' });

    const stuck = await health(f);
    expect(stuck.res.status).toBe(200);
    expect(stuck.body.status).toBe('degraded');
    expect(stuck.body.audits).toMatchObject({
      status: 'degraded',
      stuckRun: { id: dead.id, startedAt: dead.startedAt },
    });
    expect(stuck.body.audits.warnings.join('\n')).toContain(`Run ${dead.id} is recorded as running`);

    await f.timer(timerInfo, timerContext());
    const { lastStartedRunId } = await f.schedule.get();
    expect(lastStartedRunId).not.toBeNull();
    // The dead run's plan is still queued: it is dropped, since that run was taken over.
    await drainQueue(f.host);
    const runs = await listRuns(f);
    expect(runs.map((r) => [r.id, r.trigger, r.status])).toEqual([
      [lastStartedRunId, 'timer', 'succeeded'],
      [dead.id, 'http', 'abandoned'],
    ]);
    expect(runs[1]!.errors).toEqual([
      expect.objectContaining({
        code: 'RunAbandoned',
        message: expect.stringContaining(lastStartedRunId!) as unknown,
      }),
    ]);
    const after = await health(f);
    expect(after.body.audits).toMatchObject({ status: 'ok', stuckRun: null, warnings: [] });
  });

  it('reports degraded in /api/health while the deferred scheduled audit is overdue, naming the run it waits behind', async () => {
    const f = functionApp();
    const live = await f.app.pipeline.start({ trigger: 'http' });
    // The timer fired 61 minutes ago behind that run, and has not started since.
    const earlier = functionApp({ shared: f, clockOffsetInMs: -61 * 60_000 });
    await earlier.timer(timerInfo, timerContext());
    expect(await f.schedule.get()).toMatchObject({ deferredBehindRunId: live.id, lastStartedRunId: null });

    const overdue = await health(f);
    expect(overdue.res.status).toBe(200);
    expect(overdue.body.status).toBe('degraded');
    expect(overdue.body.audits.status).toBe('degraded');
    // The run itself is alive (its lease holds): not stuck, but the schedule is overdue behind it.
    expect(overdue.body.audits.stuckRun).toBeNull();
    expect(overdue.body.audits.warnings).toEqual([
      expect.stringMatching(/is overdue: it has waited since .* behind run/),
    ]);
    expect(overdue.body.audits.warnings[0]).toContain(live.id);
    await f.host.queue.clearMessages();
  });
});
