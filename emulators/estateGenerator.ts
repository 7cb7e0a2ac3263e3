// Seeded, reproducible AKS estates (clusters as Resource Graph rows) covering every FIPS trap, plus CLI-shaped exports.

/** One `agentPoolProfiles[]` entry in the resource provider's REST casing, as Resource Graph returns it. */
export interface AgentPoolProfileRow {
  name: string;
  count: number;
  vmSize: string;
  osDiskSizeGB: number;
  osDiskType: string;
  kubeletDiskType: string;
  maxPods: number;
  /** `VirtualMachines` pools come from withHeavyPools; their sizes are in `virtualMachinesProfile`. */
  type: 'VirtualMachineScaleSets' | 'VirtualMachines';
  enableAutoScaling: boolean;
  minCount?: number;
  maxCount?: number;
  provisioningState: string;
  powerState: { code: 'Running' | 'Stopped' };
  orchestratorVersion: string;
  currentOrchestratorVersion?: string;
  nodeImageVersion: string;
  enableNodePublicIP: boolean;
  mode: 'System' | 'User';
  osType: 'Linux' | 'Windows';
  /** Absent on old clusters. */
  osSKU?: string;
  /** `false` or absent both mean off. */
  enableFIPS?: boolean;
  workloadRuntime?: string;
  securityProfile?: { enableSecureBoot: boolean; enableVTPM: boolean };
  upgradeSettings: { maxSurge: string };
  /** VirtualMachines pools: the sizes AKS may use (ManualScaleProfile / AutoScaleProfile, api-version 2026-06-01). */
  virtualMachinesProfile?: {
    scale: {
      manual?: { size: string; count: number }[];
      autoscale?: { size: string; minCount: number; maxCount: number }[];
    };
  };
  nodeLabels?: Record<string, string>;
  nodeTaints?: string[];
  tags?: Record<string, string>;
}

/** One managed cluster as a Resource Graph `resources` row (REST casing; `type` and `resourceGroup` lowercased). */
export interface ClusterRow {
  id: string;
  name: string;
  type: 'microsoft.containerservice/managedclusters';
  tenantId: string;
  kind: string;
  location: string;
  resourceGroup: string;
  subscriptionId: string;
  managedBy: string;
  sku: { name: string; tier: string };
  plan: null;
  identity: { type: string };
  zones: null;
  extendedLocation: null;
  tags: Record<string, string>;
  properties: {
    provisioningState: string;
    powerState: { code: 'Running' | 'Stopped' };
    kubernetesVersion: string;
    currentKubernetesVersion: string;
    dnsPrefix: string;
    fqdn: string;
    nodeResourceGroup: string;
    enableRBAC: boolean;
    supportPlan: string;
    maxAgentPools: number;
    agentPoolProfiles: AgentPoolProfileRow[];
    nodeProvisioningProfile?: { mode: 'Auto' | 'Manual' };
    securityProfile: Record<string, unknown>;
  };
}

export interface SubscriptionRow {
  subscriptionId: string;
  name: string;
}

export interface Estate {
  clusters: ClusterRow[];
  subscriptions: SubscriptionRow[];
  /** Management group ID → IDs of the subscriptions under it (any depth). */
  managementGroups: Record<string, string[]>;
  /** `${location}|${imageFamily}` → the latest node image version AKS offers there. */
  latestNodeImages: Record<string, string>;
}

export interface EstateOptions {
  seed: number;
  /** Exact number of agent pools in the estate. */
  pools: number;
  /** Default max(1, round(pools / 50)). */
  subscriptions?: number;
  /** Mean pools per cluster (1-7 around it); default 4. */
  poolsPerCluster?: number;
  /** Default 1 (`mg-fips-prod` with about half the subscriptions). */
  managementGroups?: number;
  /** One subscription named like an XSS payload and one tag value like a spreadsheet formula (tests only). */
  hostileNames?: boolean;
  /**
   * Clusters named and tagged for their subscription's team and environment (`payments-prod-001` holds
   * `aks-payments-prod-…`), as a real estate is; default false, where each cluster draws its own. Either way
   * the estate is the same apart from names and tags: the same random draws are made.
   */
  namesFollowSubscription?: boolean;
  /**
   * How clusters are placed on subscriptions. `skewed` (default): one cluster in each subscription first, then
   * the rest drawn towards a few heavy subscriptions; `even`: round-robin, so every subscription holds as many
   * clusters as any other (±1). The same random draws are made either way.
   */
  spread?: 'skewed' | 'even';
  /**
   * Clusters in the first subscription, whatever the spread (e.g. 5,000, the AKS limit per subscription); the
   * other clusters go to the other subscriptions as `spread` says. Needs at least two subscriptions.
   */
  largestSubscriptionClusters?: number;
}

export const HOSTILE_SUBSCRIPTION_NAME = '<img src=x onerror=alert(1)>';
export const HOSTILE_TAG_VALUE = '=HYPERLINK("http://x")';

/**
 * The image family of a node image version: the name without its trailing version
 * (`AKSUbuntu-2204gen2fipscontainerd-202511.20.0` → `AKSUbuntu-2204gen2fipscontainerd`,
 * `AKSWindows-2022-containerd-20348.2966.250101` → `AKSWindows-2022-containerd`).
 */
export function imageFamilyOf(nodeImageVersion: string): string {
  const match = /^(.*)-\d+(?:\.\d+)+$/.exec(nodeImageVersion);
  return match?.[1] ?? nodeImageVersion;
}

