// Facts carried by AKS node image version strings: the image family, FIPS, the architecture and the build date.

/*
 * AKS writes `nodeImageVersion` as `<gallery>-<image definition>-<version>` (Azure/AgentBaker
 * pkg/agent/datamodel/sig_config.go; the Karpenter provider's node image fixtures show the same split):
 *   Linux:   AKSUbuntu-2204gen2fipscontainerd-202512.18.0, AKSAzureLinux-V3gen2fips-202512.18.0,
 *            AKSCBLMariner-V2fips-202512.18.0, AKSAzureLinux-aclgen2arm64fipsTL-202608.20.0;
 *            version YYYYMM.DD.N, the build date (AgentBaker release notes: 202608.20.0 "Starting build on
 *            Thu Aug 20 … 2026"); images frozen before 2023 carry YYYY.MM.DD (AKSUbuntu-1804-2022.08.29).
 *   Windows: AKSWindows-2022-containerd-20348.4529.251212, AKSWindows-2025-gen2-26100.7462.251212;
 *            version <OS build>.<revision>.<YYMMDD>, the last part the build date (AgentBaker release notes:
 *            20348.887.220810 has "Build Number: 20220810.1").
 */

const LINUX_VERSION = /^(.*)-(\d{4})(\d{2})\.(\d{2})\.\d+$/;
const LINUX_DATED_VERSION = /^(.*)-(\d{4})\.(\d{2})\.(\d{2})$/;
const WINDOWS_VERSION = /^(.*)-\d+\.\d+\.(\d{2})(\d{2})(\d{2})$/;

/**
 * Windows node images are released monthly (AKS node images page), and the regular gap between two Windows
 * releases in the AKS release notes reaches 36 days (2022-2026). The newest Windows image is therefore itself
 * up to that old, which the build-date basis of freshness must allow for.
 */
export const WINDOWS_RELEASE_INTERVAL_IN_DAYS = 36;

/**
 * The family of a node image: the version without its trailing build part, e.g.
 * `AKSUbuntu-2204gen2fipscontainerd` for `AKSUbuntu-2204gen2fipscontainerd-202511.20.0`.
 * Pools of one family in one region share their latest image, so it is asked for once.
 */
export function nodeImageFamily(version: string): string {
  const match =
    LINUX_VERSION.exec(version) ?? LINUX_DATED_VERSION.exec(version) ?? WINDOWS_VERSION.exec(version);
  return match ? match[1]! : version;
}

function validDate(year: number, month: number, day: number): Date | null {
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
    ? date
    : null;
}

/**
 * The build date AKS encodes in an image version: Linux `…-202501.07.0` (YYYYMM.DD.N) was built
 * 2025-01-07, as was a frozen `…-2025.01.07`; Windows `…-20348.2966.250101` ends in YYMMDD.
 * Null when the version carries none.
 */
export function nodeImageBuildDate(version: string): Date | null {
  const linux = LINUX_VERSION.exec(version) ?? LINUX_DATED_VERSION.exec(version);
  if (linux) return validDate(Number(linux[2]), Number(linux[3]), Number(linux[4]));
  const windows = WINDOWS_VERSION.exec(version);
  if (windows) return validDate(2000 + Number(windows[2]), Number(windows[3]), Number(windows[4]));
  return null;
}

export interface NodeImageFacts {
  family: string;
  windows: boolean;
  /** The image definition names FIPS (`…fips…`); Windows images never do, their FIPS is the OS's. */
  fips: boolean;
  arch: 'amd64' | 'arm64';
  buildDate: Date | null;
}

/** What a node image version says about itself (which OS it is, is the matrix's `imagePattern` business). */
export function describeNodeImage(version: string): NodeImageFacts {
  const family = nodeImageFamily(version);
  return {
    family,
    windows: /^AKSWindows-/i.test(version),
    fips: /fips/i.test(family),
    arch: /arm64/i.test(family) ? 'arm64' : 'amd64',
    buildDate: nodeImageBuildDate(version),
  };
}
