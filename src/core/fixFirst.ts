// What to fix first: one line per finding code with its fix, ranked by severity and by how many pools it touches.

import type { CodeBreakdown, FindingCode, Severity } from './types';

/**
 * The fix of each code in one line, for the fix-first list: the command with `…` where each pool's own arguments
 * go (every pool's finding carries its full command). Backticks mark the command, as in remediations.
 */
export const FIX_BY_CODE: Record<FindingCode, string> = {
  FIPS_DISABLED:
    'enable the FIPS image: `az aks nodepool update … --enable-fips-image` (reimages the nodes; Windows pools are replaced by Windows2022 pools instead)',
  OS_NOT_FIPS_CAPABLE:
    'move the workloads to a new FIPS pool: `az aks nodepool add … --os-sku AzureLinux3 --enable-fips-image`, then drain and delete the old pool',
  OS_RETIRED:
    'replace the pool with a supported FIPS OS: `az aks nodepool add … --os-sku AzureLinux3 --enable-fips-image`, then drain and delete the old pool',
  KUBERNETES_VERSION_UNSUPPORTED:
    'upgrade the cluster: `az aks upgrade … --kubernetes-version <version>` (or replace the pool where its OS does not support the version)',
  NODE_IMAGE_NOT_FIPS: 'reimage onto the FIPS image: `az aks nodepool upgrade … --node-image-only`',
  FIPS_140_2_MODULE:
    'move to a FIPS 140-3 OS: `az aks nodepool add … --os-sku Ubuntu2204 --enable-fips-image`, or upgrade the cluster to Kubernetes 1.35+',
  NODE_IMAGE_OUTDATED: 'upgrade the node image: `az aks nodepool upgrade … --node-image-only`',
  FIPS_PLATFORM_DEFAULT: 'nothing to fix: the OS enforces FIPS',
  OS_SKU_UNRECOGNIZED:
    'check the OS SKU against the AKS FIPS documentation and, if it is FIPS-capable, add it to the matrix (AUDIT_MATRIX_FILE)',
  SCOPE_UNREADABLE:
    "restore the auditor identity's Reader role on the scope (or Resource Graph's reachability) and audit again",
  NODE_AUTOPROVISIONING_UNAUDITED:
    'check that every AKSNodeClass sets `spec.fipsMode`: `kubectl get aksnodeclass -o custom-columns=NAME:.metadata.name,FIPS:.spec.fipsMode`',
};

/** Codes that leave a pool `unknown`: ranked after high findings and before medium ones. */
const UNDECIDED_CODES: ReadonlySet<FindingCode> = new Set(['OS_SKU_UNRECOGNIZED', 'SCOPE_UNREADABLE']);

/** Codes with nothing to do. */
const NOTHING_TO_FIX: ReadonlySet<FindingCode> = new Set(['FIPS_PLATFORM_DEFAULT']);

/** Ranks of severity in fix-first order: what makes pools noncompliant, then what makes them unknown, then the rest. */
function rankOf(code: FindingCode, severity: Severity): number {
  if (severity === 'high') return 0;
  if (UNDECIDED_CODES.has(code)) return 1;
  return { high: 0, medium: 2, low: 3, info: 4 }[severity];
}

/** One line of the fix-first list. */
export interface FixFirstItem {
  code: FindingCode;
  severity: Severity;
  /** How many pools (or clusters, for a cluster finding) need this fix: exempt pools are not counted. */
  count: number;
  unit: 'pool' | 'cluster';
  /** Noncompliant pools this fix alone makes compliant. */
  resolves: number;
  fix: string;
}

/** Pools (or clusters) that need the fix: those carrying the code, less the exempt ones. */
function countOf(entry: CodeBreakdown): { count: number; unit: 'pool' | 'cluster' } {
  return entry.pools > 0
    ? { count: entry.pools - entry.exempt, unit: 'pool' }
    : { count: entry.clusters, unit: 'cluster' };
}

/** The order of `summary.byCode`: high before unknown-making before medium, then most pools first, then by code. */
export function compareFixFirst(a: CodeBreakdown, b: CodeBreakdown): number {
  return (
    rankOf(a.code, a.severity) - rankOf(b.code, b.severity) ||
    countOf(b).count - countOf(a).count ||
    b.resolves - a.resolves ||
    a.code.localeCompare(b.code)
  );
}

/** The fix-first list: every code with something to do, in fix-first order. */
export function fixFirst(byCode: readonly CodeBreakdown[]): FixFirstItem[] {
  return [...byCode]
    .filter((entry) => !NOTHING_TO_FIX.has(entry.code) && countOf(entry).count > 0)
    .sort(compareFixFirst)
    .map((entry) => ({
      code: entry.code,
      severity: entry.severity,
      ...countOf(entry),
      resolves: entry.resolves,
      fix: entry.fix,
    }));
}

/** "147 pools", "1 cluster". */
export function fixFirstCount(item: Pick<FixFirstItem, 'count' | 'unit'>): string {
  return `${item.count.toLocaleString('en-US')} ${item.unit}${item.count === 1 ? '' : 's'}`;
}
