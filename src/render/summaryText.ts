// A plain-text summary of a report for a terminal: counts, the noncompliant pools, errors.

import type { Report } from '../core/types';

const LISTED_POOLS = 20;

export function summaryText(report: Report): string {
  const { run, summary } = report;
  const judged = summary.pools - summary.unknown;
  const percent = judged ? ((summary.compliant + summary.exempt) / judged) * 100 : 100;
  const lines = [
    `FIPS audit ${run.id} (${run.trigger}, ${run.cloud}): ${run.status.toUpperCase()}`,
    `  matrix ${run.matrix.version}; ${summary.subscriptions} subscriptions, ${summary.clusters} clusters, ${summary.pools} node pools`,
    `  compliant ${summary.compliant} · noncompliant ${summary.noncompliant} · exempt ${summary.exempt} · unknown ${summary.unknown} (${percent.toFixed(1)}% of judged pools compliant)`,
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
