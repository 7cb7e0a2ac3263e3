// The HTML page: everything from Azure escaped, one nonce'd script and style, nothing loaded from anywhere.

import { HOSTILE_SUBSCRIPTION_NAME } from '../../emulators/estateGenerator';
import { escapeHtml, safeHref } from '../../src/render/escapeHtml';
import { renderReportHtml, reportContentSecurityPolicy, trendChartSvg } from '../../src/render/reportHtml';
import { fixtureReport, handPool } from '../support/reportFixture';

const NONCE = 'dGVzdC1ub25jZS0xMjM0NTY3OA==';

/** The page with every quoted attribute value emptied: escaped data may read ` onerror=` there, harmlessly. */
const markupOf = (html: string) => html.replace(/"[^"]*"/g, '""');

describe('escapeHtml', () => {
  it.each([
    ['<img src=x onerror=alert(1)>', '&lt;img src=x onerror=alert(1)&gt;'],
    [`"'><script>`, '&quot;&#39;&gt;&lt;script&gt;'],
    ['a & b', 'a &amp; b'],
    ['`tick`', '&#96;tick&#96;'],
    ['nul\u0000bell\u0007', 'nul\uFFFDbell\uFFFD'],
    ['lone \uD800 surrogate', 'lone \uFFFD surrogate'],
    ['emoji 🚀 kept', 'emoji 🚀 kept'],
    [null, ''],
  ])('escapes %j', (input, expected) => {
    expect(escapeHtml(input)).toBe(expected);
  });

  it.each(['javascript:alert(1)', 'data:text/html,x', '/relative', 'vbscript:x'])('links no %s', (url) => {
    expect(safeHref(url)).toBeNull();
  });
});

