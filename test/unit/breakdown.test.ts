// Fix first and the breakdowns: counted page by page as the run goes, merged across shards, ranked, percentaged.

import { generateEstate } from '../../emulators/estateGenerator';
import { BreakdownCounter, MAX_BREAKDOWN_ROWS, mergeSummaries } from '../../src/core/breakdownCounter';
import { compliancePercent, compliancePercentText } from '../../src/core/compliancePercent';
import { evaluatePool } from '../../src/core/evaluatePool';
import { builtInMatrix } from '../../src/core/fipsMatrix';
import { fixFirst, fixFirstCount } from '../../src/core/fixFirst';
import { normalizeCluster } from '../../src/core/normalizeCluster';
import { framesOf, PAGE_STATUS_ORDER, pagePools } from '../../src/core/pagePools';
import { summarizeRun } from '../../src/core/summarizeRun';
import type { CodeBreakdown, Finding, PoolResult } from '../../src/core/types';
import { countTicks, niceStep, timeTicks } from '../../src/render/chartAxes';
import { codeSpans } from '../../src/render/codeSpans';
import { summaryText } from '../../src/render/summaryText';
import { fixtureReport, handPool } from '../support/reportFixture';

const high = (code: Finding['code']): Finding => ({ code, severity: 'high', message: 'm', remediation: 'r' });
const medium = (code: Finding['code']): Finding => ({
  code,
  severity: 'medium',
  message: 'm',
  remediation: 'r',
});

describe('compliancePercent', () => {
  it.each<[string, { compliant: number; noncompliant: number; exempt: number }, number | null, string]>([
    ['exempt counts as compliant', { compliant: 90, noncompliant: 5, exempt: 5 }, 95, '95.0% compliant'],
    [
      'floored, so 99.96 never reads 100',
      { compliant: 9_999, noncompliant: 1, exempt: 0 },
      99.9,
      '99.9% compliant',
    ],
    ['nothing judged', { compliant: 0, noncompliant: 0, exempt: 0 }, null, 'no node pools judged'],
    ['all noncompliant', { compliant: 0, noncompliant: 7, exempt: 0 }, 0, '0.0% compliant'],
  ])('%s', (_title, counts, percent, text) => {
    expect(compliancePercent(counts)).toBe(percent);
    expect(compliancePercentText(counts)).toBe(text);
  });

  it('leaves unknown pools out of both sides', () => {
    const summary = summarizeRun(
      [
        handPool({ pool: 'a', status: 'compliant' }),
        handPool({ pool: 'b', status: 'noncompliant', findings: [high('FIPS_DISABLED')] }),
        handPool({ pool: 'c', status: 'unknown' }),
        handPool({ pool: 'd', status: 'unknown' }),
      ],
      [],
    );
    expect(summary.compliancePercent).toBe(50);
  });
});

describe('BreakdownCounter', () => {
  const report = fixtureReport({ pools: 600 });

  it('counts page by page exactly what it counts for the whole run at once', () => {
    const counter = new BreakdownCounter();
    for (let i = 0; i < report.pools.length; i += 37) counter.addPools(report.pools.slice(i, i + 37));
    counter.addClusters(report.clusters);
    const whole = summarizeRun(report.pools, report.clusters);
    expect(counter.complete({ ...whole, byCode: undefined, bySubscription: undefined })).toEqual(whole);
  });

  it('counts a code once per pool, by status, and what fixing it alone would make compliant', () => {
    const counter = new BreakdownCounter();
    counter.addPools([
      handPool({
        pool: 'only',
        status: 'noncompliant',
        findings: [high('FIPS_DISABLED'), medium('NODE_IMAGE_OUTDATED')],
      }),
      handPool({
        pool: 'two',
        status: 'noncompliant',
        findings: [high('FIPS_DISABLED'), high('OS_RETIRED')],
      }),
      handPool({
        pool: 'twice',
        status: 'noncompliant',
        findings: [high('OS_NOT_FIPS_CAPABLE'), high('OS_NOT_FIPS_CAPABLE')],
      }),
      handPool({ pool: 'waived', status: 'exempt', findings: [high('FIPS_DISABLED')] }),
    ]);
    const byCode = new Map(counter.value().byCode.map((c) => [c.code, c]));
    expect(byCode.get('FIPS_DISABLED')).toMatchObject({ pools: 3, noncompliant: 2, exempt: 1, resolves: 1 });
    expect(byCode.get('OS_NOT_FIPS_CAPABLE')).toMatchObject({ pools: 1, noncompliant: 1, resolves: 1 });
    expect(byCode.get('OS_RETIRED')).toMatchObject({ pools: 1, resolves: 0 });
    expect(byCode.get('NODE_IMAGE_OUTDATED')).toMatchObject({ pools: 1, severity: 'medium', resolves: 0 });
  });

  it('breaks down by owner only when pools carry the owner tag, with untagged pools in their own row', () => {
    const plain = new BreakdownCounter();
    plain.addPools([handPool({})]);
    expect(plain.value().byOwner).toBeUndefined();

    const owned = new BreakdownCounter();
    owned.addPools([
      handPool({ pool: 'a', owner: 'team-a', status: 'noncompliant', findings: [high('FIPS_DISABLED')] }),
      handPool({ pool: 'b', owner: 'team-a' }),
      handPool({ pool: 'c', owner: null }),
    ]);
    expect(owned.value().byOwner).toEqual([
      { owner: 'team-a', pools: 2, compliant: 1, noncompliant: 1, exempt: 0, unknown: 0 },
      { owner: null, pools: 1, compliant: 1, noncompliant: 0, exempt: 0, unknown: 0 },
    ]);
  });

  it(`sums subscriptions past ${MAX_BREAKDOWN_ROWS.toLocaleString('en-US')} into one other row, losing no pool`, () => {
    const counter = new BreakdownCounter();
    const pools = Array.from({ length: MAX_BREAKDOWN_ROWS + 5 }, (_, i) =>
      handPool({ subscriptionId: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, pool: `p${i}` }),
    );
    counter.addPools(pools);
    const rows = counter.value().bySubscription;
    expect(rows).toHaveLength(MAX_BREAKDOWN_ROWS);
    expect(rows[rows.length - 1]).toMatchObject({ subscriptionId: '*', other: true, pools: 6 });
    expect(rows.reduce((n, r) => n + r.pools, 0)).toBe(pools.length);
  });
});

