// A run never stays running: Table Storage outages mid-run (a TCP proxy in front of Azurite's table endpoint), a
// worker stalled past its lease, and an audit process killed with SIGKILL. The scenarios run concurrently, each over
// its own tables, since they mostly wait (for an outage to end, for a lease to expire).

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { QueueClient } from '@azure/storage-queue';

import { ArmEmulator } from '../../emulators/armEmulator';
import { generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { TcpProxy, type TcpProxyMode } from '../../emulators/tcpProxy';
import { trustCertificate } from '../../emulators/tls';
import { App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { normalizeCluster } from '../../src/core/normalizeCluster';
import type { RunRecord } from '../../src/core/run';
import { AuditInProgressError } from '../../src/errors';
import { auditPipelineHandler, auditPipelinePoisonHandler } from '../../src/handlers/auditPipelineHandler';
import { STORAGE_PROBE_TIMEOUT_IN_MS } from '../../src/handlers/healthHandler';
import type { ClusterSource } from '../../src/pipeline/auditScope';
import { poisonQueueName } from '../../src/pipeline/pipelineQueue';
import { LeaseStore } from '../../src/store/leaseStore';
import { ResultStore } from '../../src/store/resultStore';
import { drainQueue, type HostedQueue } from '../support/functionsHost';
import { callHandler } from '../support/httpCall';

const estate = generateEstate({ seed: 31, pools: 160, subscriptions: 4 });
/** The shortest lease the settings allow, so a lost lease shows within seconds. */
const LEASE_TTL_SECONDS = 10;
const ROOT = join(__dirname, '..', '..');

/** The Functions host's queue retry settings as host.json sets them (the host's defaults where it does not). */
function hostQueueSettings(): { retryDelayInSeconds: number; maxDequeueCount: number } {
  const host = JSON.parse(readFileSync(join(ROOT, 'host.json'), 'utf8')) as {
    extensions?: { queues?: { visibilityTimeout?: string; maxDequeueCount?: number } };
  };
  const queues = host.extensions?.queues ?? {};
  const [h = 0, m = 0, s = 0] = (queues.visibilityTimeout ?? '00:00:00').split(':').map(Number);
  return { retryDelayInSeconds: h * 3600 + m * 60 + s, maxDequeueCount: queues.maxDequeueCount ?? 5 };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let local: LocalAzure;
const proxies: TcpProxy[] = [];
const children: ChildProcess[] = [];
let counter = 0;

beforeAll(async () => {
  local = await startLocalAzure(estate, { queue: true });
  // The scenarios share the emulator at once: its per-identity quota is not what they are about.
  local.arm.quota = null;
}, 120_000);

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(proxies.map((p) => p.close()));
  await local?.stop();
});

/** Settings of one scenario: its own tables, the short lease, and optionally its tables through a TCP proxy. */
async function settings(extra: Record<string, string> = {}, options: { proxy?: boolean } = {}) {
  counter += 1;
  const prefix = `faults${counter}t${Date.now().toString(36)}`;
  const env: Record<string, string> = {
    ...local.env,
    AUDIT_TABLE_PREFIX: prefix,
    AUDIT_LEASE_TTL_SECONDS: String(LEASE_TTL_SECONDS),
    ...extra,
  };
  if (!options.proxy) return { env, proxy: undefined };
  const direct = local.env.AUDIT_TABLES_CONNECTION_STRING!;
  const tableEndpoint = /TableEndpoint=([^;]+)/.exec(direct)![1]!;
  const target = new URL(tableEndpoint);
  const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port) });
  proxies.push(proxy);
  env.AUDIT_TABLES_CONNECTION_STRING = direct.replace(tableEndpoint, proxy.rewrite(tableEndpoint));
  return { env, proxy };
}

const leaseOf = (app: App) => new LeaseStore(app.tables).get();

/** How many pool results of run `runId` are stored. */
async function countPools(app: App, runId: string): Promise<number> {
  let n = 0;
  for await (const _ of new ResultStore(app.tables).listRunPools(runId)) n += 1;
  return n;
}

