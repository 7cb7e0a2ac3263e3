// The CLI's report writer: a report written frame by frame is byte for byte the report rendered whole.

import { once } from 'node:events';
import { Writable } from 'node:stream';

import type { FramedReport } from '../../src/cli/framedReport';
import { attentionOf } from '../../src/cli/framedReport';
import { reportSummaryText, writeReport, writeReportCsv, writeReportJson } from '../../src/cli/reportWriter';
import { framesOf } from '../../src/core/pagePools';
import type { Report } from '../../src/core/types';
import { renderReportCsv } from '../../src/render/reportCsv';
import type { ReportHistory } from '../../src/render/reportHistory';
import { renderReportHtml } from '../../src/render/reportHtml';
import { summaryText } from '../../src/render/summaryText';
import { fixtureReport, framedFixture } from '../support/reportFixture';

/** A sink that holds a little and says so, so the writer must wait for 'drain' again and again. */
class SlowSink extends Writable {
  text = '';
  drains = 0;
  constructor() {
    super({ highWaterMark: 64, decodeStrings: false });
    this.on('drain', () => (this.drains += 1));
  }
  override _write(chunk: string, _enc: BufferEncoding, done: () => void) {
    this.text += chunk;
    setImmediate(done);
  }
  /** Everything written, once the writes still buffered are through. */
  async written(): Promise<string> {
    this.end();
    await once(this, 'finish');
    return this.text;
  }
}

const framed = framedFixture;

/** The page with its random CSP nonce replaced, so two renderings of one report compare equal. */
function withoutNonce(html: string): string {
  const nonce = /nonce="([^"]+)"/.exec(html)?.[1];
  expect(nonce).toBeDefined();
  return html.split(nonce!).join('NONCE');
}

/** A framed report that fails if anything reads it whole. */
function framedOnly(report: Report, frameSize: number): FramedReport {
  return {
    ...framed(report, frameSize),
    whole: () => Promise.reject(new Error('read whole')),
  };
}

describe.each([1, 7, 1000])('a report of 60 pools written in frames of %i', (frameSize) => {
  const report = fixtureReport({ seed: 3, pools: 60 });

  it('is byte for byte JSON.stringify(report, null, 2), waiting for the sink as it fills', async () => {
    const sink = new SlowSink();
    await writeReportJson(sink, framed(report, frameSize));
    expect(await sink.written()).toBe(`${JSON.stringify(report, null, 2)}\n`);
    expect(sink.drains).toBeGreaterThan(0);
  });

  it('is the CSV renderReportCsv gives for the whole report', async () => {
    const sink = new SlowSink();
    await writeReportCsv(sink, framed(report, frameSize));
    expect(await sink.written()).toBe(renderReportCsv(report));
  });

  it('is the HTML page renderReportHtml gives for the whole report, without reading it whole', async () => {
    const history: ReportHistory = { trend: [], previous: null };
    const sink = new SlowSink();
    await writeReport(sink, 'html', framedOnly(report, frameSize), history);
    expect(withoutNonce(await sink.written())).toBe(withoutNonce(renderReportHtml(report, history).html));
  });

  it('gives the summary summaryText gives for the whole report', async () => {
    expect(await reportSummaryText(framed(report, frameSize))).toBe(`${summaryText(report)}\n`);
  });
});

it('writes empty pools and clusters as JSON.stringify does', async () => {
  const report: Report = { ...fixtureReport({ seed: 4, pools: 3 }), pools: [], clusters: [] };
  const sink = new SlowSink();
  await writeReportJson(sink, framed(report, 10));
  expect(await sink.written()).toBe(`${JSON.stringify(report, null, 2)}\n`);
});

it('reads no frame for the summary of a run with nothing to look at', async () => {
  const clean = fixtureReport({ seed: 5, pools: 30 });
  const report: Report = {
    ...clean,
    pools: clean.pools.map((p) => ({ ...p, status: 'compliant' as const, findings: [] })),
  };
  const frames = framesOf(report.pools, 5);
  let read = 0;
  const counted: FramedReport = {
    ...framed(report, 5),
    frames: { frames: frames.frames, pools: (i) => ((read += 1), frames.pools(i)) },
  };
  expect(await attentionOf(counted, 20)).toEqual({ pools: [], count: 0 });
  expect(read).toBe(0);
});

it.each([
  ['with', 'platform-team'],
  ['without', undefined],
])(
  'writes the HTML page of a run stored before breakdowns %s owner tags as its whole report renders it',
  async (_, owner) => {
    const base = fixtureReport({ seed: 6, pools: 12 });
    const { byCode: _byCode, bySubscription: _bySubscription, byOwner: _byOwner, ...counts } = base.summary;
    const report: Report = {
      ...base,
      summary: counts,
      pools: base.pools.map(({ owner: _owner, ...p }) => (owner === undefined ? p : { ...p, owner })),
    };
    const sink = new SlowSink();
    await writeReport(sink, 'html', framed(report, 5));
    const html = await sink.written();
    expect(withoutNonce(html)).toBe(withoutNonce(renderReportHtml(report).html));
    expect(html.includes('data-label="Owner"')).toBe(owner !== undefined);
  },
);
