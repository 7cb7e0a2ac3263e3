// What the generated policy cannot judge with the matrix in use: findings that depend on a release a request hides.

import type { FipsMatrix } from '../core/fipsMatrix';
import { describeRange } from '../core/kubernetesVersion';
import {
  type CandidateRelease,
  candidateSets,
  certainWindow,
  releaseWindow,
  type TimeWindow,
} from './fipsPolicyClauses';
import type { PolicyCode } from './policyTypes';

export interface PolicyLimitRelease {
  osKey: string;
  osName: string;
  /** `Kubernetes below 1.32`: when a pool of the selector runs this release (or its FIPS image says so). */
  kubernetes: string;
  /** When the finding holds on this release; null: never. */
  window: TimeWindow | null;
}

/** One finding on one pool selector that holds on some of its releases and not on others. */
export interface PolicyLimit {
  /** `osSKU AzureLinux`, `no osSKU (Windows)`. */
  selector: string;
  code: PolicyCode;
  releases: PolicyLimitRelease[];
  /** When the policy flags the selector anyway (the finding holds on every release); null: never. */
  flaggedWindow: TimeWindow | null;
  /** One sentence for people. */
  text: string;
}

const sameWindow = (a: TimeWindow | null, b: TimeWindow | null) =>
  a === b || (!!a && !!b && a.from === b.from && a.before === b.before);

function describeWindow(window: TimeWindow | null): string {
  if (!window) return 'never';
  const parts = [window.from ? `from ${window.from}` : '', window.before ? `before ${window.before}` : ''];
  return parts.filter(Boolean).join(' ') || 'always';
}

function uniqueReleases(releases: readonly CandidateRelease[]): CandidateRelease[] {
  const seen = new Map<string, CandidateRelease>();
  for (const r of releases)
    if (!seen.has(`${r.osKey}|${JSON.stringify(r.kubernetes)}`))
      seen.set(`${r.osKey}|${JSON.stringify(r.kubernetes)}`, r);
  return [...seen.values()];
}

/**
 * The findings the policy leaves to the audit: on a floating SKU (or a pool without osSKU) whose releases
 * disagree, the Kubernetes version or the FIPS node image decides, and a policy sees neither, so it flags only
 * what holds on every release. The daily audit judges these pools.
 */
export function policyLimits(matrix: FipsMatrix): PolicyLimit[] {
  const limits: PolicyLimit[] = [];
  for (const set of candidateSets(matrix)) {
    const releases = uniqueReleases(set.releases);
    if (new Set(releases.map((r) => r.osKey)).size < 2) continue;
    for (const code of ['FIPS_DISABLED', 'OS_NOT_FIPS_CAPABLE', 'OS_RETIRED'] as const) {
      const windows = releases.map((r) => releaseWindow(code, r.os));
      if (windows.every((w) => sameWindow(w, windows[0] ?? null))) continue;
      const detailed: PolicyLimitRelease[] = releases.map((r, i) => ({
        osKey: r.osKey,
        osName: r.os.name,
        kubernetes: describeRange(r.kubernetes),
        window: windows[i] ?? null,
      }));
      const flaggedWindow = certainWindow(code, releases);
      const each = detailed
        .map((r) => `${r.osName} (${r.kubernetes}): ${describeWindow(r.window)}`)
        .join('; ');
      limits.push({
        selector: set.label,
        code,
        releases: detailed,
        flaggedWindow,
        text:
          `${set.label}: ${code}${code === 'FIPS_DISABLED' ? ' (while enableFIPS is not true)' : ''} holds ${each}.` +
          ` A request does not show which of these a pool runs (the Kubernetes version or the FIPS node image decides),` +
          ` so the policy flags ${flaggedWindow ? `only ${describeWindow(flaggedWindow)}, when all agree` : 'none of them'}; the audit judges the rest.`,
      });
    }
  }
  return limits;
}
