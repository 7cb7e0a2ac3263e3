// `npm run bench:report`: how fast the HTML report of a 100,000-pool run opens in Chromium, cold and warm.

import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

import { generateEstate } from '../emulators/estateGenerator';
import { startLocalAzure } from '../emulators/localAzure';
import { App } from '../src/app';
import { loadConfig } from '../src/config';
import { serveHttp } from '../src/http/serveHttp';
import { CHROMIUM_FLAGS, chromiumExecutable } from '../test/support/browser';

interface PageTiming {
  label: string;
  path: string;
  /** From navigation start to the load event, as the browser's Navigation Timing measures it. */
  loadInMs: number;
  /** From navigation start to the first byte of the response: the server's share. */
  firstByteInMs: number;
  firstContentfulPaintInMs: number | null;
  htmlBytes: number;
  rows: number;
  pageHeightInPx: number;
}

const round = (n: number) => Math.round(n);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pools: { type: 'string', default: '100000' },
      out: { type: 'string', default: join(__dirname, '..', '..', 'bench', 'report-page-results.json') },
    },
  });
  const pools = Number(values.pools);
  const loadBefore = os.loadavg();
  process.stderr.write(`bench:report: auditing ${pools.toLocaleString('en-US')} emulated pools…\n`);
  const estate = generateEstate({
    seed: 2026,
    pools,
    subscriptions: Math.max(1, Math.round(pools / 50)),
    poolsPerCluster: 4,
  });
  const local = await startLocalAzure(estate);
  try {
    const env = { ...local.env, AUDIT_TABLE_PREFIX: 'reportpage', AUDIT_OWNER_TAG: 'team' };
    const started = performance.now();
    const run = await new App(loadConfig(env)).runAudit({ trigger: 'timer' });
    process.stderr.write(
      `bench:report: audit ${run.status} in ${((performance.now() - started) / 1000).toFixed(1)} s; serving it…\n`,
    );
    // Fresh handlers: the first request reads the run from Table Storage, as after a restart.
    const server = await serveHttp({
      handlers: new App(loadConfig(env)).httpHandlers(),
      port: 0,
    });
    const browser = await chromium.launch({
      executablePath: chromiumExecutable(),
      headless: true,
      args: CHROMIUM_FLAGS,
    });
    const timings: PageTiming[] = [];
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const open = async (label: string, path: string) => {
        await page.goto(`${server.url}${path}`, { waitUntil: 'load', timeout: 120_000 });
        const measured = await page.evaluate(() => {
          // No DOM lib in this tsconfig: the globals are typed by what is read of them.
          const g = globalThis as unknown as {
            performance: {
              getEntriesByType(t: string): {
                responseStart: number;
                loadEventEnd: number;
                transferSize: number;
                decodedBodySize: number;
                startTime: number;
                name: string;
              }[];
            };
            document: {
              querySelectorAll(s: string): { length: number };
              documentElement: { scrollHeight: number };
            };
          };
          const nav = g.performance.getEntriesByType('navigation')[0]!;
          const paint = g.performance
            .getEntriesByType('paint')
            .find((p) => p.name === 'first-contentful-paint');
          return {
            loadInMs: nav.loadEventEnd,
            firstByteInMs: nav.responseStart,
            firstContentfulPaintInMs: paint ? paint.startTime : null,
            htmlBytes: nav.decodedBodySize,
            rows: g.document.querySelectorAll('#pool-table tbody tr').length,
            pageHeightInPx: g.document.documentElement.scrollHeight,
          };
        });
        const timing: PageTiming = {
          label,
          path,
          loadInMs: round(measured.loadInMs),
          firstByteInMs: round(measured.firstByteInMs),
          firstContentfulPaintInMs:
            measured.firstContentfulPaintInMs === null ? null : round(measured.firstContentfulPaintInMs),
          htmlBytes: measured.htmlBytes,
          rows: measured.rows,
          pageHeightInPx: measured.pageHeightInPx,
        };
        timings.push(timing);
        process.stderr.write(
          `bench:report: ${label.padEnd(44)} load ${String(timing.loadInMs).padStart(5)} ms (first byte ${timing.firstByteInMs} ms), ${timing.rows} rows, ${(timing.htmlBytes / 1024).toFixed(0)} KiB\n`,
        );
      };
      await open('first page, cold (read from Table Storage)', '/api/report?format=html');
      await open('first page, warm', '/api/report?format=html');
      await open('page 500 (pools 49,901-50,000, or the last page)', '/api/report?format=html&page=500');
      await open('status=unknown (counted without reading pools)', '/api/report?format=html&status=unknown');
      await open('q=ubuntu (free text: every pool read)', '/api/report?format=html&q=ubuntu');
      await open(
        'code=FIPS_DISABLED&owner=payments',
        '/api/report?format=html&code=FIPS_DISABLED&owner=payments',
      );
    } finally {
      await browser.close();
      await server.close();
    }
    const result = {
      date: new Date().toISOString(),
      machine: {
        cores: os.cpus().length,
        node: process.version,
        loadAverageBefore: loadBefore,
        loadAverageAfter: os.loadavg(),
      },
      pools: run.summary.pools,
      subscriptions: run.summary.subscriptions,
      timings,
    };
    writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
    process.stderr.write(`bench:report: written to ${values.out}\n`);
  } finally {
    await local.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:report failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
