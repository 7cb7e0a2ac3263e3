// `npm run bench:evidence`: seals, verifies and bundles one stored run of N pools; time and peak RSS of each step.

import { fork } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

import { generateEstate } from '../emulators/estateGenerator';
import { startLocalAzure } from '../emulators/localAzure';
import { App } from '../src/app';
import { loadConfig } from '../src/config';
import { openEvidenceBundle } from '../src/evidence/evidenceBundle';
import { sealRun } from '../src/evidence/sealRun';
import { verifyRun } from '../src/evidence/verifyChain';

/** V8's heap on the Function App's 2,048 MB instance, as the main benchmark uses (docs/performance.md). */
const HEAP_LIMIT_IN_MB = 512;

interface StepMeasure {
  step: string;
  seconds: number;
  peakRssInMb: number;
  detail?: Record<string, unknown>;
}

async function measure(
  step: string,
  work: () => Promise<Record<string, unknown> | void>,
): Promise<StepMeasure> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  const started = performance.now();
  try {
    const detail = await work();
    return {
      step,
      seconds: (performance.now() - started) / 1000,
      peakRssInMb: Math.round(peak / 2 ** 20),
      ...(detail ? { detail } : {}),
    };
  } finally {
    clearInterval(timer);
  }
}

/** The child: only Table Storage, as the Function that completes a run or serves a bundle would have. */
async function child(runId: string): Promise<void> {
  const config = loadConfig(process.env);
  const store = new App(config).hostEvidence.evidenceStore;
  const results: StepMeasure[] = [];
  results.push(
    await measure('seal', async () => {
      const outcome = await sealRun(store, runId, { matrix: config.matrix });
      return { state: outcome.state };
    }),
  );
  results.push(
    await measure('verify', async () => {
      const verification = await verifyRun(store, runId);
      return { status: verification?.status, entities: verification?.entities };
    }),
  );
  results.push(
    await measure('bundle', async () => {
      const bundle = await openEvidenceBundle(store, runId);
      let bytes = 0;
      bundle.zip.on('data', (chunk: Buffer) => (bytes += chunk.length));
      await pipeline(bundle.zip, createWriteStream('/dev/null'));
      const manifest = await bundle.manifest;
      return {
        zipMb: +(bytes / 2 ** 20).toFixed(1),
        files: manifest.files.map((f) => `${f.name} ${(f.bytes / 2 ** 20).toFixed(1)} MB`),
      };
    }),
  );
  process.send?.(results);
}

async function main(): Promise<void> {
  const pools = Number(process.argv[2] ?? 100_000);
  const estate = generateEstate({ seed: 2026, pools, poolsPerCluster: 4 });
  const local = await startLocalAzure(estate);
  try {
    const env = { ...local.env, AUDIT_TABLE_PREFIX: 'evbench' };
    // The audit without its evidence step: the child measures that step on its own.
    const service = new App(loadConfig(env), { evidence: { onRunCompleted: () => Promise.resolve(null) } });
    const started = performance.now();
    const run = await service.runAudit({ trigger: 'cli' });
    const runId = run.id;
    process.stdout.write(
      `audit of ${run.summary.pools} pools: ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
    const results = await new Promise<StepMeasure[]>((resolve, reject) => {
      const proc = fork(__filename, ['--child', runId], {
        env: { ...process.env, ...env },
        execArgv: [`--max-old-space-size=${HEAP_LIMIT_IN_MB}`],
      });
      proc.once('message', (m) => resolve(m as StepMeasure[]));
      proc.once('error', reject);
      proc.once('exit', (code) => code !== 0 && reject(new Error(`child exited ${code}`)));
    });
    process.stdout.write(
      `${JSON.stringify({ pools: run.summary.pools, heapLimitInMb: HEAP_LIMIT_IN_MB, results }, null, 2)}\n`,
    );
  } finally {
    await local.stop();
  }
}

if (process.argv[2] === '--child') void child(process.argv[3] as string).then(() => process.exit(0));
else void main();
