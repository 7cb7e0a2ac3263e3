// `npm run bench:digest`: heap used building the email digest of a 100,000-pool stored run, from whole reports and from frames.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { generateEstate } from '../emulators/estateGenerator';
import { startLocalAzure } from '../emulators/localAzure';
import { App } from '../src/app';
import { loadConfig } from '../src/config';
import { diffRuns, previousGoodRun } from '../src/core/diffRuns';
import type { RunRecord } from '../src/core/run';
import { MAX_ATTACHMENT_BYTES } from '../src/notify/digestAttachment';
import { buildRunDigest } from '../src/notify/runDigest';
import { type DigestAttachment, renderEmailDigest } from '../src/render/emailDigest';
import { renderReportCsv } from '../src/render/reportCsv';

const ADDRESS = { from: 'DoNotReply@contoso.com', to: ['compliance@contoso.com'] };
const MiB = 1024 * 1024;

/**
 * The digest as buildRunDigest built it before it read frames: both runs' reports whole, every pool state in a
 * Map, the whole CSV as a string before its size was checked. Kept here only to measure what it cost.
 */
async function wholeReportDigest(app: App, runId: string): Promise<string> {
  const run = (await app.stores.reports.getRun(runId))!;
  const report = (await app.getReport(runId))!;
  const runs: RunRecord[] = [];
  for await (const r of app.stores.reports.listRuns({ top: 60 })) runs.push(r);
  const previous = previousGoodRun(runs, run);
  const previousReport = previous ? ((await app.getReport(previous.id)) ?? null) : null;
  const since = new Map<string, string>();
  for await (const state of app.stores.poolStates.listPoolStates()) {
    if (state.noncompliantSince && Date.parse(state.noncompliantSince) <= Date.parse(run.startedAt))
      since.set(state.id.toLowerCase(), state.noncompliantSince);
  }
  const diff = diffRuns(report, previousReport, { noncompliantSince: since });
  const full = Buffer.from(renderReportCsv(report), 'utf8');
  let attachment: DigestAttachment = { kind: 'full', name: 'x.csv', pools: report.pools.length };
  if (full.length > MAX_ATTACHMENT_BYTES) {
    const attention = report.pools.filter((p) => p.status !== 'compliant');
    const partial = Buffer.from(renderReportCsv(report, attention), 'utf8');
    attachment =
      partial.length <= MAX_ATTACHMENT_BYTES
        ? { kind: 'attention', name: 'x.csv', pools: attention.length }
        : { kind: 'none', reason: 'too big' };
  }
  const trend = runs.map((r) => ({
    runId: r.id,
    startedAt: r.startedAt,
    status: r.status,
    summary: r.status === 'failed' ? null : r.summary,
  }));
  return renderEmailDigest({ report, diff, trend, reportBaseUrl: null, earlierFailures: [], attachment })
    .subject;
}

