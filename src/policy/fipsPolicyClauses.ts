// Reads the FIPS matrix as a policy must: which pools each finding certainly applies to, from what a request shows.
//
// A request shows a pool's osSKU, osType and enableFIPS, and the policy knows the date (utcNow()). It does not
// show what decides a floating SKU (Ubuntu, AzureLinux, or no osSKU at all): the Kubernetes version, which
// Azure Policy cannot compare, and the node image, which AKS sets after the request. So each pool selector
// stands for a set of candidate releases, and a finding is flagged only when it holds on every candidate
// (the conservative reading: never flag a pool the audit could find compliant). `policyLimits` lists the rest.

import type { FipsMatrix, OperatingSystem } from '../core/fipsMatrix';
import { compareMinor, parseKubernetesVersion, type VersionRange } from '../core/kubernetesVersion';
import { type PolicyCode } from './policyTypes';

/** A span of days: from `from` (inclusive), before `before` (exclusive), both `YYYY-MM-DD` in UTC; `{}` is always. */
export interface TimeWindow {
  from?: string;
  before?: string;
}

/** Which pools a clause is about, from the three properties a request shows. */
export type PoolSelector =
  | { kind: 'osSku'; osSkus: string[] }
  | { kind: 'noOsSku'; osType: 'Linux' | 'Windows' }
  | { kind: 'unrecognizedOsSku'; knownOsSkus: string[] };

/** Pools of `selector` are flagged during `window`, and only while FIPS is off when `fipsOff` is set. */
export interface PolicyClause {
  selector: PoolSelector;
  window: TimeWindow;
  fipsOff: boolean;
}

export interface CodeClauses {
  code: PolicyCode;
  clauses: PolicyClause[];
}

/** One release a selector's pools may run, and on which Kubernetes versions. */
export interface CandidateRelease {
  osKey: string;
  os: OperatingSystem;
  kubernetes: VersionRange | undefined;
}

/** The pools a request can tell apart, and every release each may run. */
export interface CandidateSet {
  selector: { kind: 'osSku'; osSku: string } | { kind: 'noOsSku'; osType: 'Linux' | 'Windows' };
  /** For messages: `osSKU AzureLinux`, `no osSKU (Windows)`. */
  label: string;
  releases: CandidateRelease[];
}

function intersectRanges(a: VersionRange | undefined, b: VersionRange | undefined): VersionRange | null {
  const later = (x?: string, y?: string) => {
    if (!x || !y) return x ?? y;
    // The matrix schema makes both `major.minor`, so both parse.
    return compareMinor(parseKubernetesVersion(x)!, parseKubernetesVersion(y)!) >= 0 ? x : y;
  };
  const earlier = (x?: string, y?: string) => {
    if (!x || !y) return x ?? y;
    return later(x, y) === x ? y : x;
  };
  const from = later(a?.from, b?.from);
  const below = earlier(a?.below, b?.below);
  if (from && below && later(from, below) === from) return null;
  if (!from && !below) return a || b ? {} : null;
  return { ...(from ? { from } : {}), ...(below ? { below } : {}) };
}

/** Every pool selector a request can express, with the releases the matrix lets it resolve to. */
export function candidateSets(matrix: FipsMatrix): CandidateSet[] {
  const releasesOf = (skuKey: string, within: VersionRange | undefined): CandidateRelease[] =>
    (matrix.osSkus[skuKey]?.releases ?? []).flatMap((release) => {
      const os = matrix.operatingSystems[release.os];
      const range = within || release.kubernetes ? intersectRanges(within, release.kubernetes) : undefined;
      return os && range !== null ? [{ osKey: release.os, os, kubernetes: range }] : [];
    });
  const findSkuKey = (name: string) =>
    Object.keys(matrix.osSkus).find((k) => k.toLowerCase() === name.toLowerCase());

  const sets: CandidateSet[] = Object.keys(matrix.osSkus)
    .sort()
    .map((osSku) => ({
      selector: { kind: 'osSku', osSku },
      label: `osSKU ${osSku}`,
      releases: releasesOf(osSku, undefined),
    }));
  for (const osType of ['Linux', 'Windows'] as const) {
    sets.push({
      selector: { kind: 'noOsSku', osType },
      label: `no osSKU (${osType})`,
      releases: matrix.defaultOsSku[osType].flatMap((entry) => {
        const key = findSkuKey(entry.osSku);
        return key ? releasesOf(key, entry.kubernetes) : [];
      }),
    });
  }
  return sets;
}

