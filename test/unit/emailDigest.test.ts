// The email digest: golden HTML and text of a known estate, subjects, escaping of hostile values, caps, partial runs.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { HOSTILE_SUBSCRIPTION_NAME } from '../../emulators/estateGenerator';
import { diffRuns, type RunDiff } from '../../src/core/diffRuns';
import type { PoolResult, Report } from '../../src/core/types';
import {
  DIGEST_MAX_ROWS,
  type DigestInput,
  digestSubject,
  type DigestTrendPoint,
  renderEmailDigest,
} from '../../src/render/emailDigest';
import {
  CURRENT_RUN,
  FIPS_DISABLED,
  knownEstate,
  pool,
  PREVIOUS_RUN,
  report,
  SUB_A,
  SUB_B,
  unreadable,
} from '../support/digestFixture';

const GOLDEN_DIR = join(__dirname, 'golden');
const BASE_URL = 'https://fips-auditor.azurewebsites.us';

/** Compares with the checked-in golden file; UPDATE_GOLDEN=1 rewrites it (review the diff before committing). */
function expectGolden(name: string, actual: string): void {
  const path = join(GOLDEN_DIR, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

function trendOf(points: [string, string, Report['run']['status'], number, number][]): DigestTrendPoint[] {
  return points.map(([runId, startedAt, status, noncompliant, unknown]) => ({
    runId,
    startedAt,
    status,
    summary:
      status === 'failed'
        ? null
        : {
            subscriptions: 2,
            clusters: 6,
            pools: 140,
            compliant: 140 - noncompliant - unknown - 2,
            noncompliant,
            exempt: 2,
            unknown,
          },
  }));
}

function knownInput(): DigestInput {
  const { previous, current, noncompliantSince } = knownEstate();
  return {
    report: current,
    diff: diffRuns(current, previous, { noncompliantSince }),
    reportBaseUrl: BASE_URL,
    attachment: { kind: 'full', name: `fips-audit-${CURRENT_RUN}.csv`, pools: current.pools.length },
    earlierFailures: [
      {
        runId: '20261127T060000Z-cccccc',
        at: '2026-11-27T06:02:10.000Z',
        reason: 'HTTP 503: Service Unavailable (gave up after 5 attempt(s))',
      },
    ],
    trend: trendOf([
      [PREVIOUS_RUN, '2026-11-28T06:00:00.000Z', 'succeeded', 3, 0],
      ['20261127T060000Z-cccccc', '2026-11-27T06:00:00.000Z', 'partial', 4, 9],
      ['20261126T060000Z-dddddd', '2026-11-26T06:00:00.000Z', 'failed', 0, 0],
      ['20261125T060000Z-eeeeee', '2026-11-25T06:00:00.000Z', 'succeeded', 6, 1],
      // A later run is not part of this digest's trend.
      ['20261130T060000Z-ffffff', '2026-11-30T06:00:00.000Z', 'succeeded', 0, 0],
    ]),
  };
}

/** Every tag in the HTML is one the renderer writes; no attribute is an event handler. */
function expectOnlyOwnMarkup(html: string): void {
  const tags = new Set([...html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9]*)/g)].map((m) => m[1]!.toLowerCase()));
  const allowed = [
    'html',
    'head',
    'meta',
    'title',
    'body',
    'table',
    'tr',
    'td',
    'th',
    'h1',
    'h2',
    'p',
    'b',
    'i',
    'br',
    'span',
    'code',
    'a',
    'div',
  ];
  expect([...tags].filter((t) => !allowed.includes(t))).toEqual([]);
  // Escaped text may read `onerror=`; only the renderer's own tags carry attributes, and none is a handler.
  for (const [tag] of html.matchAll(/<[a-zA-Z][^>]*>/g)) expect(tag).not.toMatch(/\son[a-z]+\s*=/i);
  expect(html).not.toMatch(/<img|<script|<style|url\(|data:/i);
}

