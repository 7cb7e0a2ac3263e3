// `npm run bench`: audits emulated estates of 1,000 to 100,000 pools with storage, against the naive SDK script.

import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';

import { DefaultAzureCredential } from '@azure/identity';

import { ArmEmulator } from '../emulators/armEmulator';
import { startAzurite } from '../emulators/azurite';
import { REAL_IDENTITY_VARIABLES } from '../emulators/localAzure';
import { ManagedIdentityEmulator } from '../emulators/managedIdentityEmulator';
import { App } from '../src/app';
import { loadConfig } from '../src/config';
import type { Summary } from '../src/core/types';
import { serveHttp } from '../src/http/serveHttp';
import { ESTATE_SHAPES, SHAPE_NAMES, shapeEstate, type ShapeName } from './estateShapes';
import { naiveAudit } from './naiveAudit';

const AUDIENCE = 'https://management.azure.com/';
/** Resource Graph's documented example quota: 15 queries per 5-second window per identity. */
const GRAPH_QUOTA = { queries: 15, windowInMs: 5000 };
const SEED = 2026;
const POOLS_PER_CLUSTER = 4;
/** 2,000 subscriptions at 100,000 pools: one subscription per 50 pools. */
const POOLS_PER_SUBSCRIPTION = 50;
const RSS_SAMPLE_INTERVAL_IN_MS = 20;
/** V8 caps the heap at a quarter of the memory it sees: 512 MB on the Function App's 2,048 MB instance (infra). */
const INSTANCE_HEAP_LIMIT_IN_MB = 512;

interface BenchArgs {
  shapes: ShapeName[];
  sizes: number[];
  naiveSizes: number[];
  latencyInMs: number;
  naiveConcurrency: number;
  serve: boolean;
  out: string;
  /** Node options for the measured child processes only (e.g. --cpu-prof), not for Azurite. */
  childNodeArgs: string[];
  /**
   * The auditor's V8 heap limit: by default the one V8 gives a Function App instance of 2,048 MB (a quarter
   * of its memory), not the 4 GB it gives this 24 GB machine; 0 leaves V8's own default.
   */
  heapLimitInMb: number;
}

type Job =
  | { kind: 'auditor'; pools: number }
  | { kind: 'naive'; pools: number; concurrency: number }
  | { kind: 'serve'; pools: number; runId: string };

/** What a child process measures about itself. */
interface ChildMeasure {
  wallTimeInMs: number;
  peakRssInMb: number;
  /** RSS after the modules are loaded, before the work starts. */
  baselineRssInMb: number;
}

interface AuditorChildResult extends ChildMeasure {
  kind: 'auditor';
  runId: string;
  status: string;
  summary: Summary;
  graph: {
    requests: number;
    pages: number;
    throttled: number;
    retries: number;
    pacedWaits: number;
    pacedWaitInMs: number;
  };
  images: { requests: number; keys: number };
  tables: { requests: number; transactions: number; entitiesWritten: number };
}

interface NaiveChildResult extends ChildMeasure {
  kind: 'naive';
  summary: Summary;
  pools: number;
}

interface ServeChildResult extends ChildMeasure {
  kind: 'serve';
  method: string;
  /** A second request, answered from the handler's cache of finished reports. */
  warmWallTimeInMs: number;
  bytes: number;
  pools: number;
}

type ChildResult = AuditorChildResult | NaiveChildResult | ServeChildResult;

interface EmulatorCounts {
  graph: number;
  upgradeProfile: number;
  subscriptions: number;
  managedClusters: number;
  throttled: number;
}

export interface AuditorFigures {
  pools: number;
  subscriptions: number;
  clusters: number;
  wallTimeInS: number;
  peakRssInMb: number;
  baselineRssInMb: number;
  poolsPerSecond: number;
  resourceGraphRequests: number;
  nodeImageRequests: number;
  armRequests: number;
  tableRequests: number;
  tableTransactions: number;
  entitiesWritten: number;
  throttled429: number;
  pacedWaits: number;
  status: string;
  summary: Summary;
}

