// Real AKS node image names, as primary sources show them, read by the matrix and src/core/nodeImage.ts.
//
// Sources (read on 2026-12-01 from stored copies):
//  K  Azure/karpenter-provider-azure pkg/fake/nodeimageversionsapi.go (main at 352646f, 2026-08-21): the node image
//     versions the AKS NodeImageVersions API lists, as FullName = "<OS>-<SKU>-<Version>"; "AKSUbuntu-1804-2022.08.29"
//     is from the same file at 27adc78.
//  A  Azure/AgentBaker (main at 06836ee, 2026-08-21): pkg/agent/datamodel/sig_config.go names each image's gallery
//     (AKSUbuntu, AKSAzureLinux, AKSCBLMariner, AKSFlatcar, AKSWindows) and definition; vhdbuilder/release-notes/
//     gives the versions built (e.g. AKSAzureContainerLinux/gen2tl/202608.20.0, sku "aclgen2TL"). A names below are
//     composed "<gallery>-<definition>-<version>" as in K; the ACL FIPS definitions (aclgen2fipsTL,
//     aclgen2arm64fipsTL, AgentBaker PR 8463) have no release notes yet, so their version is the ACL build train's.
//  C  Azure/AKS CHANGELOG.md: Windows versions of the 2026-07-17 release (vhd-notes/AKSWindows/2022/
//     20348.5386.260715.txt, …/2025/26100.33158.260715.txt) in the family names K shows.
//  I  issue 13 and docs/azure-wire.md (shared): the Windows example 20348.4297.251118 in K's family name.

import { generateEstate, imageFamilyOf } from '../../emulators/estateGenerator';
import { builtInMatrix, resolveOs } from '../../src/core/fipsMatrix';
import { parseKubernetesVersion } from '../../src/core/kubernetesVersion';
import { describeNodeImage, nodeImageBuildDate, nodeImageFamily } from '../../src/core/nodeImage';

type Row = [
  name: string,
  source: 'K' | 'A' | 'C' | 'I',
  os: string | null,
  fips: boolean,
  arch: 'amd64' | 'arm64',
  built: string | null,
];