describe('the digest of a known estate', () => {
  const rendered = renderEmailDigest(knownInput());

  it('matches the golden HTML', () => {
    expectGolden('emailDigest.html', rendered.html);
  });

  it('matches the golden plain text', () => {
    expectGolden('emailDigest.txt', rendered.text);
  });

  it('says what changed in the subject', () => {
    expect(rendered.subject).toBe(
      '[FIPS audit] 2 new noncompliant node pools, 2 resolved, 1 newly unknown, 1 exemption lapsed, 1 exemption expiring — 50.0% compliant',
    );
  });

  it.each<[string, string, string?]>([
    ['new', 'New noncompliant node pools (2)'],
    ['resolved', 'Resolved (2)'],
    ['still, with how long', '2026-11-02 (27 days)'],
    ['unknown', 'Unknown node pools (1)'],
    ['expiring exemptions', 'Exemptions expiring within 14 days (1)'],
    ['lapsed exemptions', 'Exemptions that lapsed (1)'],
    ['the remediation of each finding', 'Fix: Enable the FIPS image', 'Fix:</span> Enable the FIPS image'],
    ['the matrix version', 'FIPS matrix 2026-11-29'],
    ['the link to the HTML report', `${BASE_URL}/api/report?runId=${CURRENT_RUN}&format=html`],
    ['the earlier digest that failed', '1 earlier digest could not be sent'],
  ])('lists %s in both parts', (_what, text, html = text.replace(/&/g, '&amp;')) => {
    expect(rendered.text).toContain(text);
    expect(rendered.html).toContain(html);
  });

  it('draws the trend of the runs up to this one as table cells sized in percent, without images', () => {
    expect(rendered.html).toContain('Trend, last 5 runs');
    expect(rendered.html).not.toContain('2026-11-30 06:00');
    expect(rendered.html).toMatch(/<td width="\d+%" height="10" bgcolor="#cf222e"/);
    expect(rendered.text).toContain('2026-11-26 06:00 UTC  failed: no results');
  });

  it('puts what to fix first before the per-pool lists, with the count each fix makes compliant', () => {
    const fix = rendered.html.indexOf('>Fix first</h2>');
    expect(fix).toBeGreaterThan(0);
    expect(fix).toBeLessThan(rendered.html.indexOf('New noncompliant node pools ('));
    // FIPS_DISABLED: the new pool, the lapsed one and the exempt one carry it; two are noncompliant by it alone.
    expect(rendered.html).toContain(
      '<b>2 pools</b>: enable the FIPS image: <code style="font-family:Consolas',
    );
    expect(rendered.html).toContain('2 become compliant with this fix alone.');
    expect(rendered.text).toMatch(
      /^Fix first\n {2}1\. 2 pools: enable the FIPS image: `az aks nodepool update … --enable-fips-image`/m,
    );
    expect(rendered.text.indexOf('Fix first')).toBeLessThan(
      rendered.text.indexOf('New noncompliant node pools ('),
    );
  });

  it('breaks the run down by subscription with the change since the previous good run', () => {
    expect(rendered.html).toContain('>By subscription</h2>');
    expect(rendered.text).toContain('By subscription (noncompliant, unknown, compliant)');
    expect(rendered.text).toMatch(
      /payments-prod: 5 pools, 2 noncompliant \(\+1\), 0 unknown, 60\.0% compliant/,
    );
  });

  it('is at most 680 px wide and fluid below it, with a fixed width only for Outlook on Windows', () => {
    expect(rendered.html).toContain('style="width:100%;max-width:680px;');
    expect(rendered.html).toContain('<!--[if mso]><table role="presentation" width="680"');
    expect(rendered.html).not.toMatch(/width="(7\d\d|[89]\d\d)"/);
    expect(rendered.html).not.toContain('x-apple-disable-message-reformatting');
  });

  it('escapes every value from Azure: subscription names, resource groups, exemption owners and reasons', () => {
    expectOnlyOwnMarkup(rendered.html);
    expect(rendered.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(rendered.html).toContain('rg-&lt;b&gt;bold&lt;/b&gt;');
    expect(rendered.html).toContain(
      'platform-team@contoso.com&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;',
    );
    expect(rendered.html).not.toContain(HOSTILE_SUBSCRIPTION_NAME);
  });
});

describe('subjects', () => {
  const many = (n: number, status: PoolResult['status'], prefix: string) =>
    Array.from({ length: n }, (_, i) =>
      pool(SUB_A, 'rg', `aks-${prefix}`, `np${i}`, status, status === 'noncompliant' ? [FIPS_DISABLED] : []),
    );
  // 110 pools: 100 compliant, 2 exempt, 5 unknown, 3 noncompliant: 102 of 105 judged = 97.1%.
  const base = [...many(100, 'compliant', 'ok'), ...many(2, 'exempt', 'ex'), ...many(5, 'unknown', 'unk')];
  const bad = many(3, 'noncompliant', 'bad');
  const now = report(CURRENT_RUN, '2026-11-29T06:00:00.000Z', [...base, ...bad]);
  const stillBad = report(PREVIOUS_RUN, '2026-11-28T06:00:00.000Z', [...base, ...bad]);
  const allGood = report(PREVIOUS_RUN, '2026-11-28T06:00:00.000Z', [...base, ...many(3, 'compliant', 'bad')]);
  const fixedNow = report(CURRENT_RUN, '2026-11-29T06:00:00.000Z', [...base, ...many(3, 'compliant', 'bad')]);

  it.each<[string, Report, Report | null, string]>([
    ['new findings', now, allGood, '[FIPS audit] 3 new noncompliant node pools — 97.1% compliant'],
    ['no change', now, stillBad, '[FIPS audit] No change: 3 noncompliant node pools — 97.1% compliant'],
    ['everything fixed', fixedNow, stillBad, '[FIPS audit] 3 resolved — 100.0% compliant'],
    ['the first audit', now, null, '[FIPS audit] First audit: 3 noncompliant node pools — 97.1% compliant'],
  ])('for %s', (_title, current, previous, subject) => {
    expect(digestSubject(current, diffRuns(current, previous))).toBe(subject);
  });

  it('says first that the audit is incomplete for a run that could not read every scope, and carries no name from Azure', () => {
    const partial = {
      ...now,
      run: { ...now.run, status: 'partial' as const },
      errors: [{ scope: `/subscriptions/${SUB_B}`, code: 'AuthorizationFailed', message: '…' }],
    };
    const subject = digestSubject(partial, diffRuns(partial, allGood));
    expect(subject).toBe(
      '[FIPS audit] Audit incomplete: 1 scope could not be read — 3 new noncompliant node pools — 97.1% compliant',
    );
    expect(subject).not.toMatch(/[\r\n]/);
  });
});

describe('a partial run', () => {
  const scope = `/subscriptions/${SUB_B}`;
  const previous = report(PREVIOUS_RUN, '2026-11-28T06:00:00.000Z', [
    pool(SUB_A, 'rg', 'aks', 'a', 'compliant'),
    pool(SUB_B, 'rg', 'aks-unread', 'b', 'noncompliant', [FIPS_DISABLED]),
  ]);
  const current = report(
    CURRENT_RUN,
    '2026-11-29T06:00:00.000Z',
    [
      pool(SUB_A, 'rg', 'aks', 'a', 'compliant'),
      pool(SUB_B, 'rg', 'aks-unread', 'b', 'unknown', [unreadable(scope, 'noncompliant')]),
    ],
    'partial',
    [
      {
        scope,
        code: 'AuthorizationFailed',
        message: 'The client does not have authorization to read the scope.',
      },
    ],
  );
  const diff = diffRuns(current, previous);
  const rendered = renderEmailDigest({ report: current, diff, reportBaseUrl: null });

  it('says so at the top of both parts', () => {
    const firstRow = /max-width:680px;[^>]*>\n(<tr>.*?<\/tr>)/.exec(rendered.html)?.[1];
    expect(firstRow).toContain('<b>Partial run:</b> 1 scope could not be read.');
    expect(rendered.text.split('\n')[2]).toMatch(/^PARTIAL RUN: 1 scope could not be read/);
  });

  it('names each unreadable scope with its code and fix at the top, where it reads as the alert', () => {
    const firstRow = /max-width:680px;[^>]*>\n(<tr>.*?<\/tr>)/.exec(rendered.html)?.[1];
    expect(firstRow).toContain(
      `<b>AuthorizationFailed</b>: The client does not have authorization to read the scope.`,
    );
    expect(firstRow).toContain(`${scope}</code>`);
    expect(rendered.text.split('\n')[3]).toBe(
      `  ${scope}: AuthorizationFailed: The client does not have authorization to read the scope.`,
    );
  });

  it('never reports the pools of the unreadable scope as resolved, and lists the scope', () => {
    expect(diff.resolved).toEqual([]);
    expect(rendered.text).not.toContain('Resolved (');
    expect(rendered.text).toContain('Scopes that could not be read (1)');
    expect(rendered.text).toContain(`[NEW] ${scope}: AuthorizationFailed`);
    expect(rendered.text).toContain('(1 pool reported unknown)');
  });

  it('says where the full list is when REPORT_BASE_URL is not set', () => {
    expect(rendered.text).toContain('Set REPORT_BASE_URL to link the full report from this email.');
    // No link to the report: the only links left are the matrix's sources.
    const sourceUrls = new Set(current.run.matrix.sourceDetails.map((source) => source.url));
    expect(sourceUrls.size).toBeGreaterThan(0);
    const hrefs = [...rendered.html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]!);
    expect(hrefs.filter((href) => !sourceUrls.has(href))).toEqual([]);
    expect(rendered.html).not.toContain('/api/report');
  });
});

