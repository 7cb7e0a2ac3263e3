// Which OS SKU a remediation should tell a platform engineer to create a replacement FIPS pool with.

import { type FipsMatrix, type OperatingSystem, resolveOs } from './fipsMatrix';
import { inRange } from './kubernetesVersion';

/** Preferred SKUs, in order: Linux's FIPS-by-default answer first; Windows after the AKS default of the version. */
const PREFERENCE: Record<'Linux' | 'Windows', readonly string[]> = {
  Linux: ['AzureLinux3', 'Ubuntu2204'],
  Windows: ['Windows2025', 'Windows2022'],
};

/** Whether an OS gives FIPS node pools on `asOfDay` at that Kubernetes version (unknown version: no range check). */
export function offersFips(
  os: OperatingSystem,
  kubernetesVersion: [number, number, number] | null,
  asOfDay: string,
): boolean {
  return (
    os.fips !== 'none' &&
    !(os.fipsSince && os.fipsSince > asOfDay) &&
    !(os.retiredOn && os.retiredOn <= asOfDay) &&
    (!kubernetesVersion || inRange(kubernetesVersion, os.kubernetes))
  );
}

/**
 * The SKU for a new FIPS pool of this OS type on this Kubernetes version: the AKS default SKU of the version
 * when it offers FIPS there, else the first preferred SKU that does. A Windows pool on Kubernetes 1.37 is told
 * Windows2025, since Windows2022 is not allowed there. Falls back to the first preference when none qualifies
 * (the remediation still names a real SKU; the pool's other findings say why it cannot be used yet).
 */
export function fipsReplacementSku(
  matrix: FipsMatrix,
  osType: 'Linux' | 'Windows',
  kubernetesVersion: [number, number, number] | null,
  asOfDay: string,
): string {
  const defaults = matrix.defaultOsSku[osType];
  const versionDefault =
    osType === 'Windows'
      ? defaults.find((c) =>
          kubernetesVersion ? inRange(kubernetesVersion, c.kubernetes) : !c.kubernetes?.below,
        )?.osSku
      : undefined;
  const candidates = [...new Set([...(versionDefault ? [versionDefault] : []), ...PREFERENCE[osType]])];
  const qualifies = (sku: string): boolean => {
    const resolved = resolveOs(matrix, { osType, osSku: sku, nodeImageVersion: null }, kubernetesVersion);
    return !!resolved && offersFips(resolved.os, kubernetesVersion, asOfDay);
  };
  return candidates.find(qualifies) ?? PREFERENCE[osType][0]!;
}

/** The operating systems that offer FIPS on Arm64 today, for the text of an Arm64 finding. */
export function arm64FipsOptions(matrix: FipsMatrix, asOfDay: string): string {
  const options = Object.values(matrix.operatingSystems)
    .filter((os) => os.arm64 && offersFips(os, null, asOfDay))
    .map((os) => (os.arm64 ? `${os.name} (Kubernetes ${os.arm64.fromKubernetes}+)` : os.name));
  if (options.length === 0) return 'no operating system offers FIPS on Arm64';
  return options.length === 1
    ? `${options[0]!} is the only FIPS option on Arm64`
    : `the FIPS options on Arm64 are ${options.slice(0, -1).join(', ')} and ${options[options.length - 1]!}`;
}
