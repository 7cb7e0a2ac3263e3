// Runs `aks-fips-auditor audit --json` as a user does (bin/, Node's default flags) and measures it from outside.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const BIN = join(__dirname, '..', '..', 'bin', 'aks-fips-auditor.js');
const SAMPLE_INTERVAL_IN_MS = 20;

export interface CliAuditMeasure {
  exitCode: number | null;
  wallTimeInMs: number;
  /** The most the launcher and the audit process it starts held at once (sampled RSS, summed). */
  peakRssInMb: number;
  /** The audit process alone: the kernel's high-water mark of its RSS (VmHWM), which no sample can miss. */
  workerPeakRssInMb: number;
  /** Bytes of report JSON on stdout, and whether they end as the report does. */
  stdoutBytes: number;
  stdoutComplete: boolean;
  /** The CLI's closing `Requests:` line, parsed. */
  requests: {
    resourceGraph: number;
    resourceGraphThrottled: number;
    nodeImages: number;
    table: number;
    transactions: number;
    entitiesWritten: number;
    tableThrottled: number;
  } | null;
  /** The audit's log (stderr), each line with its ISO time as the CLI prints it. */
  log: string[];
}

const mb = (kb: number) => Math.round((kb / 1024) * 10) / 10;

/** A /proc status field in kB (Linux), or 0 when the process is gone. */
function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const number = (text: string | undefined) => Number((text ?? '0').replace(/,/g, ''));

function parseRequests(log: readonly string[]): CliAuditMeasure['requests'] {
  const line = [...log].reverse().find((l) => l.includes('Requests: '));
  if (!line) return null;
  const graph = /Resource Graph ([\d,]+) \(([\d,]+) throttled\)/.exec(line);
  const images = /node image look-ups ([\d,]+)/.exec(line);
  const tables =
    /Table Storage ([\d,]+) \(([\d,]+) transactions, ([\d,]+) entities written, ([\d,]+) throttled\)/.exec(
      line,
    );
  return {
    resourceGraph: number(graph?.[1]),
    resourceGraphThrottled: number(graph?.[2]),
    nodeImages: number(images?.[1]),
    table: number(tables?.[1]),
    transactions: number(tables?.[2]),
    entitiesWritten: number(tables?.[3]),
    tableThrottled: number(tables?.[4]),
  };
}

/** Runs `audit --json --no-email` with `env`; the report goes to a byte counter, the log is kept. */
export function runCliAudit(env: NodeJS.ProcessEnv, args: string[] = []): Promise<CliAuditMeasure> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [BIN, 'audit', '--json', '--no-email', ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdoutBytes = 0;
    let tail = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      tail = (tail + chunk.toString('utf8')).slice(-16);
    });
    let errText = '';
    child.stderr.on('data', (chunk: Buffer) => {
      errText += chunk.toString('utf8');
      if (process.env.BENCH_TRACE === '1') process.stderr.write(chunk);
    });
    let peakKb = 0;
    const workerHwm = new Map<number, number>();
    const sample = () => {
      const pid = child.pid;
      if (pid === undefined) return;
      let sum = statusKb(pid, 'VmRSS');
      for (const worker of childrenOf(pid)) {
        sum += statusKb(worker, 'VmRSS');
        const hwm = statusKb(worker, 'VmHWM');
        if (hwm > 0) workerHwm.set(worker, Math.max(workerHwm.get(worker) ?? 0, hwm));
      }
      peakKb = Math.max(peakKb, sum);
    };
    const timer = setInterval(sample, SAMPLE_INTERVAL_IN_MS);
    child.once('error', (error) => {
      clearInterval(timer);
      reject(error);
    });
    child.once('close', (exitCode) => {
      clearInterval(timer);
      const log = errText.split('\n').filter(Boolean);
      resolve({
        exitCode,
        wallTimeInMs: performance.now() - started,
        peakRssInMb: mb(peakKb),
        workerPeakRssInMb: mb(Math.max(0, ...workerHwm.values())),
        stdoutBytes,
        stdoutComplete: tail.endsWith('}\n'),
        requests: parseRequests(log),
        log,
      });
    });
  });
}

/** Seconds from the first log line to each shard's last line (`[runId i/n] N pools, …`), for per-shard figures. */
export function shardTimes(log: readonly string[]): { shard: number; pools: number; endInS: number }[] {
  const times: { shard: number; pools: number; endInS: number }[] = [];
  const first = Date.parse(log[0]?.slice(0, 24) ?? '');
  for (const line of log) {
    const match = /^(\S+) \[\S+ (\d+)\/\d+\] (\d+) pools, \d+ error/.exec(line);
    if (!match) continue;
    times.push({
      shard: Number(match[2]),
      pools: Number(match[3]),
      endInS: (Date.parse(match[1] as string) - first) / 1000,
    });
  }
  return times;
}