/** When finding `code` holds for a pool on `os` (FIPS_DISABLED: while enableFIPS is not true); null: never. */
export function releaseWindow(code: PolicyCode, os: OperatingSystem): TimeWindow | null {
  switch (code) {
    case 'OS_NOT_FIPS_CAPABLE':
      if (os.fips === 'none') return {};
      return os.fipsSince ? { before: os.fipsSince } : null;
    case 'OS_RETIRED':
      return os.retiredOn ? { from: os.retiredOn } : null;
    case 'FIPS_DISABLED':
      if (os.fips !== 'opt-in') return null;
      return os.fipsSince ? { from: os.fipsSince } : {};
    case 'OS_SKU_UNRECOGNIZED':
      return null;
  }
}

function intersectWindows(a: TimeWindow | null, b: TimeWindow | null): TimeWindow | null {
  if (!a || !b) return null;
  const from = [a.from, b.from]
    .filter((d): d is string => !!d)
    .sort()
    .pop();
  const before = [a.before, b.before].filter((d): d is string => !!d).sort()[0];
  if (from && before && from >= before) return null;
  return { ...(from ? { from } : {}), ...(before ? { before } : {}) };
}

/** The window in which `code` holds on every release of the set; null when it never does on all of them. */
export function certainWindow(code: PolicyCode, releases: readonly CandidateRelease[]): TimeWindow | null {
  if (releases.length === 0) return null;
  return releases.reduce<TimeWindow | null>(
    (window, release) => intersectWindows(window, releaseWindow(code, release.os)),
    {},
  );
}

const windowKey = (w: TimeWindow) => `${w.from ?? ''}|${w.before ?? ''}`;

/**
 * The clauses of each finding a policy can judge, generated from the matrix. Explicit SKUs with the same
 * window share one clause (`in` a list); a pool without osSKU is judged by its OS type's defaults. A SKU the
 * matrix does not know is flagged as OS_SKU_UNRECOGNIZED: the audit never reads an unknown SKU as supported.
 * Codes with no clause at all are left out.
 */
export function fipsPolicyClauses(matrix: FipsMatrix): CodeClauses[] {
  const sets = candidateSets(matrix);
  const known = Object.keys(matrix.osSkus).sort();
  const result: CodeClauses[] = [];
  for (const code of ['FIPS_DISABLED', 'OS_NOT_FIPS_CAPABLE', 'OS_RETIRED'] as const) {
    const bySkuWindow = new Map<string, { window: TimeWindow; osSkus: string[] }>();
    const clauses: PolicyClause[] = [];
    for (const set of sets) {
      const window = certainWindow(code, set.releases);
      if (!window) continue;
      if (set.selector.kind === 'osSku') {
        const group = bySkuWindow.get(windowKey(window)) ?? { window, osSkus: [] };
        group.osSkus.push(set.selector.osSku);
        bySkuWindow.set(windowKey(window), group);
      } else {
        clauses.push({ selector: set.selector, window, fipsOff: code === 'FIPS_DISABLED' });
      }
    }
    const skuClauses = [...bySkuWindow.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([, g]): PolicyClause => ({
        selector: { kind: 'osSku', osSkus: g.osSkus },
        window: g.window,
        fipsOff: code === 'FIPS_DISABLED',
      }));
    const all = [...skuClauses, ...clauses];
    if (all.length) result.push({ code, clauses: all });
  }
  const unrecognized: PolicyClause[] = [
    { selector: { kind: 'unrecognizedOsSku', knownOsSkus: known }, window: {}, fipsOff: false },
  ];
  // An OS type without defaults leaves its pools without osSKU unjudgeable, as in the audit.
  for (const set of sets) {
    if (set.selector.kind === 'noOsSku' && set.releases.length === 0) {
      unrecognized.push({ selector: set.selector, window: {}, fipsOff: false });
    }
  }
  result.push({ code: 'OS_SKU_UNRECOGNIZED', clauses: unrecognized });
  return result;
}
