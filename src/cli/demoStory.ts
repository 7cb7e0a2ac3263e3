// The demo's fourteen days: how the sample estate changes between daily audits, and the words that say so.

import { createHash } from 'node:crypto';

import type { ArmFaults } from '../../emulators/armEmulator';
import type { AgentPoolProfileRow, ClusterRow, Estate } from '../../emulators/estateGenerator';
import { evaluatePool } from '../core/evaluatePool';
import type { FipsMatrix } from '../core/fipsMatrix';
import { normalizeCluster } from '../core/normalizeCluster';
import type { FindingCode, PoolResult, Report } from '../core/types';

/** Days of history the demo seeds: as many runs as the digest's trend shows. */
export const DEMO_DAYS = 14;

/** An exemption the story files before a day's audit, in the shape `exemptions add` and the API take. */
export interface DemoExemption {
  id: string;
  scope: string;
  codes: FindingCode[];
  reason: string;
  owner: string;
  ticket: string;
  /** `YYYY-MM-DD`: in force to the end of that day (UTC). */
  expiresOn: string;
}

export interface DemoDay {
  day: number;
  /** What changed before this day's audit, one line each; empty on a quiet day. */
  events: string[];
  exemptions: DemoExemption[];
}

type Step =
  | { kind: 'fix'; pools: number }
  | { kind: 'exempt'; which: 'lapsing' | 'expiring' }
  | { kind: 'newCluster' }
  | { kind: 'newPool' }
  | { kind: 'unreadable' }
  | { kind: 'readable' };

/**
 * The script, day by day (day 1 is the first audit, day 14 today). Today's digest compares with yesterday: pools
 * fixed, a new noncompliant pool, an exemption that lapsed overnight and one that expires soon.
 */
const SCRIPT: Readonly<Record<number, readonly Step[]>> = {
  2: [{ kind: 'fix', pools: 3 }],
  3: [{ kind: 'exempt', which: 'lapsing' }],
  4: [{ kind: 'newCluster' }],
  5: [{ kind: 'fix', pools: 4 }],
  7: [{ kind: 'unreadable' }],
  8: [{ kind: 'readable' }, { kind: 'fix', pools: 2 }],
  9: [{ kind: 'fix', pools: 3 }],
  10: [{ kind: 'exempt', which: 'expiring' }],
  11: [{ kind: 'fix', pools: 3 }],
  12: [{ kind: 'newPool' }],
  13: [{ kind: 'fix', pools: 2 }],
  14: [{ kind: 'fix', pools: 3 }, { kind: 'newPool' }],
};

const DAY_IN_MS = 86_400_000;
const isoDay = (date: Date) => date.toISOString().slice(0, 10);
const minorOf = (version: string | null) => /^\d+\.(\d+)/.exec(version ?? '')?.[1] ?? null;
const stableKey = (id: string) => createHash('sha256').update(id.toLowerCase()).digest('hex');

function highCodes(pool: PoolResult): FindingCode[] {
  return pool.findings.filter((f) => f.severity === 'high').map((f) => f.code);
}

/**
 * Plays the script against the emulator's estate (changed in place; the caller reindexes the emulator) and its
 * faults. Each change is checked with the app's own evaluation before it is made, so "fixed" pools really are
 * compliant and a new pool without FIPS really is noncompliant.
 */
export class DemoStory {
  /** Pools under an exemption of the story: never "fixed", so the lapse shows. */
  private readonly reserved = new Set<string>();
  private readonly exemptions: DemoExemption[] = [];
  private unreadableSubscription: string | null = null;

  constructor(
    private readonly estate: Estate,
    private readonly faults: ArmFaults,
    private readonly matrix: FipsMatrix,
    /** When each day's audit starts, day 1 first. */
    private readonly days: readonly Date[],
  ) {
    if (days.length !== DEMO_DAYS)
      throw new RangeError(`the story has ${DEMO_DAYS} days; got ${days.length}`);
  }

  /** Makes day `day`'s changes, given the report of the day before (null on day 1). */
  before(day: number, yesterday: Report | null): DemoDay {
    const at = this.days[day - 1]!;
    const result: DemoDay = { day, events: [], exemptions: [] };
    if (day === 1) {
      result.events.push('first audit of the estate');
      return result;
    }
    for (const exemption of this.exemptions) {
      const lapsedAt = Date.parse(`${exemption.expiresOn}T23:59:59.999Z`);
      if (lapsedAt < at.getTime() && lapsedAt >= at.getTime() - DAY_IN_MS) {
        result.events.push(`exemption ${exemption.id} ran out at the end of ${exemption.expiresOn}`);
      }
    }
    for (const step of SCRIPT[day] ?? []) {
      const event = yesterday ? this.play(step, yesterday, at) : null;
      if (event) result.events.push(event.text);
      if (event?.exemption) {
        result.exemptions.push(event.exemption);
        this.exemptions.push(event.exemption);
      }
    }
    return result;
  }

