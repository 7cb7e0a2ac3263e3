// The digest's CSV attachment written from the run's frames, given up as soon as it outgrows what an email carries.

import type { EmailMessage } from '../azure/emailSender';
import type { PoolStatus } from '../core/types';
import type { DigestAttachment } from '../render/emailDigest';
import { type FramedReportSource, reportCsvText } from '../render/reportText';

/** The CSV attachment's limit (the digest's body and the CSV must fit the email service's message size). */
export const MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024;

const NOT_COMPLIANT: readonly PoolStatus[] = ['noncompliant', 'unknown', 'exempt'];

/**
 * The CSV of the selected pools, a frame of rows at a time (renderReportCsv's text): its bytes when they fit
 * `limit`, else null, and the frames stop there; with `measure`, past the limit the rest is only counted, for the
 * message that says how big the CSV is.
 */
async function csvWithin(
  report: FramedReportSource,
  statuses: readonly PoolStatus[] | undefined,
  limit: number,
  measure = false,
): Promise<{ content: Buffer | null; bytes: number }> {
  let parts: Buffer[] | null = [];
  let bytes = 0;
  for await (const text of reportCsvText(report, statuses ? { statuses } : {})) {
    const part = Buffer.from(text, 'utf8');
    bytes += part.length;
    if (parts && bytes <= limit) parts.push(part);
    else {
      parts = null;
      if (!measure) break;
    }
  }
  return { content: parts ? Buffer.concat(parts, bytes) : null, bytes };
}

/** Pools of the frames with one of `statuses`, from the frames' counts. */
function poolsOf(report: FramedReportSource, statuses: readonly PoolStatus[]): number {
  let pools = 0;
  for (const frame of report.frames.frames) for (const status of statuses) pools += frame.counts[status];
  return pools;
}

/**
 * What the digest attaches: the CSV of every pool when it fits `limit`, else the CSV of the pools that are not
 * compliant, else nothing and why (with the full CSV's size). Memory holds at most `limit` bytes of CSV and a frame; over the limit, the frames are read again for the next try.
 */
export async function digestCsvAttachment(
  report: FramedReportSource,
  limit = MAX_ATTACHMENT_BYTES,
): Promise<{ attachment: DigestAttachment; file: EmailMessage['attachments'] }> {
  const runId = report.head.run.id;
  const name = `fips-audit-${runId}.csv`;
  const full = await csvWithin(report, undefined, limit);
  if (full.content) {
    return {
      attachment: { kind: 'full', name, pools: poolsOf(report, [...NOT_COMPLIANT, 'compliant']) },
      file: [{ name, contentType: 'text/csv', content: full.content }],
    };
  }
  const partial = await csvWithin(report, NOT_COMPLIANT, limit);
  const attentionName = `fips-audit-${runId}-not-compliant.csv`;
  if (partial.content) {
    return {
      attachment: { kind: 'attention', name: attentionName, pools: poolsOf(report, NOT_COMPLIANT) },
      file: [{ name: attentionName, contentType: 'text/csv', content: partial.content }],
    };
  }
  // Both too big: the whole CSV is counted (never held) for its size, the one figure the reason gives.
  const { bytes } = await csvWithin(report, undefined, 0, true);
  return {
    attachment: {
      kind: 'none',
      reason: `the CSV of this run is ${Math.round(bytes / 1048576)} MiB, over the ${limit / 1048576} MiB an email can carry; download it from the report.`,
    },
    file: [],
  };
}