export interface NaiveFigures {
  pools: number;
  extrapolated: boolean;
  concurrency: number;
  wallTimeInS: number;
  peakRssInMb: number | null;
  armRequests: number;
  subscriptionListRequests: number;
  clusterListRequests: number;
  upgradeProfileRequests: number;
  poolsPerSecond: number;
  /** Whether the naive script's verdicts (pools per status) equal the auditor's. */
  sameVerdicts: boolean | null;
}

function parseArgs(argv: string[]): BenchArgs {
  const args: BenchArgs = {
    shapes: ['today'],
    sizes: [1000, 10_000, 100_000],
    naiveSizes: [1000, 10_000],
    latencyInMs: 30,
    naiveConcurrency: 1,
    serve: true,
    out: join(process.cwd(), 'bench', 'results.json'),
    childNodeArgs: [],
    heapLimitInMb: INSTANCE_HEAP_LIMIT_IN_MB,
  };
  const numbers = (text: string | undefined, flag: string): number[] => {
    const values = (text ?? '').split(',').filter(Boolean).map(Number);
    if (values.length === 0 || values.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new RangeError(
        `${flag} takes positive whole numbers separated by commas, e.g. ${flag} 1000,10000`,
      );
    }
    return values;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    switch (flag) {
      case '--shapes': {
        const names = (value ?? '').split(',').filter(Boolean);
        const unknown = names.filter((n) => !(SHAPE_NAMES as readonly string[]).includes(n));
        if (names.length === 0 || unknown.length)
          throw new RangeError(`--shapes takes some of ${SHAPE_NAMES.join(',')}; got "${String(value)}"`);
        args.shapes = names as ShapeName[];
        i++;
        break;
      }
      case '--sizes':
        args.sizes = numbers(value, flag);
        i++;
        break;
      case '--naive-sizes':
        args.naiveSizes = value === 'none' ? [] : numbers(value, flag);
        i++;
        break;
      case '--latency':
        args.latencyInMs = Number(value);
        if (!Number.isFinite(args.latencyInMs) || args.latencyInMs < 0) {
          throw new RangeError('--latency takes milliseconds, e.g. --latency 30');
        }
        i++;
        break;
      case '--naive-concurrency':
        args.naiveConcurrency = numbers(value, flag)[0] ?? 1;
        i++;
        break;
      case '--child-node-args':
        args.childNodeArgs = (value ?? '').split(' ').filter(Boolean);
        i++;
        break;
      case '--heap-limit-mb':
        args.heapLimitInMb = Number(value);
        if (!Number.isInteger(args.heapLimitInMb) || args.heapLimitInMb < 0) {
          throw new RangeError('--heap-limit-mb takes whole megabytes, or 0 for V8 defaults');
        }
        i++;
        break;
      case '--no-serve':
        args.serve = false;
        break;
      case '--out':
        if (!value) throw new RangeError('--out takes a file path');
        args.out = value;
        i++;
        break;
      default:
        throw new RangeError(
          `Unknown argument ${String(flag)}. Usage: bench [--sizes 1000,10000,100000] [--naive-sizes 1000,10000|none] [--latency 30] [--naive-concurrency 1] [--no-serve] [--child-node-args "--max-old-space-size=256"] [--out bench/results.json]`,
        );
    }
  }
  args.sizes.sort((a, b) => a - b);
  return args;
}