const NAMES: Row[] = [
  // Azure Linux 3.0 (AKSAzureLinux gallery, definitions V3…)
  ['AKSAzureLinux-V3gen2fips-202512.18.0', 'K', 'azurelinux3', true, 'amd64', '2025-12-18'],
  ['AKSAzureLinux-V3fips-202512.18.0', 'K', 'azurelinux3', true, 'amd64', '2025-12-18'],
  ['AKSAzureLinux-V3gen2arm64fips-202512.18.0', 'K', 'azurelinux3', true, 'arm64', '2025-12-18'],
  ['AKSAzureLinux-V3gen2arm64-202512.18.0', 'K', 'azurelinux3', false, 'arm64', '2025-12-18'],
  ['AKSAzureLinux-V3gen2-202512.18.0', 'K', 'azurelinux3', false, 'amd64', '2025-12-18'],
  ['AKSAzureLinux-V3-202512.18.0', 'K', 'azurelinux3', false, 'amd64', '2025-12-18'],
  ['AKSAzureLinux-V3gen2TL-202512.18.0', 'K', 'azurelinux3', false, 'amd64', '2025-12-18'],
  ['AKSAzureLinux-V3katagen2-202512.18.0', 'K', 'azurelinux3', false, 'amd64', '2025-12-18'],
  ['AKSAzureLinux-V3gen2CVM-202512.18.0', 'K', 'azurelinux3', false, 'amd64', '2025-12-18'],
  // Azure Linux 3.0 OS Guard
  ['AKSAzureLinux-OSGuardV3gen2fipsTL-202512.18.0', 'K', 'azurelinuxosguard3', true, 'amd64', '2025-12-18'],
  // Azure Linux 2.0, in the AKSAzureLinux and the AKSCBLMariner galleries
  ['AKSAzureLinux-V2gen2fips-202512.18.0', 'K', 'azurelinux2', true, 'amd64', '2025-12-18'],
  ['AKSAzureLinux-V2fips-202512.18.0', 'K', 'azurelinux2', true, 'amd64', '2025-12-18'],
  ['AKSAzureLinux-V2gen2-202512.18.0', 'K', 'azurelinux2', false, 'amd64', '2025-12-18'],
  ['AKSAzureLinux-V2-202512.18.0', 'K', 'azurelinux2', false, 'amd64', '2025-12-18'],
  ['AKSAzureLinux-V2gen2arm64-202512.18.0', 'K', 'azurelinux2', false, 'arm64', '2025-12-18'],
  ['AKSAzureLinux-V2gen2TL-202512.18.0', 'K', 'azurelinux2', false, 'amd64', '2025-12-18'],
  ['AKSAzureLinux-V2katagen2-202509.05.0', 'K', 'azurelinux2', false, 'amd64', '2025-09-05'],
  ['AKSCBLMariner-V2fips-202512.18.0', 'K', 'azurelinux2', true, 'amd64', '2025-12-18'],
  ['AKSCBLMariner-V2gen2fips-202512.18.0', 'K', 'azurelinux2', true, 'amd64', '2025-12-18'],
  ['AKSCBLMariner-V2gen2-202512.18.0', 'K', 'azurelinux2', false, 'amd64', '2025-12-18'],
  ['AKSCBLMariner-V2-202512.18.0', 'K', 'azurelinux2', false, 'amd64', '2025-12-18'],
  ['AKSCBLMariner-V2gen2arm64-202512.18.0', 'K', 'azurelinux2', false, 'arm64', '2025-12-18'],
  ['AKSCBLMariner-V2gen2TL-202512.18.0', 'K', 'azurelinux2', false, 'amd64', '2025-12-18'],
  ['AKSCBLMariner-V2katagen2-202509.05.0', 'K', 'azurelinux2', false, 'amd64', '2025-09-05'],
  ['AKSCBLMariner-V2katagen2TL-2022.12.15', 'K', 'azurelinux2', false, 'amd64', '2022-12-15'],
  // CBL-Mariner 1.0 is no OS of the matrix: recognised as nothing, never as Azure Linux 2.0
  ['AKSCBLMariner-V1-202308.28.0', 'K', null, false, 'amd64', '2023-08-28'],
  // Azure Container Linux (AKSAzureLinux gallery, definitions acl…)
  ['AKSAzureLinux-aclgen2TL-202608.20.0', 'A', 'azurecontainerlinux', false, 'amd64', '2026-08-20'],
  ['AKSAzureLinux-aclgen2arm64TL-202608.20.0', 'A', 'azurecontainerlinux', false, 'arm64', '2026-08-20'],
  ['AKSAzureLinux-aclgen2fipsTL-202608.20.0', 'A', 'azurecontainerlinux', true, 'amd64', '2026-08-20'],
  ['AKSAzureLinux-aclgen2arm64fipsTL-202608.20.0', 'A', 'azurecontainerlinux', true, 'arm64', '2026-08-20'],
  // Ubuntu
  ['AKSUbuntu-1804-2022.08.29', 'K', 'ubuntu1804', false, 'amd64', '2022-08-29'],
  ['AKSUbuntu-1804gen2fipscontainerd-202506.16.0', 'A', 'ubuntu1804', true, 'amd64', '2025-06-16'],
  ['AKSUbuntu-2004fipscontainerd-202512.18.0', 'K', 'ubuntu2004', true, 'amd64', '2025-12-18'],
  ['AKSUbuntu-2004gen2fipscontainerd-202512.18.0', 'K', 'ubuntu2004', true, 'amd64', '2025-12-18'],
  ['AKSUbuntu-2004gen2CVMcontainerd-202512.18.0', 'K', 'ubuntu2004', false, 'amd64', '2025-12-18'],
  ['AKSUbuntu-2204gen2fipscontainerd-202404.09.0', 'K', 'ubuntu2204', true, 'amd64', '2024-04-09'],
  ['AKSUbuntu-2204fipscontainerd-202404.09.0', 'K', 'ubuntu2204', true, 'amd64', '2024-04-09'],
  ['AKSUbuntu-2204gen2fipsTLcontainerd-202512.18.0', 'K', 'ubuntu2204', true, 'amd64', '2025-12-18'],
  ['AKSUbuntu-2204gen2arm64containerd-202512.18.0', 'K', 'ubuntu2204', false, 'arm64', '2025-12-18'],
  ['AKSUbuntu-2204gen2containerd-202512.18.0', 'K', 'ubuntu2204', false, 'amd64', '2025-12-18'],
  ['AKSUbuntu-2204gen2containerd-2022.10.03', 'K', 'ubuntu2204', false, 'amd64', '2022-10-03'],
  ['AKSUbuntu-2204containerd-202512.18.0', 'K', 'ubuntu2204', false, 'amd64', '2025-12-18'],
  ['AKSUbuntu-2204gen2TLcontainerd-202512.18.0', 'K', 'ubuntu2204', false, 'amd64', '2025-12-18'],
  ['AKSUbuntu-2204minimalcontainerd-202401.12.0', 'K', 'ubuntu2204', false, 'amd64', '2024-01-12'],
  ['AKSUbuntu-2204gen2minimalcontainerd-202401.12.0', 'K', 'ubuntu2204', false, 'amd64', '2024-01-12'],
  ['AKSUbuntuEdgeZone-2204gen2containerd-202512.18.0', 'K', 'ubuntu2204', false, 'amd64', '2025-12-18'],
  ['AKSUbuntuEdgeZone-2204containerd-202512.18.0', 'K', 'ubuntu2204', false, 'amd64', '2025-12-18'],
  ['AKSUbuntu-2404gen2containerd-202512.18.0', 'K', 'ubuntu2404', false, 'amd64', '2025-12-18'],
  ['AKSUbuntu-2404containerd-202512.18.0', 'K', 'ubuntu2404', false, 'amd64', '2025-12-18'],
  ['AKSUbuntu-2404gen2arm64containerd-202512.18.0', 'K', 'ubuntu2404', false, 'arm64', '2025-12-18'],
  ['AKSUbuntu-2404gen2arm64gb200containerd-202512.18.0', 'K', 'ubuntu2404', false, 'arm64', '2025-12-18'],
  ['AKSUbuntu-2404gen2CVMcontainerd-202512.18.0', 'K', 'ubuntu2404', false, 'amd64', '2025-12-18'],
  ['AKSUbuntu-2404gen2TLcontainerd-202512.18.0', 'K', 'ubuntu2404', false, 'amd64', '2025-12-18'],
  ['AKSUbuntu-2604minimalgen2containerd-202608.20.0', 'A', 'ubuntu2604', false, 'amd64', '2026-08-20'],
  // Flatcar
  ['AKSFlatcar-flatcargen2-202512.18.0', 'K', 'flatcar', false, 'amd64', '2025-12-18'],
  ['AKSFlatcar-flatcargen2arm64-202512.18.0', 'K', 'flatcar', false, 'arm64', '2025-12-18'],
  // Windows: <OS build>.<revision>.<YYMMDD>; FIPS is the OS's, never in the name
  ['AKSWindows-2019-containerd-17763.8146.251212', 'K', 'windows2019', false, 'amd64', '2025-12-12'],
  ['AKSWindows-2019-17763.2019.221114', 'K', 'windows2019', false, 'amd64', '2022-11-14'],
  ['AKSWindows-2022-containerd-20348.4529.251212', 'K', 'windows2022', false, 'amd64', '2025-12-12'],
  ['AKSWindows-2022-containerd-gen2-20348.4529.251212', 'K', 'windows2022', false, 'amd64', '2025-12-12'],
  ['AKSWindows-2022-containerd-20348.5386.260715', 'C', 'windows2022', false, 'amd64', '2026-07-15'],
  ['AKSWindows-2022-containerd-20348.4297.251118', 'I', 'windows2022', false, 'amd64', '2025-11-18'],
  ['AKSWindows-2025-26100.7462.251212', 'K', 'windows2025', false, 'amd64', '2025-12-12'],
  ['AKSWindows-2025-gen2-26100.7462.251212', 'K', 'windows2025', false, 'amd64', '2025-12-12'],
  ['AKSWindows-2025-gen2-26100.33158.260715', 'C', 'windows2025', false, 'amd64', '2026-07-15'],
  ['AKSWindows-23H2-25398.2025.251212', 'K', 'windowsannual', false, 'amd64', '2025-12-12'],
  ['AKSWindows-23H2-gen2-25398.2025.251212', 'K', 'windowsannual', false, 'amd64', '2025-12-12'],
];

