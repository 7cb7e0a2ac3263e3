// A stored run's digest built a frame at a time against Azurite: the same message the whole reports gave.

import { type Estate, generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { diffRuns, previousGoodRun } from '../../src/core/diffRuns';
import type { RunRecord } from '../../src/core/run';
import type { Report } from '../../src/core/types';
import { digestCsvAttachment, MAX_ATTACHMENT_BYTES } from '../../src/notify/digestAttachment';
import { openDigestFrames } from '../../src/notify/digestFrames';
import { buildRunDigest } from '../../src/notify/runDigest';
import { type DigestAttachment, renderEmailDigest } from '../../src/render/emailDigest';
import { renderReportCsv } from '../../src/render/reportCsv';

// Over one snapshot frame (1,000 pools), so the digest's merge crosses frames of both runs.
const estate: Estate = generateEstate({ seed: 41, pools: 1_150, subscriptions: 3, hostileNames: true });
const address = { from: 'DoNotReply@contoso.com', to: ['compliance@contoso.com'] };
let local: LocalAzure;
let app: App;
let first: RunRecord;
let second: RunRecord;

/** The attachment as the digest made it before frames: the whole CSV in memory, then measured. */
function wholeCsvAttachment(
  report: Report,
  limit: number,
): { attachment: DigestAttachment; content: Buffer | null } {
  const name = `fips-audit-${report.run.id}.csv`;
  const full = Buffer.from(renderReportCsv(report), 'utf8');
  if (full.length <= limit)
    return { attachment: { kind: 'full', name, pools: report.pools.length }, content: full };
  const attention = report.pools.filter((p) => p.status !== 'compliant');
  const partial = Buffer.from(renderReportCsv(report, attention), 'utf8');
  const attentionName = `fips-audit-${report.run.id}-not-compliant.csv`;
  if (partial.length <= limit)
    return {
      attachment: { kind: 'attention', name: attentionName, pools: attention.length },
      content: partial,
    };
  return {
    attachment: {
      kind: 'none',
      reason: `the CSV of this run is ${Math.round(full.length / 1048576)} MiB, over the ${limit / 1048576} MiB an email can carry; download it from the report.`,
    },
    content: null,
  };
}

beforeAll(async () => {
  local = await startLocalAzure(estate);
  app = new App(
    loadConfig({
      ...local.env,
      AUDIT_TABLE_PREFIX: 'digestframes',
      REPORT_BASE_URL: 'https://fips.contoso.com',
    }),
    { email: false },
  );
  first = await app.runAudit({ trigger: 'timer' });
  // The second run sees pools lose FIPS and a cluster deleted: new noncompliant, still noncompliant, removed.
  const pools = estate.clusters.flatMap((c) => c.properties.agentPoolProfiles);
  const flipped = pools.filter((_, i) => i % 37 === 0);
  const removed = estate.clusters.splice(5, 3);
  for (const pool of flipped) pool.enableFIPS = !pool.enableFIPS;
  local.arm.reindex();
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  try {
    second = await app.runAudit({ trigger: 'timer' });
  } finally {
    for (const pool of flipped) pool.enableFIPS = !pool.enableFIPS;
    estate.clusters.splice(5, 0, ...removed);
    local.arm.reindex();
  }
});

afterAll(async () => {
  app?.close();
  await local?.stop();
});

it('reads both runs from their indexed snapshots, whose frames hold the stored report in its order', async () => {
  for (const run of [first, second]) {
    const stored = (await app.stores.reports.getRun(run.id))!;
    expect(await app.stores.reports.openReportSnapshot(stored)).not.toBeNull();
    const framed = (await openDigestFrames(app.digestSources().runs, stored))!;
    expect(framed.frames.frames.length).toBeGreaterThan(1);
    const pools = [];
    for (let i = 0; i < framed.frames.frames.length; i++) pools.push(...(await framed.frames.pools(i)));
    expect(pools).toEqual((await app.getReport(run.id))!.pools);
  }
});

it('builds the digest the whole reports gave: the same diff, subject, HTML, text and attachment', async () => {
  const sources = app.digestSources();
  const run = (await app.stores.reports.getRun(second.id))!;
  const built = await buildRunDigest(sources, run, address);

  // The digest as it was built before frames: both reports whole, every pool state read.
  const report = (await app.getReport(second.id))!;
  const runs: RunRecord[] = [];
  for await (const r of app.stores.reports.listRuns({ top: 60 })) runs.push(r);
  const previous = previousGoodRun(runs, run);
  expect(previous?.id).toBe(first.id);
  const since = new Map<string, string>();
  for await (const state of app.stores.poolStates.listPoolStates()) {
    if (state.noncompliantSince && Date.parse(state.noncompliantSince) <= Date.parse(run.startedAt))
      since.set(state.id.toLowerCase(), state.noncompliantSince);
  }
  const diff = diffRuns(report, (await app.getReport(first.id))!, { noncompliantSince: since });
  expect(diff.newNoncompliant.length).toBeGreaterThan(0);
  expect(diff.stillNoncompliant.length).toBeGreaterThan(0);
  expect(diff.resolved.some((r) => r.how === 'removed')).toBe(true);
  const { attachment, content } = wholeCsvAttachment(report, MAX_ATTACHMENT_BYTES);
  const rendered = renderEmailDigest({
    report,
    diff,
    trend: runs.map((r) => ({
      runId: r.id,
      startedAt: r.startedAt,
      status: r.status,
      summary: r.status === 'failed' ? null : r.summary,
    })),
    reportBaseUrl: 'https://fips.contoso.com',
    earlierFailures: [],
    attachment,
  });

  expect(built.diff).toEqual(diff);
  expect(built.attachment).toEqual(attachment);
  expect(built.message.subject).toBe(rendered.subject);
  expect(built.message.html).toBe(rendered.html);
  expect(built.message.text).toBe(rendered.text);
  expect(built.message.attachments).toHaveLength(1);
  expect(Buffer.compare(built.message.attachments[0]!.content, content!)).toBe(0);
});

it.each<[string, (full: number, attention: number) => number]>([
  ['every pool, when the CSV fits', (full) => full],
  ['only the pools that are not compliant, when every pool does not fit', (full) => full - 1],
  ['nothing, and the full CSV size, when neither fits', (_full, attention) => attention - 1],
])('attaches %s, as the whole report did', async (_title, limitOf) => {
  const report = (await app.getReport(second.id))!;
  const full = Buffer.byteLength(renderReportCsv(report), 'utf8');
  const attention = Buffer.byteLength(
    renderReportCsv(
      report,
      report.pools.filter((p) => p.status !== 'compliant'),
    ),
    'utf8',
  );
  const limit = limitOf(full, attention);
  const expected = wholeCsvAttachment(report, limit);
  const framed = (await openDigestFrames(
    app.digestSources().runs,
    (await app.stores.reports.getRun(second.id))!,
  ))!;
  const actual = await digestCsvAttachment(framed, limit);
  expect(actual.attachment).toEqual(expected.attachment);
  expect(actual.file.map((f) => f.content)).toEqual(expected.content ? [expected.content] : []);
});

it('reads the noncompliant-since of noncompliant pool states only, the same ones every state gives', async () => {
  const all: [string, string | null][] = [];
  for await (const s of app.stores.poolStates.listPoolStates())
    if (s.noncompliantSince) all.push([s.id, s.noncompliantSince]);
  const read: [string, string | null][] = [];
  for await (const s of app.stores.poolStates.listNoncompliantSince()) read.push([s.id, s.noncompliantSince]);
  expect(read.length).toBeGreaterThan(0);
  expect(read.sort()).toEqual(all.sort());
});
