// Counts the summary's breakdowns (by finding code, subscription, owner) page by page, and merges shards' counts.

import { compliancePercent } from './compliancePercent';
import { emptySummary } from './emptySummary';
import { compareFixFirst, FIX_BY_CODE } from './fixFirst';
import type {
  ClusterResult,
  CodeBreakdown,
  FindingCode,
  OwnerBreakdown,
  PoolResult,
  StatusCounts,
  SubscriptionBreakdown,
  Summary,
} from './types';

/**
 * Rows kept per breakdown. The breakdowns are stored with the run record, so they stay bounded: Resource Graph
 * reads at most 10,000 subscriptions per query, and an estate with more owners than this routes work by
 * something else. Pools past the limit are summed into one row marked `other`.
 */
export const MAX_BREAKDOWN_ROWS = 10_000;

/** The breakdown fields of a Summary. */
export type RunBreakdown = Required<Pick<Summary, 'byCode' | 'bySubscription'>> & Pick<Summary, 'byOwner'>;

const OTHER = '\u0000other';

function emptyCounts(): StatusCounts {
  return { pools: 0, compliant: 0, noncompliant: 0, exempt: 0, unknown: 0 };
}

function addCounts(into: StatusCounts, from: StatusCounts): void {
  into.pools += from.pools;
  into.compliant += from.compliant;
  into.noncompliant += from.noncompliant;
  into.exempt += from.exempt;
  into.unknown += from.unknown;
}

/** Most noncompliant first, then most unknown, then largest. */
function byAttention(a: StatusCounts, b: StatusCounts): number {
  return b.noncompliant - a.noncompliant || b.unknown - a.unknown || b.pools - a.pools;
}

/**
 * Accumulates the breakdowns of a run as its pools are judged, so the run never holds every pool for them: the
 * audit feeds it a page at a time, and a sharded run merges its shards' breakdowns. Memory is bounded by the
 * number of codes, subscriptions and owners (each at most MAX_BREAKDOWN_ROWS), never by the pools.
 */
export class BreakdownCounter {
  private readonly codes = new Map<FindingCode, CodeBreakdown>();
  private readonly subscriptions = new Map<string, SubscriptionBreakdown>();
  private readonly owners = new Map<string | null, OwnerBreakdown>();
  private tracksOwners = false;

  /** Adds judged pools. Owners are tracked once any pool carries `owner` (AUDIT_OWNER_TAG is set). */
  addPools(pools: readonly PoolResult[]): void {
    for (const pool of pools) {
      const codes = new Set<FindingCode>();
      const blocking = new Set<FindingCode>();
      for (const finding of pool.findings) {
        codes.add(finding.code);
        if (finding.severity === 'high') blocking.add(finding.code);
      }
      for (const code of codes) {
        const entry = this.code(code, pool.findings.find((f) => f.code === code)!.severity);
        entry.pools += 1;
        if (pool.status === 'noncompliant') entry.noncompliant += 1;
        else if (pool.status === 'exempt') entry.exempt += 1;
        else if (pool.status === 'unknown') entry.unknown += 1;
      }
      if (pool.status === 'noncompliant' && blocking.size === 1) {
        const [only] = blocking;
        this.code(only!, 'high').resolves += 1;
      }
      const subscription = this.subscription(pool.subscriptionId, pool.subscriptionName);
      subscription.pools += 1;
      subscription[pool.status] += 1;
      if (pool.owner !== undefined) this.tracksOwners = true;
      if (this.tracksOwners) {
        const owner = this.owner(pool.owner ?? null);
        owner.pools += 1;
        owner[pool.status] += 1;
      }
    }
  }

  /** Adds clusters: their cluster-level findings. */
  addClusters(clusters: readonly ClusterResult[]): void {
    for (const cluster of clusters) {
      for (const code of new Set(cluster.findings.map((f) => f.code))) {
        this.code(code, cluster.findings.find((f) => f.code === code)!.severity).clusters += 1;
      }
    }
  }

