// A plain-text summary of a report for a terminal: counts, the noncompliant pools, errors.

import type { Report } from '../core/types';

const LISTED_POOLS = 20;

function firstError(report: Report): string {
  const error = report.errors[0];
  return error ? ` ${error.code}: ${error.message}` : '';
}

export function summaryText(report: Report): string {
  const { run, summary } = report;
  const judged = summary.pools - summary.unknown;
  // No percentage of nothing: a run that judged no pool is not "100% compliant".
  const share = judged
    ? `${(((summary.compliant + summary.exempt) / judged) * 100).toFixed(1)}% of judged pools compliant`
    : 'no node pools judged';
  const lines = [
    // Said first, before any figure: figures of a failed or incomplete run must not be read as the estate's.
    ...(run.status === 'failed'
      ? [`AUDIT FAILED: it could not read the estate; no figure below describes it.${firstError(report)}`]
      : run.status === 'partial'
        ? [
            `AUDIT INCOMPLETE: ${report.errors.length} scope(s) could not be read; their pools are unknown, and the figures cover only what was read.`,
          ]
        : []),
    `FIPS audit ${run.id} (${run.trigger}, ${run.cloud}): ${run.status.toUpperCase()}`,
    `  matrix ${run.matrix.version}; ${summary.subscriptions} subscriptions, ${summary.clusters} clusters, ${summary.pools} node pools`,
    `  compliant ${summary.compliant} · noncompliant ${summary.noncompliant} · exempt ${summary.exempt} · unknown ${summary.unknown} (${share})`,
  ];
  const codes = new Map<string, number>();
  for (const pool of report.pools)
    for (const f of pool.findings) codes.set(f.code, (codes.get(f.code) ?? 0) + 1);
  for (const cluster of report.clusters)
    for (const f of cluster.findings) codes.set(f.code, (codes.get(f.code) ?? 0) + 1);
  if (codes.size) {
    lines.push('  findings:');
    for (const [code, count] of [...codes.entries()].sort((a, b) => b[1] - a[1]))
      lines.push(`    ${code.padEnd(32)} ${count}`);
  }
  const bad = report.pools.filter((p) => p.status === 'noncompliant' || p.status === 'unknown');
  if (bad.length) {
    lines.push(
      `  pools to look at (${bad.length}${bad.length > LISTED_POOLS ? `, first ${LISTED_POOLS}` : ''}):`,
    );
    for (const pool of bad.slice(0, LISTED_POOLS)) {
      const codesOfPool = pool.findings.filter(
        (f) => f.severity === 'high' || f.code === 'OS_SKU_UNRECOGNIZED' || f.code === 'SCOPE_UNREADABLE',
      );
      lines.push(
        `    ${pool.status.padEnd(12)} ${pool.subscriptionName ?? pool.subscriptionId}/${pool.resourceGroup}/${pool.cluster}/${pool.pool}: ${codesOfPool.map((f) => f.code).join(', ')}`,
      );
    }
  }
  if (report.errors.length) {
    lines.push(`  scopes that could not be read (${report.errors.length}):`);
    for (const e of report.errors) lines.push(`    ${e.scope}: ${e.code}: ${e.message}`);
  }
  return lines.join('\n');
}
