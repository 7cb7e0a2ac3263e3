// What the digest gives the renderer: the run's head and the diff, never the pools, for the same message.

import { diffRuns } from '../../src/core/diffRuns';
import type { Report } from '../../src/core/types';
import { summaryOfFrames } from '../../src/notify/digestFrames';
import { renderEmailDigest } from '../../src/render/emailDigest';
import { summaryWithBreakdowns } from '../../src/render/summaryWithBreakdowns';
import { fixtureReport, framedFixture } from '../support/reportFixture';

/** The report as a run stored before breakdowns were counted has it. */
function withoutBreakdowns(report: Report): Report {
  const { byCode: _code, bySubscription: _subscription, byOwner: _owner, ...summary } = report.summary;
  return { ...report, summary };
}

describe.each([
  ['with breakdowns stored', fixtureReport({ pools: 240 })],
  ['stored before breakdowns', withoutBreakdowns(fixtureReport({ pools: 240 }))],
])('a run %s', (_title, report) => {
  it.each([1, 7, 1000])(
    'has the summary summaryWithBreakdowns gives, counted over frames of %i',
    async (size) => {
      expect(await summaryOfFrames(framedFixture(report, size))).toEqual(summaryWithBreakdowns(report));
    },
  );

  it('renders the same digest from its head and summary as from the whole report', async () => {
    const previous = fixtureReport({ seed: 12, pools: 200 });
    const diff = diffRuns(report, { ...previous, run: { ...previous.run, id: '20261128T060000Z-000000' } });
    const summary = await summaryOfFrames(framedFixture(report));
    const input = { diff, reportBaseUrl: 'https://fips.contoso.com' };
    expect(renderEmailDigest({ ...input, report: { ...report, summary, pools: [], clusters: [] } })).toEqual(
      renderEmailDigest({ ...input, report }),
    );
  });
});