describe('a huge estate', () => {
  const pools = Array.from({ length: 5_000 }, (_, i) =>
    pool(
      i % 2 ? SUB_A : SUB_B,
      'rg-big',
      `aks-big-${String(Math.floor(i / 5)).padStart(4, '0')}`,
      `np${i % 5}`,
      'noncompliant',
      [FIPS_DISABLED],
    ),
  );
  const current = report(CURRENT_RUN, '2026-11-29T06:00:00.000Z', pools);
  const diff: RunDiff = diffRuns(current, report(PREVIOUS_RUN, '2026-11-28T06:00:00.000Z', []));
  const rendered = renderEmailDigest({
    report: current,
    diff,
    reportBaseUrl: BASE_URL,
    attachment: { kind: 'attention', name: 'fips-audit.csv', pools: 5_000 },
  });

  it(`shows ${DIGEST_MAX_ROWS} rows per list, counts the rest and links to them in the filtered report`, () => {
    expect(rendered.subject).toBe('[FIPS audit] 5,000 new noncompliant node pools — 0.0% compliant');
    expect(rendered.html.match(/<b>aks-big-\d{4} \/ np\d<\/b>/g)).toHaveLength(DIGEST_MAX_ROWS);
    expect(rendered.html).toContain(`<b>…and ${(5_000 - DIGEST_MAX_ROWS).toLocaleString('en-US')} more.</b>`);
    expect(rendered.html).toContain(
      `href="${BASE_URL}/api/report?runId=${CURRENT_RUN}&amp;format=html&amp;status=noncompliant"`,
    );
    expect(rendered.text).toContain(
      `…and ${(5_000 - DIGEST_MAX_ROWS).toLocaleString('en-US')} more: ${BASE_URL}/api/report?runId=${CURRENT_RUN}&format=html&status=noncompliant`,
    );
    expect(
      rendered.text.split('\n').filter((l) => l.startsWith('  ') && l.includes('aks-big-')),
    ).toHaveLength(DIGEST_MAX_ROWS);
  });

  it('stays under the size Gmail clips at (about 102 KB)', () => {
    expect(Buffer.byteLength(rendered.html)).toBeLessThan(100 * 1024);
  });

  it('stops adding rows when the HTML budget is spent, and still counts and links the rest', () => {
    // Long remediations make each row large: the budget, not the row cap, decides how many are shown.
    const verbose = {
      ...FIPS_DISABLED,
      remediation: `${FIPS_DISABLED.remediation} ${'Then check again. '.repeat(400)}`,
    };
    const big = report(
      CURRENT_RUN,
      '2026-11-29T06:00:00.000Z',
      pools.map((p) => ({ ...p, findings: [verbose] })),
    );
    const html = renderEmailDigest({
      report: big,
      diff: diffRuns(big, report(PREVIOUS_RUN, '2026-11-28T06:00:00.000Z', [])),
      reportBaseUrl: BASE_URL,
    }).html;
    const shown = html.match(/<b>aks-big-\d{4} \/ np\d<\/b>/g)?.length ?? 0;
    expect(shown).toBeGreaterThan(0);
    expect(shown).toBeLessThan(DIGEST_MAX_ROWS);
    expect(html).toContain(`<b>…and ${(5_000 - shown).toLocaleString('en-US')} more.</b>`);
    expect(Buffer.byteLength(html)).toBeLessThan(100 * 1024);
  });
});

describe('the plain text part', () => {
  it('keeps a hostile name on its line: control characters cannot forge lines or headers', () => {
    const hostile = pool(SUB_A, 'rg', 'aks', 'np\r\nBcc: attacker@example.com', 'noncompliant', [
      FIPS_DISABLED,
    ]);
    const current = report(CURRENT_RUN, '2026-11-29T06:00:00.000Z', [hostile]);
    const { text, html } = renderEmailDigest({
      report: current,
      diff: diffRuns(current, null),
      reportBaseUrl: null,
    });
    expect(text.split('\n').some((line) => line.startsWith('Bcc:'))).toBe(false);
    expect(text).toContain('np Bcc: attacker@example.com');
    expectOnlyOwnMarkup(html);
  });
});