describe('renderReportHtml', () => {
  const report = fixtureReport({ pools: 120, hostileNames: true });
  const hostile = handPool({
    subscriptionName: '"><svg onload=alert(1)>',
    cluster: '<b>bold</b>',
    findings: [
      {
        code: 'FIPS_DISABLED',
        severity: 'high',
        message: '</td></tr><script>x()</script>',
        remediation: "';alert(1);//",
      },
    ],
    status: 'noncompliant',
  });
  const withHostile = {
    ...report,
    pools: [...report.pools, hostile],
    errors: [{ scope: '/subscriptions/<x>', code: 'E<1>', message: '<iframe>' }],
  };
  const { html, nonce } = renderReportHtml(withHostile, { nonce: NONCE });

  it('escapes every value from Azure', () => {
    expect(report.pools.some((p) => p.subscriptionName === HOSTILE_SUBSCRIPTION_NAME)).toBe(true);
    expect(html).toContain(escapeHtml(HOSTILE_SUBSCRIPTION_NAME));
    expect(html).not.toContain(HOSTILE_SUBSCRIPTION_NAME);
    expect(html).not.toMatch(/<(img|svg onload|iframe|b>bold)/);
    expect(html).toContain('&lt;/td&gt;&lt;/tr&gt;&lt;script&gt;x()&lt;/script&gt;');
    expect(html).toContain('&#39;;alert(1);//');
  });

  it('has one script and one style, both with the nonce the CSP names', () => {
    expect(nonce).toBe(NONCE);
    expect(html.match(/<script/g)).toEqual(['<script']);
    expect(html).toContain(`<script nonce="${NONCE}">`);
    expect(html.match(/<style/g)).toEqual(['<style']);
    expect(html).toContain(`<style nonce="${NONCE}">`);
    expect(markupOf(html)).not.toMatch(/<[^>]*\s(style|on[a-z]+)=/i);
    expect(reportContentSecurityPolicy(NONCE)).toBe(
      `default-src 'none'; script-src 'nonce-${NONCE}'; style-src 'nonce-${NONCE}'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
    );
  });

  it('loads nothing from anywhere: no src, no stylesheet, the icon is a data URL', () => {
    expect(markupOf(html)).not.toMatch(/<[^>]*\ssrc=/i);
    expect(html).not.toMatch(/rel="stylesheet"|@import|url\(/);
    expect(html).toContain('<link rel="icon" href="data:,">');
  });

  it('makes a fresh nonce for every page', () => {
    const a = renderReportHtml(report).nonce;
    const b = renderReportHtml(report).nonce;
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9+/=]{24}$/);
  });

  it('shows the summary, the matrix and its sources, and the errors', () => {
    expect(html).toContain(`id="count-pools" data-count="${withHostile.summary.pools}"`);
    expect(html).toContain(`<code id="matrix-version">${escapeHtml(report.run.matrix.version)}</code>`);
    for (const source of report.run.matrix.sources) expect(html).toContain(escapeHtml(source));
    expect(html).toContain('&lt;iframe&gt;');
  });

  it('shows the exemption of an exempt pool (ID, scope, codes) with its texts escaped', () => {
    const scope = '/subscriptions/00000000-0000-0000-0000-00000000000a';
    const reason = '</div></td><script>alert(1)</script><img src=x onerror=alert(2)> & "quoted"';
    const exempt = handPool({
      pool: 'exempted',
      status: 'exempt',
      findings: [
        { code: 'FIPS_DISABLED', severity: 'high', message: 'FIPS is off', remediation: 'turn it on' },
      ],
      exemption: {
        id: 'sub-wide-1',
        scope,
        codes: ['FIPS_DISABLED', 'OS_RETIRED'],
        reason,
        ticket: '<b>CHG1</b>',
        owner: "o'wner <svg onload=alert(3)>",
        createdBy: 'Alice <Approver>',
        createdAt: '2026-11-01T00:00:00.000Z',
        expiresOn: '2026-12-31T23:59:59.999Z',
      },
    });
    const everyCode = handPool({
      pool: 'everycode',
      status: 'exempt',
      exemption: { ...exempt.exemption!, id: 'all-codes', codes: null },
    });
    const page = renderReportHtml({ ...report, pools: [exempt, everyCode] }, { nonce: NONCE }).html;
    const start = page.indexOf('<tr data-status="exempt">');
    const row = page.slice(start, page.indexOf('</tr>', start));
    expect(row).toContain(
      `Exemption <code class="exemption-id">sub-wide-1</code> covers <code>FIPS_DISABLED</code>, <code>OS_RETIRED</code> for the subscription <code class="exemption-scope">${scope}</code>`,
    );
    expect(row).toContain(
      `: ${escapeHtml(reason)} (owner ${escapeHtml(exempt.exemption!.owner)}, ticket &lt;b&gt;CHG1&lt;/b&gt;)`,
    );
    expect(row).toContain('created by Alice &lt;Approver&gt;');
    expect(page).not.toContain(reason);
    expect(markupOf(page)).not.toMatch(/<(script>alert|img |svg onload|b>CHG|Approver>)/);
    expect(page.match(/<script/g)).toEqual(['<script']);
    expect(page).toContain(
      '<code class="exemption-id">all-codes</code> covers all codes for the subscription',
    );
  });

  it('says when the request filtered the table', () => {
    const filtered = renderReportHtml(report, {
      nonce: NONCE,
      pools: report.pools.slice(0, 3),
      filters: { status: ['unknown'] },
    });
    expect(filtered.html).toContain('id="server-filter"');
    expect(filtered.html.match(/<tr data-status=/g)).toHaveLength(3);
  });
});

describe('trendChartSvg', () => {
  it('draws a polyline per series and a dot per run and series', () => {
    const points = [1, 2, 3].map((i) => ({
      runId: `2026112${i}T060000Z-00000${i}`,
      startedAt: `2026-11-2${i}T06:00:00Z`,
      status: 'succeeded' as const,
      compliant: 10 * i,
      noncompliant: 5,
      exempt: 1,
      unknown: i,
    }));
    const svg = trendChartSvg(points);
    expect(svg.match(/<polyline/g)).toHaveLength(4);
    expect(svg.match(/<circle/g)).toHaveLength(12);
  });

  it('says so when there are no runs', () => {
    expect(trendChartSvg([])).toContain('No completed runs yet');
  });
});
