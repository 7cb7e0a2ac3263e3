// Facts carried by AKS node image version strings: the image family and the build date.

/**
 * The family of a node image: the version without its trailing build part, e.g.
 * `AKSUbuntu-2204gen2fipscontainerd` for `AKSUbuntu-2204gen2fipscontainerd-202511.20.0`.
 * Pools of one family in one region share their latest image, so it is asked for once.
 */
export function nodeImageFamily(version: string): string {
  const linux = /^(.*)-\d{6}\.\d{2}\.\d+$/.exec(version);
  if (linux) return linux[1]!;
  const windows = /^(.*)-\d+\.\d+\.\d{6}$/.exec(version);
  if (windows) return windows[1]!;
  return version;
}

function validDate(year: number, month: number, day: number): Date | null {
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
    ? date
    : null;
}

/**
 * The build date AKS encodes in an image version: Linux `…-202501.07.0` (YYYYMM.DD.N) was built
 * 2025-01-07; Windows `…-20348.2966.250101` ends in YYMMDD. Null when the version carries none.
 */
export function nodeImageBuildDate(version: string): Date | null {
  const linux = /-(\d{4})(\d{2})\.(\d{2})\.\d+$/.exec(version);
  if (linux) return validDate(Number(linux[1]), Number(linux[2]), Number(linux[3]));
  const windows = /-\d+\.\d+\.(\d{2})(\d{2})(\d{2})$/.exec(version);
  if (windows) return validDate(2000 + Number(windows[1]), Number(windows[2]), Number(windows[3]));
  return null;
}