describe('mergeSummaries', () => {
  it("sums the shards' summaries into the summary of the whole run", () => {
    const report = fixtureReport({ pools: 400 });
    const bySubscription = new Map<string, PoolResult[]>();
    for (const pool of report.pools) {
      const list = bySubscription.get(pool.subscriptionId) ?? [];
      list.push(pool);
      bySubscription.set(pool.subscriptionId, list);
    }
    const shards = [...bySubscription.values()].map((pools) => summarizeRun(pools, []));
    const whole = summarizeRun(report.pools, []);
    expect(mergeSummaries(shards)).toEqual(whole);
  });
});

describe('fixFirst', () => {
  const entry = (
    code: CodeBreakdown['code'],
    severity: CodeBreakdown['severity'],
    pools: number,
    extra: Partial<CodeBreakdown> = {},
  ): CodeBreakdown => ({
    code,
    severity,
    pools,
    noncompliant: severity === 'high' ? pools : 0,
    exempt: 0,
    unknown: 0,
    resolves: 0,
    clusters: 0,
    fix: `fix ${code}`,
    ...extra,
  });

  it('ranks what makes pools noncompliant first, then what leaves them unknown, then the rest; most pools first', () => {
    const items = fixFirst([
      entry('NODE_IMAGE_OUTDATED', 'medium', 900),
      entry('OS_RETIRED', 'high', 12),
      entry('OS_SKU_UNRECOGNIZED', 'info', 30, { unknown: 30 }),
      entry('FIPS_DISABLED', 'high', 147, { resolves: 103 }),
      entry('FIPS_PLATFORM_DEFAULT', 'info', 400),
      entry('NODE_AUTOPROVISIONING_UNAUDITED', 'medium', 0, { clusters: 3 }),
    ]);
    expect(items.map((i) => i.code)).toEqual([
      'FIPS_DISABLED',
      'OS_RETIRED',
      'OS_SKU_UNRECOGNIZED',
      'NODE_IMAGE_OUTDATED',
      'NODE_AUTOPROVISIONING_UNAUDITED',
    ]);
    expect(fixFirstCount(items[0]!)).toBe('147 pools');
    expect(items[0]!.resolves).toBe(103);
    expect(fixFirstCount(items[4]!)).toBe('3 clusters');
  });

  it('does not count exempt pools as work, and leaves out a code every carrier of which is exempt', () => {
    const items = fixFirst([
      entry('FIPS_DISABLED', 'high', 10, { exempt: 4 }),
      entry('OS_RETIRED', 'high', 2, { exempt: 2 }),
    ]);
    expect(items.map((i) => [i.code, i.count])).toEqual([['FIPS_DISABLED', 6]]);
  });
});

