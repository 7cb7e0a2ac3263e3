// Kubernetes version parsing and comparison, and the version ranges the matrix uses.

export interface VersionRange {
  /** Inclusive lower bound, `major.minor`. */
  from?: string;
  /** Exclusive upper bound, `major.minor`. */
  below?: string;
}

/** Parses `1.33`, `1.33.2` or `v1.33.2` into [major, minor, patch]; null when it is not a version. */
export function parseKubernetesVersion(text: string | null | undefined): [number, number, number] | null {
  if (!text) return null;
  const match = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim());
  if (!match) return null;
  return [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
}

/** Compares two versions by major and minor only (ranges in the matrix are minor versions). */
export function compareMinor(a: [number, number, number], b: [number, number, number]): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

export function inRange(version: [number, number, number], range: VersionRange | undefined): boolean {
  if (!range) return true;
  if (range.from) {
    const from = parseKubernetesVersion(range.from);
    if (from && compareMinor(version, from) < 0) return false;
  }
  if (range.below) {
    const below = parseKubernetesVersion(range.below);
    if (below && compareMinor(version, below) >= 0) return false;
  }
  return true;
}

export function describeRange(range: VersionRange | undefined): string {
  if (!range || (!range.from && !range.below)) return 'any Kubernetes version';
  if (range.from && range.below) return `Kubernetes ${range.from} up to (not including) ${range.below}`;
  return range.from ? `Kubernetes ${range.from} or later` : `Kubernetes below ${range.below}`;
}
