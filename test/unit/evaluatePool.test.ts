// The evaluator against every row and rule of docs/fips-matrix.md and the finding codes of docs/contracts.md.

import {
  evaluateCluster,
  evaluatePool,
  type EvaluationOptions,
  isArm64VmSize,
  isConfidentialVmSize,
  shellQuote,
  unreadablePool,
} from '../../src/core/evaluatePool';
import { builtInMatrix } from '../../src/core/fipsMatrix';
import { summarizeRun } from '../../src/core/summarizeRun';
import type {
  ClusterRecord,
  FindingCode,
  ImageFreshness,
  PoolRecord,
  PoolResult,
  PoolStatus,
  Severity,
} from '../../src/core/types';

const ASOF = new Date('2026-11-29T06:00:00Z');
const SUB = '0b1f6471-1bf0-4dda-aec3-111122223333';
const OPTS: EvaluationOptions = { matrix: builtInMatrix, asOf: ASOF, nodeImageMaxAgeInDays: 30 };

// Node images as AKS names them (build 2026-11-20 unless said otherwise): `<gallery>-<definition>-<version>` with the
// definitions of Azure/AgentBaker pkg/agent/datamodel/sig_config.go, as in the Karpenter provider's node image
// fixtures (Azure/karpenter-provider-azure pkg/fake/nodeimageversionsapi.go); test/unit/nodeImageNames.test.ts
// lists the names those sources show.
const IMG = {
  ubuntu1804Fips: 'AKSUbuntu-1804fipscontainerd-202611.20.0',
  ubuntu2004Fips: 'AKSUbuntu-2004gen2fipscontainerd-202611.20.0',
  ubuntu2204Fips: 'AKSUbuntu-2204gen2fipscontainerd-202611.20.0',
  ubuntu2204: 'AKSUbuntu-2204gen2containerd-202611.20.0',
  ubuntu2404: 'AKSUbuntu-2404gen2containerd-202611.20.0',
  ubuntu2604: 'AKSUbuntu-2604minimalgen2containerd-202611.20.0',
  azureLinux2Fips: 'AKSAzureLinux-V2gen2fips-202611.20.0',
  azureLinux3Fips: 'AKSAzureLinux-V3gen2fips-202611.20.0',
  azureLinux3Arm64Fips: 'AKSAzureLinux-V3gen2arm64fips-202611.20.0',
  azureLinux3: 'AKSAzureLinux-V3gen2-202611.20.0',
  osGuard: 'AKSAzureLinux-OSGuardV3gen2fipsTL-202611.20.0',
  containerLinuxFips: 'AKSAzureLinux-aclgen2fipsTL-202611.20.0',
  containerLinuxArm64Fips: 'AKSAzureLinux-aclgen2arm64fipsTL-202611.20.0',
  containerLinux: 'AKSAzureLinux-aclgen2TL-202611.20.0',
  flatcar: 'AKSFlatcar-flatcargen2-202611.20.0',
  windows2019: 'AKSWindows-2019-containerd-17763.8027.261120',
  windows2022: 'AKSWindows-2022-containerd-20348.4405.261120',
  windows2025: 'AKSWindows-2025-gen2-26100.7171.261120',
  windowsAnnual: 'AKSWindows-23H2-gen2-25398.1965.261120',
} as const;

function makeCluster(overrides: Partial<ClusterRecord> = {}): ClusterRecord {
  const name = overrides.name ?? 'aks-pay';
  const resourceGroup = overrides.resourceGroup ?? 'rg-payments';
  return {
    id: `/subscriptions/${SUB}/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${name}`,
    name,
    subscriptionId: SUB,
    resourceGroup,
    location: 'eastus',
    tags: {},
    kubernetesVersion: '1.33.2',
    currentKubernetesVersion: '1.33.2',
    nodeProvisioningMode: null,
    provisioningState: 'Succeeded',
    powerState: 'Running',
    pools: [],
    ...overrides,
  };
}

function makePool(overrides: Partial<PoolRecord> = {}, cluster: ClusterRecord = makeCluster()): PoolRecord {
  const name = overrides.name ?? 'np1';
  return {
    id: `${cluster.id}/agentPools/${name}`,
    name,
    osType: 'Linux',
    osSku: 'Ubuntu2204',
    enableFips: true,
    orchestratorVersion: '1.33.2',
    currentOrchestratorVersion: '1.33.2',
    nodeImageVersion: IMG.ubuntu2204Fips,
    vmSize: 'Standard_D4s_v5',
    vmSizes: [],
    mode: 'User',
    count: 3,
    workloadRuntime: 'OCIContainer',
    trustedLaunch: false,
    provisioningState: 'Succeeded',
    powerState: 'Running',
    ...overrides,
  };
}

/** A pool on the given Kubernetes version (as both orchestrator versions). */
function on(version: string, overrides: Partial<PoolRecord>): Partial<PoolRecord> {
  return { orchestratorVersion: version, currentOrchestratorVersion: version, ...overrides };
}

function judge(
  overrides: Partial<PoolRecord>,
  opts: Partial<EvaluationOptions> = {},
  freshness?: ImageFreshness,
  cluster: ClusterRecord = makeCluster(),
): PoolResult {
  return evaluatePool(cluster, makePool(overrides, cluster), { ...OPTS, ...opts }, freshness);
}

const codesOf = (result: { findings: { code: FindingCode }[] }): FindingCode[] =>
  result.findings.map((f) => f.code).sort();

const sorted = (codes: FindingCode[]): FindingCode[] => [...codes].sort();

type SkuRow = [
  title: string,
  pool: Partial<PoolRecord>,
  status: PoolStatus,
  codes: FindingCode[],
  mentions?: string,
];

