// `npm run bench`: audits emulated estates of every shape that hurts, 1,000 to 100,000 pools, with the CLI as a
// user runs it and storage, beside the naive SDK script; and one sharded run, for the 1,000,000-pool projection.

import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';

import { DefaultAzureCredential } from '@azure/identity';

import { ArmEmulator } from '../emulators/armEmulator';
import { startAzurite } from '../emulators/azurite';
import type { Estate } from '../emulators/estateGenerator';
import { REAL_IDENTITY_VARIABLES } from '../emulators/localAzure';
import { ManagedIdentityEmulator } from '../emulators/managedIdentityEmulator';
import { App } from '../src/app';
import { loadConfig } from '../src/config';
import type { Summary } from '../src/core/types';
import { serveHttp } from '../src/http/serveHttp';
import { type CliAuditMeasure, runCliAudit, shardTimes } from './cliAudit';
import { ESTATE_SHAPES, SHAPE_NAMES, shapeEstate, type ShapeName } from './estateShapes';
import { naiveAudit } from './naiveAudit';

const AUDIENCE = 'https://management.azure.com/';
/** Resource Graph's documented example quota: 15 queries per 5-second window per identity. */
const GRAPH_QUOTA = { queries: 15, windowInMs: 5000 };
const SEED = 2026;
const RSS_SAMPLE_INTERVAL_IN_MS = 20;
/** Subscriptions per shard in the sharded run (AUDIT_SHARD_SIZE's default). */
const SHARD_SIZE = 500;
/** The projection's estate: 1,000,000 pools in today's shape (one subscription per 50 pools). */
const PROJECTED_POOLS = 1_000_000;
/** Table Storage's scalability target per storage account (entities a second) and Resource Graph's quota. */
const ACCOUNT_ENTITIES_PER_SECOND = 20_000;

interface BenchArgs {
  shapes: ShapeName[];
  sizes: number[];
  naiveSizes: number[];
  latencyInMs: number;
  naiveConcurrency: number;
  serve: boolean;
  sharded: boolean;
  /** Audit the largest size of each shape a second time into the same tables: the daily case, states existing. */
  secondRun: boolean;
  out: string;
  /** NODE_OPTIONS for the measured processes (e.g. --cpu-prof), not for Azurite. */
  childNodeArgs: string[];
}

type Job = { kind: 'naive'; pools: number; concurrency: number } | { kind: 'serve'; pools: number };

interface ChildMeasure {
  wallTimeInMs: number;
  peakRssInMb: number;
  baselineRssInMb: number;
}

interface NaiveChildResult extends ChildMeasure {
  kind: 'naive';
  summary: Summary;
  pools: number;
}

interface ServeChildResult extends ChildMeasure {
  kind: 'serve';
  method: string;
  warmWallTimeInMs: number;
  bytes: number;
  pools: number;
}

type ChildResult = NaiveChildResult | ServeChildResult;

interface EmulatorCounts {
  graph: number;
  upgradeProfile: number;
  subscriptions: number;
  managedClusters: number;
  throttled: number;
}

export interface AuditorFigures {
  shape: ShapeName;
  pools: number;
  subscriptions: number;
  clusters: number;
  /** Clusters in the largest subscription. */
  largestSubscriptionClusters: number;
  wallTimeInS: number;
  /** The launcher and the audit process together, sampled; and the audit process's own high-water mark. */
  peakRssInMb: number;
  workerPeakRssInMb: number;
  poolsPerSecond: number;
  resourceGraphRequests: number;
  nodeImageRequests: number;
  armRequests: number;
  tableRequests: number;
  tableTransactions: number;
  entitiesWritten: number;
  throttled429: number;
  tableThrottled: number;
  reportJsonBytes: number;
  exitCode: number | null;
  /** One-minute load average before and after the run: other work on the 2 cores slows every figure. */
  loadBefore: number;
  loadAfter: number;
}

export interface NaiveFigures {
  shape: ShapeName;
  pools: number;
  extrapolated: boolean;
  concurrency: number;
  wallTimeInS: number;
  peakRssInMb: number | null;
  armRequests: number;
  upgradeProfileRequests: number;
  sameVerdicts: boolean | null;
}

