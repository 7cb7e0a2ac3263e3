// A plain-text summary of a report for a terminal: counts, fix first, breakdowns, the pools to look at, errors.

import { compliancePercentCell, compliancePercentText } from '../core/compliancePercent';
import { fixFirst, fixFirstCount } from '../core/fixFirst';
import type { PoolResult, Report, Summary } from '../core/types';
import { unreadableScopes } from '../core/unreadableScopes';
import { summaryWithBreakdowns } from './summaryWithBreakdowns';

const LISTED_POOLS = 20;
/** Fix-first items and breakdown rows listed. */
const LISTED_ROWS = 10;

const count = (n: number): string => n.toLocaleString('en-US');

function firstError(report: Report): string {
  const error = unreadableScopes(report.errors)[0];
  return error ? ` ${error.code}: ${error.message}` : '';
}

/**
 * `previous`: the summary of the previous good run of the same scope, for each subscription's change. `attention`:
 * the first pools that need attention and how many there are, when `report` does not carry every pool (the CLI
 * reads a large run's pools a frame at a time).
 */
export function summaryText(
  report: Report,
  previous?: Summary | null,
  attention?: { pools: readonly PoolResult[]; count: number },
): string {
  const { run, summary } = report;
  const breakdown = summaryWithBreakdowns(report);
  const lines = [
    // Said first, before any figure: figures of a failed or incomplete run must not be read as the estate's.
    ...(run.status === 'failed' || run.status === 'abandoned'
      ? [`AUDIT FAILED: it could not read the estate; no figure below describes it.${firstError(report)}`]
      : run.status === 'partial'
        ? [
            `AUDIT INCOMPLETE: ${report.errors.length} scope(s) could not be read; their pools are unknown, and the figures cover only what was read.`,
          ]
        : []),
    `FIPS audit ${run.id} (${run.trigger}, ${run.cloud}): ${run.status.toUpperCase()}`,
    `  matrix ${run.matrix.version}; ${count(summary.subscriptions)} subscriptions, ${count(summary.clusters)} clusters, ${count(summary.pools)} node pools`,
    `  ${compliancePercentText(summary)} (exempt pools count as compliant; unknown pools are not judged)`,
    `  noncompliant ${count(summary.noncompliant)} · unknown ${count(summary.unknown)} · exempt ${count(summary.exempt)} · compliant ${count(summary.compliant)}`,
  ];
  const fixes = fixFirst(breakdown.byCode ?? []);
  if (fixes.length) {
    lines.push('  fix first:');
    fixes.slice(0, LISTED_ROWS).forEach((item, i) => {
      lines.push(
        `    ${i + 1}. ${fixFirstCount(item)}: ${item.fix} [${item.code}, ${item.severity}]` +
          (item.resolves
            ? `; ${count(item.resolves)} ${item.resolves === 1 ? 'becomes' : 'become'} compliant with this fix alone`
            : ''),
      );
    });
  }
  const subscriptions = breakdown.bySubscription ?? [];
  if (subscriptions.length > 1) {
    const before = previous?.bySubscription
      ? new Map(previous.bySubscription.map((r) => [r.subscriptionId.toLowerCase(), r.noncompliant]))
      : null;
    lines.push(
      `  by subscription (${subscriptions.length > LISTED_ROWS ? `${LISTED_ROWS} of ${count(subscriptions.length)}, ` : ''}most noncompliant first):`,
    );
    for (const r of subscriptions.slice(0, LISTED_ROWS)) {
      const name = r.other ? 'all other subscriptions' : (r.subscriptionName ?? r.subscriptionId);
      const was = before && !r.other ? before.get(r.subscriptionId) : undefined;
      const change =
        !before || r.other ? '' : was === undefined ? ' (new)' : ` (${signed(r.noncompliant - was)})`;
      lines.push(
        `    ${name.padEnd(36)} ${count(r.pools).padStart(7)} pools  ${count(r.noncompliant).padStart(6)} noncompliant${change}  ${count(r.unknown).padStart(5)} unknown  ${compliancePercentCell(r).padStart(6)} compliant`,
      );
    }
  }
  const owners = breakdown.byOwner ?? [];
  if (owners.length) {
    lines.push(
      `  by owner (${owners.length > LISTED_ROWS ? `${LISTED_ROWS} of ${count(owners.length)}, ` : ''}most noncompliant first):`,
    );
    for (const r of owners.slice(0, LISTED_ROWS)) {
      const name = r.other ? 'all other owners' : (r.owner ?? '(no owner tag)');
      lines.push(
        `    ${name.padEnd(36)} ${count(r.pools).padStart(7)} pools  ${count(r.noncompliant).padStart(6)} noncompliant  ${count(r.unknown).padStart(5)} unknown  ${compliancePercentCell(r).padStart(6)} compliant`,
      );
    }
  }
  const bad =
    attention?.pools ?? report.pools.filter((p) => p.status === 'noncompliant' || p.status === 'unknown');
  const badCount = attention?.count ?? bad.length;
  if (badCount) {
    lines.push(
      `  pools to look at (${badCount}${badCount > LISTED_POOLS ? `, first ${LISTED_POOLS}` : ''}):`,
    );
    for (const pool of bad.slice(0, LISTED_POOLS)) {
      const codesOfPool = pool.findings.filter((f) => f.severity === 'high' || f.undecided);
      lines.push(
        `    ${pool.status.padEnd(12)} ${pool.subscriptionName ?? pool.subscriptionId}/${pool.resourceGroup}/${pool.cluster}/${pool.pool}: ${codesOfPool.map((f) => f.code).join(', ')}`,
      );
    }
  }
  // A failed run's first line already gave its first error (with its fix): said once, not again here.
  const failed = run.status === 'failed' || run.status === 'abandoned';
  const first = failed ? unreadableScopes(report.errors)[0] : undefined;
  const rest = report.errors.filter((e) => e !== first);
  if (rest.length) {
    lines.push(`  ${first ? 'also' : 'scopes that'} could not be read (${rest.length}):`);
    for (const e of rest) lines.push(`    ${e.scope}: ${e.code}: ${e.message}`);
  }
  return lines.join('\n');
}

function signed(n: number): string {
  return n > 0 ? `+${count(n)}` : n < 0 ? `−${count(-n)}` : '±0';
}