// One row per osSKU row of fips-matrix.md, with enableFIPS true / false / missing (null) where it matters.
const SKU_ROWS: SkuRow[] = [
  // Ubuntu: floating, by Kubernetes version...
  [
    'treats floating Ubuntu on 1.26 with FIPS as Ubuntu 18.04: 140-2 modules, retired 2025-06-17',
    on('1.26.6', { osSku: 'Ubuntu', nodeImageVersion: IMG.ubuntu1804Fips }),
    'noncompliant',
    ['FIPS_140_2_MODULE', 'OS_RETIRED'],
    'Ubuntu 18.04 was retired on AKS on 2025-06-17',
  ],
  [
    'treats floating Ubuntu on 1.26 without a node image as Ubuntu 18.04 by Kubernetes version',
    on('1.26.6', { osSku: 'Ubuntu', enableFips: null, nodeImageVersion: null }),
    'noncompliant',
    ['FIPS_DISABLED', 'OS_RETIRED'],
    'resolved to Ubuntu 18.04 by its Kubernetes version',
  ],
  [
    'treats floating Ubuntu on 1.30 with FIPS as Ubuntu 20.04 with 140-2 modules',
    on('1.30.9', { osSku: 'Ubuntu', nodeImageVersion: IMG.ubuntu2004Fips }),
    'compliant',
    ['FIPS_140_2_MODULE'],
    'Ubuntu 20.04',
  ],
  [
    'treats floating Ubuntu on 1.30 with enableFIPS false as FIPS_DISABLED',
    on('1.30.9', { osSku: 'Ubuntu', enableFips: false, nodeImageVersion: null }),
    'noncompliant',
    ['FIPS_DISABLED'],
    'resolved to Ubuntu 20.04 by its Kubernetes version',
  ],
  [
    'treats floating Ubuntu on 1.30 without enableFIPS as FIPS_DISABLED',
    on('1.30.9', { osSku: 'Ubuntu', enableFips: null, nodeImageVersion: IMG.ubuntu2204 }),
    'noncompliant',
    ['FIPS_DISABLED'],
    'enableFIPS is not set',
  ],
  [
    'treats floating Ubuntu on 1.35 with FIPS as Ubuntu 22.04 (140-3, no module finding)',
    on('1.35.1', { osSku: 'Ubuntu', nodeImageVersion: IMG.ubuntu2204Fips }),
    'compliant',
    [],
  ],
  [
    'treats floating Ubuntu on 1.35 without FIPS (the 24.04 default image) as FIPS_DISABLED',
    on('1.35.1', { osSku: 'Ubuntu', enableFips: null, nodeImageVersion: IMG.ubuntu2404 }),
    'noncompliant',
    ['FIPS_DISABLED'],
    'resolved to Ubuntu 22.04 by its Kubernetes version',
  ],
  // ...and by node image name when it says otherwise.
  [
    'resolves floating Ubuntu on 1.30 by its 22.04 FIPS node image (no 140-2 finding)',
    on('1.30.9', { osSku: 'Ubuntu', nodeImageVersion: IMG.ubuntu2204Fips }),
    'compliant',
    [],
  ],
  [
    'resolves floating Ubuntu on 1.35 by its 20.04 FIPS node image (140-2 finding)',
    on('1.35.1', { osSku: 'Ubuntu', nodeImageVersion: IMG.ubuntu2004Fips }),
    'compliant',
    ['FIPS_140_2_MODULE'],
    'Ubuntu 20.04',
  ],
  [
    'resolves floating Ubuntu without FIPS by Kubernetes version, not by its non-FIPS node image',
    on('1.35.1', {
      osSku: 'Ubuntu',
      enableFips: false,
      nodeImageVersion: 'AKSUbuntu-2004gen2containerd-202611.20.0',
    }),
    'noncompliant',
    ['FIPS_DISABLED'],
    'resolved to Ubuntu 22.04 by its Kubernetes version',
  ],
  [
    'names the FIPS release a non-FIPS Ubuntu 1.30 pool would get (20.04), not its 22.04 default image',
    on('1.30.4', {
      osSku: 'Ubuntu',
      enableFips: null,
      nodeImageVersion: 'AKSUbuntu-2204gen2containerd-202611.20.0',
    }),
    'noncompliant',
    ['FIPS_DISABLED'],
    'resolved to Ubuntu 20.04 by its Kubernetes version',
  ],
  // Ubuntu2204
  ['treats Ubuntu2204 with FIPS and a FIPS image as compliant', { osSku: 'Ubuntu2204' }, 'compliant', []],
  [
    'treats Ubuntu2204 with enableFIPS false as FIPS_DISABLED',
    { osSku: 'Ubuntu2204', enableFips: false, nodeImageVersion: IMG.ubuntu2204 },
    'noncompliant',
    ['FIPS_DISABLED'],
    'enableFIPS is false',
  ],
  [
    'treats Ubuntu2204 without enableFIPS as FIPS_DISABLED',
    { osSku: 'Ubuntu2204', enableFips: null, nodeImageVersion: IMG.ubuntu2204 },
    'noncompliant',
    ['FIPS_DISABLED'],
    'enableFIPS is not set',
  ],
  // Ubuntu2404, Ubuntu2604
  [
    'treats Ubuntu2404 as not FIPS-capable even with enableFIPS true',
    on('1.35.1', { osSku: 'Ubuntu2404', nodeImageVersion: IMG.ubuntu2404 }),
    'noncompliant',
    ['OS_NOT_FIPS_CAPABLE'],
    'Ubuntu 24.04',
  ],
  [
    'treats Ubuntu2404 without enableFIPS as not FIPS-capable (not as merely disabled)',
    on('1.35.1', { osSku: 'Ubuntu2404', enableFips: null, nodeImageVersion: IMG.ubuntu2404 }),
    'noncompliant',
    ['OS_NOT_FIPS_CAPABLE'],
  ],
  [
    'treats Ubuntu2604 as not FIPS-capable',
    on('1.36.0', { osSku: 'Ubuntu2604', enableFips: false, nodeImageVersion: IMG.ubuntu2604 }),
    'noncompliant',
    ['OS_NOT_FIPS_CAPABLE'],
    'Ubuntu 26.04',
  ],
  // AzureLinux: floating
  [
    'treats floating AzureLinux on 1.30 as Azure Linux 2.0, retired',
    on('1.30.9', { osSku: 'AzureLinux', nodeImageVersion: IMG.azureLinux2Fips }),
    'noncompliant',
    ['OS_RETIRED'],
    'Azure Linux 2.0',
  ],
  [
    'treats floating AzureLinux on 1.30 without a node image as Azure Linux 2.0 by Kubernetes version',
    on('1.30.9', { osSku: 'AzureLinux', nodeImageVersion: null }),
    'noncompliant',
    ['OS_RETIRED'],
    'Azure Linux 2.0',
  ],
  [
    'treats floating AzureLinux on 1.30 without FIPS as disabled and retired',
    on('1.30.9', { osSku: 'AzureLinux', enableFips: false, nodeImageVersion: null }),
    'noncompliant',
    ['FIPS_DISABLED', 'OS_RETIRED'],
  ],
  [
    'treats floating AzureLinux on 1.33 with FIPS as Azure Linux 3.0, compliant',
    on('1.33.2', { osSku: 'AzureLinux', nodeImageVersion: IMG.azureLinux3Fips }),
    'compliant',
    [],
  ],
  [
    'treats floating AzureLinux on 1.33 without enableFIPS as FIPS_DISABLED',
    on('1.33.2', { osSku: 'AzureLinux', enableFips: null, nodeImageVersion: IMG.azureLinux3 }),
    'noncompliant',
    ['FIPS_DISABLED'],
    'Azure Linux 3.0',
  ],
  [
    'resolves floating AzureLinux on 1.31 by its Azure Linux 3 FIPS node image',
    on('1.31.5', { osSku: 'AzureLinux', nodeImageVersion: IMG.azureLinux3Fips }),
    'compliant',
    [],
  ],
  [
    'resolves floating AzureLinux on 1.33 by its Azure Linux 2 node image (retired)',
    on('1.33.2', { osSku: 'AzureLinux', nodeImageVersion: IMG.azureLinux2Fips }),
    'noncompliant',
    ['OS_RETIRED'],
    'Azure Linux 2.0',
  ],
  [
    'resolves floating AzureLinux on 1.33 by its CBL-Mariner 2 node image (retired)',
    on('1.33.2', { osSku: 'AzureLinux', nodeImageVersion: 'AKSCBLMariner-V2fips-202512.06.0' }),
    'noncompliant',
    ['OS_RETIRED'],
    'Azure Linux 2.0 was retired',
  ],
  [
    'resolves floating AzureLinux on 1.31 by its Azure Linux 3 Arm64 FIPS node image',
    on('1.31.5', {
      osSku: 'AzureLinux',
      vmSize: 'Standard_D4ps_v5',
      nodeImageVersion: IMG.azureLinux3Arm64Fips,
    }),
    'compliant',
    [],
  ],
  // AzureLinux3
  [
    'treats AzureLinux3 with FIPS as compliant',
    { osSku: 'AzureLinux3', nodeImageVersion: IMG.azureLinux3Fips },
    'compliant',
    [],
  ],
  [
    'treats AzureLinux3 with enableFIPS false as FIPS_DISABLED',
    { osSku: 'AzureLinux3', enableFips: false, nodeImageVersion: IMG.azureLinux3 },
    'noncompliant',
    ['FIPS_DISABLED'],
  ],
  [
    'treats AzureLinux3 without enableFIPS as FIPS_DISABLED',
    { osSku: 'AzureLinux3', enableFips: null, nodeImageVersion: IMG.azureLinux3 },
    'noncompliant',
    ['FIPS_DISABLED'],
  ],
  // CBLMariner, Mariner
  [
    'treats CBLMariner with FIPS as retired',
    on('1.30.9', { osSku: 'CBLMariner', nodeImageVersion: IMG.azureLinux2Fips }),
    'noncompliant',
    ['OS_RETIRED'],
    '2025-11-30',
  ],
  [
    'treats CBLMariner without FIPS as disabled and retired',
    on('1.30.9', {
      osSku: 'CBLMariner',
      enableFips: false,
      nodeImageVersion: 'AKSCBLMariner-V2gen2-202611.20.0',
    }),
    'noncompliant',
    ['FIPS_DISABLED', 'OS_RETIRED'],
  ],
  [
    'treats Mariner with FIPS as retired',
    on('1.30.9', { osSku: 'Mariner', nodeImageVersion: IMG.azureLinux2Fips }),
    'noncompliant',
    ['OS_RETIRED'],
    'Azure Linux 2.0',
  ],
  // AzureLinuxOSGuard
  [
    'treats AzureLinuxOSGuard without enableFIPS as compliant by its built-in FIPS',
    { osSku: 'AzureLinuxOSGuard', enableFips: null, nodeImageVersion: IMG.osGuard },
    'compliant',
    ['FIPS_PLATFORM_DEFAULT'],
  ],
  [
    'treats AzureLinuxOSGuard with enableFIPS true as compliant without a platform-default note',
    { osSku: 'AzureLinuxOSGuard', nodeImageVersion: IMG.osGuard },
    'compliant',
    [],
  ],
  // AzureLinux3OSGuard: the versioned name the OS Guard ARM quickstart allows besides AzureLinuxOSGuard
  [
    'treats AzureLinux3OSGuard as Azure Linux 3.0 OS Guard, not as an unrecognised SKU',
    { osSku: 'AzureLinux3OSGuard', nodeImageVersion: IMG.osGuard },
    'compliant',
    [],
  ],
  [
    'treats AzureLinux3OSGuard without enableFIPS as compliant by its built-in FIPS',
    { osSku: 'AzureLinux3OSGuard', enableFips: null, nodeImageVersion: IMG.osGuard },
    'compliant',
    ['FIPS_PLATFORM_DEFAULT'],
    'Azure Linux 3.0 OS Guard',
  ],
  // AzureContainerLinux
  [
    'treats AzureContainerLinux with FIPS as compliant (FIPS image since 2026-05-29)',
    { osSku: 'AzureContainerLinux', nodeImageVersion: IMG.containerLinuxFips },
    'compliant',
    [],
  ],
  [
    'treats AzureContainerLinux without enableFIPS as FIPS_DISABLED',
    { osSku: 'AzureContainerLinux', enableFips: null, nodeImageVersion: IMG.containerLinux },
    'noncompliant',
    ['FIPS_DISABLED'],
  ],
  [
    'treats AzureContainerLinux with FIPS on Arm64 as compliant (ACL has a FIPS Arm64 image)',
    on('1.35.2', {
      osSku: 'AzureContainerLinux',
      vmSize: 'Standard_D4ps_v6',
      trustedLaunch: true,
      nodeImageVersion: IMG.containerLinuxArm64Fips,
    }),
    'compliant',
    [],
  ],
  // Flatcar
  [
    'treats Flatcar as not FIPS-capable even with enableFIPS true, and retired',
    { osSku: 'Flatcar', nodeImageVersion: IMG.flatcar },
    'noncompliant',
    ['OS_NOT_FIPS_CAPABLE', 'OS_RETIRED'],
    'Flatcar Container Linux was retired on AKS on 2026-06-08',
  ],
  [
    'treats Flatcar without enableFIPS as not FIPS-capable, and retired',
    { osSku: 'Flatcar', enableFips: null, nodeImageVersion: IMG.flatcar },
    'noncompliant',
    ['OS_NOT_FIPS_CAPABLE', 'OS_RETIRED'],
  ],
  // Windows2019
  [
    'treats Windows2019 with FIPS on 1.30 as retired',
    on('1.30.9', { osType: 'Windows', osSku: 'Windows2019', nodeImageVersion: IMG.windows2019 }),
    'noncompliant',
    ['OS_RETIRED'],
    '2026-03-01',
  ],
  [
    'treats Windows2019 without enableFIPS as disabled (opt-in only) and retired',
    on('1.30.9', {
      osType: 'Windows',
      osSku: 'Windows2019',
      enableFips: null,
      nodeImageVersion: IMG.windows2019,
    }),
    'noncompliant',
    ['FIPS_DISABLED', 'OS_RETIRED'],
  ],
  // Windows2022
  [
    'treats a Windows2022 pool without enableFIPS as compliant by platform default',
    { osType: 'Windows', osSku: 'Windows2022', enableFips: null, nodeImageVersion: IMG.windows2022 },
    'compliant',
    ['FIPS_PLATFORM_DEFAULT'],
  ],
  [
    'treats a Windows2022 pool with enableFIPS false as compliant by platform default',
    { osType: 'Windows', osSku: 'Windows2022', enableFips: false, nodeImageVersion: IMG.windows2022 },
    'compliant',
    ['FIPS_PLATFORM_DEFAULT'],
  ],
  [
    'treats a Windows2022 pool with enableFIPS true as compliant with no findings',
    { osType: 'Windows', osSku: 'Windows2022', nodeImageVersion: IMG.windows2022 },
    'compliant',
    [],
  ],
  // Windows2025
  [
    'treats a Windows2025 pool without enableFIPS as compliant (FIPS always on)',
    { osType: 'Windows', osSku: 'Windows2025', enableFips: null, nodeImageVersion: IMG.windows2025 },
    'compliant',
    ['FIPS_PLATFORM_DEFAULT'],
    'cannot be disabled',
  ],
  [
    'treats a Windows2025 pool with enableFIPS false as compliant (FIPS cannot be disabled)',
    { osType: 'Windows', osSku: 'Windows2025', enableFips: false, nodeImageVersion: IMG.windows2025 },
    'compliant',
    ['FIPS_PLATFORM_DEFAULT'],
  ],
  [
    'treats a Windows2025 pool with enableFIPS true as compliant with no findings',
    { osType: 'Windows', osSku: 'Windows2025', nodeImageVersion: IMG.windows2025 },
    'compliant',
    [],
  ],
  // WindowsAnnual
  [
    'treats WindowsAnnual as not FIPS-capable and retired',
    { osType: 'Windows', osSku: 'WindowsAnnual', nodeImageVersion: IMG.windowsAnnual },
    'noncompliant',
    ['OS_NOT_FIPS_CAPABLE', 'OS_RETIRED'],
    '2026-05-15',
  ],
  // Missing osSKU
  [
    'treats a Linux pool without osSKU as Ubuntu (20.04 FIPS on 1.33)',
    { osSku: null, nodeImageVersion: IMG.ubuntu2004Fips },
    'compliant',
    ['FIPS_140_2_MODULE'],
  ],
  [
    'treats a Linux pool without osSKU or enableFIPS as default Ubuntu with FIPS off',
    { osSku: null, enableFips: null, nodeImageVersion: null },
    'noncompliant',
    ['FIPS_DISABLED'],
    'AKS default Ubuntu',
  ],
  [
    'treats a pool without osType or osSKU as Linux, so Ubuntu',
    { osType: null, osSku: null, enableFips: null, nodeImageVersion: null },
    'noncompliant',
    ['FIPS_DISABLED'],
    'AKS default Ubuntu',
  ],
  [
    'treats a Windows pool without osSKU on 1.24 as Windows2019 (retired)',
    on('1.24.10', { osType: 'Windows', osSku: null, nodeImageVersion: IMG.windows2019 }),
    'noncompliant',
    ['OS_RETIRED'],
    'Windows Server 2019',
  ],
  [
    'treats a Windows pool without osSKU or enableFIPS on 1.24 as Windows2019 with FIPS off',
    on('1.24.10', { osType: 'Windows', osSku: null, enableFips: null, nodeImageVersion: IMG.windows2019 }),
    'noncompliant',
    ['FIPS_DISABLED', 'OS_RETIRED'],
    'AKS default Windows2019',
  ],
  [
    'treats a Windows pool without osSKU on 1.25 as Windows2022 (FIPS by platform default)',
    on('1.25.0', { osType: 'Windows', osSku: null, enableFips: null, nodeImageVersion: IMG.windows2022 }),
    'compliant',
    ['FIPS_PLATFORM_DEFAULT'],
    'Windows Server 2022',
  ],
  [
    'treats a Windows pool without osSKU on 1.33 as Windows2022',
    { osType: 'Windows', osSku: null, enableFips: null, nodeImageVersion: IMG.windows2022 },
    'compliant',
    ['FIPS_PLATFORM_DEFAULT'],
  ],
  [
    'treats a Windows pool without osSKU on 1.36 as Windows2025, the default from 1.36',
    on('1.36.1', { osType: 'Windows', osSku: null, enableFips: null, nodeImageVersion: IMG.windows2025 }),
    'compliant',
    ['FIPS_PLATFORM_DEFAULT'],
    'Windows Server 2025 enforces it',
  ],
];