  private play(step: Step, yesterday: Report, at: Date): { text: string; exemption?: DemoExemption } | null {
    switch (step.kind) {
      case 'fix': {
        const fixed = this.fixPools(step.pools, yesterday, at);
        return fixed ? { text: `the platform team enabled the FIPS image on ${fixed} node pool(s)` } : null;
      }
      case 'exempt':
        return this.exempt(step.which, yesterday, at);
      case 'newCluster':
        return this.newCluster(yesterday);
      case 'newPool':
        return this.newPool(yesterday, at);
      case 'unreadable': {
        const sub = this.quietestSubscription(yesterday);
        if (!sub) return null;
        this.faults.failingSubscriptions.add(sub.subscriptionId);
        this.unreadableSubscription = sub.subscriptionId;
        return { text: `the auditor's Reader role on subscription ${sub.name} was removed by mistake` };
      }
      case 'readable': {
        const id = this.unreadableSubscription;
        if (!id) return null;
        this.faults.failingSubscriptions.delete(id);
        this.unreadableSubscription = null;
        const name = this.estate.subscriptions.find((s) => s.subscriptionId === id)?.name ?? id;
        return { text: `the Reader role on ${name} was restored` };
      }
    }
  }

  private rowOf(poolId: string): { cluster: ClusterRow; pool: AgentPoolProfileRow } | null {
    const key = poolId.toLowerCase();
    for (const cluster of this.estate.clusters) {
      if (!key.startsWith(`${cluster.id.toLowerCase()}/agentpools/`)) continue;
      const name = key.slice(cluster.id.length + '/agentpools/'.length);
      const pool = cluster.properties.agentPoolProfiles.find((p) => p.name.toLowerCase() === name);
      if (pool) return { cluster, pool };
    }
    return null;
  }

  /** How the app judges `pool` of `cluster` after `change`, without changing the estate. */
  private judge(
    cluster: ClusterRow,
    poolName: string,
    change: (pool: AgentPoolProfileRow) => void,
    at: Date,
  ): PoolResult | null {
    const copy = structuredClone(cluster);
    const pool = copy.properties.agentPoolProfiles.find((p) => p.name === poolName);
    if (!pool) return null;
    change(pool);
    const record = normalizeCluster(copy);
    const judged = record.pools.find((p) => p.name === poolName);
    return judged
      ? evaluatePool(record, judged, { matrix: this.matrix, asOf: at, nodeImageMaxAgeInDays: 30 })
      : null;
  }

  /** Enables FIPS on `count` pools whose only problem is FIPS_DISABLED, taking the image of a compliant peer. */
  private fixPools(count: number, yesterday: Report, at: Date): number {
    const donors = yesterday.pools.filter((p) => p.status === 'compliant' && p.enableFips === true);
    const candidates = yesterday.pools
      .filter(
        (p) =>
          p.status === 'noncompliant' &&
          !this.reserved.has(p.id.toLowerCase()) &&
          highCodes(p).every((c) => c === 'FIPS_DISABLED'),
      )
      .sort((a, b) => stableKey(a.id).localeCompare(stableKey(b.id)));
    let fixed = 0;
    for (const candidate of candidates) {
      if (fixed === count) break;
      const row = this.rowOf(candidate.id);
      if (!row) continue;
      const peers = donors.filter(
        (d) =>
          d.osType === candidate.osType &&
          d.osSku === candidate.osSku &&
          minorOf(d.kubernetesVersion) === minorOf(candidate.kubernetesVersion) &&
          d.nodeImageVersion,
      );
      for (const peer of peers) {
        const change = (pool: AgentPoolProfileRow) => {
          pool.enableFIPS = true;
          pool.nodeImageVersion = peer.nodeImageVersion!;
        };
        if (this.judge(row.cluster, row.pool.name, change, at)?.status !== 'compliant') continue;
        change(row.pool);
        fixed += 1;
        break;
      }
    }
    return fixed;
  }

  private exempt(
    which: 'lapsing' | 'expiring',
    yesterday: Report,
    at: Date,
  ): { text: string; exemption: DemoExemption } | null {
    const noncompliant = yesterday.pools
      .filter((p) => p.status === 'noncompliant' && !this.reserved.has(p.id.toLowerCase()))
      .sort((a, b) => stableKey(a.id).localeCompare(stableKey(b.id)));
    const pool =
      which === 'lapsing'
        ? (noncompliant.find((p) => highCodes(p).includes('OS_RETIRED')) ?? noncompliant[0])
        : (noncompliant.find((p) => highCodes(p).join() === 'FIPS_DISABLED') ?? noncompliant[0]);
    if (!pool) return null;
    this.reserved.add(pool.id.toLowerCase());
    const last = this.days[this.days.length - 1]!;
    // The first runs out the day before today, so today's digest reports it lapsed; the second expires soon.
    const expiresOn =
      which === 'lapsing'
        ? isoDay(new Date(last.getTime() - DAY_IN_MS))
        : isoDay(new Date(last.getTime() + 10 * DAY_IN_MS));
    const exemption: DemoExemption = {
      id: `ex-${isoDay(at).replaceAll('-', '')}-${stableKey(pool.id).slice(0, 6)}`,
      scope: pool.id,
      codes: [...new Set(highCodes(pool))],
      reason:
        which === 'lapsing'
          ? 'Legacy workload moves to a Windows Server 2022 pool in the next sprint'
          : 'Vendor appliance certified on this image only until its Q1 release',
      owner: which === 'lapsing' ? 'platform-team' : 'network-team',
      ticket: which === 'lapsing' ? 'CHG0012345' : 'RISK-0042',
      expiresOn,
    };
    return {
      text: `${exemption.owner} exempted ${pool.cluster}/${pool.pool} until ${expiresOn} (${exemption.ticket})`,
      exemption,
    };
  }

