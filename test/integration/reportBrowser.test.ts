// The HTML report and the digest in a real browser (Chromium from the npm registry) on a 2,400-pool estate.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { BrowserContext, Page } from 'playwright-core';

import { generateEstate, HOSTILE_SUBSCRIPTION_NAME } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { App } from '../../src/app';
import { writeDigestFiles } from '../../src/cli/emailCommand';
import { loadConfig } from '../../src/config';
import { fixFirst, fixFirstCount, type FixFirstItem } from '../../src/core/fixFirst';
import { COMPLETED_STATUSES } from '../../src/core/run';
import type { Report } from '../../src/core/types';
import { HTML_PAGE_SIZE } from '../../src/http/schemas';
import { type RunningServer, serveHttp } from '../../src/http/serveHttp';
import { launchTestBrowser, type TestBrowser } from '../support/browser';

const ARTIFACTS = join(__dirname, '..', '..', '.artifacts');
const DESKTOP = { width: 1400, height: 900 };
const PHONE = { width: 390, height: 844 };

const estate = generateEstate({ seed: 5, pools: 2400, subscriptions: 24, hostileNames: true });
let local: LocalAzure;
let server: RunningServer;
let browser: TestBrowser;
let context: BrowserContext;
let page: Page;
let report: Report;
let top: FixFirstItem;
let digestPath: string;
const requests: string[] = [];
const consoleErrors: string[] = [];
const dialogs: string[] = [];

const reportUrl = () => `${server.url}/api/report?format=html`;

beforeAll(async () => {
  local = await startLocalAzure(estate);
  const env = { ...local.env, AUDIT_TABLE_PREFIX: 'browser', AUDIT_OWNER_TAG: 'team' };
  const service = new App(loadConfig(env));
  await service.audit({ trigger: 'timer' });
  await service.audit({ trigger: 'timer' });
  server = await serveHttp({ handlers: service.httpHandlers(), port: 0 });
  report = (await (await fetch(`${server.url}/api/report`)).json()) as Report;
  top = fixFirst(report.summary.byCode ?? [])[0]!;

  // The digest as it is mailed, its links pointing at this server.
  const mailing = new App(
    loadConfig({ ...env, REPORT_BASE_URL: server.url, EMAIL_SENDER: 'audit@contoso.example' }),
  );
  const latest = await mailing.stores.reports.getLatestRun({ statuses: COMPLETED_STATUSES });
  digestPath = (
    await writeDigestFiles(mailing, latest!, join(ARTIFACTS, 'digest.eml'), ['compliance@contoso.example'])
  ).html;

  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchTestBrowser(DESKTOP);
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
  await page.goto(reportUrl(), { waitUntil: 'load' });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await local?.stop();
});

/** Texts of one column of the table's rows, in page order. */
function columnTexts(column: number): Promise<string[]> {
  return page.$$eval(
    '#pool-table tbody tr',
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

const rows = () => page.locator('#pool-table tbody tr').count();

interface PageFacts {
  scrollWidth: number;
  clientWidth: number;
  scrollHeight: number;
  links: string[];
}

/** The page's width, height and every link's resolved address. */
function facts(p: Page): Promise<PageFacts> {
  return p.evaluate(() => {
    // No DOM lib in this tsconfig: the globals are typed by what is read of them.
    const doc = (globalThis as unknown as { document: { documentElement: Record<string, number> } }).document;
    const anchors = (
      globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ href: string }> } }
    ).document.querySelectorAll('a[href]');
    return {
      scrollWidth: doc.documentElement.scrollWidth!,
      clientWidth: doc.documentElement.clientWidth!,
      scrollHeight: doc.documentElement.scrollHeight!,
      links: Array.from(anchors, (a) => a.href),
    };
  });
}

