// The HTML report in a real browser (Chromium from the npm registry, driven by playwright-core) served by `serve`.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import type { BrowserContext, Page } from 'playwright-core';

import { generateEstate, HOSTILE_SUBSCRIPTION_NAME } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { App } from '../../src/app';
import { loadConfig } from '../../src/config';
import type { Report } from '../../src/core/types';
import { type RunningServer, serveHttp } from '../../src/http/serveHttp';
import { launchTestBrowser, type TestBrowser } from '../support/browser';

const SCREENSHOT = join(__dirname, '..', '..', '.artifacts', 'report.png');

const estate = generateEstate({ seed: 5, pools: 150, subscriptions: 4, hostileNames: true });
let local: LocalAzure;
let server: RunningServer;
let browser: TestBrowser;
let context: BrowserContext;
let page: Page;
let report: Report;
const requests: string[] = [];
const consoleErrors: string[] = [];
const dialogs: string[] = [];

beforeAll(async () => {
  local = await startLocalAzure(estate);
  const service = new App(loadConfig({ ...local.env, AUDIT_TABLE_PREFIX: 'browser' }));
  await service.audit({ trigger: 'timer' });
  await service.audit({ trigger: 'timer' });
  server = await serveHttp({ handlers: service.httpHandlers(), port: 0 });
  report = (await (await fetch(`${server.url}/api/report`)).json()) as Report;

  browser = await launchTestBrowser();
  context = browser.context;
  context.on('request', (request) => requests.push(request.url()));
  page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(`pageerror: ${error.message}`));
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(`${server.url}/api/report?format=html`, { waitUntil: 'load' });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await local?.stop();
});

/** Texts of one column of the visible rows, in page order. */
function columnTexts(column: number): Promise<string[]> {
  return page.$$eval(
    '#pool-table tbody tr:not([hidden])',
    // No DOM lib in this tsconfig: the row is typed by what is read of it.
    (rows, index) =>
      rows.map(
        (row) =>
          (row as unknown as { cells: ArrayLike<{ textContent: string | null }> }).cells[
            index
          ]?.textContent?.trim() ?? '',
      ),
    column,
  );
}

const visibleRows = () => page.locator('#pool-table tbody tr:not([hidden])').count();

it('loads with no console errors, no dialogs and no request leaving this machine', async () => {
  await page.waitForSelector('#pool-table');
  expect(consoleErrors).toEqual([]);
  expect(dialogs).toEqual([]);
  expect(requests.length).toBeGreaterThan(0);
  for (const url of requests) {
    const parsed = new URL(url);
    expect(parsed.protocol === 'data:' || ['127.0.0.1', 'localhost'].includes(parsed.hostname)).toBe(true);
  }
  expect(requests.filter((u) => !u.startsWith('data:'))).toEqual([`${server.url}/api/report?format=html`]);
});

it('shows the counts of the JSON report', async () => {
  for (const key of [
    'pools',
    'compliant',
    'noncompliant',
    'exempt',
    'unknown',
    'clusters',
    'subscriptions',
  ] as const) {
    expect(await page.locator(`#count-${key}`).textContent()).toBe(String(report.summary[key]));
  }
  expect(await visibleRows()).toBe(report.summary.pools);
  expect(await page.locator('#visible-count').textContent()).toBe(String(report.summary.pools));
  expect(await page.locator('#run-id').textContent()).toBe(report.run.id);
  expect(await page.locator('#matrix-version').textContent()).toBe(report.run.matrix.version);
  expect(await page.locator('#matrix li').count()).toBe(report.run.matrix.sources.length);
});

it('draws the trend chart as inline SVG over the stored runs', async () => {
  const chart = page.locator('svg#trend-chart');
  expect(await chart.count()).toBe(1);
  expect(await chart.locator('polyline').count()).toBe(3);
  expect(await chart.locator('circle').count()).toBe(3 * 2);
  const box = await chart.boundingBox();
  expect(box?.width).toBeGreaterThan(300);
});

it('shows the subscription named like an XSS payload as text, and runs none of it', async () => {
  const expected = report.pools.filter((p) => p.subscriptionName === HOSTILE_SUBSCRIPTION_NAME).length;
  expect(expected).toBeGreaterThan(0);
  const cells = page.locator('#pool-table tbody td', { hasText: HOSTILE_SUBSCRIPTION_NAME });
  expect(await cells.count()).toBe(expected);
  expect(await page.locator('img').count()).toBe(0);
  expect(dialogs).toEqual([]);
});

it('sorts by a column, both ways', async () => {
  const clusterHeader = page.locator('#pool-table thead th', { hasText: 'Cluster' });
  await clusterHeader.locator('button').click();
  expect(await clusterHeader.getAttribute('aria-sort')).toBe('ascending');
  const ascending = await columnTexts(3);
  const sorted = await page.evaluate(
    (values) =>
      values.every(
        (v, i) =>
          i === 0 || values[i - 1]!.localeCompare(v, undefined, { numeric: true, sensitivity: 'base' }) <= 0,
      ),
    ascending,
  );
  expect(sorted).toBe(true);
  expect(new Set(ascending).size).toBeGreaterThan(1);
  await clusterHeader.locator('button').click();
  expect(await clusterHeader.getAttribute('aria-sort')).toBe('descending');
  expect(await columnTexts(3)).toEqual([...ascending].reverse());

  await page.locator('#pool-table thead th', { hasText: 'Status' }).locator('button').click();
  const statuses = await columnTexts(0);
  const order = ['noncompliant', 'unknown', 'exempt', 'compliant'];
  const ranks = statuses.map((s) => order.findIndex((o) => s.startsWith(o)));
  expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
  expect(statuses[0]).toMatch(/^noncompliant/);
});

it('filters by status and by text, and counts what it shows', async () => {
  await page.selectOption('#filter-status', 'noncompliant');
  expect(await visibleRows()).toBe(report.summary.noncompliant);
  expect(await page.locator('#visible-count').textContent()).toBe(String(report.summary.noncompliant));
  expect((await columnTexts(0)).every((s) => s.startsWith('noncompliant'))).toBe(true);

  await page.selectOption('#filter-status', '');
  await page.fill('#filter-text', 'onerror');
  const hostile = report.pools.filter((p) => p.subscriptionName === HOSTILE_SUBSCRIPTION_NAME);
  expect(await visibleRows()).toBe(hostile.length);

  await page.selectOption('#filter-status', 'compliant');
  expect(await visibleRows()).toBe(hostile.filter((p) => p.status === 'compliant').length);

  await page.fill('#filter-text', '');
  await page.selectOption('#filter-status', '');
  expect(await visibleRows()).toBe(report.summary.pools);
});

it('lists each finding with its remediation', async () => {
  const withFindings = report.pools.find((p) => p.findings.length > 0)!;
  const remediation = withFindings.findings[0]!.remediation;
  expect(await page.locator('.fix', { hasText: remediation }).count()).toBeGreaterThan(0);
});

it('saves a screenshot as a test artefact, still without console errors', async () => {
  mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
  await page.screenshot({ path: SCREENSHOT });
  expect(consoleErrors).toEqual([]);
  expect(requests.filter((u) => !u.startsWith('data:') && !u.startsWith(server.url))).toEqual([]);
});