  /** Adds breakdowns counted elsewhere (a shard's), which must not overlap this counter's pools. */
  addBreakdown(summary: Summary): void {
    for (const entry of summary.byCode ?? []) {
      const into = this.code(entry.code, entry.severity);
      into.pools += entry.pools;
      into.noncompliant += entry.noncompliant;
      into.exempt += entry.exempt;
      into.unknown += entry.unknown;
      into.resolves += entry.resolves;
      into.clusters += entry.clusters;
    }
    for (const row of summary.bySubscription ?? []) {
      addCounts(
        row.other ? this.subscriptionRow(OTHER) : this.subscription(row.subscriptionId, row.subscriptionName),
        row,
      );
    }
    if (summary.byOwner) this.tracksOwners = true;
    for (const row of summary.byOwner ?? []) {
      addCounts(row.other ? this.ownerRow(OTHER) : this.owner(row.owner), row);
    }
  }

  value(): RunBreakdown {
    const breakdown: RunBreakdown = {
      byCode: [...this.codes.values()].map((entry) => ({ ...entry })).sort(compareFixFirst),
      bySubscription: [...this.subscriptions.values()]
        .map((row) => ({ ...row }))
        .sort(
          (a, b) =>
            Number(a.other ?? false) - Number(b.other ?? false) ||
            byAttention(a, b) ||
            a.subscriptionId.localeCompare(b.subscriptionId),
        ),
    };
    if (this.tracksOwners) {
      breakdown.byOwner = [...this.owners.values()]
        .map((row) => ({ ...row }))
        .sort(
          (a, b) =>
            Number(a.other ?? false) - Number(b.other ?? false) ||
            byAttention(a, b) ||
            (a.owner ?? '\uffff').localeCompare(b.owner ?? '\uffff'),
        );
    }
    return breakdown;
  }

  /** The summary with the percentage and these breakdowns added. */
  complete(summary: Summary): Summary {
    return { ...summary, compliancePercent: compliancePercent(summary), ...this.value() };
  }

  private code(code: FindingCode, severity: CodeBreakdown['severity']): CodeBreakdown {
    let entry = this.codes.get(code);
    if (!entry) {
      entry = {
        code,
        severity,
        pools: 0,
        noncompliant: 0,
        exempt: 0,
        unknown: 0,
        resolves: 0,
        clusters: 0,
        fix: FIX_BY_CODE[code],
      };
      this.codes.set(code, entry);
    }
    return entry;
  }

  private subscription(subscriptionId: string, name: string | undefined): SubscriptionBreakdown {
    const key = subscriptionId.toLowerCase();
    const existing = this.subscriptions.get(key);
    if (existing) {
      if (existing.subscriptionName === undefined && name !== undefined) existing.subscriptionName = name;
      return existing;
    }
    if (this.subscriptions.size >= MAX_BREAKDOWN_ROWS - 1) return this.subscriptionRow(OTHER);
    const row: SubscriptionBreakdown = { subscriptionId: key, ...emptyCounts() };
    if (name !== undefined) row.subscriptionName = name;
    this.subscriptions.set(key, row);
    return row;
  }

  private subscriptionRow(key: typeof OTHER): SubscriptionBreakdown {
    let row = this.subscriptions.get(key);
    if (!row) {
      row = { subscriptionId: '*', ...emptyCounts(), other: true };
      this.subscriptions.set(key, row);
    }
    return row;
  }

  private owner(owner: string | null): OwnerBreakdown {
    const existing = this.owners.get(owner);
    if (existing) return existing;
    if (this.owners.size >= MAX_BREAKDOWN_ROWS - 1) return this.ownerRow(OTHER);
    const row: OwnerBreakdown = { owner, ...emptyCounts() };
    this.owners.set(owner, row);
    return row;
  }

  private ownerRow(key: typeof OTHER): OwnerBreakdown {
    let row = this.owners.get(key);
    if (!row) {
      row = { owner: null, ...emptyCounts(), other: true };
      this.owners.set(key, row);
    }
    return row;
  }
}

const COUNTED = [
  'subscriptions',
  'clusters',
  'pools',
  'compliant',
  'noncompliant',
  'exempt',
  'unknown',
] as const;

/** Sums the summaries of disjoint parts of one run (its shards): counts, percentage and breakdowns. */
export function mergeSummaries(summaries: readonly Summary[]): Summary {
  const total: Summary = emptySummary();
  const breakdown = new BreakdownCounter();
  for (const summary of summaries) {
    for (const key of COUNTED) total[key] += summary[key];
    breakdown.addBreakdown(summary);
  }
  return breakdown.complete(total);
}