describe('pagePools', () => {
  const pools = fixtureReport({ pools: 500 }).pools;
  const attentionFirst = PAGE_STATUS_ORDER.flatMap((s) => pools.filter((p) => p.status === s));

  it.each([
    [0, 100],
    [95, 10],
    [480, 100],
  ])(
    'returns the pools from %i (%i of them) in attention-first order, from frames of any size',
    async (offset, limit) => {
      for (const size of [7, 64, 1000]) {
        const page = await pagePools(framesOf(pools, size), { offset, limit });
        expect(page.matched).toBe(pools.length);
        expect(page.pools.map((p) => p.id)).toEqual(
          attentionFirst.slice(offset, offset + limit).map((p) => p.id),
        );
      }
    },
  );

  it('reads only the frames holding the page when statuses are the only filter', async () => {
    const page = await pagePools(framesOf(pools, 50), { statuses: ['noncompliant'], offset: 0, limit: 10 });
    expect(page.framesRead).toBe(1);
    expect(page.matched).toBe(pools.filter((p) => p.status === 'noncompliant').length);
  });

  it('filters with any other test over every frame, and counts what matched', async () => {
    const windows = (p: PoolResult) => p.osType === 'Windows';
    const page = await pagePools(framesOf(pools, 50), {
      matches: windows,
      statuses: ['noncompliant', 'compliant'],
      offset: 0,
      limit: 500,
    });
    const expected = attentionFirst.filter(
      (p) => windows(p) && ['noncompliant', 'compliant'].includes(p.status),
    );
    expect(page.pools.map((p) => p.id)).toEqual(expected.map((p) => p.id));
    expect(page.matched).toBe(expected.length);
  });
});

describe('evaluatePool with AUDIT_OWNER_TAG', () => {
  const row = generateEstate({ seed: 3, pools: 4, subscriptions: 1 }).clusters[0]!;
  const options = {
    matrix: builtInMatrix,
    asOf: new Date('2026-11-29T06:00:00Z'),
    nodeImageMaxAgeInDays: 30,
  };

  it.each<[string, Record<string, string>, string | undefined, string | null | undefined]>([
    ['copies the tag, matching its name in any case', { Owner: 'payments' }, 'owner', 'payments'],
    ['says null when the cluster lacks the tag', { team: 'x' }, 'owner', null],
    ['adds nothing without the setting', { owner: 'payments' }, undefined, undefined],
  ])('%s', (_title, tags, ownerTag, expected) => {
    const cluster = normalizeCluster({ ...row, tags });
    const result = evaluatePool(cluster, cluster.pools[0]!, {
      ...options,
      ...(ownerTag ? { ownerTag } : {}),
    });
    expect(result.owner).toBe(expected);
    expect('owner' in result).toBe(expected !== undefined);
  });
});

describe('axes', () => {
  it.each([
    [185, [0, 50, 100, 150, 200]],
    [3, [0, 1, 2, 3]],
    [0, [0, 1]],
    [2423, [0, 1000, 2000, 3000]],
  ])('rounds the count ticks for a largest value of %i', (max, ticks) => {
    expect(countTicks(max)).toEqual(ticks);
  });

  it.each([
    [0.3, 1],
    [46.25, 50],
    [120, 200],
  ])('rounds a rough step of %d up to %d', (rough, step) => expect(niceStep(rough)).toBe(step));

  it('ticks a time axis on whole UTC days, at most six', () => {
    const from = Date.parse('2026-11-01T06:00:00Z');
    const ticks = timeTicks(from, Date.parse('2026-11-30T06:00:00Z'));
    expect(ticks.length).toBeLessThanOrEqual(6);
    expect(ticks.every((t) => new Date(t.at).toISOString().endsWith('T00:00:00.000Z'))).toBe(true);
    expect(ticks[0]!.label).toMatch(/^2026-11-\d\d$/);
    expect(timeTicks(from, from)).toEqual([{ at: from, label: '2026-11-01' }]);
  });
});

describe('codeSpans', () => {
  it.each<[string, [string, boolean][]]>([
    [
      'Run `az aks upgrade` now.',
      [
        ['Run ', false],
        ['az aks upgrade', true],
        [' now.', false],
      ],
    ],
    [
      '`a` and `b`',
      [
        ['a', true],
        [' and ', false],
        ['b', true],
      ],
    ],
    ['an unpaired ` stays text', [['an unpaired ` stays text', false]]],
  ])('splits %j', (text, spans) => {
    expect(codeSpans(text).map((s) => [s.text, s.code])).toEqual(spans);
  });
});

describe('summaryText', () => {
  it('opens with the percentage, fixes first, and each subscription with its change', () => {
    const report = fixtureReport({ pools: 240 });
    const previous = {
      ...report.summary,
      bySubscription: report.summary.bySubscription!.map((r) => ({ ...r, noncompliant: r.noncompliant + 1 })),
    };
    const text = summaryText(report, previous);
    const top = fixFirst(report.summary.byCode!)[0]!;
    expect(text).toContain(`${report.summary.compliancePercent!.toFixed(1)}% compliant`);
    expect(text).toContain(`  fix first:\n    1. ${fixFirstCount(top)}: ${top.fix}`);
    expect(text).toMatch(/noncompliant \(−1\)/);
  });

  it('says no node pools were judged rather than showing a percentage', () => {
    const report = fixtureReport({ pools: 2 });
    const pools = report.pools.map((p) => ({ ...p, status: 'unknown' as const }));
    const text = summaryText({ ...report, pools, summary: summarizeRun(pools, []) });
    expect(text).toContain('no node pools judged');
    expect(text).not.toMatch(/%/);
  });
});
