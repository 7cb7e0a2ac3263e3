// The compliance percentage, defined once: every page, email, dashboard field and the CLI take it from here.

/** The counts the percentage is made of: a run's summary, or one subscription's or owner's row. */
export interface JudgedCounts {
  compliant: number;
  noncompliant: number;
  exempt: number;
}

/** Pools the audit could judge: compliant, noncompliant and exempt. Unknown pools were not judged. */
export function judgedPools(counts: JudgedCounts): number {
  return counts.compliant + counts.noncompliant + counts.exempt;
}

/**
 * The share of judged pools that are compliant or exempt, in percent, floored to one decimal so 99.96 never
 * shows as 100:
 *
 *   compliancePercent = (compliant + exempt) / (compliant + noncompliant + exempt)
 *
 * - Exempt pools count as compliant, as Azure Policy counts exempt resources: an exemption is a time-boxed,
 *   recorded risk acceptance. Every page shows the exempt count beside the percentage.
 * - Unknown pools were not judged (unreadable scope, unrecognised OS SKU), so they are left out of both sides
 *   rather than counted either way; every page shows the unknown count beside the percentage.
 * - null when nothing was judged: no percentage is ever shown then ("no node pools judged").
 */
export function compliancePercent(counts: JudgedCounts): number | null {
  const judged = judgedPools(counts);
  if (judged <= 0) return null;
  return Math.floor(((counts.compliant + counts.exempt) / judged) * 1000) / 10;
}

/** What a page says when no pool was judged, instead of a percentage. */
export const NOTHING_JUDGED = 'no node pools judged';

/** `97.3% compliant`, or NOTHING_JUDGED. */
export function compliancePercentText(counts: JudgedCounts): string {
  const percent = compliancePercent(counts);
  return percent === null ? NOTHING_JUDGED : `${percent.toFixed(1)}% compliant`;
}

/** `97.3%`, or `—` when nothing was judged (for table cells). */
export function compliancePercentCell(counts: JudgedCounts): string {
  const percent = compliancePercent(counts);
  return percent === null ? '—' : `${percent.toFixed(1)}%`;
}