describe('evaluatePool: one row per osSKU of the matrix', () => {
  // Every row gets all five columns: jest passes `done` in place of a missing trailing one.
  it.each(SKU_ROWS.map(([t, p, s, c, m]) => [t, p, s, c, m ?? null] as const))(
    '%s',
    (_title, pool, status, codes, mentions) => {
      const result = judge(pool);
      expect(codesOf(result)).toEqual(sorted(codes));
      expect(result.status).toBe(status);
      if (mentions) expect(result.findings.map((f) => f.message).join('\n')).toContain(mentions);
    },
  );

  it('covers every osSKU the matrix knows', () => {
    const covered = new Set(SKU_ROWS.map(([, pool]) => pool.osSku).filter((s): s is string => !!s));
    expect([...covered].sort()).toEqual(Object.keys(builtInMatrix.osSkus).sort());
  });
});

describe('evaluatePool: traps', () => {
  it.each<[string, Partial<PoolRecord>, PoolStatus, FindingCode[]]>([
    [
      'treats an unrecognised SKU as unknown, never compliant, even with FIPS on',
      { osSku: 'FooOS', nodeImageVersion: IMG.ubuntu2204Fips },
      'unknown',
      ['OS_SKU_UNRECOGNIZED'],
    ],
    [
      'treats an unrecognised Windows SKU as unknown',
      { osType: 'Windows', osSku: 'Windows2030', enableFips: null },
      'unknown',
      ['OS_SKU_UNRECOGNIZED'],
    ],
    ['matches the SKU case-insensitively (ubuntu2204)', { osSku: 'ubuntu2204' }, 'compliant', []],
    [
      'matches the SKU case-insensitively (WINDOWS2022 without enableFIPS)',
      { osType: 'Windows', osSku: 'WINDOWS2022', enableFips: null, nodeImageVersion: IMG.windows2022 },
      'compliant',
      ['FIPS_PLATFORM_DEFAULT'],
    ],
    [
      'ignores whitespace around the SKU',
      { osSku: ' AzureLinux3 ', nodeImageVersion: IMG.azureLinux3Fips },
      'compliant',
      [],
    ],
    [
      'flags Kubernetes 1.18 as below the FIPS minimum',
      on('1.18.20', { osSku: 'Ubuntu2204' }),
      'noncompliant',
      ['KUBERNETES_VERSION_UNSUPPORTED'],
    ],
    ['accepts Kubernetes 1.19, the FIPS minimum', on('1.19.0', { osSku: 'Ubuntu2204' }), 'compliant', []],
    [
      'uses currentOrchestratorVersion before orchestratorVersion',
      { osSku: 'Ubuntu2204', orchestratorVersion: '1.33.2', currentOrchestratorVersion: '1.18.20' },
      'noncompliant',
      ['KUBERNETES_VERSION_UNSUPPORTED'],
    ],
    [
      'falls back to orchestratorVersion when currentOrchestratorVersion is missing',
      { osSku: 'Ubuntu2204', orchestratorVersion: '1.18.20', currentOrchestratorVersion: null },
      'noncompliant',
      ['KUBERNETES_VERSION_UNSUPPORTED'],
    ],
    [
      'does not use orchestratorVersion when currentOrchestratorVersion is fine',
      { osSku: 'Ubuntu2204', orchestratorVersion: '1.18.20', currentOrchestratorVersion: '1.33.2' },
      'compliant',
      [],
    ],
    [
      'flags Windows2019 on 1.33 as unsupported and retired',
      on('1.33.2', { osType: 'Windows', osSku: 'Windows2019', nodeImageVersion: IMG.windows2019 }),
      'noncompliant',
      ['KUBERNETES_VERSION_UNSUPPORTED', 'OS_RETIRED'],
    ],
    [
      'flags Windows2022 below 1.23 as unsupported',
      on('1.22.17', { osType: 'Windows', osSku: 'Windows2022', nodeImageVersion: IMG.windows2022 }),
      'noncompliant',
      ['KUBERNETES_VERSION_UNSUPPORTED'],
    ],
    [
      'accepts Windows2022 on 1.36, the last supported minor',
      on('1.36.1', { osType: 'Windows', osSku: 'Windows2022', nodeImageVersion: IMG.windows2022 }),
      'compliant',
      [],
    ],
    [
      'flags Windows2022 on 1.37 as unsupported',
      on('1.37.0', { osType: 'Windows', osSku: 'Windows2022', nodeImageVersion: IMG.windows2022 }),
      'noncompliant',
      ['KUBERNETES_VERSION_UNSUPPORTED'],
    ],
    [
      'flags Windows2025 below 1.32 as unsupported',
      on('1.31.5', { osType: 'Windows', osSku: 'Windows2025', nodeImageVersion: IMG.windows2025 }),
      'noncompliant',
      ['KUBERNETES_VERSION_UNSUPPORTED'],
    ],
    [
      'flags FIPS on with a non-FIPS Linux image as NODE_IMAGE_NOT_FIPS',
      { osSku: 'Ubuntu2204', nodeImageVersion: IMG.ubuntu2204 },
      'noncompliant',
      ['NODE_IMAGE_NOT_FIPS'],
    ],
    [
      'flags FIPS on with a non-FIPS Azure Linux 3 image as NODE_IMAGE_NOT_FIPS',
      { osSku: 'AzureLinux3', nodeImageVersion: IMG.azureLinux3 },
      'noncompliant',
      ['NODE_IMAGE_NOT_FIPS'],
    ],
    [
      'does not ask a Windows image name to contain fips',
      { osType: 'Windows', osSku: 'Windows2022', nodeImageVersion: IMG.windows2022 },
      'compliant',
      [],
    ],
    [
      'does not flag the image when FIPS is off (FIPS_DISABLED says it all)',
      { osSku: 'Ubuntu2204', enableFips: false, nodeImageVersion: IMG.ubuntu2204 },
      'noncompliant',
      ['FIPS_DISABLED'],
    ],
  ])('%s', (_title, pool, status, codes) => {
    const result = judge(pool);
    expect(codesOf(result)).toEqual(sorted(codes));
    expect(result.status).toBe(status);
  });

  it.each<[string, Partial<PoolRecord>, PoolStatus, FindingCode[]]>([
    [
      'cannot resolve floating Ubuntu without any Kubernetes version, so leaves it unknown',
      { osSku: 'Ubuntu', nodeImageVersion: null },
      'unknown',
      ['OS_SKU_UNRECOGNIZED'],
    ],
    [
      'resolves floating Ubuntu without any Kubernetes version by its node image',
      { osSku: 'Ubuntu', nodeImageVersion: IMG.ubuntu2204Fips },
      'compliant',
      [],
    ],
    [
      'resolves a missing Windows SKU without any Kubernetes version to Windows2022',
      { osType: 'Windows', osSku: null, enableFips: null, nodeImageVersion: IMG.windows2022 },
      'compliant',
      ['FIPS_PLATFORM_DEFAULT'],
    ],
  ])('%s', (_title, pool, status, codes) => {
    const cluster = makeCluster({ kubernetesVersion: null, currentKubernetesVersion: null });
    const result = judge(
      { ...pool, orchestratorVersion: null, currentOrchestratorVersion: null },
      {},
      undefined,
      cluster,
    );
    expect(result.kubernetesVersion).toBeNull();
    expect(codesOf(result)).toEqual(sorted(codes));
    expect(result.status).toBe(status);
  });

  it.each(['FooOS', 'ubuntu-2204', 'Windows', 'Linux', 'AzureLinux4'])(
    'never judges the unknown SKU %s compliant, with or without FIPS',
    (osSku) => {
      for (const enableFips of [true, false, null]) {
        const result = judge({ osSku, enableFips });
        expect(result.status).toBe('unknown');
        expect(codesOf(result)).toEqual(['OS_SKU_UNRECOGNIZED']);
        expect(result.findings[0]!.message).toContain(JSON.stringify(osSku));
      }
    },
  );
});