/** Every OS of the matrix whose imagePattern matches the name. */
function operatingSystemsOf(name: string): string[] {
  return Object.entries(builtInMatrix.operatingSystems)
    .filter(([, os]) => os.imagePattern !== undefined && new RegExp(os.imagePattern, 'i').test(name))
    .map(([key]) => key);
}

function resolveFloating(osSku: string, version: string, nodeImageVersion: string) {
  const resolved = resolveOs(
    builtInMatrix,
    { osType: 'Linux', osSku, nodeImageVersion },
    parseKubernetesVersion(version),
  );
  return resolved && { osKey: resolved.osKey, basis: resolved.basis };
}

describe('real AKS node image names', () => {
  it.each(NAMES)(
    'reads %s (source %s): OS %s, FIPS %s, %s, built %s',
    (name, _source, os, fips, arch, built) => {
      expect(operatingSystemsOf(name)).toEqual(os === null ? [] : [os]);
      const facts = describeNodeImage(name);
      expect(facts.fips).toBe(fips);
      expect(facts.arch).toBe(arch);
      expect(facts.windows).toBe(name.startsWith('AKSWindows-'));
      expect(facts.buildDate?.toISOString().slice(0, 10) ?? null).toBe(built);
      expect(nodeImageBuildDate(name)?.toISOString().slice(0, 10) ?? null).toBe(built);
      // The family is the name without its version, the key the upgrade-profile look-up shares per region.
      expect(facts.family).toBe(name.replace(/-(\d+\.\d+\.\d+)$/, ''));
      expect(nodeImageFamily(name)).toBe(facts.family);
    },
  );

  it('has a name for every operating system of the matrix that has an image pattern', () => {
    const named = new Set(NAMES.map(([, , os]) => os));
    const withPattern = Object.entries(builtInMatrix.operatingSystems)
      .filter(([, os]) => os.imagePattern !== undefined)
      .map(([key]) => key);
    expect(withPattern.filter((key) => !named.has(key))).toEqual([]);
  });

  // The bug of issue 13: "the node image name wins" for floating SKUs only if the names AKS writes match.
  it.each<[string, string, string, string]>([
    ['AzureLinux', '1.31.9', 'AKSAzureLinux-V3gen2fips-202512.18.0', 'azurelinux3'],
    ['AzureLinux', '1.31.9', 'AKSAzureLinux-V3gen2arm64fips-202512.18.0', 'azurelinux3'],
    ['AzureLinux', '1.33.2', 'AKSAzureLinux-V2gen2fips-202512.18.0', 'azurelinux2'],
    ['AzureLinux', '1.33.2', 'AKSCBLMariner-V2fips-202512.18.0', 'azurelinux2'],
    ['Ubuntu', '1.30.4', 'AKSUbuntu-2204gen2fipscontainerd-202404.09.0', 'ubuntu2204'],
    ['Ubuntu', '1.30.4', 'AKSUbuntu-2204gen2fipsTLcontainerd-202512.18.0', 'ubuntu2204'],
    ['Ubuntu', '1.35.1', 'AKSUbuntu-2004gen2fipscontainerd-202512.18.0', 'ubuntu2004'],
    ['Ubuntu', '1.26.6', 'AKSUbuntu-2004fipscontainerd-202512.18.0', 'ubuntu2004'],
  ])('lets the image name resolve floating %s on %s: %s is %s', (osSku, version, name, os) => {
    const resolved = resolveFloating(osSku, version, name);
    expect(resolved).toEqual({ osKey: os, basis: 'nodeImage' });
  });
});