  /** A team creates a cluster by copying one of its own, but leaves the FIPS image off. */
  private newCluster(yesterday: Report): { text: string } | null {
    const compliantByCluster = new Map<string, number>();
    for (const p of yesterday.pools) {
      if (p.status === 'compliant') {
        const id = p.id.slice(0, p.id.toLowerCase().indexOf('/agentpools/')).toLowerCase();
        compliantByCluster.set(id, (compliantByCluster.get(id) ?? 0) + 1);
      }
    }
    const source = [...this.estate.clusters]
      .filter((c) => c.properties.agentPoolProfiles.length >= 3)
      .sort(
        (a, b) =>
          (compliantByCluster.get(b.id.toLowerCase()) ?? 0) -
            (compliantByCluster.get(a.id.toLowerCase()) ?? 0) || a.id.localeCompare(b.id),
      )[0];
    if (!source) return null;
    const copy = structuredClone(source);
    const name = source.name.replace(
      /-[0-9a-z]+$/,
      `-${this.estate.clusters.length.toString(36).padStart(3, '0')}`,
    );
    copy.name = name;
    copy.id = source.id.replace(/\/managedClusters\/[^/]+$/i, `/managedClusters/${name}`);
    copy.properties.dnsPrefix = `${name}-dns`;
    copy.properties.fqdn = copy.properties.fqdn.replace(source.name, name);
    copy.properties.nodeResourceGroup = copy.properties.nodeResourceGroup.replace(source.name, name);
    for (const pool of copy.properties.agentPoolProfiles) {
      if (pool.osType === 'Linux') pool.enableFIPS = false;
    }
    this.estate.clusters.push(copy);
    const sub = this.estate.subscriptions.find((s) => s.subscriptionId === copy.subscriptionId);
    return {
      text: `a new cluster ${name} (${copy.properties.agentPoolProfiles.length} pools) appeared in ${sub?.name ?? copy.subscriptionId}, created without the FIPS image`,
    };
  }

  /** A user pool added to a compliant cluster without `--enable-fips-image`. */
  private newPool(yesterday: Report, at: Date): { text: string } | null {
    const compliant = yesterday.pools
      .filter((p) => p.status === 'compliant' && p.osType === 'Linux' && p.enableFips === true)
      .sort((a, b) => stableKey(a.id).localeCompare(stableKey(b.id)));
    for (const template of compliant) {
      const row = this.rowOf(template.id);
      if (!row) continue;
      const names = new Set(row.cluster.properties.agentPoolProfiles.map((p) => p.name));
      let name = 'gpu';
      for (let n = 2; names.has(name); n++) name = `gpu${n}`;
      const pool: AgentPoolProfileRow = {
        ...structuredClone(row.pool),
        name,
        mode: 'User',
        count: 2,
        vmSize: 'Standard_NC24ads_A100_v4',
        enableAutoScaling: false,
        enableFIPS: false,
      };
      delete pool.minCount;
      delete pool.maxCount;
      const probe = structuredClone(row.cluster);
      probe.properties.agentPoolProfiles.push(pool);
      if (this.judge(probe, name, () => undefined, at)?.status !== 'noncompliant') continue;
      row.cluster.properties.agentPoolProfiles.push(pool);
      return { text: `node pool ${name} was added to ${row.cluster.name} without the FIPS image` };
    }
    return null;
  }

  /** The subscription with the fewest pools (but some), so one unreadable day shows without hiding the estate. */
  private quietestSubscription(yesterday: Report): { subscriptionId: string; name: string } | null {
    const pools = new Map<string, number>();
    for (const p of yesterday.pools)
      pools.set(p.subscriptionId.toLowerCase(), (pools.get(p.subscriptionId.toLowerCase()) ?? 0) + 1);
    return (
      [...this.estate.subscriptions]
        .filter((s) => (pools.get(s.subscriptionId.toLowerCase()) ?? 0) > 0)
        .sort(
          (a, b) =>
            (pools.get(a.subscriptionId.toLowerCase()) ?? 0) -
              (pools.get(b.subscriptionId.toLowerCase()) ?? 0) || a.name.localeCompare(b.name),
        )[0] ?? null
    );
  }
}