/** Every link parses as an http(s) URL; the ones into this API answer 200. */
async function expectWorkingLinks(links: string[]): Promise<void> {
  expect(links.length).toBeGreaterThan(0);
  const own = new Set<string>();
  for (const link of links) {
    const url = new URL(link);
    expect(['http:', 'https:']).toContain(url.protocol);
    if (url.origin === server.url) own.add(url.href.replace(/#.*$/, ''));
  }
  for (const url of own) {
    const response = await fetch(url);
    expect([url, response.status]).toEqual([url, 200]);
    await response.arrayBuffer();
  }
}

describe('the report page', () => {
  it('loads with no console errors, no dialogs and no request leaving this machine', async () => {
    await page.waitForSelector('#pool-table');
    expect(consoleErrors).toEqual([]);
    expect(dialogs).toEqual([]);
    for (const url of requests) {
      const parsed = new URL(url);
      expect(parsed.protocol === 'data:' || ['127.0.0.1', 'localhost'].includes(parsed.hostname)).toBe(true);
    }
    expect(requests.filter((u) => !u.startsWith('data:'))).toEqual([reportUrl()]);
  });

  it('names the top finding with its count and fix on the first screen at 1400×900', async () => {
    expect(report.summary.pools).toBeGreaterThanOrEqual(2000);
    expect(top.code).toBe(report.summary.byCode![0]!.code);
    const first = page.locator('#fix-first li').first();
    const text = (await first.textContent()) ?? '';
    expect(text).toContain(fixFirstCount(top));
    expect(text).toContain(top.code);
    const command = /`([^`]+)`/.exec(top.fix)![1]!;
    expect(await first.locator('code', { hasText: command }).count()).toBe(1);
    const box = (await first.boundingBox())!;
    expect(box.y + box.height).toBeLessThanOrEqual(DESKTOP.height);
    await page.screenshot({ path: join(ARTIFACTS, 'report-1400x900.png') });
  });

  it('shows the counts and the compliance percentage of the JSON report', async () => {
    for (const key of [
      'pools',
      'compliant',
      'noncompliant',
      'exempt',
      'unknown',
      'clusters',
      'subscriptions',
    ] as const) {
      expect(await page.locator(`#count-${key}`).getAttribute('data-count')).toBe(
        String(report.summary[key]),
      );
    }
    expect(await page.locator('#headline').textContent()).toContain(
      `${report.summary.compliancePercent!.toFixed(1)}% compliant`,
    );
    expect(await page.locator('#run-id').textContent()).toBe(report.run.id);
    expect(await page.locator('#matrix-version').textContent()).toBe(report.run.matrix.version);
    expect(await page.locator('#matched-count').textContent()).toBe(
      report.summary.pools.toLocaleString('en-US'),
    );
  });

  it('lists one page of pools, noncompliant and unknown first', async () => {
    expect(await rows()).toBe(HTML_PAGE_SIZE);
    const statuses = await columnTexts(0);
    const order = ['noncompliant', 'unknown', 'exempt', 'compliant'];
    const ranks = statuses.map((s) => order.findIndex((o) => s.startsWith(o)));
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    expect(statuses[0]).toMatch(/^noncompliant/);
  });

  it('breaks the run down by subscription and by owner, with the change since the previous run', async () => {
    const subscriptions = page.locator('#by-subscription tbody tr');
    expect(await subscriptions.count()).toBeGreaterThan(1);
    const firstRow = report.summary.bySubscription![0]!;
    expect(await subscriptions.first().textContent()).toContain(String(firstRow.noncompliant));
    // The same estate audited twice: nothing changed.
    expect(await subscriptions.first().locator('td').last().textContent()).toBe('±0');
    expect(await page.locator('#by-owner tbody tr').count()).toBeGreaterThan(1);
  });

  it('draws the trend on a time axis with all four statuses and round ticks', async () => {
    const chart = page.locator('svg#trend-chart');
    expect(await chart.locator('polyline').count()).toBe(4);
    expect(await chart.locator('circle').count()).toBe(4 * 2);
    const ticks = (await chart.locator('text.y-tick').allTextContents()).map((t) =>
      Number(t.replace(/,/g, '')),
    );
    const step = ticks[1]! - ticks[0]!;
    expect(ticks[0]).toBe(0);
    expect(/^[125]0*$/.test(String(step))).toBe(true);
    expect(await chart.locator('text.x-tick').count()).toBeGreaterThan(0);
  });

  it('keeps each remediation collapsed, with its command as code and a copy button', async () => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    const details = page.locator('#pool-table details').first();
    expect(await details.getAttribute('open')).toBeNull();
    await details.locator('summary').click();
    const code = details.locator('.fix code').first();
    expect(await code.isVisible()).toBe(true);
    const command = (await code.textContent()) ?? '';
    expect(command).toMatch(/^az aks /);
    expect(await details.locator('.fix').textContent()).not.toContain('`');
    await details.locator('button.copy').first().click();
    const clipboard = () =>
      (
        globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }
      ).navigator.clipboard.readText();
    expect(await page.evaluate(clipboard)).toBe(command);
  });

  it('shows the subscription named like an XSS payload as text, and runs none of it', async () => {
    await page.goto(`${reportUrl()}&q=${encodeURIComponent('onerror')}`, { waitUntil: 'load' });
    expect(await rows()).toBeGreaterThan(0);
    expect(await page.locator('#pool-table tbody td', { hasText: HOSTILE_SUBSCRIPTION_NAME }).count()).toBe(
      await rows(),
    );
    expect(await page.locator('img').count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it('filters on the server by status, kept in the URL under the JSON API names, and pages', async () => {
    await page.goto(reportUrl(), { waitUntil: 'load' });
    await Promise.all([
      page.waitForURL(/status=unknown/),
      page.selectOption('select[name=status]', 'unknown'),
    ]);
    expect(new URL(page.url()).searchParams.getAll('status')).toEqual(['unknown']);
    expect(new URL(page.url()).searchParams.has('code')).toBe(false);
    expect(await page.locator('#matched-count').textContent()).toBe(String(report.summary.unknown));
    expect((await columnTexts(0)).every((s) => s.startsWith('unknown'))).toBe(true);

    await page.goto(`${reportUrl()}&status=noncompliant`, { waitUntil: 'load' });
    const firstPage = await columnTexts(1);
    await Promise.all([page.waitForURL(/page=2/), page.locator('a[rel=next]').first().click()]);
    expect(await page.locator('#first-shown').textContent()).toBe(String(HTML_PAGE_SIZE + 1));
    const secondPage = await columnTexts(1);
    expect(secondPage.filter((t) => firstPage.includes(t))).toEqual([]);
    const csv = await page.locator('#export-csv').getAttribute('href');
    expect(new URLSearchParams(csv!.slice(1)).getAll('status')).toEqual(['noncompliant']);
  });

  it('filters by free text together with a finding code and an owner', async () => {
    const owner = report.summary.byOwner!.find((o) => o.owner !== null)!.owner!;
    await page.goto(`${reportUrl()}&code=${top.code}&owner=${encodeURIComponent(owner)}&q=aks`, {
      waitUntil: 'load',
    });
    const expected = report.pools.filter(
      (p) => p.owner === owner && p.findings.some((f) => f.code === top.code),
    ).length;
    expect(await page.locator('#matched-count').textContent()).toBe(expected.toLocaleString('en-US'));
    expect(await page.locator('#server-filter').count()).toBe(1);
  });

  it('fits 390 px without horizontal scrolling, the pools as cards', async () => {
    const phone = await context.newPage();
    await phone.setViewportSize(PHONE);
    await phone.goto(reportUrl(), { waitUntil: 'load' });
    const f = await facts(phone);
    expect(f.scrollWidth).toBeLessThanOrEqual(f.clientWidth);
    expect(await phone.locator('#pool-table thead').isVisible()).toBe(false);
    expect(f.scrollHeight).toBeLessThan(60_000);
    await phone.screenshot({ path: join(ARTIFACTS, 'report-390.png') });
    await phone.close();
  });

  it('stays under 60,000 px tall and 1.5 MB, and every link is a valid URL that answers', async () => {
    await page.goto(reportUrl(), { waitUntil: 'load' });
    const html = await (await fetch(reportUrl())).text();
    expect(Buffer.byteLength(html)).toBeLessThan(1.5 * 1024 * 1024);
    const f = await facts(page);
    expect(f.scrollHeight).toBeLessThan(60_000);
    expect(f.scrollWidth).toBeLessThanOrEqual(f.clientWidth);
    await expectWorkingLinks(f.links);
    await page.screenshot({ path: join(ARTIFACTS, 'report-full.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  });
});

describe('the digest', () => {
  let digest: Page;
  let html: string;

  beforeAll(async () => {
    html = readFileSync(digestPath, 'utf8');
    digest = await context.newPage();
    await digest.setContent(html, { waitUntil: 'load' });
  });

  it('is under 100 KB of HTML (Gmail clips at about 102 KB) and lets iOS Mail fit it to the screen', () => {
    expect(Buffer.byteLength(html)).toBeLessThan(100 * 1024);
    expect(html).not.toContain('x-apple-disable-message-reformatting');
  });

  it('names the top finding with its count and fix on the first screen at 1400×900', async () => {
    const item = digest
      .locator('td', { hasText: fixFirstCount(top) })
      .filter({ hasText: top.code })
      .last();
    const command = /`([^`]+)`/.exec(top.fix)![1]!;
    expect(await item.locator('code', { hasText: command }).count()).toBe(1);
    const box = (await item.boundingBox())!;
    expect(box.y + box.height).toBeLessThanOrEqual(DESKTOP.height);
    await digest.screenshot({ path: join(ARTIFACTS, 'digest-1400x900.png') });
  });

  it('is at most 680 px wide and fits 390 px without horizontal scrolling', async () => {
    const widest = await digest.evaluate(() => {
      const tables = (
        globalThis as unknown as {
          document: {
            querySelectorAll(s: string): ArrayLike<{ getBoundingClientRect(): { width: number } }>;
          };
        }
      ).document.querySelectorAll('table[bgcolor="#ffffff"]');
      return Math.max(...Array.from(tables, (t) => t.getBoundingClientRect().width));
    });
    expect(widest).toBeLessThanOrEqual(680);
    await digest.setViewportSize(PHONE);
    const f = await facts(digest);
    expect(f.scrollWidth).toBeLessThanOrEqual(f.clientWidth);
    await digest.screenshot({ path: join(ARTIFACTS, 'digest-390.png') });
    await digest.screenshot({ path: join(ARTIFACTS, 'digest-390-full.png'), fullPage: true });
  });

  it('caps the per-pool lists and links to the filtered report; every link is a valid URL that answers', async () => {
    expect(html).toMatch(/…and [\d,]+ more\./);
    await expectWorkingLinks((await facts(digest)).links);
  });
});
