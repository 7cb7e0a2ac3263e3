// A run's (or a shard's) summary as table entity properties: the counts as JSON, the breakdowns deflated beside them.

import { constants as zlibConstants, deflateRawSync, inflateRawSync } from 'node:zlib';

import { compliancePercent } from '../core/compliancePercent';
import type { OwnerBreakdown, StatusCounts, SubscriptionBreakdown, Summary } from '../core/types';

/** A binary property holds at most 64 KiB. */
const PART_BYTES = 64 * 1024;
/**
 * The most the deflated breakdowns may take in one entity (1 MiB in all; Azurite counts binary as base64). A
 * larger one keeps fewer subscription and owner rows, folding the rest into the `other` row, rather than fail
 * the run it belongs to.
 */
export const MAX_BREAKDOWN_BYTES = 448 * 1024;

type Breakdown = Pick<Summary, 'byCode' | 'bySubscription' | 'byOwner'>;

function emptyCounts(): StatusCounts {
  return { pools: 0, compliant: 0, noncompliant: 0, exempt: 0, unknown: 0 };
}

/** Keeps the first `keep` rows (they come most noncompliant first) and sums the rest into one `other` row. */
function fold<T extends StatusCounts & { other?: true }>(rows: T[], keep: number, other: () => T): T[] {
  if (rows.length <= keep) return rows;
  const kept = rows.filter((r) => !r.other).slice(0, keep);
  const keptSet = new Set<T>(kept);
  const rest = other();
  for (const row of rows) {
    if (keptSet.has(row)) continue;
    rest.pools += row.pools;
    rest.compliant += row.compliant;
    rest.noncompliant += row.noncompliant;
    rest.exempt += row.exempt;
    rest.unknown += row.unknown;
  }
  return [...kept, rest];
}

function deflate(breakdown: Breakdown): Buffer {
  return deflateRawSync(Buffer.from(JSON.stringify(breakdown), 'utf8'), {
    level: zlibConstants.Z_BEST_COMPRESSION,
  });
}

/**
 * The properties that store `summary` under `name`: `name` holds the counts as JSON, as it always has (older
 * readers keep working); `name_breakdown_N` hold the deflated breakdowns with their count in `name_breakdown`.
 */
export function summaryProperties(name: string, summary: Summary): Record<string, unknown> {
  const { byCode, bySubscription, byOwner, ...counts } = summary;
  const properties: Record<string, unknown> = { [name]: JSON.stringify(counts) };
  if (!byCode && !bySubscription && !byOwner) return properties;
  let breakdown: Breakdown = {
    ...(byCode ? { byCode } : {}),
    ...(bySubscription ? { bySubscription } : {}),
    ...(byOwner ? { byOwner } : {}),
  };
  let bytes = deflate(breakdown);
  let keep = Math.max(bySubscription?.length ?? 0, byOwner?.length ?? 0);
  while (bytes.length > MAX_BREAKDOWN_BYTES && keep > 1) {
    keep = Math.floor(keep / 2);
    breakdown = {
      ...breakdown,
      ...(bySubscription
        ? {
            bySubscription: fold<SubscriptionBreakdown>(bySubscription, keep, () => ({
              subscriptionId: '*',
              ...emptyCounts(),
              other: true,
            })),
          }
        : {}),
      ...(byOwner
        ? {
            byOwner: fold<OwnerBreakdown>(byOwner, keep, () => ({
              owner: null,
              ...emptyCounts(),
              other: true,
            })),
          }
        : {}),
    };
    bytes = deflate(breakdown);
  }
  let parts = 0;
  for (let at = 0; at < bytes.length; at += PART_BYTES) {
    properties[`${name}_breakdown_${parts++}`] = new Uint8Array(bytes.subarray(at, at + PART_BYTES));
  }
  properties[`${name}_breakdown`] = parts;
  return properties;
}

/** The summary stored under `name` (undefined when there is none); a damaged breakdown is dropped, not fatal. */
export function summaryFromProperties(entity: Record<string, unknown>, name: string): Summary | undefined {
  const json = entity[name];
  if (typeof json !== 'string') return undefined;
  const summary = JSON.parse(json) as Summary;
  // Runs stored before the percentage was: it follows from the counts.
  if (summary.compliancePercent === undefined) summary.compliancePercent = compliancePercent(summary);
  const parts = entity[`${name}_breakdown`];
  if (typeof parts !== 'number' || parts <= 0) return summary;
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < parts; i++) {
    const part = entity[`${name}_breakdown_${i}`];
    if (!(part instanceof Uint8Array)) return summary;
    chunks.push(part);
  }
  try {
    const breakdown = JSON.parse(inflateRawSync(Buffer.concat(chunks)).toString('utf8')) as Breakdown;
    return { ...summary, ...breakdown };
  } catch {
    return summary;
  }
}
