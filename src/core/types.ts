// The vocabulary of the audit: clusters and pools as read, findings, judged pools and the report.

export type CloudName = 'AzureCloud' | 'AzureUSGovernment' | 'AzureChinaCloud';
export type PoolStatus = 'compliant' | 'noncompliant' | 'exempt' | 'unknown';
export type Severity = 'high' | 'medium' | 'low' | 'info';
/**
 * `abandoned` is a failed status: the run stopped without completing (its worker died or lost the lease) and the
 * next audit found it so. Everything that treats `failed` treats `abandoned` the same.
 */
export type RunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'abandoned';
export const RUN_STATUSES = [
  'running',
  'succeeded',
  'partial',
  'failed',
  'abandoned',
] as const satisfies readonly RunStatus[];
export type RunTrigger = 'timer' | 'http' | 'cli';

export const FINDING_CODES = [
  'FIPS_DISABLED',
  'OS_NOT_FIPS_CAPABLE',
  'OS_RETIRED',
  'KUBERNETES_VERSION_UNSUPPORTED',
  'NODE_IMAGE_NOT_FIPS',
  'FIPS_140_2_MODULE',
  'NODE_IMAGE_OUTDATED',
  'FIPS_PLATFORM_DEFAULT',
  'OS_SKU_UNRECOGNIZED',
  'SCOPE_UNREADABLE',
  'NODE_AUTOPROVISIONING_UNAUDITED',
] as const;
export type FindingCode = (typeof FINDING_CODES)[number];

export interface Finding {
  code: FindingCode;
  severity: Severity;
  message: string;
  remediation: string;
  /** Codes that leave a pool undecided make it `unknown` whatever else was found. */
  undecided?: true;
}

/** One agent pool as read from Resource Graph or an export, casing already normalised. */
export interface PoolRecord {
  id: string;
  name: string;
  osType: string | null;
  osSku: string | null;
  enableFips: boolean | null;
  orchestratorVersion: string | null;
  currentOrchestratorVersion: string | null;
  nodeImageVersion: string | null;
  /** `vmSize`: the size of a VirtualMachineScaleSets pool; VirtualMachines pools may leave it empty. */
  vmSize: string | null;
  /**
   * The sizes of a VirtualMachines pool, from `virtualMachinesProfile.scale.manual[].size` and `autoscale[].size`
   * (a pool may mix several); empty for other pools. Checks of the pool's hardware read these and `vmSize`.
   */
  vmSizes: string[];
  mode: string | null;
  count: number | null;
  workloadRuntime: string | null;
  trustedLaunch: boolean;
  provisioningState: string | null;
  powerState: string | null;
}

/** One managed cluster with its pools. */
export interface ClusterRecord {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  kubernetesVersion: string | null;
  currentKubernetesVersion: string | null;
  nodeProvisioningMode: string | null;
  provisioningState: string | null;
  powerState: string | null;
  pools: PoolRecord[];
}

/** What is known of the latest node image for a pool, and how it was learnt. */
export type ImageFreshness =
  { basis: 'upgradeProfile'; latestNodeImageVersion: string } | { basis: 'buildDate'; reason: string };

export interface Exemption {
  id: string;
  scope: string;
  codes: FindingCode[] | null;
  reason: string;
  ticket: string | null;
  owner: string;
  createdBy: string;
  createdAt: string;
  expiresOn: string;
}

export interface PoolResult {
  id: string;
  subscriptionId: string;
  /** Display name from Resource Graph's resourcecontainers; absent when it could not be read. */
  subscriptionName?: string;
  resourceGroup: string;
  cluster: string;
  pool: string;
  location: string;
  osType: string | null;
  osSku: string | null;
  kubernetesVersion: string | null;
  nodeImageVersion: string | null;
  enableFips: boolean | null;
  status: PoolStatus;
  findings: Finding[];
  exemption: Exemption | null;
  /**
   * The value of the cluster tag named by AUDIT_OWNER_TAG, so work can be routed; null when the cluster has no
   * such tag. Absent when no owner tag is configured.
   */
  owner?: string | null;
}

export interface ClusterResult {
  id: string;
  findings: Finding[];
}

export interface ScopeError {
  scope: string;
  code: string;
  message: string;
}

/** One source of the FIPS matrix. `url` is a clean https URL, or null for a source given as text only. */
export interface MatrixSourceRef {
  url: string | null;
  title: string;
  /** When the source was read (ISO date); null for sources written before matrices recorded it. */
  retrieved: string | null;
}

export interface MatrixRef {
  version: string;
  /** The sources' URLs (the text where a source has none); runs stored before 2026-12-01 keep their strings. */
  sources: string[];
  sourceDetails: MatrixSourceRef[];
}

export interface RunInfo {
  id: string;
  trigger: RunTrigger;
  status: RunStatus;
  startedAt: string;
  finishedAt: string | null;
  cloud: CloudName;
  matrix: MatrixRef;
}

/** Pools of one group (a subscription, an owner) by status. */
export interface StatusCounts {
  pools: number;
  compliant: number;
  noncompliant: number;
  exempt: number;
  unknown: number;
}

/** How many pools (and clusters) carry one finding code, and what fixing it would change. */
export interface CodeBreakdown {
  code: FindingCode;
  severity: Severity;
  /** Pools with a finding of this code, whatever their status. */
  pools: number;
  noncompliant: number;
  exempt: number;
  unknown: number;
  /** Noncompliant pools whose every high finding has this code: fixing it alone makes them compliant. */
  resolves: number;
  /** Clusters with a cluster-level finding of this code. */
  clusters: number;
  /** The fix, in one line, with the `az` command where there is one (backticks mark the command). */
  fix: string;
}

export interface SubscriptionBreakdown extends StatusCounts {
  subscriptionId: string;
  subscriptionName?: string;
  /** The row that sums every subscription past the stored limit (MAX_BREAKDOWN_ROWS). */
  other?: true;
}

export interface OwnerBreakdown extends StatusCounts {
  /** The owner tag's value; null for pools whose cluster has no such tag. */
  owner: string | null;
  /** The row that sums every owner past the stored limit (MAX_BREAKDOWN_ROWS). */
  other?: true;
}

/** The report's summary: the run's counts, and the breakdowns counted as the run went (absent in older runs). */
export interface Summary {
  subscriptions: number;
  clusters: number;
  pools: number;
  compliant: number;
  noncompliant: number;
  exempt: number;
  unknown: number;
  /** See core/compliancePercent.ts; null when no pool was judged. */
  compliancePercent?: number | null;
  /** One entry per finding code found, in fix-first order. */
  byCode?: CodeBreakdown[];
  /** One entry per subscription with pools, most noncompliant first. */
  bySubscription?: SubscriptionBreakdown[];
  /** One entry per owner tag value (and one for pools without it) when AUDIT_OWNER_TAG is set. */
  byOwner?: OwnerBreakdown[];
}

export interface Report {
  schemaVersion: 1;
  run: RunInfo;
  summary: Summary;
  pools: PoolResult[];
  clusters: ClusterResult[];
  errors: ScopeError[];
}