/** A fresh table prefix per run: every audit of the benchmark is a first run into empty tables. */
const tablePrefix = (pools: number) =>
  `bench${pools}t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const subscriptionsFor = (pools: number) => Math.max(1, Math.round(pools / POOLS_PER_SUBSCRIPTION));
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

// ---- child side ---------------------------------------------------------------------------------------------

/** Samples RSS often; maxRSS from the kernel is taken too, in case a spike fell between two samples. */
function rssMeter(): { stop(): { peakRssInMb: number; baselineRssInMb: number } } {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  // BENCH_TRACE_MEMORY=1 prints where the memory is, every half second, to find what dominates it.
  const trace = process.env.BENCH_TRACE_MEMORY === '1';
  let ticks = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
    if (trace && ++ticks % 25 === 0) {
      // With --expose-gc, collect first so the figures are what is live, not what awaits collection.
      (globalThis as { gc?: () => void }).gc?.();
      const m = process.memoryUsage();
      process.stderr.write(
        `${(performance.now() / 1000).toFixed(1)} memory: rss ${mb(m.rss)} heapUsed ${mb(m.heapUsed)} heapTotal ${mb(m.heapTotal)} external ${mb(m.external)} arrayBuffers ${mb(m.arrayBuffers)}\n`,
      );
    }
  }, RSS_SAMPLE_INTERVAL_IN_MS);
  return {
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
      return { peakRssInMb: mb(peak), baselineRssInMb: mb(baseline) };
    },
  };
}

async function runJob(job: Job): Promise<ChildResult> {
  const config = loadConfig(process.env);
  const meter = rssMeter();
  const started = performance.now();
  if (job.kind === 'auditor') {
    // The audit's own log, timed, with BENCH_TRACE_MEMORY=1: where the time goes, next to where the memory is.
    const trace = process.env.BENCH_TRACE_MEMORY === '1';
    const log = (message: string) => {
      if (trace) process.stderr.write(`${((performance.now() - started) / 1000).toFixed(1)} s: ${message}\n`);
    };
    const service = new App(config, { log, email: false });
    const run = await service.runAudit({ trigger: 'timer' });
    service.close();
    const wallTimeInMs = performance.now() - started;
    const { graph, images } = service.readerStats();
    const tables = service.tables.stats;
    return {
      kind: 'auditor',
      runId: run.id,
      status: run.status,
      summary: run.summary,
      wallTimeInMs,
      ...meter.stop(),
      graph: {
        requests: graph?.requests ?? 0,
        pages: graph?.pages ?? 0,
        throttled: graph?.throttled ?? 0,
        retries: graph?.retries ?? 0,
        pacedWaits: graph?.pacedWaits ?? 0,
        pacedWaitInMs: graph?.pacedWaitInMs ?? 0,
      },
      images: { requests: images?.requests ?? 0, keys: images?.keys ?? 0 },
      tables: {
        requests: tables.requests,
        transactions: tables.transactions,
        entitiesWritten: tables.entitiesWritten,
      },
    };
  }
  if (job.kind === 'naive') {
    const result = await naiveAudit({
      credential: new DefaultAzureCredential(),
      endpoint: config.cloud.armEndpoint,
      scope: config.cloud.armScope,
      matrix: config.matrix,
      nodeImageMaxAgeInDays: config.nodeImageMaxAgeInDays,
      concurrency: job.concurrency,
    });
    return {
      kind: 'naive',
      summary: result.summary,
      pools: result.pools,
      wallTimeInMs: performance.now() - started,
      ...meter.stop(),
    };
  }
  return serveLatestReport(config, meter);
}

/**
 * The latest report as JSON through the `serve` adapter (the Functions' own report handler behind node:http):
 * the first request is cold (the handler reads the run from Table Storage); a second one shows the cache.
 */
async function serveLatestReport(
  config: ReturnType<typeof loadConfig>,
  meter: ReturnType<typeof rssMeter>,
): Promise<ServeChildResult> {
  const service = new App(config);
  const server = await serveHttp({ handlers: service.httpHandlers(), port: 0 });
  try {
    // node:http rather than fetch: the clock stops at the last byte, and no client-side decoding is timed.
    const get = () =>
      new Promise<{ ms: number; body: string }>((resolve, reject) => {
        const t0 = performance.now();
        http
          .get(`${server.url}/api/report?format=json`, (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => {
              const ms = performance.now() - t0;
              const body = Buffer.concat(chunks).toString('utf8');
              if (response.statusCode !== 200) {
                reject(
                  new Error(`GET /api/report answered ${String(response.statusCode)}: ${body.slice(0, 300)}`),
                );
              } else {
                resolve({ ms, body });
              }
            });
            response.on('error', reject);
          })
          .on('error', reject);
      });
    const cold = await get();
    const warm = await get();
    const pools = (JSON.parse(cold.body) as { pools: unknown[] }).pools.length;
    return {
      kind: 'serve',
      method: 'serve adapter: GET /api/report?format=json, first request (cold: read from Table Storage)',
      bytes: Buffer.byteLength(cold.body),
      pools,
      warmWallTimeInMs: warm.ms,
      wallTimeInMs: cold.ms,
      ...meter.stop(),
    };
  } finally {
    await server.close();
  }
}

// ---- parent side --------------------------------------------------------------------------------------------

function runChild(job: Job, env: NodeJS.ProcessEnv, nodeArgs: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--child', JSON.stringify(job)], {
      env,
      execPath: process.execPath,
      execArgv: nodeArgs,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: ChildResult | undefined;
    child.on('message', (message) => {
      result = message as ChildResult;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (result && code === 0) resolve(result);
      else reject(new Error(`bench child for ${job.kind} ${job.pools} exited with ${String(code)}`));
    });
  });
}

function countsOf(arm: ArmEmulator): EmulatorCounts {
  return {
    graph: arm.stats.requestsByEndpoint.graph,
    upgradeProfile: arm.stats.requestsByEndpoint.upgradeProfile,
    subscriptions: arm.stats.requestsByEndpoint.subscriptions,
    managedClusters: arm.stats.requestsByEndpoint.managedClusters,
    throttled: arm.stats.throttled,
  };
}

function delta(after: EmulatorCounts, before: EmulatorCounts): EmulatorCounts {
  return {
    graph: after.graph - before.graph,
    upgradeProfile: after.upgradeProfile - before.upgradeProfile,
    subscriptions: after.subscriptions - before.subscriptions,
    managedClusters: after.managedClusters - before.managedClusters,
    throttled: after.throttled - before.throttled,
  };
}

function sameVerdicts(a: Summary, b: Summary): boolean {
  return (['pools', 'compliant', 'noncompliant', 'exempt', 'unknown'] as const).every((k) => a[k] === b[k]);
}

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [
    line(cells[0] ?? []),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.slice(1).map(line),
  ].join('\n');
}

const fmt = (n: number) => n.toLocaleString('en-US');

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const loadBefore = os.loadavg();
  const startedAt = new Date();
  process.stderr.write(
    `bench: sizes ${args.sizes.join(', ')}; naive ${args.naiveSizes.join(', ') || 'none'}; latency ${args.latencyInMs} ms; ` +
      `Resource Graph quota ${GRAPH_QUOTA.queries}/${GRAPH_QUOTA.windowInMs} ms; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}\n`,
  );
  const workDir = mkdtempSync(join(os.tmpdir(), 'aks-fips-bench-'));
  const azurite = await startAzurite();
  const auditor: AuditorFigures[] = [];
  const naive: NaiveFigures[] = [];
  let serve: (ServeChildResult & { pools: number; servedPoolsOf: number }) | null = null;
  let unconstrained: { pools: number; wallTimeInS: number; peakRssInMb: number; heapLimitInMb: null } | null =
    null;
  try {
    for (const pools of args.sizes) {
      const shape = ESTATE_SHAPES[args.shapes[0] ?? 'today'];
      const subscriptions = shape.subscriptions(pools);
      const estate = shapeEstate(shape, pools, SEED);
      const identity = await ManagedIdentityEmulator.start();
      const arm = await ArmEmulator.start({
        estate,
        identity,
        audience: AUDIENCE,
        latencyInMs: args.latencyInMs,
        quota: GRAPH_QUOTA,
      });
      const certFile = join(workDir, `arm-${pools}.pem`);
      writeFileSync(certFile, arm.certificatePem);
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const name of REAL_IDENTITY_VARIABLES) delete env[name];
      Object.assign(env, {
        NODE_EXTRA_CA_CERTS: certFile,
        IDENTITY_ENDPOINT: identity.endpoint,
        IDENTITY_HEADER: identity.identityHeader,
        AZURE_TOKEN_CREDENTIALS: 'ManagedIdentityCredential',
        AZURE_CLOUD: 'AzureCloud',
        AUDIT_ARM_ENDPOINT: arm.endpoint,
        AUDIT_TABLES_CONNECTION_STRING: azurite.connectionString,
        AUDIT_TABLE_PREFIX: tablePrefix(pools),
        EMAIL_MODE: 'off',
      });
      for (const name of ['AUDIT_SUBSCRIPTIONS', 'AUDIT_MANAGEMENT_GROUPS', 'AUDIT_TABLES_ENDPOINT'])
        delete env[name];
      try {
        process.stderr.write(
          `bench: auditor, ${fmt(pools)} pools in ${fmt(estate.clusters.length)} clusters, ${fmt(subscriptions)} subscriptions…\n`,
        );
        const before = countsOf(arm);
        const heapArgs = args.heapLimitInMb > 0 ? [`--max-old-space-size=${args.heapLimitInMb}`] : [];
        const result = (await runChild({ kind: 'auditor', pools }, env, [
          ...heapArgs,
          ...args.childNodeArgs,
        ])) as AuditorChildResult;
        const seen = delta(countsOf(arm), before);
        const figures: AuditorFigures = {
          pools,
          subscriptions,
          clusters: estate.clusters.length,
          wallTimeInS: round(result.wallTimeInMs / 1000),
          peakRssInMb: result.peakRssInMb,
          baselineRssInMb: result.baselineRssInMb,
          poolsPerSecond: Math.round(pools / (result.wallTimeInMs / 1000)),
          resourceGraphRequests: seen.graph,
          nodeImageRequests: seen.upgradeProfile,
          armRequests: seen.graph + seen.upgradeProfile + seen.subscriptions + seen.managedClusters,
          tableRequests: result.tables.requests,
          tableTransactions: result.tables.transactions,
          entitiesWritten: result.tables.entitiesWritten,
          throttled429: seen.throttled,
          pacedWaits: result.graph.pacedWaits,
          status: result.status,
          summary: result.summary,
        };
        auditor.push(figures);
        process.stderr.write(
          `bench:   ${figures.wallTimeInS} s, peak RSS ${figures.peakRssInMb} MB, ${figures.throttled429} × 429\n`,
        );

        if (heapArgs.length && pools === args.sizes[args.sizes.length - 1]) {
          // The same audit under V8's defaults on this host, into fresh tables: what the heap limit changes.
          process.stderr.write(
            `bench: auditor again, ${fmt(pools)} pools, V8's default heap limit on this machine…\n`,
          );
          const again = (await runChild(
            { kind: 'auditor', pools },
            { ...env, AUDIT_TABLE_PREFIX: tablePrefix(pools) },
            args.childNodeArgs,
          )) as AuditorChildResult;
          unconstrained = {
            pools,
            wallTimeInS: round(again.wallTimeInMs / 1000),
            peakRssInMb: again.peakRssInMb,
            heapLimitInMb: null,
          };
          process.stderr.write(
            `bench:   ${unconstrained.wallTimeInS} s, peak RSS ${unconstrained.peakRssInMb} MB\n`,
          );
        }

        if (args.serve && pools === args.sizes[args.sizes.length - 1]) {
          process.stderr.write(`bench: serving the latest report of ${fmt(pools)} pools as JSON…\n`);
          const served = (await runChild(
            { kind: 'serve', pools, runId: result.runId },
            env,
            args.childNodeArgs,
          )) as ServeChildResult;
          serve = { ...served, servedPoolsOf: pools };
        }

        if (args.naiveSizes.includes(pools)) {
          process.stderr.write(
            `bench: naive script, ${fmt(pools)} pools (concurrency ${args.naiveConcurrency})…\n`,
          );
          const beforeNaive = countsOf(arm);
          const n = (await runChild(
            { kind: 'naive', pools, concurrency: args.naiveConcurrency },
            env,
            args.childNodeArgs,
          )) as NaiveChildResult;
          const seenNaive = delta(countsOf(arm), beforeNaive);
          naive.push({
            pools,
            extrapolated: false,
            concurrency: args.naiveConcurrency,
            wallTimeInS: round(n.wallTimeInMs / 1000),
            peakRssInMb: n.peakRssInMb,
            armRequests:
              seenNaive.subscriptions +
              seenNaive.managedClusters +
              seenNaive.upgradeProfile +
              seenNaive.graph,
            subscriptionListRequests: seenNaive.subscriptions,
            clusterListRequests: seenNaive.managedClusters,
            upgradeProfileRequests: seenNaive.upgradeProfile,
            poolsPerSecond: Math.round(pools / (n.wallTimeInMs / 1000)),
            sameVerdicts: sameVerdicts(n.summary, result.summary),
          });
          process.stderr.write(`bench:   ${round(n.wallTimeInMs / 1000)} s\n`);
        }
      } finally {
        await arm.close();
        await identity.close();
      }
    }
  } finally {
    await azurite.stop();
    rmSync(workDir, { recursive: true, force: true });
  }

  // Sizes the naive script did not run at: scaled from the largest it did, per pool, and marked so.
  const measuredNaive = naive.filter((n) => !n.extrapolated).sort((a, b) => b.pools - a.pools)[0];
  if (measuredNaive) {
    for (const pools of args.sizes) {
      if (naive.some((n) => n.pools === pools)) continue;
      const factor = pools / measuredNaive.pools;
      const subscriptionPages = Math.ceil(subscriptionsFor(pools) / 50);
      const clusterPages = Math.round(measuredNaive.clusterListRequests * factor);
      naive.push({
        pools,
        extrapolated: true,
        concurrency: measuredNaive.concurrency,
        wallTimeInS: round(measuredNaive.wallTimeInS * factor),
        peakRssInMb: null,
        armRequests: subscriptionPages + clusterPages + pools,
        subscriptionListRequests: subscriptionPages,
        clusterListRequests: clusterPages,
        upgradeProfileRequests: pools,
        poolsPerSecond: measuredNaive.poolsPerSecond,
        sameVerdicts: null,
      });
    }
    naive.sort((a, b) => a.pools - b.pools);
  }

  const loadAfter = os.loadavg();
  const lines: string[] = [];
  lines.push(
    '',
    `Auditor (Resource Graph + grouped upgrade profiles + Table Storage), latency ${args.latencyInMs} ms per request, ` +
      (args.heapLimitInMb
        ? `V8 heap limit ${args.heapLimitInMb} MB (a 2,048 MB Function App instance)`
        : "V8's default heap limit"),
  );
  lines.push(
    table(
      [
        'pools',
        'wall s',
        'peak RSS MB',
        'pools/s',
        'Graph req',
        'image req',
        'ARM req',
        'Table req',
        'entities',
        '429s',
        'status',
      ],
      auditor.map((a) => [
        fmt(a.pools),
        a.wallTimeInS,
        a.peakRssInMb,
        fmt(a.poolsPerSecond),
        a.resourceGraphRequests,
        a.nodeImageRequests,
        fmt(a.armRequests),
        fmt(a.tableRequests),
        fmt(a.entitiesWritten),
        a.throttled429,
        a.status,
      ]),
    ),
  );
  if (unconstrained) {
    lines.push(
      `With V8's default heap limit on this ${Math.round(os.totalmem() / 1024 ** 3)} GB machine instead of ${args.heapLimitInMb} MB: ` +
        `${fmt(unconstrained.pools)} pools in ${unconstrained.wallTimeInS} s, peak RSS ${unconstrained.peakRssInMb} MB`,
    );
  }
  const growth = auditor.slice(1).map((a, i) => {
    const prev = auditor[i] as AuditorFigures;
    return {
      from: prev.pools,
      to: a.pools,
      sizeRatio: round(a.pools / prev.pools, 1),
      timeRatio: round(a.wallTimeInS / prev.wallTimeInS, 2),
      rssRatio: round(a.peakRssInMb / prev.peakRssInMb, 2),
      rssAboveBaselineRatio: round(
        (a.peakRssInMb - a.baselineRssInMb) / Math.max(1, prev.peakRssInMb - prev.baselineRssInMb),
        2,
      ),
    };
  });
  if (growth.length) {
    lines.push('', 'Growth between sizes');
    lines.push(
      table(
        ['from → to', 'size ×', 'time ×', 'peak RSS ×', 'RSS above baseline ×'],
        growth.map((g) => [
          `${fmt(g.from)} → ${fmt(g.to)}`,
          g.sizeRatio,
          g.timeRatio,
          g.rssRatio,
          g.rssAboveBaselineRatio,
        ]),
      ),
    );
  }
  const comparison = naive
    .map((n) => {
      const a = auditor.find((x) => x.pools === n.pools);
      if (!a) return null;
      return {
        pools: n.pools,
        extrapolated: n.extrapolated,
        auditorWallTimeInS: a.wallTimeInS,
        naiveWallTimeInS: n.wallTimeInS,
        speedup: round(n.wallTimeInS / a.wallTimeInS, 1),
        auditorArmRequests: a.armRequests,
        naiveArmRequests: n.armRequests,
        requestRatio: round(n.armRequests / a.armRequests, 1),
        sameVerdicts: n.sameVerdicts,
      };
    })
    .filter((c) => c !== null);
  if (comparison.length) {
    lines.push(
      '',
      `Auditor vs naive script (subscriptions.list → managedClusters.list → getUpgradeProfile per pool, concurrency ${args.naiveConcurrency})`,
    );
    lines.push(
      table(
        [
          'pools',
          'auditor s',
          'naive s',
          'faster ×',
          'auditor ARM req',
          'naive ARM req',
          'fewer req ×',
          'same verdicts',
        ],
        comparison.map((c) => [
          fmt(c.pools) + (c.extrapolated ? ' (extrapolated)' : ''),
          c.auditorWallTimeInS,
          c.naiveWallTimeInS,
          c.speedup,
          fmt(c.auditorArmRequests),
          fmt(c.naiveArmRequests),
          c.requestRatio,
          c.sameVerdicts === null ? '-' : c.sameVerdicts ? 'yes' : 'NO',
        ]),
      ),
    );
  }
  if (serve) {
    lines.push(
      '',
      `Latest report as JSON, ${fmt(serve.servedPoolsOf)} pools: ${round(serve.wallTimeInMs / 1000)} s cold, ${round(serve.warmWallTimeInMs / 1000)} s warm, ${mb(serve.bytes)} MB, peak RSS ${serve.peakRssInMb} MB (${serve.method})`,
    );
  }
  lines.push(
    '',
    `Machine: ${os.cpus().length} cores, Node ${process.version}, load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`,
  );
  process.stdout.write(lines.join('\n') + '\n');

  const results = {
    date: startedAt.toISOString(),
    machine: {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      memoryInMb: Math.round(os.totalmem() / 1024 / 1024),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      loadAverageBefore: loadBefore.map((l) => round(l)),
      loadAverageAfter: loadAfter.map((l) => round(l)),
    },
    settings: {
      latencyInMs: args.latencyInMs,
      graphQuota: GRAPH_QUOTA,
      graphPageSize: 1000,
      seed: SEED,
      poolsPerCluster: POOLS_PER_CLUSTER,
      poolsPerSubscription: POOLS_PER_SUBSCRIPTION,
      naiveConcurrency: args.naiveConcurrency,
      auditorHeapLimitInMb: args.heapLimitInMb || null,
      childNodeArgs: args.childNodeArgs,
    },
    auditor,
    auditorWithV8DefaultHeap: unconstrained,
    growth,
    naive,
    comparison,
    serve: serve
      ? {
          pools: serve.servedPoolsOf,
          wallTimeInS: round(serve.wallTimeInMs / 1000, 3),
          warmWallTimeInS: round(serve.warmWallTimeInMs / 1000, 3),
          bytes: serve.bytes,
          peakRssInMb: serve.peakRssInMb,
          method: serve.method,
        }
      : null,
  };
  writeFileSync(args.out, JSON.stringify(results, null, 2) + '\n');
  process.stderr.write(`bench: wrote ${args.out}\n`);
}

if (process.argv[2] === '--child') {
  const job = JSON.parse(process.argv[3] ?? '{}') as Job;
  runJob(job).then(
    (result) => {
      process.send?.(result, () => process.exit(0));
    },
    (error: unknown) => {
      process.stderr.write(
        `bench child failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
} else {
  main().catch((error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