describe('evaluatePool: FIPS 140-2 modules and retirement by date', () => {
  const ubuntu2004 = on('1.30.9', { osSku: 'Ubuntu', nodeImageVersion: IMG.ubuntu2004Fips });
  it.each<[string, string, FindingCode[]]>([
    ['does not flag 140-2 modules the day before they went Historical', '2026-09-20T23:59:59Z', []],
    [
      'flags 140-2 modules from the day they went Historical (2026-09-21)',
      '2026-09-21T00:00:00Z',
      ['FIPS_140_2_MODULE'],
    ],
    ['flags 140-2 modules at the fixed audit clock', '2026-11-29T06:00:00Z', ['FIPS_140_2_MODULE']],
    [
      'flags Ubuntu 20.04 as retired from 2027-03-17',
      '2027-03-17T00:00:00Z',
      ['FIPS_140_2_MODULE', 'OS_RETIRED'],
    ],
    ['does not retire Ubuntu 20.04 the day before 2027-03-17', '2027-03-16T23:00:00Z', ['FIPS_140_2_MODULE']],
  ])('%s', (_title, asOf, codes) => {
    const result = judge(ubuntu2004, { asOf: new Date(asOf) });
    expect(codesOf(result)).toEqual(sorted(codes));
  });

  it('gives FIPS_140_2_MODULE medium severity, leaving the pool compliant', () => {
    const result = judge(ubuntu2004);
    expect(result.findings).toEqual([
      expect.objectContaining({ code: 'FIPS_140_2_MODULE', severity: 'medium' }),
    ]);
    expect(result.status).toBe('compliant');
    expect(result.findings[0]!.remediation).toContain('--os-sku Ubuntu2204');
  });

  it.each<[string, string, FindingCode[]]>([
    [
      'treats Ubuntu2204 as not FIPS-capable before its FIPS image (2026-05-29)',
      '2026-05-28T12:00:00Z',
      ['OS_NOT_FIPS_CAPABLE'],
    ],
    ['treats Ubuntu2204 as FIPS-capable from 2026-05-29', '2026-05-29T00:00:00Z', []],
    ['retires Ubuntu 22.04 on 2027-06-30', '2027-06-30T00:00:00Z', ['OS_RETIRED']],
  ])('%s', (_title, asOf, codes) => {
    expect(codesOf(judge({ osSku: 'Ubuntu2204' }, { asOf: new Date(asOf) }))).toEqual(codes);
  });

  it('never raises FIPS_140_2_MODULE for a pool with FIPS off', () => {
    expect(codesOf(judge({ ...ubuntu2004, enableFips: false }))).toEqual(['FIPS_DISABLED']);
  });
});