describe('the estate generator names node images as AKS does', () => {
  const real = new Set(NAMES.map(([name]) => nodeImageFamily(name)));
  const estate = generateEstate({ seed: 13, pools: 4000 });
  const pools = estate.clusters.flatMap((c) => c.properties.agentPoolProfiles);

  it('uses only image families the sources show (and the deliberately unknown FooOS)', () => {
    const families = new Set(pools.map((p) => imageFamilyOf(p.nodeImageVersion)));
    expect([...families].filter((f) => !real.has(f) && f !== 'AKSFooOS-gen2').sort()).toEqual([]);
    // The generator's own family reading agrees with the app's.
    for (const p of pools)
      expect(imageFamilyOf(p.nodeImageVersion)).toBe(nodeImageFamily(p.nodeImageVersion));
  });

  it('offers latest images (the upgrade profile answers) only in those families and version forms', () => {
    const latest = Object.values(estate.latestNodeImages);
    expect(latest.length).toBeGreaterThan(0);
    expect(
      latest.filter((v) => !real.has(nodeImageFamily(v)) && nodeImageFamily(v) !== 'AKSFooOS-gen2'),
    ).toEqual([]);
    expect(latest.filter((v) => nodeImageBuildDate(v) === null)).toEqual([]);
  });

  it('gives every FIPS pool of a FIPS-capable Linux OS a name its OS pattern recognises', () => {
    const unrecognised = pools
      .filter((p) => p.osType === 'Linux' && /fips/i.test(p.nodeImageVersion))
      .filter((p) => operatingSystemsOf(p.nodeImageVersion).length !== 1)
      .map((p) => p.nodeImageVersion);
    expect(unrecognised).toEqual([]);
  });
});