/** Compares two node image versions of one family by their numeric version parts. */
export function compareNodeImageVersions(a: string, b: string): number {
  const partsOf = (v: string): number[] =>
    (/-(\d+(?:\.\d+)+)$/.exec(v)?.[1] ?? '').split('.').map((n) => Number(n) || 0);
  const pa = partsOf(a);
  const pb = partsOf(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Seeded randomness

type Rng = () => number;

function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function intBetween(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function chance(rng: Rng, probability: number): boolean {
  return rng() < probability;
}

function guid(rng: Rng): string {
  let hex = '';
  for (let i = 0; i < 32; i++) hex += Math.floor(rng() * 16).toString(16);
  const variant = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function shuffle<T>(rng: Rng, items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = items[i] as T;
    items[i] = items[j] as T;
    items[j] = tmp;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Node image families and their release history

const dayInMs = 24 * 60 * 60 * 1000;

interface ImageFamily {
  family: string;
  /** First and last release, `YYYY-MM-DD`; the last is what `latestNodeImages` offers. */
  from: string;
  to: string;
  /** Windows: the OS build and a known revision at a known month, to derive realistic revisions. */
  windows?: { build: number; revision: number; atMonth: string };
}

// Families as AKS names them in nodeImageVersion: `<gallery>-<image definition>` (Azure/AgentBaker
// pkg/agent/datamodel/sig_config.go; the Karpenter provider's node image fixture lists the same names), so the
// matrix's image patterns meet what real pools report. `to` is the last release; frozen or retired families stop.
const F = {
  // The last Ubuntu 18.04 FIPS image is 202506.16.0 (AgentBaker release notes): 18.04 retired on 2025-06-17.
  ubuntu1804Fips: { family: 'AKSUbuntu-1804gen2fipscontainerd', from: '2021-03-01', to: '2025-06-16' },
  ubuntu2004Fips: { family: 'AKSUbuntu-2004fipscontainerd', from: '2022-06-01', to: '2026-11-17' },
  ubuntu2004Gen2Fips: { family: 'AKSUbuntu-2004gen2fipscontainerd', from: '2022-06-01', to: '2026-11-17' },
  ubuntu2004Cvm: { family: 'AKSUbuntu-2004gen2CVMcontainerd', from: '2023-06-01', to: '2026-11-17' },
  ubuntu2204Gen2Fips: { family: 'AKSUbuntu-2204gen2fipscontainerd', from: '2025-01-10', to: '2026-11-17' },
  ubuntu2204Gen2: { family: 'AKSUbuntu-2204gen2containerd', from: '2023-01-05', to: '2026-11-17' },
  ubuntu2204Gen2Tl: { family: 'AKSUbuntu-2204gen2TLcontainerd', from: '2024-03-01', to: '2026-11-17' },
  ubuntu2204Gen2FipsTl: {
    family: 'AKSUbuntu-2204gen2fipsTLcontainerd',
    from: '2026-05-05',
    to: '2026-11-17',
  },
  ubuntu2204Arm64: { family: 'AKSUbuntu-2204gen2arm64containerd', from: '2023-06-01', to: '2026-11-17' },
  ubuntu2404Gen2: { family: 'AKSUbuntu-2404gen2containerd', from: '2025-01-10', to: '2026-11-17' },
  ubuntu2604Gen2: { family: 'AKSUbuntu-2604minimalgen2containerd', from: '2026-06-20', to: '2026-11-17' },
  // Azure Linux 2.0 (and CBL-Mariner 2.0) images are frozen at 202512.06.0 (AgentBaker).
  marinerV2Fips: { family: 'AKSCBLMariner-V2gen2fips', from: '2023-01-10', to: '2025-12-06' },
  marinerV2: { family: 'AKSCBLMariner-V2gen2', from: '2023-01-10', to: '2025-12-06' },
  azureLinuxV2Fips: { family: 'AKSAzureLinux-V2gen2fips', from: '2023-06-01', to: '2025-12-06' },
  azureLinuxV3Fips: { family: 'AKSAzureLinux-V3gen2fips', from: '2024-10-01', to: '2026-11-15' },
  azureLinuxV3Arm64Fips: { family: 'AKSAzureLinux-V3gen2arm64fips', from: '2024-10-01', to: '2026-11-15' },
  azureLinuxV3Kata: { family: 'AKSAzureLinux-V3katagen2', from: '2024-10-01', to: '2026-11-15' },
  azureLinuxV3: { family: 'AKSAzureLinux-V3gen2', from: '2024-10-01', to: '2026-11-15' },
  osGuard: { family: 'AKSAzureLinux-OSGuardV3gen2fipsTL', from: '2025-09-01', to: '2026-11-15' },
  azureContainerLinuxFips: { family: 'AKSAzureLinux-aclgen2fipsTL', from: '2026-05-29', to: '2026-11-15' },
  azureContainerLinuxArm64Fips: {
    family: 'AKSAzureLinux-aclgen2arm64fipsTL',
    from: '2026-05-29',
    to: '2026-11-15',
  },
  // Flatcar for AKS was retired on 2026-06-08: no images after it.
  flatcar: { family: 'AKSFlatcar-flatcargen2', from: '2025-04-01', to: '2026-06-02' },
  // Deliberately not an AKS OS: the unrecognised-SKU trap.
  fooOs: { family: 'AKSFooOS-gen2', from: '2025-01-01', to: '2026-10-01' },
  windows2019: {
    family: 'AKSWindows-2019-containerd',
    from: '2022-01-11',
    to: '2026-02-10',
    windows: { build: 17763, revision: 5830, atMonth: '2024-06' },
  },
  windows2022: {
    family: 'AKSWindows-2022-containerd',
    from: '2023-01-10',
    to: '2026-11-11',
    windows: { build: 20348, revision: 2966, atMonth: '2025-01' },
  },
  windows2025: {
    family: 'AKSWindows-2025-gen2',
    from: '2025-05-13',
    to: '2026-11-11',
    windows: { build: 26100, revision: 4061, atMonth: '2025-05' },
  },
  windowsAnnual: {
    family: 'AKSWindows-23H2-gen2',
    from: '2024-04-09',
    to: '2026-05-12',
    windows: { build: 25398, revision: 1251, atMonth: '2024-11' },
  },
} satisfies Record<string, ImageFamily>;

function monthIndex(date: Date): number {
  return date.getUTCFullYear() * 12 + date.getUTCMonth();
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** A node image version of `family` released on `date`. */
function imageVersion(family: ImageFamily, date: Date, build: number): string {
  const yyyy = date.getUTCFullYear();
  const mm = pad2(date.getUTCMonth() + 1);
  const dd = pad2(date.getUTCDate());
  if (family.windows) {
    const { build: osBuild, revision, atMonth } = family.windows;
    const months = monthIndex(date) - monthIndex(new Date(`${atMonth}-01T00:00:00Z`));
    const rev = Math.max(100, revision + months * 60);
    return `${family.family}-${osBuild}.${rev}.${String(yyyy).slice(2)}${mm}${dd}`;
  }
  return `${family.family}-${yyyy}${mm}.${dd}.${build}`;
}

function latestImageOf(family: ImageFamily): string {
  return imageVersion(family, new Date(`${family.to}T00:00:00Z`), 0);
}

/** A version of the family: about a third are the latest, the rest spread over the family's history. */
function someImageOf(rng: Rng, family: ImageFamily): string {
  if (chance(rng, 0.3)) return latestImageOf(family);
  const fromInMs = Date.parse(`${family.from}T00:00:00Z`);
  const toInMs = Date.parse(`${family.to}T00:00:00Z`);
  const days = Math.floor((toInMs - fromInMs) / dayInMs);
  const day = intBetween(rng, 0, Math.max(0, days - 1));
  return imageVersion(family, new Date(fromInMs + day * dayInMs), chance(rng, 0.1) ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Pool archetypes: every trap of the FIPS matrix, with a realistic weight

interface Archetype {
  key: string;
  osType: 'Linux' | 'Windows';
  /** `undefined`: the property is absent. */
  osSku: string | undefined;
  /** `undefined`: `enableFIPS` is absent. */
  fips: boolean | undefined;
  /** Kubernetes minor versions (1.x) the pool may run, inclusive. */
  minors: [number, number];
  image: ImageFamily;
  weight: number;
  poolName: string;
  vmSizes?: readonly string[];
  workloadRuntime?: string;
  trustedLaunch?: boolean;
}

const LINUX_SIZES = [
  'Standard_D4s_v5',
  'Standard_D8s_v5',
  'Standard_D4ds_v5',
  'Standard_E8s_v5',
  'Standard_DS2_v2',
];
const WINDOWS_SIZES = ['Standard_D4s_v5', 'Standard_D8s_v5', 'Standard_D4ds_v5'];
const ARM64_SIZES = ['Standard_D4ps_v5', 'Standard_D8ps_v5', 'Standard_E4ps_v5'];
/** ACL on Arm64 needs the Cobalt-based v6 sizes (Trusted Launch). */
const COBALT_ARM64_SIZES = ['Standard_D4ps_v6', 'Standard_D8pds_v6', 'Standard_E4ps_v6'];
const CONFIDENTIAL_SIZES = ['Standard_DC4as_v5', 'Standard_DC8as_v5', 'Standard_EC4as_v5'];

const ARCHETYPES: readonly Archetype[] = [
  {
    key: 'ubuntu-1.26-fips',
    osType: 'Linux',
    osSku: 'Ubuntu',
    fips: true,
    minors: [26, 26],
    image: F.ubuntu1804Fips,
    weight: 2,
    poolName: 'fips',
  },
  {
    key: 'ubuntu-1.30-fips',
    osType: 'Linux',
    osSku: 'Ubuntu',
    fips: true,
    minors: [30, 30],
    image: F.ubuntu2004Fips,
    weight: 6,
    poolName: 'fips',
  },
  {
    key: 'ubuntu-1.33-fips',
    osType: 'Linux',
    osSku: 'Ubuntu',
    fips: true,
    minors: [33, 33],
    image: F.ubuntu2004Gen2Fips,
    weight: 10,
    poolName: 'fips',
  },
  {
    key: 'ubuntu-1.35-fips',
    osType: 'Linux',
    osSku: 'Ubuntu',
    fips: true,
    minors: [35, 35],
    image: F.ubuntu2204Gen2Fips,
    weight: 6,
    poolName: 'fips',
  },
  {
    key: 'ubuntu-fips-false',
    osType: 'Linux',
    osSku: 'Ubuntu',
    fips: false,
    minors: [28, 34],
    image: F.ubuntu2204Gen2,
    weight: 12,
    poolName: 'apps',
  },
  {
    key: 'ubuntu-fips-absent',
    osType: 'Linux',
    osSku: 'Ubuntu',
    fips: undefined,
    minors: [29, 34],
    image: F.ubuntu2204Gen2,
    weight: 8,
    poolName: 'user',
  },
  {
    key: 'ubuntu-fips-drift',
    osType: 'Linux',
    osSku: 'Ubuntu',
    fips: true,
    minors: [30, 34],
    image: F.ubuntu2204Gen2,
    weight: 2,
    poolName: 'fips',
  },
  {
    key: 'ubuntu-1.34-fips-gen1',
    osType: 'Linux',
    osSku: 'Ubuntu',
    fips: true,
    minors: [34, 34],
    image: F.ubuntu2004Fips,
    weight: 2,
    poolName: 'batch',
  },
  {
    key: 'ubuntu2204-fips-trustedlaunch',
    osType: 'Linux',
    osSku: 'Ubuntu2204',
    fips: true,
    minors: [32, 36],
    image: F.ubuntu2204Gen2FipsTl,
    weight: 4,
    poolName: 'tlfips',
    trustedLaunch: true,
  },
  {
    key: 'ubuntu2204-fips-false',
    osType: 'Linux',
    osSku: 'Ubuntu2204',
    fips: false,
    minors: [30, 35],
    image: F.ubuntu2204Gen2,
    weight: 4,
    poolName: 'u2204',
  },
  {
    key: 'ubuntu2404',
    osType: 'Linux',
    osSku: 'Ubuntu2404',
    fips: undefined,
    minors: [34, 36],
    image: F.ubuntu2404Gen2,
    weight: 6,
    poolName: 'u2404',
  },
  {
    key: 'ubuntu2604',
    osType: 'Linux',
    osSku: 'Ubuntu2604',
    fips: false,
    minors: [36, 36],
    image: F.ubuntu2604Gen2,
    weight: 1,
    poolName: 'u2604',
  },
  {
    key: 'azurelinux-1.30-fips',
    osType: 'Linux',
    osSku: 'AzureLinux',
    fips: true,
    minors: [30, 30],
    image: F.azureLinuxV2Fips,
    weight: 3,
    poolName: 'azl',
  },
  {
    key: 'azurelinux-1.33-fips',
    osType: 'Linux',
    osSku: 'AzureLinux',
    fips: true,
    minors: [33, 33],
    image: F.azureLinuxV3Fips,
    weight: 5,
    poolName: 'azl',
  },
  {
    key: 'azurelinux3-fips',
    osType: 'Linux',
    osSku: 'AzureLinux3',
    fips: true,
    minors: [31, 36],
    image: F.azureLinuxV3Fips,
    weight: 6,
    poolName: 'azl3',
  },
  {
    key: 'azurelinux3-arm64-fips',
    osType: 'Linux',
    osSku: 'AzureLinux3',
    fips: true,
    minors: [31, 36],
    image: F.azureLinuxV3Arm64Fips,
    weight: 2,
    poolName: 'arm64',
    vmSizes: ARM64_SIZES,
  },
  {
    key: 'azurelinux3-fips-false',
    osType: 'Linux',
    osSku: 'AzureLinux3',
    fips: false,
    minors: [31, 36],
    image: F.azureLinuxV3,
    weight: 3,
    poolName: 'azl3',
  },
  {
    key: 'cblmariner-fips',
    osType: 'Linux',
    osSku: 'CBLMariner',
    fips: true,
    minors: [27, 31],
    image: F.marinerV2Fips,
    weight: 2,
    poolName: 'mariner',
  },
  {
    key: 'mariner',
    osType: 'Linux',
    osSku: 'Mariner',
    fips: false,
    minors: [26, 30],
    image: F.marinerV2,
    weight: 1,
    poolName: 'mariner',
  },
  {
    key: 'azurelinux-osguard',
    osType: 'Linux',
    osSku: 'AzureLinuxOSGuard',
    fips: true,
    minors: [34, 36],
    image: F.osGuard,
    weight: 1,
    poolName: 'osguard',
    trustedLaunch: true,
  },
  {
    key: 'azurelinux3-osguard',
    osType: 'Linux',
    osSku: 'AzureLinux3OSGuard',
    fips: true,
    minors: [33, 36],
    image: F.osGuard,
    weight: 1,
    poolName: 'osguard3',
    trustedLaunch: true,
  },
  {
    key: 'azurecontainerlinux',
    osType: 'Linux',
    osSku: 'AzureContainerLinux',
    fips: true,
    minors: [35, 36],
    image: F.azureContainerLinuxFips,
    weight: 1,
    poolName: 'acl',
    trustedLaunch: true,
  },
  {
    key: 'azurecontainerlinux-arm64-fips',
    osType: 'Linux',
    osSku: 'AzureContainerLinux',
    fips: true,
    minors: [34, 36],
    image: F.azureContainerLinuxArm64Fips,
    weight: 1,
    poolName: 'aclarm',
    vmSizes: COBALT_ARM64_SIZES,
    trustedLaunch: true,
  },
  {
    key: 'flatcar',
    osType: 'Linux',
    osSku: 'Flatcar',
    fips: undefined,
    minors: [32, 36],
    image: F.flatcar,
    weight: 1,
    poolName: 'flatcar',
  },
  {
    key: 'ubuntu-arm64-fips',
    osType: 'Linux',
    osSku: 'Ubuntu',
    fips: true,
    minors: [31, 34],
    image: F.ubuntu2204Arm64,
    weight: 1,
    poolName: 'arm64',
    vmSizes: ARM64_SIZES,
  },
  {
    // AKS has confidential VM images for Ubuntu 20.04 and 24.04, none with FIPS (node images page).
    key: 'ubuntu-confidential-fips',
    osType: 'Linux',
    osSku: 'Ubuntu',
    fips: true,
    minors: [30, 34],
    image: F.ubuntu2004Cvm,
    weight: 1,
    poolName: 'cvm',
    vmSizes: CONFIDENTIAL_SIZES,
  },
  {
    key: 'azurelinux3-kata-fips',
    osType: 'Linux',
    osSku: 'AzureLinux3',
    fips: true,
    minors: [32, 36],
    image: F.azureLinuxV3Kata,
    weight: 1,
    poolName: 'kata',
    workloadRuntime: 'KataVmIsolation',
  },
  {
    key: 'ubuntu-trustedlaunch-fips',
    osType: 'Linux',
    osSku: 'Ubuntu',
    fips: true,
    minors: [29, 33],
    image: F.ubuntu2204Gen2Tl,
    weight: 1,
    poolName: 'tl',
    trustedLaunch: true,
  },
  {
    key: 'linux-ossku-missing',
    osType: 'Linux',
    osSku: undefined,
    fips: true,
    minors: [21, 24],
    image: F.ubuntu1804Fips,
    weight: 1,
    poolName: 'legacy',
  },
  {
    key: 'ubuntu-1.18-fips',
    osType: 'Linux',
    osSku: 'Ubuntu',
    fips: true,
    minors: [18, 18],
    image: F.ubuntu1804Fips,
    weight: 1,
    poolName: 'old',
  },
  {
    key: 'fooos-unrecognised',
    osType: 'Linux',
    osSku: 'FooOS',
    fips: true,
    minors: [33, 35],
    image: F.fooOs,
    weight: 1,
    poolName: 'foo',
  },
  {
    key: 'windows2019-fips',
    osType: 'Windows',
    osSku: 'Windows2019',
    fips: true,
    minors: [24, 32],
    image: F.windows2019,
    weight: 2,
    poolName: 'w19',
  },
  {
    key: 'windows2019-fips-absent',
    osType: 'Windows',
    osSku: 'Windows2019',
    fips: undefined,
    minors: [26, 32],
    image: F.windows2019,
    weight: 1,
    poolName: 'w19',
  },
  {
    key: 'windows2022-fips-absent',
    osType: 'Windows',
    osSku: 'Windows2022',
    fips: undefined,
    minors: [28, 36],
    image: F.windows2022,
    weight: 4,
    poolName: 'w22',
  },
  {
    key: 'windows2022-fips',
    osType: 'Windows',
    osSku: 'Windows2022',
    fips: true,
    minors: [28, 36],
    image: F.windows2022,
    weight: 2,
    poolName: 'w22',
  },
  {
    key: 'windows2025',
    osType: 'Windows',
    osSku: 'Windows2025',
    fips: undefined,
    minors: [32, 36],
    image: F.windows2025,
    weight: 2,
    poolName: 'w25',
  },
  {
    key: 'windowsannual',
    osType: 'Windows',
    osSku: 'WindowsAnnual',
    fips: false,
    minors: [28, 32],
    image: F.windowsAnnual,
    weight: 1,
    poolName: 'wan',
  },
  {
    key: 'windows-ossku-missing-old',
    osType: 'Windows',
    osSku: undefined,
    fips: true,
    minors: [22, 24],
    image: F.windows2019,
    weight: 1,
    poolName: 'win',
  },
  {
    key: 'windows-ossku-missing-new',
    osType: 'Windows',
    osSku: undefined,
    fips: undefined,
    minors: [25, 30],
    image: F.windows2022,
    weight: 1,
    poolName: 'win',
  },
];

/** Every `osSKU` value the generator can emit (missing osSKU aside). */
export const GENERATED_OS_SKUS: readonly string[] = [
  ...new Set(ARCHETYPES.map((a) => a.osSku).filter((s): s is string => s !== undefined)),
];

/** How many pools an estate needs so that every archetype (FIPS trap) appears at least once. */
export const ARCHETYPE_COUNT = ARCHETYPES.length;

const TOTAL_WEIGHT = ARCHETYPES.reduce((sum, a) => sum + a.weight, 0);

function weightedArchetype(rng: Rng): Archetype {
  let r = rng() * TOTAL_WEIGHT;
  for (const a of ARCHETYPES) {
    r -= a.weight;
    if (r < 0) return a;
  }
  return ARCHETYPES[ARCHETYPES.length - 1] as Archetype;
}

// ---------------------------------------------------------------------------------------------------------------
// The estate

const TEAMS = [
  'payments',
  'identity',
  'search',
  'checkout',
  'ml',
  'platform',
  'data',
  'edge',
  'billing',
  'risk',
];
const ENVS = ['prod', 'dev', 'test', 'stage'];
const LOCATIONS = [
  'eastus',
  'eastus2',
  'westeurope',
  'northeurope',
  'westus3',
  'uksouth',
  'centralus',
  'southeastasia',
  'swedencentral',
];

function mixedCase(rng: Rng, word: string): string {
  switch (intBetween(rng, 0, 3)) {
    case 0:
      return word;
    case 1:
      return word.toUpperCase();
    case 2:
      return word.charAt(0).toUpperCase() + word.slice(1);
    default:
      return word.replace(/[aeiou]/g, (c) => c.toUpperCase());
  }
}

function k8sVersion(minor: number, patch: number): string {
  return `1.${minor}.${patch}`;
}

function patchFor(rng: Rng, minor: number): number {
  return intBetween(rng, 0, minor >= 35 ? 3 : 9);
}

/** Cluster sizes that add up to exactly `pools`. */
function clusterSizes(rng: Rng, pools: number, mean: number): number[] {
  const spread = Math.max(0, Math.min(mean - 1, 7 - mean, 3));
  const upper = Math.max(7, mean);
  const sizes: number[] = [];
  let remaining = pools;
  while (remaining > 0) {
    const size = Math.min(remaining, Math.max(1, Math.min(upper, mean + intBetween(rng, -spread, spread))));
    sizes.push(size);
    remaining -= size;
  }
  return sizes;
}

export function generateEstate(opts: EstateOptions): Estate {
  const rng = mulberry32(opts.seed);
  const poolTotal = Math.max(0, Math.floor(opts.pools));
  const subscriptionCount = Math.max(1, opts.subscriptions ?? Math.round(poolTotal / 50));
  const mean = Math.max(1, Math.round(opts.poolsPerCluster ?? 4));
  const managementGroupCount = opts.managementGroups ?? 1;
  const tenantId = guid(rng);

  // Subscriptions, each with a couple of resource groups in the user's own casing.
  const subscriptions: SubscriptionRow[] = [];
  const resourceGroupsOf: string[][] = [];
  const ownersOf: { team: string; env: string }[] = [];
  for (let s = 0; s < subscriptionCount; s++) {
    const team = pick(rng, TEAMS);
    const env = pick(rng, ENVS);
    ownersOf.push({ team, env });
    const name =
      opts.hostileNames && s === 0
        ? HOSTILE_SUBSCRIPTION_NAME
        : `${team}-${env}-${String(s + 1).padStart(3, '0')}`;
    subscriptions.push({ subscriptionId: guid(rng), name });
    const groups: string[] = [];
    const groupCount = intBetween(rng, 1, 3);
    for (let g = 0; g < groupCount; g++) {
      const rgTeam = g === 0 ? team : pick(rng, TEAMS);
      groups.push(
        `${chance(rng, 0.2) ? 'RG' : 'rg'}-${mixedCase(rng, rgTeam)}-${mixedCase(rng, env)}${g ? `-${g}` : ''}`,
      );
    }
    resourceGroupsOf.push(groups);
  }

  // Pool archetype slots: every archetype once (as far as the pool count allows), the rest by weight, shuffled.
  const slots: Archetype[] = [];
  for (let i = 0; i < poolTotal; i++) {
    slots.push(i < ARCHETYPES.length ? (ARCHETYPES[i] as Archetype) : weightedArchetype(rng));
  }
  shuffle(rng, slots);

  const sizes = clusterSizes(rng, poolTotal, mean);
  const clusters: ClusterRow[] = [];
  let cursor = 0;
  sizes.forEach((size, clusterIndex) => {
    // A cluster's first (system) pool must be Linux: pull the next Linux slot forward if needed.
    if (slots[cursor]?.osType === 'Windows') {
      let linuxAt = cursor + 1;
      while (linuxAt < slots.length && slots[linuxAt]?.osType !== 'Linux') linuxAt++;
      if (linuxAt < slots.length) {
        const tmp = slots[cursor] as Archetype;
        slots[cursor] = slots[linuxAt] as Archetype;
        slots[linuxAt] = tmp;
      }
    }
    const archetypes = slots.slice(cursor, cursor + size);
    cursor += size;

    const skewedIndex =
      clusterIndex < subscriptionCount
        ? clusterIndex
        : Math.min(subscriptionCount - 1, Math.floor(subscriptionCount * rng() * rng() * 1.5));
    const subIndex = placeCluster(clusterIndex, skewedIndex, subscriptionCount, opts);
    const sub = subscriptions[subIndex] as SubscriptionRow;
    const resourceGroup = pick(rng, resourceGroupsOf[subIndex] ?? ['rg-default']);
    clusters.push(
      buildCluster(rng, {
        archetypes,
        clusterIndex,
        sub,
        resourceGroup,
        tenantId,
        hostile: !!opts.hostileNames,
        ...(opts.namesFollowSubscription ? { owner: ownersOf[subIndex] } : {}),
      }),
    );
  });

  // Management groups.
  const managementGroups: Record<string, string[]> = {};
  const mgNames = ['mg-fips-prod', 'mg-fips-nonprod', 'mg-sandbox', 'mg-platform'];
  for (let m = 0; m < managementGroupCount; m++) {
    const name = mgNames[m] ?? `mg-fips-${m + 1}`;
    const share = m === 0 ? 0.5 : 0.25;
    const members = subscriptions.filter(() => chance(rng, share)).map((s) => s.subscriptionId);
    const first = subscriptions[m % subscriptions.length];
    if (members.length === 0 && first) members.push(first.subscriptionId);
    managementGroups[name] = members;
  }

  // Latest node images per location and family: at or newer than every pool's; a few regions lag behind.
  const newestObserved = new Map<string, string>();
  const familyByName = new Map<string, ImageFamily>(Object.values(F).map((f: ImageFamily) => [f.family, f]));
  for (const cluster of clusters) {
    for (const pool of cluster.properties.agentPoolProfiles) {
      const key = `${cluster.location}|${imageFamilyOf(pool.nodeImageVersion)}`;
      const seen = newestObserved.get(key);
      if (!seen || compareNodeImageVersions(pool.nodeImageVersion, seen) > 0)
        newestObserved.set(key, pool.nodeImageVersion);
    }
  }
  const latestNodeImages: Record<string, string> = {};
  for (const key of [...newestObserved.keys()].sort()) {
    const observed = newestObserved.get(key) as string;
    const family = familyByName.get(key.slice(key.indexOf('|') + 1));
    const newest = family ? latestImageOf(family) : observed;
    latestNodeImages[key] =
      chance(rng, 0.15) || compareNodeImageVersions(newest, observed) < 0 ? observed : newest;
  }

  return { clusters, subscriptions, managementGroups, latestNodeImages };
}

/** The subscription of cluster `clusterIndex` under the estate's `spread` and `largestSubscriptionClusters`. */
function placeCluster(
  clusterIndex: number,
  skewedIndex: number,
  subscriptionCount: number,
  opts: EstateOptions,
): number {
  const largest = opts.largestSubscriptionClusters;
  if (largest !== undefined && subscriptionCount > 1) {
    if (clusterIndex < largest) return 0;
    const rest = clusterIndex - largest;
    return opts.spread === 'even' ? 1 + (rest % (subscriptionCount - 1)) : Math.max(1, skewedIndex);
  }
  return opts.spread === 'even' ? clusterIndex % subscriptionCount : skewedIndex;
}

interface ClusterSeed {
  archetypes: Archetype[];
  clusterIndex: number;
  sub: SubscriptionRow;
  resourceGroup: string;
  tenantId: string;
  hostile: boolean;
  /** The subscription's team and environment, when cluster names follow them. */
  owner?: { team: string; env: string } | undefined;
}

function buildCluster(rng: Rng, seed: ClusterSeed): ClusterRow {
  const { archetypes, clusterIndex, sub, resourceGroup, tenantId } = seed;
  // Drawn even when the subscription's are used, so the option changes names and tags and nothing else.
  const drawnTeam = pick(rng, TEAMS);
  const drawnEnv = pick(rng, ENVS);
  const team = seed.owner?.team ?? drawnTeam;
  const env = seed.owner?.env ?? drawnEnv;
  const name = `aks-${team}-${env}-${clusterIndex.toString(36).padStart(3, '0')}`;
  const location = pick(rng, LOCATIONS);
  const id = `/subscriptions/${sub.subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${name}`;

  // Pool minors: the first pool anywhere in its range, the others as close to it as their range allows.
  const first = archetypes[0];
  const baseMinor = first ? intBetween(rng, first.minors[0], first.minors[1]) : 33;
  const minors = archetypes.map((a, i) => {
    const wanted = i === 0 ? baseMinor : baseMinor - intBetween(rng, 0, 1);
    return Math.min(a.minors[1], Math.max(a.minors[0], wanted));
  });
  const clusterMinor = minors.length ? Math.max(...minors) : baseMinor;
  const clusterPatch = patchFor(rng, clusterMinor);
  const clusterVersion = k8sVersion(clusterMinor, clusterPatch);
  const stopped = chance(rng, 0.03);

  const usedNames = new Set<string>();
  const pools = archetypes.map((a, i): AgentPoolProfileRow => {
    const minor = minors[i] as number;
    const patch = minor === clusterMinor ? clusterPatch : patchFor(rng, minor);
    const current = k8sVersion(minor, patch);
    const isSystem = i === 0 && a.osType === 'Linux';
    let poolName = isSystem ? (chance(rng, 0.3) ? 'nodepool1' : 'system') : a.poolName;
    for (let n = 1; usedNames.has(poolName); n++) poolName = `${a.poolName}${n}`;
    usedNames.add(poolName);
    const autoscale = chance(rng, 0.4);
    const count = isSystem ? intBetween(rng, 1, 5) : intBetween(rng, 0, 30);
    const pool: AgentPoolProfileRow = {
      name: poolName,
      count: stopped ? 0 : count,
      vmSize: pick(rng, a.vmSizes ?? (a.osType === 'Windows' ? WINDOWS_SIZES : LINUX_SIZES)),
      osDiskSizeGB: 128,
      osDiskType: 'Managed',
      kubeletDiskType: 'OS',
      maxPods: a.osType === 'Windows' ? 30 : pick(rng, [30, 110, 250]),
      type: 'VirtualMachineScaleSets',
      enableAutoScaling: autoscale,
      ...(autoscale ? { minCount: Math.min(count, 1), maxCount: Math.max(count, 10) } : {}),
      provisioningState: chance(rng, 0.03) ? 'Failed' : 'Succeeded',
      powerState: { code: stopped || (!isSystem && chance(rng, 0.03)) ? 'Stopped' : 'Running' },
      orchestratorVersion: chance(rng, 0.15) ? `1.${minor}` : current,
      ...(chance(rng, 0.05) && minor < 24 ? {} : { currentOrchestratorVersion: current }),
      nodeImageVersion: someImageOf(rng, a.image),
      enableNodePublicIP: false,
      mode: isSystem ? 'System' : 'User',
      osType: a.osType,
      ...(a.osSku !== undefined ? { osSKU: a.osSku } : {}),
      ...(a.fips !== undefined ? { enableFIPS: a.fips } : {}),
      ...(a.workloadRuntime ? { workloadRuntime: a.workloadRuntime } : {}),
      ...(a.trustedLaunch ? { securityProfile: { enableSecureBoot: true, enableVTPM: true } } : {}),
      upgradeSettings: { maxSurge: pick(rng, ['10%', '33%', '1']) },
    };
    return pool;
  });

  const tags: Record<string, string> = chance(rng, 0.7)
    ? { env, team, costCenter: `cc-${intBetween(rng, 1000, 9999)}` }
    : {};
  if (seed.hostile && clusterIndex === 0) tags.owner = HOSTILE_TAG_VALUE;

  const properties: ClusterRow['properties'] = {
    provisioningState: chance(rng, 0.03) ? 'Failed' : chance(rng, 0.02) ? 'Updating' : 'Succeeded',
    powerState: { code: stopped ? 'Stopped' : 'Running' },
    kubernetesVersion: chance(rng, 0.1) ? `1.${clusterMinor}` : clusterVersion,
    currentKubernetesVersion: clusterVersion,
    dnsPrefix: `${name}-dns`,
    fqdn: `${name}-dns-${intBetween(rng, 0x10000000, 0x7fffffff).toString(16)}.hcp.${location}.azmk8s.io`,
    nodeResourceGroup: `MC_${resourceGroup}_${name}_${location}`,
    enableRBAC: true,
    supportPlan: 'KubernetesOfficial',
    maxAgentPools: 100,
    agentPoolProfiles: pools,
    ...(clusterMinor >= 29
      ? { nodeProvisioningProfile: { mode: chance(rng, 0.1) ? 'Auto' : 'Manual' } }
      : {}),
    securityProfile: chance(rng, 0.3) ? { workloadIdentity: { enabled: true } } : {},
  };

  return {
    id,
    name,
    type: 'microsoft.containerservice/managedclusters',
    tenantId,
    kind: '',
    location,
    resourceGroup: resourceGroup.toLowerCase(),
    subscriptionId: sub.subscriptionId,
    managedBy: '',
    sku: { name: 'Base', tier: chance(rng, 0.5) ? 'Standard' : 'Free' },
    plan: null,
    identity: { type: 'SystemAssigned' },
    zones: null,
    extendedLocation: null,
    tags,
    properties,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Exports shaped like the Azure CLI's output

/** The resource group as written in the ARM ID (the CLI keeps the user's casing). */
function resourceGroupFromId(id: string): string {
  return /\/resourceGroups\/([^/]+)/i.exec(id)?.[1] ?? '';
}

/** What `az aks list -o json` prints for the estate: properties flattened, CLI (Python SDK) casing, nulls kept. */
export function toAzAksListExport(estate: Estate): unknown[] {
  return estate.clusters.map((c) => {
    const p = c.properties;
    return {
      id: c.id,
      name: c.name,
      location: c.location,
      resourceGroup: resourceGroupFromId(c.id),
      type: 'Microsoft.ContainerService/ManagedClusters',
      tags: Object.keys(c.tags).length ? c.tags : null,
      sku: c.sku,
      identity: { type: c.identity.type, principalId: null, tenantId: null, userAssignedIdentities: null },
      provisioningState: p.provisioningState,
      powerState: p.powerState,
      kubernetesVersion: p.kubernetesVersion,
      currentKubernetesVersion: p.currentKubernetesVersion,
      dnsPrefix: p.dnsPrefix,
      fqdn: p.fqdn,
      nodeResourceGroup: p.nodeResourceGroup,
      enableRbac: p.enableRBAC,
      supportPlan: p.supportPlan,
      maxAgentPools: p.maxAgentPools,
      nodeProvisioningProfile: p.nodeProvisioningProfile ?? null,
      securityProfile: p.securityProfile,
      agentPoolProfiles: p.agentPoolProfiles.map((a) => ({
        name: a.name,
        count: a.count,
        vmSize: a.vmSize,
        osDiskSizeGb: a.osDiskSizeGB,
        osDiskType: a.osDiskType,
        kubeletDiskType: a.kubeletDiskType,
        maxPods: a.maxPods,
        type: a.type,
        enableAutoScaling: a.enableAutoScaling,
        minCount: a.minCount ?? null,
        maxCount: a.maxCount ?? null,
        provisioningState: a.provisioningState,
        powerState: a.powerState,
        orchestratorVersion: a.orchestratorVersion,
        currentOrchestratorVersion: a.currentOrchestratorVersion ?? null,
        nodeImageVersion: a.nodeImageVersion,
        enableNodePublicIp: a.enableNodePublicIP,
        mode: a.mode,
        osType: a.osType,
        osSku: a.osSKU ?? null,
        enableFips: a.enableFIPS ?? null,
        workloadRuntime: a.workloadRuntime ?? null,
        securityProfile: a.securityProfile
          ? {
              enableSecureBoot: a.securityProfile.enableSecureBoot,
              enableVtpm: a.securityProfile.enableVTPM,
              sshAccess: null,
            }
          : null,
        upgradeSettings: a.upgradeSettings,
      })),
    };
  });
}

/** What `az graph query -q "<cluster query>" --first 1000 -o json` prints: the rows unchanged, in REST casing. */
export function toGraphQueryExport(estate: Estate): {
  count: number;
  data: ClusterRow[];
  skip_token: null;
  total_records: number;
} {
  return {
    count: estate.clusters.length,
    data: estate.clusters,
    skip_token: null,
    total_records: estate.clusters.length,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Heavy pools: what platform teams put on pools, and VirtualMachines pools

export interface HeavyPoolOptions {
  seed: number;
  /** About this many bytes of labels, taints and tags per pool (JSON); default 2,048. */
  bytesPerPool?: number;
  /** Share of Linux user pools turned into VirtualMachines pools, 0 to 1; default 0. */
  virtualMachinesShare?: number;
}

const LABEL_KEYS = [
  'kubernetes.azure.com/scalesetpriority',
  'workload.contoso.com/tier',
  'workload.contoso.com/team',
  'topology.contoso.com/zone-group',
  'compliance.contoso.com/boundary',
  'cost.contoso.com/center',
  'app.kubernetes.io/part-of',
  'node.contoso.com/gpu-class',
];
const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];
/** x64, not confidential: the size a VirtualMachines pool lists first, so a trap size is never the only one. */
const PLAIN_SIZE = 'Standard_D4s_v5';

/** Random text for label, taint and tag values: slices of one random block, so megabytes of it are quick to make. */
function fillerOf(rng: Rng): (length: number) => string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let block = '';
  for (let i = 0; i < 4096; i++) block += alphabet[Math.floor(rng() * alphabet.length)];
  return (length) => {
    const start = Math.floor(rng() * (block.length - length));
    return block.slice(start, start + length);
  };
}

/**
 * A copy of the estate whose pools carry about `bytesPerPool` of node labels, taints and tags (a cluster of 100
 * such pools is a Resource Graph row of over 200 KB), and where a share of the Linux user pools are
 * `VirtualMachines` pools: `type: 'VirtualMachines'`, an empty `vmSize`, and their sizes in
 * `virtualMachinesProfile.scale.manual[]` (and `autoscale[]` for autoscaling ones), a plain x64 size first and the
 * pool's own size second, so an Arm64 or confidential size is only ever in the profile. Every pool keeps its
 * verdict. For clusters of up to 100 pools, generate the estate with `poolsPerCluster: 100`.
 */
export function withHeavyPools(estate: Estate, options: HeavyPoolOptions): Estate {
  const rng = mulberry32(options.seed);
  const filler = fillerOf(rng);
  const budget = Math.max(0, options.bytesPerPool ?? 2048);
  const share = Math.min(1, Math.max(0, options.virtualMachinesShare ?? 0));
  const clusters = estate.clusters.map((cluster): ClusterRow => {
    const pools = cluster.properties.agentPoolProfiles.map((pool): AgentPoolProfileRow => {
      const nodeLabels: Record<string, string> = {};
      const nodeTaints: string[] = [];
      const tags: Record<string, string> = {};
      // About half in labels, a quarter each in taints and tags.
      let labelBytes = 0;
      for (let i = 0; labelBytes < budget / 2; i++) {
        const key = `${LABEL_KEYS[i % LABEL_KEYS.length]}-${i}`;
        const value = filler(24);
        nodeLabels[key] = value;
        labelBytes += key.length + value.length + 6;
      }
      let taintBytes = 0;
      for (let i = 0; taintBytes < budget / 4; i++) {
        const taint = `dedicated-${i}.contoso.com/${filler(12)}=${filler(16)}:${pick(rng, TAINT_EFFECTS)}`;
        nodeTaints.push(taint);
        taintBytes += taint.length + 3;
      }
      let tagBytes = 0;
      for (let i = 0; tagBytes < budget / 4; i++) {
        const key = `contoso-${i}`;
        const value = filler(40);
        tags[key] = value;
        tagBytes += key.length + value.length + 6;
      }
      const heavy: AgentPoolProfileRow = { ...pool, nodeLabels, nodeTaints, tags };
      if (pool.mode === 'System' || pool.osType !== 'Linux' || !chance(rng, share)) return heavy;
      const sizes = [...new Set([PLAIN_SIZE, pool.vmSize])];
      const counts = sizes.map((_size, i) =>
        i === 0 ? Math.ceil(pool.count / 2) : Math.floor(pool.count / 2),
      );
      return {
        ...heavy,
        type: 'VirtualMachines',
        vmSize: '',
        virtualMachinesProfile: {
          scale: pool.enableAutoScaling
            ? {
                autoscale: sizes.map((size) => ({
                  size,
                  minCount: pool.minCount ?? 0,
                  maxCount: pool.maxCount ?? 10,
                })),
              }
            : { manual: sizes.map((size, i) => ({ size, count: counts[i] ?? 0 })) },
        },
      };
    });
    return { ...cluster, properties: { ...cluster.properties, agentPoolProfiles: pools } };
  });
  return { ...estate, clusters };
}