describe('evaluatePool: features that cannot be combined with FIPS', () => {
  it.each<[string, Partial<PoolRecord>, FindingCode[]]>([
    [
      'flags Ubuntu2204 on Arm64 (Standard_D4ps_v5)',
      { osSku: 'Ubuntu2204', vmSize: 'Standard_D4ps_v5' },
      ['OS_NOT_FIPS_CAPABLE'],
    ],
    [
      'flags floating Ubuntu on Arm64 (Standard_E8pds_v6)',
      on('1.30.9', { osSku: 'Ubuntu', vmSize: 'Standard_E8pds_v6', nodeImageVersion: IMG.ubuntu2004Fips }),
      ['FIPS_140_2_MODULE', 'OS_NOT_FIPS_CAPABLE'],
    ],
    [
      'accepts AzureLinux3 on Arm64 on 1.31',
      on('1.31.0', {
        osSku: 'AzureLinux3',
        vmSize: 'Standard_D4ps_v5',
        nodeImageVersion: IMG.azureLinux3Fips,
      }),
      [],
    ],
    [
      'accepts AzureLinux3 on Arm64 on 1.33',
      on('1.33.2', {
        osSku: 'AzureLinux3',
        vmSize: 'Standard_D4ps_v5',
        nodeImageVersion: IMG.azureLinux3Fips,
      }),
      [],
    ],
    [
      'accepts AzureContainerLinux on Arm64 on 1.34 (its FIPS, Trusted Launch and ARM64 image)',
      on('1.34.4', {
        osSku: 'AzureContainerLinux',
        vmSize: 'Standard_D4pds_v6',
        trustedLaunch: true,
        nodeImageVersion: IMG.containerLinuxArm64Fips,
      }),
      [],
    ],
    [
      'flags AzureContainerLinux on Arm64 below its 1.34 minimum',
      on('1.33.2', {
        osSku: 'AzureContainerLinux',
        vmSize: 'Standard_D4pds_v6',
        trustedLaunch: true,
        nodeImageVersion: IMG.containerLinuxArm64Fips,
      }),
      ['OS_NOT_FIPS_CAPABLE'],
    ],
    [
      'flags AzureLinuxOSGuard on Arm64 (no Arm64 image)',
      { osSku: 'AzureLinuxOSGuard', vmSize: 'Standard_D4ps_v5', nodeImageVersion: IMG.osGuard },
      ['OS_NOT_FIPS_CAPABLE'],
    ],
    [
      'flags AzureLinux3 on Arm64 on 1.30',
      on('1.30.9', {
        osSku: 'AzureLinux3',
        vmSize: 'Standard_D4ps_v5',
        nodeImageVersion: IMG.azureLinux3Fips,
      }),
      ['OS_NOT_FIPS_CAPABLE'],
    ],
    [
      'accepts AzureLinux3 on x64 on 1.30',
      on('1.30.9', {
        osSku: 'AzureLinux3',
        vmSize: 'Standard_D4s_v5',
        nodeImageVersion: IMG.azureLinux3Fips,
      }),
      [],
    ],
    [
      'flags a confidential VM size (Standard_DC4as_v5)',
      { osSku: 'AzureLinux3', vmSize: 'Standard_DC4as_v5', nodeImageVersion: IMG.azureLinux3Fips },
      ['OS_NOT_FIPS_CAPABLE'],
    ],
    [
      'flags a confidential VM size (Standard_EC8eds_v5)',
      { osSku: 'Ubuntu2204', vmSize: 'Standard_EC8eds_v5' },
      ['OS_NOT_FIPS_CAPABLE'],
    ],
    [
      'flags a confidential VM size (Standard_DC2ads_cc_v5)',
      { osSku: 'Ubuntu2204', vmSize: 'Standard_DC2ads_cc_v5' },
      ['OS_NOT_FIPS_CAPABLE'],
    ],
    [
      'flags Pod Sandboxing (KataMshvVmIsolation)',
      { osSku: 'AzureLinux3', workloadRuntime: 'KataMshvVmIsolation', nodeImageVersion: IMG.azureLinux3Fips },
      ['OS_NOT_FIPS_CAPABLE'],
    ],
    [
      'flags Pod Sandboxing (KataVmIsolation)',
      { osSku: 'AzureLinux3', workloadRuntime: 'KataVmIsolation', nodeImageVersion: IMG.azureLinux3Fips },
      ['OS_NOT_FIPS_CAPABLE'],
    ],
    [
      'accepts the plain OCIContainer runtime',
      { osSku: 'AzureLinux3', workloadRuntime: 'OCIContainer', nodeImageVersion: IMG.azureLinux3Fips },
      [],
    ],
    [
      'flags Trusted Launch on AzureLinux3',
      { osSku: 'AzureLinux3', trustedLaunch: true, nodeImageVersion: IMG.azureLinux3Fips },
      ['OS_NOT_FIPS_CAPABLE'],
    ],
    ['accepts Trusted Launch on Ubuntu2204', { osSku: 'Ubuntu2204', trustedLaunch: true }, []],
    [
      'accepts Trusted Launch on AzureLinuxOSGuard (its only image is Gen2 FIPS Trusted Launch)',
      { osSku: 'AzureLinuxOSGuard', trustedLaunch: true, nodeImageVersion: IMG.osGuard },
      [],
    ],
    [
      'accepts Trusted Launch on AzureContainerLinux (it requires Trusted Launch)',
      { osSku: 'AzureContainerLinux', trustedLaunch: true, nodeImageVersion: IMG.containerLinuxFips },
      [],
    ],
    [
      'accepts Trusted Launch on floating Ubuntu resolved to 22.04 (1.35)',
      on('1.35.1', { osSku: 'Ubuntu', trustedLaunch: true }),
      [],
    ],
    [
      'flags Trusted Launch on floating Ubuntu resolved to 20.04 (1.30)',
      on('1.30.9', { osSku: 'Ubuntu', trustedLaunch: true, nodeImageVersion: IMG.ubuntu2004Fips }),
      ['FIPS_140_2_MODULE', 'OS_NOT_FIPS_CAPABLE'],
    ],
  ])('%s', (_title, pool, codes) => {
    const result = judge(pool);
    expect(codesOf(result)).toEqual(sorted(codes));
    expect(result.status).toBe(codes.includes('OS_NOT_FIPS_CAPABLE') ? 'noncompliant' : 'compliant');
  });

  it('names the feature in the message', () => {
    const messages = [
      judge({ osSku: 'Ubuntu2204', vmSize: 'Standard_D4ps_v5' }),
      judge({ osSku: 'Ubuntu2204', vmSize: 'Standard_DC4as_v5' }),
      judge({
        osSku: 'AzureLinux3',
        workloadRuntime: 'KataVmIsolation',
        nodeImageVersion: IMG.azureLinux3Fips,
      }),
      judge({ osSku: 'AzureLinux3', trustedLaunch: true, nodeImageVersion: IMG.azureLinux3Fips }),
    ].map((r) => r.findings[0]!.message);
    expect(messages[0]).toMatch(/Arm64 \(Standard_D4ps_v5\)/);
    // Azure Linux 3.0 is no longer the only FIPS option on Arm64: the matrix names every one.
    expect(messages[0]).toContain(
      'the FIPS options on Arm64 are Azure Linux 3.0 (Kubernetes 1.31+) and Azure Container Linux (Kubernetes 1.34+)',
    );
    expect(messages[1]).toMatch(/Confidential VM size Standard_DC4as_v5/);
    expect(messages[2]).toMatch(/KataVmIsolation/);
    expect(messages[3]).toMatch(/Trusted Launch.*Azure Linux 3\.0/);
  });

  it.each<[string, Partial<PoolRecord>, FindingCode[], RegExp | null]>([
    [
      'flags Ubuntu2204 when one size of a VirtualMachines pool is Arm64',
      { osSku: 'Ubuntu2204', vmSize: null, vmSizes: ['Standard_D4s_v5', 'Standard_D4ps_v5'] },
      ['OS_NOT_FIPS_CAPABLE'],
      /Arm64 \(Standard_D4ps_v5\)/,
    ],
    [
      'flags a confidential size among the sizes, naming every one',
      {
        osSku: 'AzureLinux3',
        nodeImageVersion: IMG.azureLinux3Fips,
        vmSize: null,
        vmSizes: ['Standard_D4s_v5', 'Standard_DC4as_v5', 'Standard_EC8eds_v5'],
      },
      ['OS_NOT_FIPS_CAPABLE'],
      /Confidential VM sizes Standard_DC4as_v5, Standard_EC8eds_v5 cannot/,
    ],
    [
      'accepts a VirtualMachines pool whose sizes are all x64 and not confidential',
      { osSku: 'Ubuntu2204', vmSize: null, vmSizes: ['Standard_D4s_v5', 'Standard_D8s_v5'] },
      [],
      null,
    ],
    [
      'accepts AzureLinux3 on an Arm64 VirtualMachines pool on 1.33',
      on('1.33.2', {
        osSku: 'AzureLinux3',
        nodeImageVersion: IMG.azureLinux3Fips,
        vmSize: null,
        vmSizes: ['Standard_D4ps_v5', 'Standard_D8ps_v5'],
      }),
      [],
      null,
    ],
    [
      'reads vmSize and the profile sizes together',
      { osSku: 'Ubuntu2204', vmSize: 'Standard_D4s_v5', vmSizes: ['Standard_E4ps_v5'] },
      ['OS_NOT_FIPS_CAPABLE'],
      /Arm64 \(Standard_E4ps_v5\)/,
    ],
  ])('VirtualMachines pools: %s', (_title, pool, codes, message) => {
    const result = judge(pool);
    expect(codesOf(result)).toEqual(sorted(codes));
    if (message) expect(result.findings[0]?.message).toMatch(message);
  });

  it.each<[string, boolean, boolean]>([
    ['Standard_D4ps_v5', true, false],
    ['Standard_E8pds_v6', true, false],
    ['Standard_D16plds_v5', true, false],
    ['Standard_B2pts_v2', true, false],
    ['Standard_D4s_v5', false, false],
    ['Standard_DS2_v2', false, false],
    ['Standard_NC24ads_A100_v4', false, false],
    ['Standard_DC4as_v5', false, true],
    ['Standard_DC4ads_v5', false, true],
    ['Standard_EC16es_v5', false, true],
    ['Standard_DC8eds_v5', false, true],
    ['Standard_DC2as_cc_v5', false, true],
    ['Standard_DC4s_v3', false, false],
  ])('classifies %s as Arm64=%s, confidential=%s', (vmSize, arm64, confidential) => {
    expect(isArm64VmSize(vmSize)).toBe(arm64);
    expect(isConfidentialVmSize(vmSize)).toBe(confidential);
  });
});