function parseArgs(argv: string[]): BenchArgs {
  const args: BenchArgs = {
    shapes: [...SHAPE_NAMES],
    sizes: [1000, 10_000, 100_000],
    naiveSizes: [1000],
    latencyInMs: 30,
    naiveConcurrency: 1,
    serve: true,
    sharded: true,
    secondRun: false,
    out: join(process.cwd(), 'bench', 'results.json'),
    childNodeArgs: [],
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
      case '--no-serve':
        args.serve = false;
        break;
      case '--second-run':
        args.secondRun = true;
        break;
      case '--no-sharded':
        args.sharded = false;
        break;
      case '--out':
        if (!value) throw new RangeError('--out takes a file path');
        args.out = value;
        i++;
        break;
      default:
        throw new RangeError(
          `Unknown argument ${String(flag)}. Usage: bench [--shapes ${SHAPE_NAMES.join(',')}] [--sizes 1000,10000,100000] [--naive-sizes 1000|none] [--latency 30] [--naive-concurrency 1] [--no-serve] [--no-sharded] [--second-run] [--child-node-args "--cpu-prof"] [--out bench/results.json]`,
        );
    }
  }
  args.sizes.sort((a, b) => a - b);
  return args;
}

/** A fresh table prefix per run: every audit of the benchmark is a first run into empty tables. */
const tablePrefix = (pools: number) =>
  `bench${pools}t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

// ---- child side (the naive script, the report request) ------------------------------------------------------

function rssMeter(): { stop(): { peakRssInMb: number; baselineRssInMb: number } } {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
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
    // node:http rather than fetch: the clock stops at the last byte, and no client-side decoding is timed. The
    // client keeps only a count and the body's tail (which ends with the page: how many pools it returned), so
    // the peak RSS measured is the server's, not a client's copy of 130 MB.
    const get = () =>
      new Promise<{ ms: number; bytes: number; tail: string }>((resolve, reject) => {
        const t0 = performance.now();
        http
          .get(`${server.url}/api/report?format=json`, (response) => {
            let bytes = 0;
            let tail = Buffer.alloc(0);
            response.on('data', (chunk: Buffer) => {
              bytes += chunk.length;
              tail = Buffer.concat([tail, chunk]);
              if (tail.length > 4096) tail = tail.subarray(tail.length - 4096);
            });
            response.on('end', () => {
              const ms = performance.now() - t0;
              const text = tail.toString('utf8');
              if (response.statusCode !== 200) {
                reject(
                  new Error(`GET /api/report answered ${String(response.statusCode)}: ${text.slice(0, 300)}`),
                );
              } else {
                resolve({ ms, bytes, tail: text });
              }
            });
            response.on('error', reject);
          })
          .on('error', reject);
      });
    const cold = await get();
    const warm = await get();
    const returned =
      /"page":\{"offset":0,"top":null,"returned":(\d+),"continuationToken":null,"nextLink":null\}\}$/.exec(
        cold.tail,
      );
    if (!returned?.[1])
      throw new Error(`GET /api/report did not end with its page: …${cold.tail.slice(-200)}`);
    const pools = Number(returned[1]);
    return {
      kind: 'serve',
      method: 'serve adapter: GET /api/report?format=json, first request (cold: read from Table Storage)',
      bytes: cold.bytes,
      pools,
      warmWallTimeInMs: warm.ms,
      wallTimeInMs: cold.ms,
      ...meter.stop(),
    };
  } finally {
    await server.close();
  }
}

// ---- parent side ---------------------------------------------------------------------------------------------

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

interface ShardedFigures {
  pools: number;
  subscriptions: number;
  shardSize: number;
  shards: number;
  wallTimeInS: number;
  peakRssInMb: number;
  entitiesWritten: number;
  tableRequests: number;
  resourceGraphRequests: number;
  /** Each shard's pools and how long it took, from the end of the one before it (shards run one at a time here). */
  perShard: { shard: number; pools: number; seconds: number }[];
  loadBefore: number;
  loadAfter: number;
}

interface Projection {
  pools: number;
  subscriptions: number;
  shards: number;
  secondsPerShard: number;
  entitiesPerShard: number;
  graphRequestsPerShard: number;
  /** Wall time with N instances: the shards' rounds, and the floors the account and the quota set, whichever is longer. */
  byInstances: {
    instances: number;
    rounds: number;
    shardBoundInS: number;
    floorInS: number;
    wallTimeInS: number;
  }[];
}

/**
 * Starts the emulators for `estate` and a fresh Azurite (in memory: one that kept every earlier run's tables would
 * slow down as its heap filled, and at some point run out of it), with the environment a user of the CLI would set.
 */
async function withEstate<T>(
  estate: Estate,
  workDir: string,
  latencyInMs: number,
  childNodeArgs: string[],
  run: (env: NodeJS.ProcessEnv, arm: ArmEmulator) => Promise<T>,
): Promise<T> {
  const azurite = await startAzurite();
  const identity = await ManagedIdentityEmulator.start();
  const arm = await ArmEmulator.start({
    estate,
    identity,
    audience: AUDIENCE,
    latencyInMs,
    quota: GRAPH_QUOTA,
  });
  const certFile = join(workDir, `arm-${Date.now()}.pem`);
  writeFileSync(certFile, arm.certificatePem);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of REAL_IDENTITY_VARIABLES) delete env[name];
  for (const name of [
    'AUDIT_SUBSCRIPTIONS',
    'AUDIT_MANAGEMENT_GROUPS',
    'AUDIT_TABLES_ENDPOINT',
    'NODE_OPTIONS',
  ])
    delete env[name];
  Object.assign(env, {
    NODE_EXTRA_CA_CERTS: certFile,
    IDENTITY_ENDPOINT: identity.endpoint,
    IDENTITY_HEADER: identity.identityHeader,
    AZURE_TOKEN_CREDENTIALS: 'ManagedIdentityCredential',
    AZURE_CLOUD: 'AzureCloud',
    AUDIT_ARM_ENDPOINT: arm.endpoint,
    AUDIT_TABLES_CONNECTION_STRING: azurite.connectionString,
    AUDIT_TABLE_PREFIX: tablePrefix(estate.clusters.length),
    EMAIL_MODE: 'off',
    ...(childNodeArgs.length ? { NODE_OPTIONS: childNodeArgs.join(' ') } : {}),
  });
  try {
    return await run(env, arm);
  } finally {
    await arm.close();
    await identity.close();
    await azurite.stop();
  }
}

function largestSubscription(estate: Estate): number {
  const counts = new Map<string, number>();
  for (const c of estate.clusters) counts.set(c.subscriptionId, (counts.get(c.subscriptionId) ?? 0) + 1);
  return Math.max(0, ...counts.values());
}

const load1 = () => round(os.loadavg()[0] ?? 0);

async function measureAuditor(
  shape: ShapeName,
  pools: number,
  estate: Estate,
  env: NodeJS.ProcessEnv,
  arm: ArmEmulator,
): Promise<{ figures: AuditorFigures; measure: CliAuditMeasure }> {
  const before = countsOf(arm);
  const loadBefore = load1();
  const measure = await runCliAudit(env);
  const seen = delta(countsOf(arm), before);
  if (measure.exitCode !== 0 || !measure.stdoutComplete) {
    process.stderr.write(measure.log.slice(-20).join('\n') + '\n');
    throw new Error(`The audit of ${shape} ${pools} exited with ${String(measure.exitCode)}`);
  }
  const requests = measure.requests;
  const figures: AuditorFigures = {
    shape,
    pools,
    subscriptions: estate.subscriptions.length,
    clusters: estate.clusters.length,
    largestSubscriptionClusters: largestSubscription(estate),
    wallTimeInS: round(measure.wallTimeInMs / 1000),
    peakRssInMb: measure.peakRssInMb,
    workerPeakRssInMb: measure.workerPeakRssInMb,
    poolsPerSecond: Math.round(pools / (measure.wallTimeInMs / 1000)),
    resourceGraphRequests: seen.graph,
    nodeImageRequests: seen.upgradeProfile,
    armRequests: seen.graph + seen.upgradeProfile + seen.subscriptions + seen.managedClusters,
    tableRequests: requests?.table ?? 0,
    tableTransactions: requests?.transactions ?? 0,
    entitiesWritten: requests?.entitiesWritten ?? 0,
    throttled429: seen.throttled,
    tableThrottled: requests?.tableThrottled ?? 0,
    reportJsonBytes: measure.stdoutBytes,
    exitCode: measure.exitCode,
    loadBefore,
    loadAfter: load1(),
  };
  return { figures, measure };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const loadBefore = os.loadavg();
  const startedAt = new Date();
  process.stderr.write(
    `bench: shapes ${args.shapes.join(', ')}; sizes ${args.sizes.join(', ')}; naive ${args.naiveSizes.join(', ') || 'none'}; latency ${args.latencyInMs} ms; ` +
      `Resource Graph quota ${GRAPH_QUOTA.queries}/${GRAPH_QUOTA.windowInMs} ms; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}\n`,
  );
  const workDir = mkdtempSync(join(os.tmpdir(), 'aks-fips-bench-'));
  const auditor: AuditorFigures[] = [];
  const secondRuns: AuditorFigures[] = [];
  const naive: NaiveFigures[] = [];
  let serve: (ServeChildResult & { servedPoolsOf: number }) | null = null;
  let sharded: ShardedFigures | null = null;
  try {
    for (const shapeName of args.shapes) {
      const shape = ESTATE_SHAPES[shapeName];
      for (const pools of args.sizes) {
        const estate = shapeEstate(shape, pools, SEED);
        process.stderr.write(
          `bench: ${shapeName}, ${fmt(pools)} pools in ${fmt(estate.clusters.length)} clusters, ${fmt(estate.subscriptions.length)} subscriptions (largest: ${fmt(largestSubscription(estate))} clusters); load ${load1()}…\n`,
        );
        await withEstate(estate, workDir, args.latencyInMs, args.childNodeArgs, async (env, arm) => {
          const { figures } = await measureAuditor(shapeName, pools, estate, env, arm);
          auditor.push(figures);
          process.stderr.write(
            `bench:   auditor ${figures.wallTimeInS} s, peak RSS ${figures.peakRssInMb} MB (audit process ${figures.workerPeakRssInMb} MB), ${fmt(figures.entitiesWritten)} entities, ${figures.throttled429} × 429; load ${figures.loadBefore} → ${figures.loadAfter}\n`,
          );
          if (args.secondRun && pools === args.sizes[args.sizes.length - 1]) {
            // The next day's audit: every pool's state exists, so each is read back and compared.
            const again = (await measureAuditor(shapeName, pools, estate, env, arm)).figures;
            secondRuns.push(again);
            process.stderr.write(
              `bench:   second run ${again.wallTimeInS} s, peak RSS ${again.peakRssInMb} MB (audit process ${again.workerPeakRssInMb} MB), ${fmt(again.entitiesWritten)} entities; load ${again.loadBefore} → ${again.loadAfter}\n`,
            );
          }
          if (args.serve && shapeName === args.shapes[0] && pools === args.sizes[args.sizes.length - 1]) {
            process.stderr.write(`bench:   serving the latest report of ${fmt(pools)} pools as JSON…\n`);
            const served = (await runChild({ kind: 'serve', pools }, env, [])) as ServeChildResult;
            serve = { ...served, servedPoolsOf: pools };
          }
          if (args.naiveSizes.includes(pools)) {
            const beforeNaive = countsOf(arm);
            const n = (await runChild(
              { kind: 'naive', pools, concurrency: args.naiveConcurrency },
              env,
              [],
            )) as NaiveChildResult;
            const seenNaive = delta(countsOf(arm), beforeNaive);
            const audited = await auditedSummary(env);
            naive.push({
              shape: shapeName,
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
              upgradeProfileRequests: seenNaive.upgradeProfile,
              sameVerdicts: audited ? sameVerdicts(n.summary, audited) : null,
            });
            process.stderr.write(`bench:   naive script ${round(n.wallTimeInMs / 1000)} s\n`);
          }
        });
      }
      // Sizes the naive script did not run at: scaled from the largest it did, per pool, and marked so.
      const measured = naive
        .filter((n) => n.shape === shapeName && !n.extrapolated)
        .sort((a, b) => b.pools - a.pools)[0];
      if (measured) {
        for (const pools of args.sizes) {
          if (naive.some((n) => n.shape === shapeName && n.pools === pools)) continue;
          const factor = pools / measured.pools;
          naive.push({
            ...measured,
            pools,
            extrapolated: true,
            wallTimeInS: round(measured.wallTimeInS * factor, 1),
            peakRssInMb: null,
            armRequests: Math.round(measured.armRequests * factor),
            upgradeProfileRequests: pools,
            sameVerdicts: null,
          });
        }
      }
    }

    if (args.sharded) {
      const pools = args.sizes[args.sizes.length - 1] as number;
      const estate = shapeEstate(ESTATE_SHAPES.today, pools, SEED);
      process.stderr.write(
        `bench: sharded (AUDIT_SHARD_SIZE=${SHARD_SIZE}), today's shape, ${fmt(pools)} pools, ${fmt(estate.subscriptions.length)} subscriptions…\n`,
      );
      sharded = await withEstate(estate, workDir, args.latencyInMs, args.childNodeArgs, async (env, arm) => {
        const shardedEnv = {
          ...env,
          AUDIT_SHARDING: 'subscriptions',
          AUDIT_SHARD_SIZE: String(SHARD_SIZE),
        };
        const { figures, measure } = await measureAuditor('today', pools, estate, shardedEnv, arm);
        const times = shardTimes(measure.log);
        const perShard = times.map((t, i) => ({
          shard: t.shard,
          pools: t.pools,
          seconds: round(t.endInS - (i === 0 ? 0 : (times[i - 1] as (typeof times)[number]).endInS)),
        }));
        return {
          pools,
          subscriptions: estate.subscriptions.length,
          shardSize: SHARD_SIZE,
          shards: perShard.length,
          wallTimeInS: figures.wallTimeInS,
          peakRssInMb: figures.peakRssInMb,
          entitiesWritten: figures.entitiesWritten,
          tableRequests: figures.tableRequests,
          resourceGraphRequests: figures.resourceGraphRequests,
          perShard,
          loadBefore: figures.loadBefore,
          loadAfter: figures.loadAfter,
        };
      });
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }

  const projection = sharded ? project(sharded) : null;
  const loadAfter = os.loadavg();
  const lines: string[] = [];
  lines.push(
    '',
    `Auditor: \`aks-fips-auditor audit --json\` as a user runs it (Node's default flags; the CLI holds itself to a 512 MB heap), storing everything, report JSON to stdout; latency ${args.latencyInMs} ms per ARM request`,
  );
  lines.push(
    table(
      [
        'shape',
        'pools',
        'subs',
        'clusters',
        'largest sub',
        'wall s',
        'peak RSS MB',
        'audit proc MB',
        'Graph req',
        'image req',
        'Table req',
        'entities',
        '429s',
        'load 1m',
      ],
      auditor.map((a) => [
        a.shape,
        fmt(a.pools),
        fmt(a.subscriptions),
        fmt(a.clusters),
        fmt(a.largestSubscriptionClusters),
        a.wallTimeInS,
        a.peakRssInMb,
        a.workerPeakRssInMb,
        a.resourceGraphRequests,
        a.nodeImageRequests,
        fmt(a.tableRequests),
        fmt(a.entitiesWritten),
        a.throttled429 + a.tableThrottled,
        `${a.loadBefore}→${a.loadAfter}`,
      ]),
    ),
  );
  if (secondRuns.length) {
    lines.push(
      '',
      'Second run into the same tables (every pool state exists: read back, compared, rewritten)',
    );
    lines.push(
      table(
        ['shape', 'pools', 'wall s', 'peak RSS MB', 'audit proc MB', 'Table req', 'entities', 'load 1m'],
        secondRuns.map((a) => [
          a.shape,
          fmt(a.pools),
          a.wallTimeInS,
          a.peakRssInMb,
          a.workerPeakRssInMb,
          fmt(a.tableRequests),
          fmt(a.entitiesWritten),
          `${a.loadBefore}→${a.loadAfter}`,
        ]),
      ),
    );
  }
  const growth = args.shapes.flatMap((shape) => {
    const rows = auditor.filter((a) => a.shape === shape);
    return rows.slice(1).map((a, i) => {
      const prev = rows[i] as AuditorFigures;
      return {
        shape,
        from: prev.pools,
        to: a.pools,
        sizeRatio: round(a.pools / prev.pools, 1),
        timeRatio: round(a.wallTimeInS / prev.wallTimeInS, 2),
        rssRatio: round(a.peakRssInMb / prev.peakRssInMb, 2),
      };
    });
  });
  if (growth.length) {
    lines.push('', 'Growth between sizes');
    lines.push(
      table(
        ['shape', 'from → to', 'size ×', 'time ×', 'peak RSS ×'],
        growth.map((g) => [g.shape, `${fmt(g.from)} → ${fmt(g.to)}`, g.sizeRatio, g.timeRatio, g.rssRatio]),
      ),
    );
  }
  const comparison = naive
    .map((n) => {
      const a = auditor.find((x) => x.shape === n.shape && x.pools === n.pools);
      if (!a) return null;
      return {
        shape: n.shape,
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
      `Auditor vs naive script (subscriptions.list → managedClusters.list → getUpgradeProfile per pool, concurrency ${args.naiveConcurrency}; the naive script stores nothing)`,
    );
    lines.push(
      table(
        [
          'shape',
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
          c.shape,
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
  const served = serve as (ServeChildResult & { servedPoolsOf: number }) | null;
  if (served) {
    lines.push(
      '',
      `Latest report as JSON, ${fmt(served.servedPoolsOf)} pools: ${round(served.wallTimeInMs / 1000)} s cold, ${round(served.warmWallTimeInMs / 1000)} s warm, ${mb(served.bytes)} MB, peak RSS ${served.peakRssInMb} MB (${served.method})`,
    );
  }
  const shardedRun = sharded;
  if (shardedRun && projection) {
    lines.push(
      '',
      `Sharded: ${fmt(shardedRun.pools)} pools, ${fmt(shardedRun.subscriptions)} subscriptions in ${shardedRun.shards} shards of ${shardedRun.shardSize}, one instance: ${shardedRun.wallTimeInS} s, peak RSS ${shardedRun.peakRssInMb} MB; per shard ${shardedRun.perShard.map((s) => `${s.seconds} s (${fmt(s.pools)} pools)`).join(', ')}`,
      `Projection to ${fmt(projection.pools)} pools (${fmt(projection.subscriptions)} subscriptions, ${projection.shards} shards of ${shardedRun.shardSize}; ${projection.secondsPerShard} s, ${fmt(projection.entitiesPerShard)} entities and ${projection.graphRequestsPerShard} Resource Graph requests per shard, measured):`,
    );
    lines.push(
      table(
        ['instances', 'rounds of shards', 'shard-bound s', 'account/quota floor s', 'projected wall s'],
        projection.byInstances.map((p) => [
          p.instances,
          p.rounds,
          p.shardBoundInS,
          p.floorInS,
          p.wallTimeInS,
        ]),
      ),
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
      shapes: args.shapes.map((name) => ({ name, description: ESTATE_SHAPES[name].description })),
      naiveConcurrency: args.naiveConcurrency,
      childNodeArgs: args.childNodeArgs,
    },
    auditor,
    secondRuns,
    growth,
    naive,
    comparison,
    serve: served
      ? {
          pools: served.servedPoolsOf,
          wallTimeInS: round(served.wallTimeInMs / 1000, 3),
          warmWallTimeInS: round(served.warmWallTimeInMs / 1000, 3),
          bytes: served.bytes,
          peakRssInMb: served.peakRssInMb,
          method: served.method,
        }
      : null,
    sharded: shardedRun,
    projection,
  };
  writeFileSync(args.out, JSON.stringify(results, null, 2) + '\n');
  process.stderr.write(`bench: wrote ${args.out}\n`);
}

/** The summary of the latest run stored with `env`, to compare verdicts with the naive script's. */
async function auditedSummary(env: NodeJS.ProcessEnv): Promise<Summary | null> {
  const app = new App(loadConfig(env));
  const run = await app.stores.reports.getLatestRun();
  return run?.summary ?? null;
}

/**
 * 1,000,000 pools from the measured shards: each instance works through its share of the shards one at a time, and
 * no number of instances goes under what the account's write target and Resource Graph's quota (shared by every
 * instance of one identity) allow.
 */
function project(run: ShardedFigures): Projection {
  const subscriptions = Math.round((run.subscriptions * PROJECTED_POOLS) / run.pools);
  const shards = Math.ceil(subscriptions / run.shardSize);
  const full = run.perShard.filter((s) => s.pools > 0);
  const poolsPerShard = full.reduce((n, s) => n + s.pools, 0) / Math.max(1, full.length);
  const secondsPerShard = round(full.reduce((n, s) => n + s.seconds, 0) / Math.max(1, full.length), 1);
  const entitiesPerShard = Math.round(run.entitiesWritten / Math.max(1, run.shards));
  const graphRequestsPerShard = Math.round(run.resourceGraphRequests / Math.max(1, run.shards));
  const scale = PROJECTED_POOLS / (poolsPerShard * shards);
  const entities = entitiesPerShard * shards * scale;
  const graphRequests = graphRequestsPerShard * shards;
  const floorInS = round(
    Math.max(
      entities / ACCOUNT_ENTITIES_PER_SECOND,
      (graphRequests / GRAPH_QUOTA.queries) * (GRAPH_QUOTA.windowInMs / 1000),
    ),
    0,
  );
  const byInstances = [1, 4, 10, 20, 40].map((instances) => {
    const rounds = Math.ceil(shards / instances);
    const shardBoundInS = round(rounds * secondsPerShard, 0);
    return { instances, rounds, shardBoundInS, floorInS, wallTimeInS: Math.max(shardBoundInS, floorInS) };
  });
  return {
    pools: PROJECTED_POOLS,
    subscriptions,
    shards,
    secondsPerShard,
    entitiesPerShard,
    graphRequestsPerShard,
    byInstances,
  };
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
