// A run's digest, read from storage and rendered: the report, the change since the last good run, the trend.

import { type EmailMessage } from '../azure/emailSender';
import { diffRunFrames } from '../core/diffRunFrames';
import { previousGoodRun, type RunDiff } from '../core/diffRuns';
import type { RunRecord } from '../core/run';
import { runIdTime } from '../core/runId';
import { NotFoundError } from '../errors';
import {
  type DigestAttachment,
  type DigestTrendPoint,
  type EarlierFailure,
  renderEmailDigest,
} from '../render/emailDigest';
import type { ReportHead } from '../render/reportText';
import { type EmailRecord, type EmailStore } from '../store/emailStore';
import { digestCsvAttachment } from './digestAttachment';
import { type DigestReportSource, openDigestFrames, summaryOfFrames } from './digestFrames';

export { MAX_ATTACHMENT_BYTES } from './digestAttachment';

/** What the digest reads of the runs. */
export interface NotifyRunSource extends DigestReportSource {
  getRun(runId: string): Promise<RunRecord | undefined>;
  listRuns(opts: { top?: number }): AsyncIterable<RunRecord>;
  /** The ID and noncompliant-since of each pool whose state is noncompliant now (not every pool's state). */
  listNoncompliantSince(): AsyncIterable<{ id: string; noncompliantSince: string | null }>;
  /** Records the run's email outcome on its record (a merge: it never undoes the run's status). */
  noteEmail(runId: string, email: unknown): Promise<void>;
}

/** What building a digest reads. */
export interface DigestSources {
  runs: NotifyRunSource;
  emails: Pick<EmailStore, 'listDigests'>;
  reportBaseUrl: string | null;
  now?: () => Date;
}

const TREND_RUNS_READ = 60;
const EARLIER_DIGESTS_READ = 30;

export interface BuiltDigest {
  message: EmailMessage;
  /** The run's report without its pools and clusters (the digest reads those a frame at a time). */
  head: ReportHead;
  diff: RunDiff;
  attachment: DigestAttachment;
  earlierFailures: EarlierFailure[];
}

function sameScope(a: RunRecord['scope'], b: RunRecord['scope']): boolean {
  const norm = (s: RunRecord['scope']) =>
    JSON.stringify([
      s.subscriptions ? [...s.subscriptions].map((x) => x.toLowerCase()).sort() : null,
      s.managementGroups ? [...s.managementGroups].map((x) => x.toLowerCase()).sort() : null,
    ]);
  return norm(a) === norm(b);
}

/** The latest digest records, newest first: by run start, then (runs started in the same second) by creation. */
export async function recentDigests(emails: Pick<EmailStore, 'listDigests'>): Promise<EmailRecord[]> {
  const records: EmailRecord[] = [];
  for await (const record of emails.listDigests({ top: EARLIER_DIGESTS_READ })) records.push(record);
  return records.sort(
    (a, b) =>
      runIdTime(b.runId).getTime() - runIdTime(a.runId).getTime() || b.createdAt.localeCompare(a.createdAt),
  );
}

/** Earlier digests that failed (or never confirmed) since the last one that was sent, newest first. */
async function earlierFailuresOf(
  emails: Pick<EmailStore, 'listDigests'>,
  run: RunRecord,
  now: Date,
): Promise<EarlierFailure[]> {
  const before = runIdTime(run.id).getTime();
  const failures: EarlierFailure[] = [];
  for (const record of await recentDigests(emails)) {
    if (record.runId === run.id || runIdTime(record.runId).getTime() > before) continue;
    if (record.state === 'sent') break;
    if (record.state === 'failed') {
      failures.push({ runId: record.runId, at: record.updatedAt, reason: record.reason ?? 'unknown reason' });
    } else if (
      record.state === 'sending' &&
      record.claimedUntil !== null &&
      Date.parse(record.claimedUntil) <= now.getTime()
    ) {
      failures.push({
        runId: record.runId,
        at: record.updatedAt,
        reason: 'the send was interrupted and never confirmed',
      });
    }
  }
  return failures;
}

/** Everything a run's digest is made of, read from storage and rendered. Pure apart from the reads. */
export async function buildRunDigest(
  deps: DigestSources,
  run: RunRecord,
  address: { from: string; to: readonly string[] },
): Promise<BuiltDigest> {
  const now = (deps.now ?? (() => new Date()))();
  // Both runs a frame at a time: a 100,000-pool report read whole is ~150 MB of heap, and the diff needs two.
  const report = await openDigestFrames(deps.runs, run);
  if (!report) throw new NotFoundError(`No stored run ${run.id}.`);
  const runs: RunRecord[] = [];
  for await (const r of deps.runs.listRuns({ top: TREND_RUNS_READ })) runs.push(r);
  const previous = previousGoodRun(runs, run, (r) => sameScope(r.scope, run.scope));
  const previousReport = previous ? ((await openDigestFrames(deps.runs, previous)) ?? null) : null;
  // Pool states are today's; a noncompliant-since after this run's start belongs to a later episode.
  const since = new Map<string, string>();
  const startedAt = Date.parse(run.startedAt);
  for await (const state of deps.runs.listNoncompliantSince()) {
    if (state.noncompliantSince && Date.parse(state.noncompliantSince) <= startedAt) {
      since.set(state.id.toLowerCase(), state.noncompliantSince);
    }
  }
  const diff = await diffRunFrames(report, previousReport, { noncompliantSince: since });
  const earlierFailures = await earlierFailuresOf(deps.emails, run, now);
  const { attachment, file } = await digestCsvAttachment(report);
  const trend: DigestTrendPoint[] = runs.map((r) => ({
    runId: r.id,
    startedAt: r.startedAt,
    status: r.status,
    summary: r.status === 'failed' ? null : r.summary,
  }));
  // The renderer lists only what the diff holds; of the report it reads the head and the summary's breakdowns.
  const head: ReportHead = { ...report.head, summary: await summaryOfFrames(report) };
  const rendered = renderEmailDigest({
    report: { ...head, pools: [], clusters: [] },
    diff,
    trend,
    reportBaseUrl: deps.reportBaseUrl,
    earlierFailures,
    attachment,
  });
  return {
    message: {
      from: address.from,
      to: address.to,
      subject: rendered.subject,
      html: rendered.html,
      text: rendered.text,
      attachments: file,
      headers: { 'X-FIPS-Audit-Run': run.id },
    },
    head: report.head,
    diff,
    attachment,
    earlierFailures,
  };
}