describe('evaluatePool: node image freshness', () => {
  const current = 'AKSUbuntu-2204gen2fipscontainerd-202610.01.0';
  const latest = (date: string) =>
    ({
      basis: 'upgradeProfile',
      latestNodeImageVersion: `AKSUbuntu-2204gen2fipscontainerd-${date}.0`,
    }) as const;

  it.each<[string, ImageFreshness, boolean]>([
    ['flags an image 31 days behind the upgrade profile (limit 30)', latest('202611.01'), true],
    ['flags an image 50 days behind the upgrade profile', latest('202611.20'), true],
    ['accepts an image exactly 30 days behind (equal to the limit)', latest('202610.31'), false],
    ['accepts an image 10 days behind', latest('202610.11'), false],
    [
      'accepts an image that is the latest',
      { basis: 'upgradeProfile', latestNodeImageVersion: current },
      false,
    ],
    [
      'accepts an image that is the latest in other casing',
      { basis: 'upgradeProfile', latestNodeImageVersion: current.toLowerCase() },
      false,
    ],
    [
      'flags an image whose build date cannot be compared with a different latest',
      { basis: 'upgradeProfile', latestNodeImageVersion: 'AKSUbuntu-2204gen2fipscontainerd-latest' },
      true,
    ],
    [
      'flags an image built 59 days before the audit when only its build date is known',
      { basis: 'buildDate', reason: 'the upgrade profile could not be read' },
      true,
    ],
  ])('%s', (_title, freshness, outdated) => {
    const result = judge({ osSku: 'Ubuntu2204', nodeImageVersion: current }, {}, freshness);
    expect(codesOf(result)).toEqual(outdated ? ['NODE_IMAGE_OUTDATED'] : []);
    expect(result.status).toBe('compliant');
  });

  it.each<[string, string, boolean]>([
    ['accepts a build 30 days before the audit (equal to the limit)', '202610.30', false],
    ['flags a build 31 days before the audit', '202610.29', true],
    ['accepts a build 9 days before the audit', '202611.20', false],
  ])('%s (basis: build date)', (_title, build, outdated) => {
    const result = judge(
      { osSku: 'Ubuntu2204', nodeImageVersion: `AKSUbuntu-2204gen2fipscontainerd-${build}.0` },
      {},
      { basis: 'buildDate', reason: 'no upgrade profile' },
    );
    expect(codesOf(result)).toEqual(outdated ? ['NODE_IMAGE_OUTDATED'] : []);
  });

  // Windows versions end in the build date as YYMMDD (AKS release notes: 20348.5386.260715 in the 2026-07-17
  // release; AgentBaker: 20348.887.220810 is "Build Number: 20220810.1"), and Windows images come monthly.
  const windows2022 = (version: string): Partial<PoolRecord> =>
    on('1.33.2', {
      osType: 'Windows',
      osSku: 'Windows2022',
      nodeImageVersion: `AKSWindows-2022-containerd-${version}`,
    });
  it.each<[string, string, ImageFreshness, boolean]>([
    [
      'flags a Windows image one monthly release (35 days) behind its upgrade profile',
      '20348.5256.260610',
      { basis: 'upgradeProfile', latestNodeImageVersion: 'AKSWindows-2022-containerd-20348.5386.260715' },
      true,
    ],
    [
      'accepts a Windows image one monthly release (28 days) behind its upgrade profile',
      '20348.5139.260513',
      { basis: 'upgradeProfile', latestNodeImageVersion: 'AKSWindows-2022-containerd-20348.5256.260610' },
      false,
    ],
    [
      'accepts a Windows image built 35 days before the audit: the newest monthly image is that old',
      '20348.5900.261025',
      { basis: 'buildDate', reason: 'no upgrade profile' },
      false,
    ],
    [
      'accepts a Windows image built 66 days before the audit (limit plus one release interval)',
      '20348.5780.260924',
      { basis: 'buildDate', reason: 'no upgrade profile' },
      false,
    ],
    [
      'flags a Windows image built 67 days before the audit',
      '20348.5780.260923',
      { basis: 'buildDate', reason: 'no upgrade profile' },
      true,
    ],
  ])('%s', (_title, version, freshness, outdated) => {
    const result = judge(windows2022(version), {}, freshness);
    expect(codesOf(result)).toEqual(outdated ? ['NODE_IMAGE_OUTDATED'] : []);
  });

  it('says when the Windows release interval was allowed for', () => {
    const [f] = judge(windows2022('20348.5780.260901'), {}, { basis: 'buildDate', reason: 'x' }).findings;
    expect(f!.message).toContain('built 2026-09-01, 89 days before this audit');
    expect(f!.message).toContain(
      'limit 30 days plus 36 days, the interval between monthly Windows node image releases',
    );
  });

  it('gives Linux images no such allowance: a build 35 days old is outdated', () => {
    const result = judge(
      { osSku: 'Ubuntu2204', nodeImageVersion: 'AKSUbuntu-2204gen2fipscontainerd-202610.25.0' },
      {},
      { basis: 'buildDate', reason: 'x' },
    );
    expect(codesOf(result)).toEqual(['NODE_IMAGE_OUTDATED']);
  });

  it('states the upgrade profile as the basis, with the lag and the limit', () => {
    const [f] = judge({ osSku: 'Ubuntu2204', nodeImageVersion: current }, {}, latest('202611.20')).findings;
    expect(f).toMatchObject({ code: 'NODE_IMAGE_OUTDATED', severity: 'medium' });
    expect(f!.message).toContain("basis: the pool's upgrade profile");
    expect(f!.message).toContain('50 days behind');
    expect(f!.message).toContain('limit 30 days');
    expect(f!.remediation).toContain(
      `az aks nodepool upgrade --subscription ${SUB} --resource-group rg-payments --cluster-name aks-pay --name np1 --node-image-only`,
    );
  });

  it('states the build date as the basis, with the reason', () => {
    const [f] = judge(
      { osSku: 'Ubuntu2204', nodeImageVersion: current },
      {},
      { basis: 'buildDate', reason: 'the upgrade profile answered 403' },
    ).findings;
    expect(f!.message).toContain('built 2026-10-01');
    expect(f!.message).toContain("basis: the image's build date, because the upgrade profile answered 403");
  });

  it('honours the configured limit', () => {
    const result = judge(
      { osSku: 'Ubuntu2204', nodeImageVersion: current },
      { nodeImageMaxAgeInDays: 60 },
      latest('202611.20'),
    );
    expect(codesOf(result)).toEqual([]);
  });

  it.each<[string, Partial<PoolRecord>, FindingCode[]]>([
    [
      'does not judge freshness of a Linux pool with FIPS off',
      {
        osSku: 'Ubuntu2204',
        enableFips: false,
        nodeImageVersion: 'AKSUbuntu-2204gen2containerd-202601.01.0',
      },
      ['FIPS_DISABLED'],
    ],
    [
      'does not judge freshness of a pool on a non-FIPS OS',
      on('1.35.1', { osSku: 'Ubuntu2404', nodeImageVersion: 'AKSUbuntu-2404gen2containerd-202601.01.0' }),
      ['OS_NOT_FIPS_CAPABLE'],
    ],
    [
      'does not judge freshness of an unrecognised SKU',
      { osSku: 'FooOS', nodeImageVersion: 'AKSFoo-202601.01.0' },
      ['OS_SKU_UNRECOGNIZED'],
    ],
    [
      'judges freshness of a Windows2022 pool that is FIPS by platform default',
      {
        osType: 'Windows',
        osSku: 'Windows2022',
        enableFips: null,
        nodeImageVersion: 'AKSWindows-2022-containerd-20348.2966.260101',
      },
      ['FIPS_PLATFORM_DEFAULT', 'NODE_IMAGE_OUTDATED'],
    ],
    [
      'judges freshness of an opted-in FIPS Linux pool',
      { osSku: 'AzureLinux3', nodeImageVersion: 'AKSAzureLinux-V3gen2fips-202601.01.0' },
      ['NODE_IMAGE_OUTDATED'],
    ],
  ])('%s', (_title, pool, codes) => {
    const result = judge(pool, {}, { basis: 'buildDate', reason: 'no upgrade profile' });
    expect(codesOf(result)).toEqual(sorted(codes));
  });

  it('does not judge freshness without a node image version', () => {
    expect(codesOf(judge({ osSku: 'Ubuntu2204', nodeImageVersion: null }, {}, latest('202611.20')))).toEqual(
      [],
    );
  });
});

