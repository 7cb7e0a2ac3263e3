// The HTML page: everything from Azure escaped, one nonce'd script and style, nothing loaded from anywhere.

import { HOSTILE_SUBSCRIPTION_NAME } from '../../emulators/estateGenerator';
import { fixFirst, fixFirstCount } from '../../src/core/fixFirst';
import { summarizeRun } from '../../src/core/summarizeRun';
import type { Report } from '../../src/core/types';
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

describe('the fix-first page', () => {
  const report = fixtureReport({ pools: 240 });
  const page = (options: Parameters<typeof renderReportHtml>[1] = {}) =>
    renderReportHtml(report, { nonce: NONCE, ...options }).html;

  it('opens with the findings to fix first, their counts, fixes and how many each makes compliant', () => {
    const html = page();
    const top = fixFirst(report.summary.byCode!)[0]!;
    const section = html.slice(html.indexOf('<section id="fix-first">'), html.indexOf('</section>'));
    expect(html.indexOf('<section id="fix-first">')).toBeLessThan(html.indexOf('<section id="pools">'));
    expect(section).toContain(
      `<span class="count">${fixFirstCount(top)}</span>: enable the FIPS image: <code>az aks nodepool update … --enable-fips-image</code>`,
    );
    expect(section).toContain(`${top.resolves} become compliant with this fix alone.`);
    expect(section).toContain(`href="?format=html&amp;code=${top.code}"`);
  });

  it('sets remediation commands as code, never as literal backticks, each with a copy button', () => {
    const html = page();
    const fixes = [...html.matchAll(/<div class="fix">(.*?)<\/div>/g)].map((m) => m[1]!);
    expect(fixes.length).toBeGreaterThan(0);
    for (const fix of fixes) expect(fix).not.toContain('`');
    expect(html).toMatch(/<details><summary>[^<]+<\/summary><div class="fix">Fix: [^<]*<code>az aks /);
    expect(html).toContain('</code><button type="button" class="copy" hidden>copy</button>');
  });

  it('says "no node pools judged" rather than a percentage when nothing was judged', () => {
    const unknownOnly = fixtureReport({ pools: 3 });
    const pools = unknownOnly.pools.map((p) => ({ ...p, status: 'unknown' as const }));
    const html = renderReportHtml(
      { ...unknownOnly, pools, summary: summarizeRun(pools, unknownOnly.clusters) },
      { nonce: NONCE },
    ).html;
    expect(html).toContain('<b>no node pools judged</b>');
    expect(html).not.toMatch(/\d%\s*compliant/);
  });

  it('keeps the filters, the run and the function key in every link of the page, and pages', () => {
    const key = 'Zm9vYmFyLWtleS0xMjM0NTY3ODkw';
    const html = page({
      pools: report.pools.slice(100, 200),
      page: { number: 2, size: 100, matched: 240 },
      filters: { status: ['noncompliant', 'unknown'], q: 'aks  ubuntu' },
      runId: report.run.id,
      functionKey: key,
    });
    const query = `runId=${report.run.id}&amp;format=html&amp;status=noncompliant&amp;status=unknown&amp;q=aks+ubuntu`;
    expect(html).toContain(`<a rel="prev" href="?${query}&amp;code=${key}">`);
    expect(html).toContain(`<a rel="next" href="?${query}&amp;page=3&amp;code=${key}">`);
    expect(html).toContain(
      `id="export-csv" href="?${query.replace('format=html', 'format=csv')}&amp;code=${key}"`,
    );
    expect(html).toContain(`<input type="hidden" name="code" value="${key}">`);
    expect(html).toContain(
      '<b id="first-shown">101</b>–<b id="last-shown">200</b> of <b id="matched-count">240</b>',
    );
    expect(html).toContain('value="aks ubuntu"');
    expect(html).toContain('id="server-filter"');
  });

  it('lays the pools out as cards under 700 px', () => {
    const html = page();
    expect(html).toContain('@media (max-width:700px){');
    expect(html).toMatch(/table\.pools thead\{display:none\}/);
    expect(html).toContain('<td data-label="Findings">');
  });

  it('shows each subscription with its change since the previous run, and a new one as new', () => {
    const previousSummary = {
      ...report.summary,
      bySubscription: report.summary
        .bySubscription!.slice(1)
        .map((r) => ({ ...r, noncompliant: r.noncompliant - 2 })),
    };
    const html = page({ previous: { runId: '20261128T060000Z-aaaaaa', summary: previousSummary } });
    const table = html.slice(html.indexOf('<section id="by-subscription">'));
    expect(table).toContain('data-label="Change"><span class="small">new</span></td>');
    expect(table).toContain('data-label="Change"><span class="up">+2</span></td>');
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

  it('draws one run as dots on its day, with round ticks and a note', () => {
    const svg = trendChartSvg([
      {
        runId: '20261129T060000Z-000001',
        startedAt: '2026-11-29T06:00:00Z',
        status: 'succeeded',
        compliant: 93,
        noncompliant: 185,
        exempt: 4,
        unknown: 2,
      },
    ]);
    expect(svg.match(/<circle/g)).toHaveLength(4);
    expect(svg).not.toContain('<polyline');
    expect([...svg.matchAll(/class="label y-tick"[^>]*>([\d,]+)</g)].map((m) => m[1])).toEqual([
      '0',
      '50',
      '100',
      '150',
      '200',
    ]);
    expect([...svg.matchAll(/class="label x-tick"[^>]*>([^<]+)</g)].map((m) => m[1])).toEqual(['2026-11-29']);
    expect(svg).toContain('One run so far');
  });

  it('places runs by time, not by index', () => {
    const at = (day: string) => ({
      runId: `202611${day}T060000Z-000001`,
      startedAt: `2026-11-${day}T06:00:00Z`,
      status: 'succeeded' as const,
      compliant: 1,
      noncompliant: 1,
      exempt: 0,
      unknown: 0,
    });
    const svg = trendChartSvg([at('01'), at('02'), at('30')]);
    const xs = [...svg.matchAll(/<circle class="dot compliant" cx="([\d.]+)"/g)].map((m) => Number(m[1]));
    // Day 2 sits near day 1, not half way to day 30.
    expect((xs[1]! - xs[0]!) / (xs[2]! - xs[0]!)).toBeCloseTo(1 / 29, 2);
  });
});

describe('the banner of a run that could not read everything', () => {
  const base = fixtureReport({ pools: 30, hostileNames: false });
  const hidden = {
    scope: '/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333',
    code: 'SCOPE_UNREADABLE',
    message:
      'Subscription 0b1f6471-1bf0-4dda-aec3-111122223333 is in AUDIT_SUBSCRIPTIONS but Resource Graph does not list it for this identity. Give the identity the Reader role on /subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333.',
  };
  const hostile = {
    scope: '/subscriptions/<img src=x onerror=alert(1)>',
    code: 'E<1>',
    message: '</li><script>x()</script> run `az login`',
  };
  const nothingRead = { scope: '/', code: 'NothingRead', message: 'No scope of this audit could be read.' };
  const bannerOf = (html: string) =>
    /<section class="warn banner" id="run-banner"[\s\S]*?<\/section>/.exec(html)?.[0];

  it.each<[string, Report['run']['status'], RegExp]>([
    ['a partial', 'partial', /<b>Audit incomplete:<\/b> 2 scopes could not be read\./],
    ['a failed', 'failed', /<b>Audit failed:<\/b> it could not read what it was asked to audit/],
    ['an abandoned', 'abandoned', /<b>Audit abandoned:<\/b> its worker stopped/],
  ])(
    'opens the page of %s run, before the headline, naming each scope, its code and its fix',
    (_what, status, lead) => {
      const report = {
        ...base,
        run: { ...base.run, status },
        errors: [hidden, hostile, ...(status === 'failed' ? [nothingRead] : [])],
      };
      const { html } = renderReportHtml(report, { nonce: NONCE });
      const banner = bannerOf(html);
      expect(banner).toMatch(lead);
      expect(html.indexOf('id="run-banner"')).toBeLessThan(html.indexOf('id="headline"'));
      expect(banner).toContain(
        `<code class="scope">${hidden.scope}</code> <b>SCOPE_UNREADABLE</b>: Subscription`,
      );
      expect(banner).toContain(
        'Give the identity the Reader role on /subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333.',
      );
      // Escaped: the hostile scope and message are text, the backticked command is code.
      expect(banner).toContain('&lt;img src=x onerror=alert(1)&gt;');
      expect(banner).toContain('&lt;/li&gt;&lt;script&gt;x()&lt;/script&gt; run <code>az login</code>');
      expect(markupOf(banner ?? '')).not.toMatch(/<(script|img)/);
      // The NothingRead summary names no scope: it is not listed as one.
      expect(banner).not.toContain('NothingRead');
    },
  );

  it('is on every page of the table, not only the first', () => {
    const report = { ...base, run: { ...base.run, status: 'partial' as const }, errors: [hidden] };
    const { html } = renderReportHtml(report, {
      nonce: NONCE,
      pools: report.pools.slice(10, 20),
      page: { number: 2, size: 10, matched: report.pools.length },
    });
    expect(bannerOf(html)).toContain('<b>Audit incomplete:</b> 1 scope could not be read.');
  });

  it('lists at most ten scopes and says where the rest are', () => {
    const many = Array.from({ length: 13 }, (_, i) => ({ ...hidden, scope: `/subscriptions/sub-${i}` }));
    const { html } = renderReportHtml(
      { ...base, run: { ...base.run, status: 'partial' }, errors: many },
      { nonce: NONCE },
    );
    const banner = bannerOf(html) ?? '';
    expect(banner.match(/<li>/g)).toHaveLength(10);
    expect(banner).toContain('…and 3 more under <a href="#errors">Errors</a>.');
  });

  it('is absent from a succeeded run', () => {
    const { html } = renderReportHtml({ ...base, errors: [] }, { nonce: NONCE });
    expect(html).not.toContain('run-banner');
  });
});
