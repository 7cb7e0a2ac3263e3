// Report paging and filters, continuation tokens, Accept negotiation and ETag matching: the pure parts of the API.

import { framesOf, slicePools } from '../../src/core/pagePools';
import type { PoolResult } from '../../src/core/types';
import { ifNoneMatchHits, strongEtag } from '../../src/http/conditional';
import { negotiateFormat } from '../../src/http/negotiate';
import { NotAcceptableError } from '../../src/http/problem';
import { renderReportCsv } from '../../src/render/reportCsv';
import {
  canonicalFilters,
  decodeContinuationToken,
  encodeContinuationToken,
  poolMatches,
  type ReportFilters,
  reportPage,
  selectionOf,
} from '../../src/render/reportJson';
import { reportCsvText, reportPageJsonText } from '../../src/render/reportText';
import { FIXTURE_RUN_ID, fixtureReport, framedFixture } from '../support/reportFixture';

const report = fixtureReport({ pools: 300 });

/** The oracle: the pools of the whole report that pass the filters, tested one by one. */
function filterPools(pools: readonly PoolResult[], filters: ReportFilters): PoolResult[] {
  const canon = canonicalFilters(filters);
  return pools.filter((p) => poolMatches(p, canon));
}

/** The page the API served when it read the whole report: the matching pools from `offset`, at most `top`. */
function wholeReportPage(filters: ReportFilters, offset: number, top: number | null) {
  const canon = canonicalFilters(filters);
  const matching = filterPools(report.pools, canon);
  const end = top === null ? matching.length : Math.min(matching.length, offset + top);
  return {
    ...report,
    pools: matching.slice(offset, end),
    filter: { ...canon, matched: matching.length },
    page: { offset, top, returned: end - offset },
  };
}

async function text(texts: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const t of texts) out += t;
  return out;
}

const FILTERS: [string, ReportFilters][] = [
  ['none', {}],
  ['a status', { status: ['noncompliant'] }],
  ['two statuses', { status: ['unknown', 'exempt'] }],
  ['a status and an OS', { status: ['compliant', 'noncompliant'], osType: ['Windows'] }],
  ['a finding code', { code: ['FIPS_DISABLED'] }],
  ['free text matching nothing', { q: 'no-such-pool-anywhere' }],
];

describe.each([1, 7, 100, 1000])('reportPage over frames of %i pools', (frameSize) => {
  const framed = framedFixture(report, frameSize);

  it.each([1, 7, 50, 299, 300, 301])(
    'pages with top=%i so that the pages add up to the report',
    async (top) => {
      const ids: string[] = [];
      let offset = 0;
      for (;;) {
        const page = await reportPage(framed, {}, { offset, top });
        expect(page.summary).toEqual(report.summary);
        ids.push(...page.pools.map((p) => p.id));
        if (!page.page.continuationToken) break;
        const state = decodeContinuationToken(page.page.continuationToken);
        expect(state).toEqual({ runId: FIXTURE_RUN_ID, filters: {}, offset: ids.length, top });
        offset = state.offset;
      }
      expect(ids).toEqual(report.pools.map((p) => p.id));
    },
  );

  it.each(FILTERS)('gives, filtered by %s, the page the whole report gives', async (_name, filters) => {
    for (const [offset, top] of [
      [0, 5],
      [3, 40],
      [0, 5000],
    ] as const) {
      const expected = wholeReportPage(filters, offset, top);
      if (offset > expected.filter.matched) continue;
      const page = await reportPage(framed, filters, { offset, top });
      const { continuationToken: _t, nextLink: _n, ...paging } = page.page;
      expect({ ...page, page: paging }).toEqual(expected);
    }
  });

  it.each(FILTERS)(
    'streams, filtered by %s, every matching pool as the JSON of the whole report page',
    async (_name, filters) => {
      const canon = canonicalFilters(filters);
      const expected = { ...wholeReportPage(canon, 0, null) };
      const body = await text(reportPageJsonText(framed, selectionOf(canon), canon));
      expect(body).toBe(
        JSON.stringify({ ...expected, page: { ...expected.page, continuationToken: null, nextLink: null } }),
      );
    },
  );

  it.each(FILTERS)('streams, filtered by %s, the CSV of the matching pools', async (_name, filters) => {
    const body = await text(reportCsvText(framed, selectionOf(filters)));
    expect(body).toBe(renderReportCsv(report, filterPools(report.pools, filters)));
  });

  it('refuses an offset past the end of the matching pools', async () => {
    await expect(reportPage(framed, { status: ['noncompliant'] }, { offset: 301, top: 5 })).rejects.toThrow(
      /points past the end of the report/,
    );
  });
});