describe('evaluatePool: per-pool judgment', () => {
  it('judges each pool on its own: one compliant and one noncompliant pool in one cluster', () => {
    const cluster = makeCluster();
    const good = makePool(
      { name: 'fips', osSku: 'AzureLinux3', nodeImageVersion: IMG.azureLinux3Fips },
      cluster,
    );
    const bad = makePool(
      { name: 'plain', osSku: 'Ubuntu2204', enableFips: false, nodeImageVersion: IMG.ubuntu2204 },
      cluster,
    );
    const results = [good, bad].map((p) => evaluatePool({ ...cluster, pools: [good, bad] }, p, OPTS));
    expect(results.map((r) => [r.pool, r.status])).toEqual([
      ['fips', 'compliant'],
      ['plain', 'noncompliant'],
    ]);
    const summary = summarizeRun(results, [evaluateCluster(cluster)]);
    expect(summary).toMatchObject({ clusters: 1, pools: 2, compliant: 1, noncompliant: 1 });
  });

  it('does not let a compliant pool hide an unrecognised one', () => {
    const cluster = makeCluster();
    const statuses = [
      makePool({ name: 'a', osSku: 'AzureLinux3', nodeImageVersion: IMG.azureLinux3Fips }, cluster),
      makePool({ name: 'b', osSku: 'FooOS' }, cluster),
    ].map((p) => evaluatePool(cluster, p, OPTS).status);
    expect(statuses).toEqual(['compliant', 'unknown']);
  });

  it('reports the pool as read: ID, names, location, version, flag and image', () => {
    const cluster = makeCluster({ name: 'aks-eu', resourceGroup: 'rg-eu', location: 'westeurope' });
    const result = evaluatePool(
      cluster,
      makePool(
        { name: 'sys', enableFips: null, osSku: 'Ubuntu2204', nodeImageVersion: IMG.ubuntu2204 },
        cluster,
      ),
      OPTS,
    );
    expect(result).toMatchObject({
      id: `${cluster.id}/agentPools/sys`,
      subscriptionId: SUB,
      resourceGroup: 'rg-eu',
      cluster: 'aks-eu',
      pool: 'sys',
      location: 'westeurope',
      osType: 'Linux',
      osSku: 'Ubuntu2204',
      kubernetesVersion: '1.33.2',
      nodeImageVersion: IMG.ubuntu2204,
      enableFips: null,
      exemption: null,
    });
  });

  it('falls back to the cluster Kubernetes version when the pool has none', () => {
    const cluster = makeCluster({ currentKubernetesVersion: '1.18.20', kubernetesVersion: '1.18.20' });
    const result = evaluatePool(
      cluster,
      makePool({ orchestratorVersion: null, currentOrchestratorVersion: null }, cluster),
      OPTS,
    );
    expect(result.kubernetesVersion).toBe('1.18.20');
    expect(codesOf(result)).toEqual(['KUBERNETES_VERSION_UNSUPPORTED']);
  });
});

describe('evaluatePool: findings people can act on', () => {
  // Every scenario of this file at once, so each finding text is checked wherever it comes from.
  const scenarios: [string, PoolResult][] = [
    ...SKU_ROWS.map(([title, pool]) => [title, judge(pool)] as [string, PoolResult]),
    ['unrecognised', judge({ osSku: 'FooOS' })],
    ['old Kubernetes', judge(on('1.18.20', {}))],
    [
      'Windows2019 on 1.33',
      judge(on('1.33.2', { osType: 'Windows', osSku: 'Windows2019', enableFips: null })),
    ],
    ['not a FIPS image', judge({ nodeImageVersion: IMG.ubuntu2204 })],
    ['Arm64', judge({ vmSize: 'Standard_D4ps_v5' })],
    [
      'Arm64 too old',
      judge(
        on('1.30.9', {
          osSku: 'AzureLinux3',
          vmSize: 'Standard_D4ps_v5',
          nodeImageVersion: IMG.azureLinux3Fips,
        }),
      ),
    ],
    ['confidential', judge({ vmSize: 'Standard_DC4as_v5' })],
    ['Kata', judge({ workloadRuntime: 'KataMshvVmIsolation' })],
    [
      'Trusted Launch',
      judge({ osSku: 'AzureLinux3', trustedLaunch: true, nodeImageVersion: IMG.azureLinux3Fips }),
    ],
    [
      'outdated',
      judge(
        { nodeImageVersion: 'AKSUbuntu-2204gen2fipscontainerd-202601.01.0' },
        {},
        { basis: 'buildDate', reason: 'x' },
      ),
    ],
    ['not comparable', judge({}, {}, { basis: 'upgradeProfile', latestNodeImageVersion: 'other' })],
  ];

  it.each(scenarios)('gives every finding a message and a remediation (%s)', (_title, result) => {
    for (const f of result.findings) {
      expect(f.message.trim()).not.toBe('');
      expect(f.remediation.trim()).not.toBe('');
    }
  });

  it.each(scenarios)('derives the status from the findings (%s)', (_title, result) => {
    const expected = result.findings.some((f) => f.undecided)
      ? 'unknown'
      : result.findings.some((f) => f.severity === 'high')
        ? 'noncompliant'
        : 'compliant';
    expect(result.status).toBe(expected);
  });

  // Severities from docs/contracts.md, each produced by a real scenario.
  it.each<[FindingCode, Severity, () => { findings: { code: FindingCode; severity: Severity }[] }]>([
    ['FIPS_DISABLED', 'high', () => judge({ enableFips: false })],
    ['OS_NOT_FIPS_CAPABLE', 'high', () => judge({ osSku: 'Flatcar' })],
    [
      'OS_RETIRED',
      'high',
      () => judge(on('1.30.9', { osSku: 'CBLMariner', nodeImageVersion: IMG.azureLinux2Fips })),
    ],
    ['KUBERNETES_VERSION_UNSUPPORTED', 'high', () => judge(on('1.18.20', {}))],
    ['NODE_IMAGE_NOT_FIPS', 'high', () => judge({ nodeImageVersion: IMG.ubuntu2204 })],
    [
      'FIPS_140_2_MODULE',
      'medium',
      () => judge(on('1.30.9', { osSku: 'Ubuntu', nodeImageVersion: IMG.ubuntu2004Fips })),
    ],
    [
      'NODE_IMAGE_OUTDATED',
      'medium',
      () =>
        judge(
          { nodeImageVersion: 'AKSUbuntu-2204gen2fipscontainerd-202601.01.0' },
          {},
          { basis: 'buildDate', reason: 'x' },
        ),
    ],
    [
      'FIPS_PLATFORM_DEFAULT',
      'info',
      () => judge({ osType: 'Windows', osSku: 'Windows2022', enableFips: null }),
    ],
    [
      'NODE_AUTOPROVISIONING_UNAUDITED',
      'medium',
      () => evaluateCluster(makeCluster({ nodeProvisioningMode: 'Auto' })),
    ],
  ])('gives %s the severity %s', (code, severity, run) => {
    const f = run().findings.find((x) => x.code === code);
    expect(f).toBeDefined();
    expect(f!.severity).toBe(severity);
  });

  it('gives OS_SKU_UNRECOGNIZED no high severity: its status is unknown, not noncompliant', () => {
    const [f] = judge({ osSku: 'FooOS' }).findings;
    expect(f!.severity).not.toBe('high');
    expect(f!.undecided).toBe(true);
  });
});