/** The child: builds one digest and prints its heap figures (sampled while it builds) as JSON. */
async function measure(mode: 'whole' | 'frames', runId: string, env: Record<string, string>): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const app = new App(loadConfig(env), { email: false });
  await app.stores.reports.getRun(runId); // the clients' own set-up is not the digest's
  gc();
  const base = process.memoryUsage();
  let peakHeap = base.heapUsed;
  let peakRss = base.rss;
  const sample = () => {
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakRss = Math.max(peakRss, m.rss);
  };
  const timer = setInterval(sample, 5);
  const started = performance.now();
  const subject =
    mode === 'whole'
      ? await wholeReportDigest(app, runId)
      : (await buildRunDigest(app.digestSources(), (await app.stores.reports.getRun(runId))!, ADDRESS))
          .message.subject;
  const wallInMs = Math.round(performance.now() - started);
  clearInterval(timer);
  sample();
  app.close();
  process.stdout.write(
    JSON.stringify({
      mode,
      subject,
      wallInMs,
      heapBeforeMiB: +(base.heapUsed / MiB).toFixed(1),
      peakHeapMiB: +(peakHeap / MiB).toFixed(1),
      peakHeapAboveBaseMiB: +((peakHeap - base.heapUsed) / MiB).toFixed(1),
      peakRssMiB: +(peakRss / MiB).toFixed(1),
    }),
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pools: { type: 'string', default: '100000' },
      measure: { type: 'string' },
      run: { type: 'string' },
      out: { type: 'string', default: join(__dirname, '..', '..', 'bench', 'digest-results.json') },
    },
  });
  if (values.measure) {
    const env = JSON.parse(process.env.BENCH_DIGEST_ENV ?? '{}') as Record<string, string>;
    return measure(values.measure as 'whole' | 'frames', values.run!, env);
  }
  const pools = Number(values.pools);
  const estate = generateEstate({
    seed: 2026,
    pools,
    subscriptions: Math.max(1, Math.round(pools / 50)),
    poolsPerCluster: 4,
  });
  const local = await startLocalAzure(estate);
  try {
    const env = { ...local.env, AUDIT_TABLE_PREFIX: 'digestbench' };
    const app = new App(loadConfig(env), { email: false });
    process.stderr.write(`bench:digest: auditing ${pools.toLocaleString('en-US')} emulated pools twice…\n`);
    await app.runAudit({ trigger: 'timer' });
    // The second run has news: one pool in 50 changes FIPS, one cluster in 100 is deleted.
    const flipped = estate.clusters
      .flatMap((c) => c.properties.agentPoolProfiles)
      .filter((_, i) => i % 50 === 0);
    for (const pool of flipped) pool.enableFIPS = !pool.enableFIPS;
    for (let i = estate.clusters.length - 1; i >= 0; i--) if (i % 100 === 1) estate.clusters.splice(i, 1);
    local.arm.reindex();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const run = await app.runAudit({ trigger: 'timer' });
    app.close();
    process.stderr.write(
      `bench:digest: run ${run.id} ${run.status}, ${run.summary.pools} pools; measuring…\n`,
    );
    // Each digest in a fresh process, so neither the audits' garbage nor the other digest's is counted: once with
    // room to spare (what it takes), once under the Function App's 512 MB heap (whether it fits there).
    const child = (mode: string, heapInMiB: number): Record<string, unknown> => {
      try {
        const out = execFileSync(
          process.execPath,
          [
            '--expose-gc',
            `--max-old-space-size=${heapInMiB}`,
            __filename,
            '--measure',
            mode,
            '--run',
            run.id,
          ],
          {
            env: { ...process.env, BENCH_DIGEST_ENV: JSON.stringify(env) },
            maxBuffer: 1 << 20,
            stdio: 'pipe',
          },
        );
        return { heapLimitMiB: heapInMiB, completed: true, ...(JSON.parse(out.toString('utf8')) as object) };
      } catch (error) {
        const { status, signal } = error as { status: number | null; signal: string | null };
        return { mode, heapLimitMiB: heapInMiB, completed: false, exit: status ?? signal };
      }
    };
    const digests = [child('whole', 4096), child('frames', 4096), child('whole', 512), child('frames', 512)];
    for (const d of digests)
      process.stderr.write(
        d.completed
          ? `bench:digest: ${String(d.mode).padEnd(6)} heap limit ${String(d.heapLimitMiB)} MiB: peak heap ${String(d.peakHeapMiB)} MiB (+${String(d.peakHeapAboveBaseMiB)} MiB), peak RSS ${String(d.peakRssMiB)} MiB, ${String(d.wallInMs)} ms\n`
          : `bench:digest: ${String(d.mode).padEnd(6)} heap limit ${String(d.heapLimitMiB)} MiB: did not complete (exit ${String(d.exit)})\n`,
      );
    const result = {
      date: new Date().toISOString(),
      machine: { cores: os.cpus().length, node: process.version, loadAverage: os.loadavg() },
      pools: run.summary.pools,
      noncompliant: run.summary.noncompliant,
      digests,
    };
    writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
    process.stderr.write(`bench:digest: written to ${values.out}\n`);
  } finally {
    await local.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:digest failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
