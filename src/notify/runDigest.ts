// A run's digest, read from storage and rendered: the report, the change since the last good run, the trend.

import { type EmailMessage } from '../azure/emailSender';
import { diffRuns, previousGoodRun, type RunDiff } from '../core/diffRuns';
import type { RunRecord } from '../core/run';
import { runIdTime } from '../core/runId';
import type { Report } from '../core/types';
import { NotFoundError } from '../errors';
import {
  type DigestAttachment,
  type DigestTrendPoint,
  type EarlierFailure,
  renderEmailDigest,
} from '../render/emailDigest';
import { renderReportCsv } from '../render/reportCsv';
import { type EmailRecord, type EmailStore } from '../store/emailStore';

export const MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024;
/** What the digest reads of the runs. */
export interface NotifyRunSource {
  getRun(runId: string): Promise<RunRecord | undefined>;
  getReport(runId: string): Promise<Report | undefined>;
  listRuns(opts: { top?: number }): AsyncIterable<RunRecord>;
  listPoolStates(): AsyncIterable<{ id: string; noncompliantSince: string | null }>;
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
  report: Report;
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

function csvAttachment(report: Report): { attachment: DigestAttachment; file: EmailMessage['attachments'] } {
  const name = `fips-audit-${report.run.id}.csv`;
  const full = Buffer.from(renderReportCsv(report), 'utf8');
  if (full.length <= MAX_ATTACHMENT_BYTES) {
    return {
      attachment: { kind: 'full', name, pools: report.pools.length },
      file: [{ name, contentType: 'text/csv', content: full }],
    };
  }
  const attention = report.pools.filter((p) => p.status !== 'compliant');
  const partial = Buffer.from(renderReportCsv(report, attention), 'utf8');
  const attentionName = `fips-audit-${report.run.id}-not-compliant.csv`;
  if (partial.length <= MAX_ATTACHMENT_BYTES) {
    return {
      attachment: { kind: 'attention', name: attentionName, pools: attention.length },
      file: [{ name: attentionName, contentType: 'text/csv', content: partial }],
    };
  }
  return {
    attachment: {
      kind: 'none',
      reason: `the CSV of this run is ${Math.round(full.length / 1048576)} MiB, over the ${MAX_ATTACHMENT_BYTES / 1048576} MiB an email can carry; download it from the report.`,
    },
    file: [],
  };
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
  const report = await deps.runs.getReport(run.id);
  if (!report) throw new NotFoundError(`No stored run ${run.id}.`);
  const runs: RunRecord[] = [];
  for await (const r of deps.runs.listRuns({ top: TREND_RUNS_READ })) runs.push(r);
  const previous = previousGoodRun(runs, run, (r) => sameScope(r.scope, run.scope));
  const previousReport = previous ? ((await deps.runs.getReport(previous.id)) ?? null) : null;
  // Pool states are today's; a noncompliant-since after this run's start belongs to a later episode.
  const since = new Map<string, string>();
  const startedAt = Date.parse(run.startedAt);
  for await (const state of deps.runs.listPoolStates()) {
    if (state.noncompliantSince && Date.parse(state.noncompliantSince) <= startedAt) {
      since.set(state.id.toLowerCase(), state.noncompliantSince);
    }
  }
  const diff = diffRuns(report, previousReport, { noncompliantSince: since });
  const earlierFailures = await earlierFailuresOf(deps.emails, run, now);
  const { attachment, file } = csvAttachment(report);
  const trend: DigestTrendPoint[] = runs.map((r) => ({
    runId: r.id,
    startedAt: r.startedAt,
    status: r.status,
    summary: r.status === 'failed' ? null : r.summary,
  }));
  const rendered = renderEmailDigest({
    report,
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
    report,
    diff,
    attachment,
    earlierFailures,
  };
}