describe('evaluatePool: remediation commands', () => {
  it.each<[string, string, string, string, string]>([
    [
      'plain names',
      'rg-payments',
      'aks-pay',
      'np1',
      `--resource-group rg-payments --cluster-name aks-pay --name np1`,
    ],
    [
      'a resource group with a space',
      'rg payments',
      'aks-pay',
      'np1',
      `--resource-group 'rg payments' --cluster-name aks-pay --name np1`,
    ],
    [
      'a resource group with parentheses',
      'rg(prod)',
      'aks-pay',
      'np1',
      `--resource-group 'rg(prod)' --cluster-name aks-pay --name np1`,
    ],
    [
      'a cluster with a single quote',
      'rg-payments',
      "aks o'brien",
      'np1',
      `--resource-group rg-payments --cluster-name 'aks o'\\''brien' --name np1`,
    ],
    [
      'a cluster with a double quote',
      'rg-payments',
      'aks"x',
      'np1',
      `--resource-group rg-payments --cluster-name 'aks"x' --name np1`,
    ],
  ])(
    'gives FIPS_DISABLED on Linux the exact az aks nodepool update command (%s)',
    (_t, resourceGroup, name, poolName, args) => {
      const cluster = makeCluster({ resourceGroup, name });
      const result = evaluatePool(
        cluster,
        makePool({ name: poolName, enableFips: false, nodeImageVersion: IMG.ubuntu2204 }, cluster),
        OPTS,
      );
      const [f] = result.findings;
      expect(f!.code).toBe('FIPS_DISABLED');
      expect(f!.remediation).toContain(
        `\`az aks nodepool update --subscription ${SUB} ${args} --enable-fips-image\``,
      );
      expect(f!.remediation).toContain('2.64.0');
    },
  );

  it('tells Windows pools to create a new pool instead of switching FIPS on', () => {
    const [f] = judge(
      on('1.30.9', { osType: 'Windows', osSku: 'Windows2019', enableFips: false }),
    ).findings.filter((x) => x.code === 'FIPS_DISABLED');
    expect(f!.remediation).toContain('cannot be switched');
    expect(f!.remediation).toContain('az aks nodepool add');
    expect(f!.remediation).toContain('--os-type Windows --os-sku Windows2022');
    expect(f!.remediation).not.toContain('nodepool update');
  });

  // AKS OS versions page (2026-07-13): Windows2022 on Kubernetes 1.23-1.36, Windows2025 from 1.32 and the default
  // from 1.36; the 2026-06-19 release notes: Windows Server 2022 is not supported on 1.37 and above.
  it.each<[string, Partial<PoolRecord>, FindingCode, string, string | null]>([
    [
      'Windows2022 on 1.37 (not allowed there): Windows2025',
      on('1.37.0', { osType: 'Windows', osSku: 'Windows2022', nodeImageVersion: IMG.windows2022 }),
      'KUBERNETES_VERSION_UNSUPPORTED',
      'Windows2025',
      'Windows2022',
    ],
    [
      'WindowsAnnual on 1.30 (before Windows2025 exists): Windows2022',
      on('1.30.9', { osType: 'Windows', osSku: 'WindowsAnnual', nodeImageVersion: IMG.windowsAnnual }),
      'OS_NOT_FIPS_CAPABLE',
      'Windows2022',
      'Windows2025',
    ],
    [
      'WindowsAnnual on 1.36 (Windows2025 is the default): Windows2025',
      on('1.36.1', { osType: 'Windows', osSku: 'WindowsAnnual', nodeImageVersion: IMG.windowsAnnual }),
      'OS_NOT_FIPS_CAPABLE',
      'Windows2025',
      'Windows2022',
    ],
    [
      'Windows2019 with FIPS off on 1.24 (Windows2025 needs 1.32): Windows2022',
      on('1.24.10', {
        osType: 'Windows',
        osSku: 'Windows2019',
        enableFips: false,
        nodeImageVersion: IMG.windows2019,
      }),
      'FIPS_DISABLED',
      'Windows2022',
      'Windows2025',
    ],
    [
      'a retired Windows2019 pool on 1.32: the 1.32 default, Windows2022',
      on('1.32.5', { osType: 'Windows', osSku: 'Windows2019', nodeImageVersion: IMG.windows2019 }),
      'OS_RETIRED',
      'Windows2022',
      'Windows2025',
    ],
    [
      'a confidential Windows2025 pool on 1.37: Windows2025',
      on('1.37.0', {
        osType: 'Windows',
        osSku: 'Windows2025',
        vmSize: 'Standard_DC4as_v5',
        nodeImageVersion: IMG.windows2025,
      }),
      'OS_NOT_FIPS_CAPABLE',
      'Windows2025',
      'Windows2022',
    ],
  ])('suggests a Windows SKU that exists for the pool version: %s', (_title, pool, code, sku, notSku) => {
    const f = judge(pool).findings.find((x) => x.code === code);
    expect(f).toBeDefined();
    expect(f!.remediation).toContain(`--os-type Windows --os-sku ${sku} --enable-fips-image`);
    if (notSku) expect(f!.remediation).not.toContain(`--os-sku ${notSku}`);
  });

  it('suggests AzureLinux3 for a retired Azure Linux 2.0 pool, keeping the pool mode', () => {
    const [f] = judge(
      on('1.30.9', { osSku: 'CBLMariner', mode: 'System', nodeImageVersion: IMG.azureLinux2Fips }),
    ).findings;
    expect(f!.remediation).toContain(
      '--os-type Linux --os-sku AzureLinux3 --enable-fips-image --mode System',
    );
  });

  it.each<[string, string]>([
    ['plain-name_1.2/x:y=z@w', 'plain-name_1.2/x:y=z@w'],
    ['has space', "'has space'"],
    ["it's", "'it'\\''s'"],
    ['$(rm -rf /)', "'$(rm -rf /)'"],
    ['a;b', "'a;b'"],
  ])('shell-quotes %s as %s', (value, quoted) => {
    expect(shellQuote(value)).toBe(quoted);
  });
});

describe('evaluateCluster', () => {
  it.each<[string, string | null, FindingCode[]]>([
    ['reports node auto-provisioning (mode Auto) as unaudited', 'Auto', ['NODE_AUTOPROVISIONING_UNAUDITED']],
    ['matches the provisioning mode case-insensitively', 'auto', ['NODE_AUTOPROVISIONING_UNAUDITED']],
    ['stays silent for manual provisioning', 'Manual', []],
    ['stays silent without a node provisioning profile', null, []],
  ])('%s', (_title, mode, codes) => {
    const cluster = makeCluster({ nodeProvisioningMode: mode });
    const result = evaluateCluster(cluster);
    expect(result.id).toBe(cluster.id);
    expect(codesOf(result)).toEqual(codes);
  });

  it('tells how to check every AKSNodeClass fipsMode for that cluster', () => {
    const [f] = evaluateCluster(
      makeCluster({ nodeProvisioningMode: 'Auto', resourceGroup: 'rg x' }),
    ).findings;
    expect(f).toMatchObject({ severity: 'medium' });
    expect(f!.message).toContain('AKSNodeClass');
    expect(f!.remediation).toContain(
      `az aks get-credentials --subscription ${SUB} --resource-group 'rg x' --name aks-pay`,
    );
    expect(f!.remediation).toContain('.spec.fipsMode');
  });
});

describe('unreadablePool', () => {
  it.each<[PoolStatus]>([['compliant'], ['noncompliant'], ['exempt'], ['unknown']])(
    'turns a pool last seen %s into unknown with SCOPE_UNREADABLE only',
    (previousStatus) => {
      const previous: PoolResult = {
        ...judge({ enableFips: false }),
        status: previousStatus,
        exemption:
          previousStatus === 'exempt'
            ? {
                id: 'e1',
                scope: SUB,
                codes: null,
                reason: 'r',
                ticket: null,
                owner: 'o',
                createdBy: 'c',
                createdAt: '2026-01-01T00:00:00Z',
                expiresOn: '2027-01-01T00:00:00Z',
              }
            : null,
      };
      const result = unreadablePool(previous, `/subscriptions/${SUB}`, 'AuthorizationFailed');
      expect(result.status).toBe('unknown');
      expect(result.exemption).toBeNull();
      expect(codesOf(result)).toEqual(['SCOPE_UNREADABLE']);
      expect(result.findings[0]!.message).toContain(`/subscriptions/${SUB}`);
      expect(result.findings[0]!.message).toContain('AuthorizationFailed');
      expect(result.findings[0]!.message).toContain(`last seen ${previousStatus}`);
      expect(result.findings[0]!.remediation).not.toBe('');
      expect(result.id).toBe(previous.id);
    },
  );
});