describe('a page of the report by status alone', () => {
  it('reads only the frames that hold it', async () => {
    const read: number[] = [];
    const frames = framesOf(report.pools, 10);
    const counting = { frames: frames.frames, pools: (i: number) => (read.push(i), frames.pools(i)) };
    const page = await slicePools(counting, { offset: 100, limit: 20 });
    expect(page.pools.map((p) => p.id)).toEqual(report.pools.slice(100, 120).map((p) => p.id));
    expect(page.matched).toBe(300);
    expect(read).toEqual([10, 11]);
  });

  it('reads every frame once when another filter applies, and keeps only the page', async () => {
    const read: number[] = [];
    const frames = framesOf(report.pools, 10);
    const counting = { frames: frames.frames, pools: (i: number) => (read.push(i), frames.pools(i)) };
    const page = await slicePools(counting, { offset: 0, limit: 3, matches: (p) => p.osType === 'Linux' });
    expect(page.pools).toHaveLength(3);
    expect(page.matched).toBe(report.pools.filter((p) => p.osType === 'Linux').length);
    expect(read).toEqual(frames.frames.map((_f, i) => i));
  });
});

describe('filters', () => {
  it('puts the filters in canonical form: sorted, distinct, subscription IDs lowercased', () => {
    expect(
      canonicalFilters({
        status: ['unknown', 'compliant', 'unknown'],
        subscriptionId: ['AAAAAAAA-0000-0000-0000-000000000001'],
        code: [],
      }),
    ).toEqual({ status: ['compliant', 'unknown'], subscriptionId: ['aaaaaaaa-0000-0000-0000-000000000001'] });
  });

  it('matches osType case-insensitively and codes by any finding', () => {
    const windows = filterPools(report.pools, { osType: ['Windows'] });
    expect(windows.length).toBe(report.pools.filter((p) => p.osType?.toLowerCase() === 'windows').length);
    const disabled = filterPools(report.pools, { code: ['FIPS_DISABLED'] });
    expect(disabled.every((p) => p.findings.some((f) => f.code === 'FIPS_DISABLED'))).toBe(true);
  });
});

describe('continuation tokens', () => {
  it('round-trip the run, filters, offset and top', () => {
    const state = { runId: FIXTURE_RUN_ID, filters: { status: ['unknown' as const] }, offset: 40, top: 20 };
    const token = encodeContinuationToken(state);
    expect(token).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(decodeContinuationToken(token)).toEqual(state);
  });

  it.each([
    ['garbage', 'garbage'],
    ['another version', `v2.${Buffer.from('{}').toString('base64url')}`],
    ['not JSON', `v1.${Buffer.from('nope').toString('base64url')}`],
    [
      'offset zero',
      `v1.${Buffer.from(JSON.stringify({ v: 1, runId: FIXTURE_RUN_ID, filters: {}, offset: 0, top: 5 })).toString('base64url')}`,
    ],
    [
      'an extra member',
      `v1.${Buffer.from(JSON.stringify({ v: 1, runId: FIXTURE_RUN_ID, filters: {}, offset: 1, top: 5, x: 1 })).toString('base64url')}`,
    ],
    [
      'a bad run ID',
      `v1.${Buffer.from(JSON.stringify({ v: 1, runId: "' or 1", filters: {}, offset: 1, top: 5 })).toString('base64url')}`,
    ],
  ])('refuse a token with %s', (_what, token) => {
    expect(() => decodeContinuationToken(token)).toThrow(/continuationToken is not one this API issued/);
  });
});

describe('negotiateFormat', () => {
  it.each([
    [undefined, null, 'json'],
    [undefined, '', 'json'],
    [undefined, '*/*', 'json'],
    [undefined, 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'html'],
    [undefined, 'text/csv', 'csv'],
    [undefined, 'application/json;q=0.1, text/csv;q=0.2', 'csv'],
    [undefined, 'text/*', 'html'],
    [undefined, 'application/*', 'json'],
    [undefined, 'text/html;q=0, */*', 'json'],
    [undefined, 'text/csv;q=oops, application/json', 'json'],
    ['csv', 'text/html', 'csv'],
  ] as const)('format %s with Accept %j gives %s', (format, accept, expected) => {
    expect(negotiateFormat(format, accept)).toBe(expected);
  });

  it.each(['image/png', 'application/xml', 'nonsense', 'text/html;q=0, application/json;q=0, text/csv;q=0'])(
    'refuses Accept %j with 406',
    (accept) => {
      expect(() => negotiateFormat(undefined, accept)).toThrow(NotAcceptableError);
    },
  );
});

describe('If-None-Match', () => {
  const etag = strongEtag(['x']);
  it.each([
    [etag, true],
    [`W/${etag}`, true],
    [`"a", ${etag}`, true],
    ['*', true],
    ['"other"', false],
    ['', false],
    [null, false],
  ])('%j matches: %s', (header, hit) => {
    expect(ifNoneMatchHits(header, etag)).toBe(hit);
  });
});
