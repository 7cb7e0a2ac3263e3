// Report paging and filters, continuation tokens, Accept negotiation and ETag matching: the pure parts of the API.

import { ifNoneMatchHits, strongEtag } from '../../src/http/conditional';
import { negotiateFormat } from '../../src/http/negotiate';
import { NotAcceptableError } from '../../src/http/problem';
import {
  canonicalFilters,
  decodeContinuationToken,
  encodeContinuationToken,
  filterPools,
  reportPage,
} from '../../src/render/reportJson';
import { FIXTURE_RUN_ID, fixtureReport } from '../support/reportFixture';

const report = fixtureReport({ pools: 300 });

describe('reportPage', () => {
  it.each([1, 7, 50, 299, 300, 301])('pages with top=%i so that the pages add up to the report', (top) => {
    const ids: string[] = [];
    let offset = 0;
    for (;;) {
      const page = reportPage(report, {}, { offset, top });
      expect(page.summary).toEqual(report.summary);
      ids.push(...page.pools.map((p) => p.id));
      if (!page.page.continuationToken) break;
      const state = decodeContinuationToken(page.page.continuationToken);
      expect(state).toEqual({ runId: FIXTURE_RUN_ID, filters: {}, offset: ids.length, top });
      offset = state.offset;
    }
    expect(ids).toEqual(report.pools.map((p) => p.id));
  });

  it('counts the matching pools of the whole run and keeps the summary whole', () => {
    const page = reportPage(report, { status: ['noncompliant'] }, { offset: 0, top: 5 });
    const matching = report.pools.filter((p) => p.status === 'noncompliant');
    expect(page.filter).toEqual({ status: ['noncompliant'], matched: matching.length });
    expect(page.pools.map((p) => p.id)).toEqual(matching.slice(0, 5).map((p) => p.id));
    expect(page.summary).toEqual(report.summary);
  });

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