// One block, so every scenario runs at once (jest runs the concurrent tests of a block together).
describe('a run is never left running', () => {
  // A Function App (Azurite queue, the real queue handlers, host.json's retry settings) whose tables are cut off.
  it.concurrent.each<[number, TcpProxyMode]>([
    [3, 'refuse'],
    [20, 'refuse'],
    [20, 'hang'],
    [90, 'refuse'],
  ])(
    'of %i s (connections %s): the run completes with every pool, is never left running, and frees the lease',
    async (seconds, mode) => {
      const queueName = `faults-${counter + 1}-${Date.now().toString(36)}`;
      let pages = 0;
      let outage: Promise<void> | undefined;
      const { env, proxy } = await settings(
        { AUDIT_SHARD_QUEUE: queueName, AUDIT_SHARDING: 'subscriptions', AUDIT_SHARD_SIZE: '1' },
        { proxy: true },
      );
      // The outage starts as the second page of the run is judged and written: the run is under way, one shard
      // is (nearly) done and the others wait.
      const app = new App(loadConfig(env), {
        queue: 'storage',
        onProgress: () => {
          pages += 1;
          if (pages !== 2) return;
          outage = (async () => {
            await proxy!.setMode(mode);
            await sleep(seconds * 1000);
            await proxy!.setMode('pass');
          })();
        },
      });
      const deps = {
        handle: (...args: Parameters<App['pipeline']['handle']>) => app.pipeline.handle(...args),
        poison: (...args: Parameters<App['pipeline']['poison']>) => app.pipeline.poison(...args),
      };
      const { retryDelayInSeconds, maxDequeueCount } = hostQueueSettings();
      const host: HostedQueue = {
        queue: new QueueClient(local.env.AUDIT_QUEUE!, queueName),
        poison: new QueueClient(local.env.AUDIT_QUEUE!, poisonQueueName(queueName)),
        handler: auditPipelineHandler(deps),
        poisonHandler: auditPipelinePoisonHandler(deps),
        maxDequeueCount,
      };

      const run = await app.pipeline.start({ trigger: 'timer' });
      await drainQueue(host, { workers: 2, retryDelayInSeconds, timeoutInMs: 300_000 });
      expect(outage).toBeDefined();
      await outage;

      const stored = (await app.stores.reports.getRun(run.id))!;
      // The queue's redeliveries, 30 s apart, outlast the outage: the run completes, with every pool read.
      expect(stored.status).toBe('succeeded');
      expect(stored.summary.pools).toBe(160);
      const report = (await app.getReport(run.id))!;
      expect(new Set(report.pools.map((p) => p.id.toLowerCase())).size).toBe(160);
      // Completed once and released: the next audit may start at once.
      expect(await leaseOf(app)).toMatchObject({ holderRunId: null, generation: run.leaseGeneration });
      for await (const r of app.stores.reports.listRuns({})) expect(r.status).not.toBe('running');
    },
    300_000,
  );

  it.concurrent(
    'a worker stalled past its lease writes nothing more once another run took over, and its run stays abandoned',
    async () => {
      const { env, proxy } = await settings({}, { proxy: true });
      const half = Math.floor(estate.clusters.length / 2);
      let atGate!: () => void;
      const reachedGate = new Promise<void>((resolve) => (atGate = resolve));
      let openGate!: () => void;
      const gate = new Promise<void>((resolve) => (openGate = resolve));
      // The stalled worker's source: the first half of the clusters, then a wait until the test lets it go on.
      const source: ClusterSource = {
        async *readClusters() {
          yield { kind: 'clusters', scope: null, rows: estate.clusters.slice(0, half) };
          atGate();
          await gate;
          yield { kind: 'clusters', scope: null, rows: estate.clusters.slice(half) };
        },
      };
      const stalled = new App(loadConfig(env), { input: source, retryDelayInMs: 50 });
      const other = new App(
        loadConfig({ ...env, AUDIT_TABLES_CONNECTION_STRING: local.env.AUDIT_TABLES_CONNECTION_STRING! }),
      );
      const running = stalled.runAudit({ trigger: 'cli' });
      running.catch(() => undefined);
      await reachedGate;
      const stalledRunId = (await leaseOf(other))!.holderRunId!;
      const firstHalfPools = estate.clusters
        .slice(0, half)
        .reduce((n, row) => n + normalizeCluster(row).pools.length, 0);
      // The first page's results and progress note are stored before the stall: nothing of the stalled worker is
      // left on the wire (a write already sent when a worker stalls can still land; fencing is checked before each).
      while ((await countPools(other, stalledRunId)) < firstHalfPools) await sleep(50);
      while (((await other.stores.reports.getRun(stalledRunId))?.progress.poolsJudged ?? 0) === 0)
        await sleep(50);

      // The stall: the worker's storage link answers nothing, so its lease is not renewed.
      await proxy!.setMode('hang');
      const written = { ...stalled.tables.stats };
      await expect(other.pipeline.start({ trigger: 'cli' })).rejects.toThrow(AuditInProgressError);
      const expiresAt = Date.parse((await leaseOf(other))!.expiresAt);
      await sleep(Math.max(0, expiresAt - Date.now()) + 200);
      const takeover = await other.runAudit({ trigger: 'cli' });
      expect(takeover).toMatchObject({ status: 'succeeded', summary: { pools: 160 } });
      const abandoned = (await other.stores.reports.getRun(stalledRunId))!;
      expect(abandoned.status).toBe('abandoned');
      expect(abandoned.errors).toEqual([
        expect.objectContaining({
          code: 'RunAbandoned',
          message: expect.stringContaining(takeover.id) as unknown,
        }),
      ]);

      // The stalled worker wakes up and reads its second page: it stops without writing anything.
      await proxy!.setMode('pass');
      openGate();
      const ended = await running;
      expect(ended).toEqual(abandoned);
      expect(stalled.tables.stats.entitiesWritten).toBe(written.entitiesWritten);
      expect(stalled.tables.stats.transactions).toBe(written.transactions);
      expect(await countPools(other, stalledRunId)).toBe(firstHalfPools);
      expect(await other.stores.reports.getRun(stalledRunId)).toEqual(abandoned);
      const [shard] = await other.stores.shards.listShards(stalledRunId);
      expect(shard?.status).toBe('pending');
      // Every pool's state is the newer run's: the stalled one never got to write any.
      for await (const state of other.stores.poolStates.listPoolStates())
        expect(state.lastRunId).toBe(takeover.id);
      expect(await leaseOf(other)).toMatchObject({ holderRunId: null });
      // A late redelivery of the stalled run's shard, under its old generation, is dropped without a write.
      const before = { ...other.tables.stats };
      await other.pipeline.handle(
        {
          v: 2,
          kind: 'shard',
          runId: stalledRunId,
          generation: abandoned.leaseGeneration!,
          shard: 0,
          shards: 1,
        },
        { messageId: 'late-redelivery', dequeueCount: 2 },
      );
      expect(other.tables.stats.entitiesWritten).toBe(before.entitiesWritten);
      expect(await other.stores.reports.getRun(stalledRunId)).toEqual(abandoned);
      stalled.close();
      other.close();
    },
    120_000,
  );

  it.concurrent(
    'SIGKILL mid-run: the next audit takes over once the lease expires, and /api/runs shows the killed run abandoned',
    async () => {
      // The killed audit reads from an ARM of its own, slowed down, so the kill lands while it pages.
      const arm = await ArmEmulator.start({
        estate,
        identity: local.identity,
        audience: 'https://management.azure.com/',
        quota: null,
        latencyInMs: 2_000,
      });
      trustCertificate(arm.certificatePem);
      const dir = mkdtempSync(join(tmpdir(), 'fips-kill-'));
      try {
        const ca = join(dir, 'arm.pem');
        writeFileSync(ca, arm.certificatePem);
        const { env } = await settings();
        const child = spawn(
          process.execPath,
          [
            '-r',
            join(ROOT, 'test/support/requireTypeScript.js'),
            join(ROOT, 'src/cli/main.ts'),
            'audit',
            '--no-email',
          ],
          {
            cwd: ROOT,
            env: { ...process.env, ...env, AUDIT_ARM_ENDPOINT: arm.endpoint, NODE_EXTRA_CA_CERTS: ca },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        children.push(child);
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.stdout.resume();
        const exited = once(child, 'exit');
        // The run's first page of clusters is asked for: the process holds the lease and is paging.
        while (arm.stats.graphRequests < 2) {
          if (child.exitCode !== null) throw new Error(`the audit ended before it was killed:\n${stderr}`);
          await sleep(20);
        }
        child.kill('SIGKILL');
        const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
        expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });

        const app = new App(loadConfig(env));
        const api = app.httpHandlers();
        const lease = (await leaseOf(app))!;
        const killed = (await app.stores.reports.getRun(lease.holderRunId!))!;
        expect(killed).toMatchObject({ trigger: 'cli', status: 'running' });
        // The dead process still holds the lease until it expires: a new audit is refused, naming its run.
        await expect(app.pipeline.start({ trigger: 'cli' })).rejects.toMatchObject({ runId: killed.id });

        await sleep(Math.max(0, Date.parse(lease.expiresAt) - Date.now()) + 200);
        const next = await app.runAudit({ trigger: 'cli' });
        expect(next).toMatchObject({ status: 'succeeded', summary: { pools: 160 } });

        const res = await callHandler(api.runs, { url: '/api/runs' });
        expect(res.status).toBe(200);
        const { runs } = res.json<{ runs: RunRecord[] }>();
        expect(runs.map((r) => [r.id, r.status])).toEqual([
          [next.id, 'succeeded'],
          [killed.id, 'abandoned'],
        ]);
        expect(runs[1]!.errors).toEqual([
          expect.objectContaining({
            code: 'RunAbandoned',
            message: expect.stringContaining(next.id) as unknown,
          }),
        ]);
        expect(await leaseOf(app)).toMatchObject({ holderRunId: null });
        app.close();
      } finally {
        await arm.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );
});

it('answers health while Table Storage hangs with the probe’s own verdict, and cancels the storage call it gave up on', async () => {
  // Each attempt of a table call may wait 5 minutes: only a call cancelled by the probe lets go of it sooner.
  const { env, proxy } = await settings({ AUDIT_TABLES_TIMEOUT_SECONDS: '300' }, { proxy: true });
  const app = new App(loadConfig(env));
  try {
    await proxy!.setMode('hang');
    const res = await callHandler(app.httpHandlers().health, { url: '/api/health' });
    expect(res.status).toBe(503);
    expect(res.json()).toMatchObject({
      storage: {
        configured: true,
        reachable: false,
        detail: expect.stringContaining(`no answer within ${STORAGE_PROBE_TIMEOUT_IN_MS} ms`) as unknown,
      },
    });
    expect(proxy!.stats.connections).toBeGreaterThan(0);
    // The probe's request was aborted when the probe gave up: the app closes its connection and holds none. A
    // request left running would hold it until its own timeout, past this test's.
    while (proxy!.stats.clientsOpen > 0) await sleep(20);
    expect(app.tables.stats.requests).toBe(1);
  } finally {
    app.close();
  }
}, 60_000);
