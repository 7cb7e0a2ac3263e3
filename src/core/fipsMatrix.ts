// The AKS FIPS support matrix: its schema, the built-in dated copy, operator overrides, SKU resolution.

import { z } from 'zod';

import builtInMatrixJson from '../../data/fips-matrix.json';
import { inRange } from './kubernetesVersion';
import { matrixSourceObjectSchema, matrixSourceSchema, resolvedMatrixSourceSchema } from './matrixSources';

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date like 2026-06-16');
const minorVersion = z.string().regex(/^\d+\.\d+$/, 'a Kubernetes minor version like 1.27');
const range = z.strictObject({ from: minorVersion.optional(), below: minorVersion.optional() });

/** What one source says for a row, and when it said it; `source` is the `url` of one of the matrix's sources. */
const evidenceSchema = z.strictObject({
  source: z.string().min(1),
  date: isoDate,
  says: z.string().min(1),
});

/** Provenance of a row: its evidence, and plainly which of its facts no primary source backs. */
const provenance = {
  evidence: z.array(evidenceSchema).min(1).optional(),
  noPrimarySource: z.string().min(1).optional(),
};

const operatingSystemSchema = z.strictObject({
  name: z.string().min(1),
  /** opt-in: only with enableFIPS; platform-default: on unless turned off; always: cannot be off; none. */
  fips: z.enum(['opt-in', 'platform-default', 'always', 'none']),
  fipsModule: z.enum(['140-2', '140-3']).optional(),
  fipsSince: isoDate.optional(),
  retiredOn: isoDate.nullable(),
  /** A regular expression matched (case-insensitively) against nodeImageVersion to recognise this OS. */
  imagePattern: z
    .string()
    .refine((p) => {
      try {
        new RegExp(p, 'i');
        return true;
      } catch {
        return false;
      }
    }, 'a valid regular expression')
    .optional(),
  kubernetes: range.optional(),
  arm64: z.union([z.literal(false), z.strictObject({ fromKubernetes: minorVersion })]).optional(),
  trustedLaunchWithFips: z.boolean().optional(),
  note: z.string().optional(),
  ...provenance,
});

const osSkuSchema = z.strictObject({
  osType: z.enum(['Linux', 'Windows']),
  releases: z.array(z.strictObject({ os: z.string().min(1), kubernetes: range.optional() })).min(1),
  note: z.string().optional(),
  ...provenance,
});

const defaultSkuSchema = z.array(z.strictObject({ osSku: z.string().min(1), kubernetes: range.optional() }));

export const fipsMatrixSchema = z
  .strictObject({
    $comment: z.string().optional(),
    version: z.string().min(1),
    sources: z.array(resolvedMatrixSourceSchema).min(1),
    minKubernetesVersion: minorVersion,
    fips1402HistoricalSince: isoDate,
    defaultOsSku: z.strictObject({ Linux: defaultSkuSchema, Windows: defaultSkuSchema }),
    defaultOsSkuEvidence: z.array(evidenceSchema).optional(),
    osSkus: z.record(z.string(), osSkuSchema),
    operatingSystems: z.record(z.string(), operatingSystemSchema),
  })
  .superRefine((matrix, ctx) => {
    // Evidence must point at a listed source, so every claim leads to a link in the report.
    const urls = new Set(matrix.sources.map((s) => s.url).filter((u): u is string => u !== null));
    const checkEvidence = (evidence: { source: string }[] | undefined, path: (string | number)[]) =>
      evidence?.forEach((e, i) => {
        if (!urls.has(e.source)) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, i, 'source'],
            message: `cites "${e.source}", which is not the url of any entry of sources`,
          });
        }
      });
    checkEvidence(matrix.defaultOsSkuEvidence, ['defaultOsSkuEvidence']);
    for (const [sku, entry] of Object.entries(matrix.osSkus))
      checkEvidence(entry.evidence, ['osSkus', sku, 'evidence']);
    for (const [key, os] of Object.entries(matrix.operatingSystems))
      checkEvidence(os.evidence, ['operatingSystems', key, 'evidence']);

    for (const [sku, entry] of Object.entries(matrix.osSkus)) {
      entry.releases.forEach((release, i) => {
        if (!matrix.operatingSystems[release.os]) {
          ctx.addIssue({
            code: 'custom',
            path: ['osSkus', sku, 'releases', i, 'os'],
            message: `names operating system "${release.os}", which operatingSystems does not define`,
          });
        }
      });
    }
    // A default that names no SKU of its OS type would leave every pool without osSKU unjudgeable.
    for (const osType of ['Linux', 'Windows'] as const) {
      matrix.defaultOsSku[osType].forEach((entry, i) => {
        const lower = entry.osSku.toLowerCase();
        const skuKey = Object.keys(matrix.osSkus).find((k) => k.toLowerCase() === lower);
        const sku = skuKey === undefined ? undefined : matrix.osSkus[skuKey];
        if (!sku || sku.osType !== osType) {
          ctx.addIssue({
            code: 'custom',
            path: ['defaultOsSku', osType, i, 'osSku'],
            message: sku
              ? `names OS SKU "${entry.osSku}", which is a ${sku.osType} SKU, as a ${osType} default`
              : `names OS SKU "${entry.osSku}", which osSkus does not define`,
          });
        }
      });
    }
  });

/** An override: any part of the matrix; entries replace the built-in ones of the same key. */
export const fipsMatrixOverrideSchema = z.strictObject({
  $comment: z.string().optional(),
  version: z.string().min(1),
  /** `{ url, title, retrieved }`; the old string form ("https://… (description)") is still read and converted. */
  sources: z.array(matrixSourceSchema).optional(),
  minKubernetesVersion: minorVersion.optional(),
  fips1402HistoricalSince: isoDate.optional(),
  defaultOsSku: z.strictObject({ Linux: defaultSkuSchema, Windows: defaultSkuSchema }).optional(),
  defaultOsSkuEvidence: z.array(evidenceSchema).optional(),
  osSkus: z.record(z.string(), osSkuSchema).optional(),
  operatingSystems: z.record(z.string(), operatingSystemSchema).optional(),
});

export type FipsMatrix = z.infer<typeof fipsMatrixSchema>;
export type OperatingSystem = z.infer<typeof operatingSystemSchema>;
export type FipsMatrixOverride = z.infer<typeof fipsMatrixOverrideSchema>;

function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
}

export class MatrixError extends Error {
  override readonly name = 'MatrixError';
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(`${message}\n  - ${problems.join('\n  - ')}`);
  }
}

/** The matrix shipped with this version of the auditor, validated once. */
export const builtInMatrix: FipsMatrix = (() => {
  const parsed = fipsMatrixSchema.safeParse(builtInMatrixJson);
  if (!parsed.success)
    throw new MatrixError('The built-in FIPS matrix is invalid', formatIssues(parsed.error));
  // The shipped matrix has no excuse for the old string form: every source has its URL and date.
  const sources = z.array(matrixSourceObjectSchema).safeParse(builtInMatrixJson.sources);
  if (!sources.success)
    throw new MatrixError('The built-in FIPS matrix has incomplete sources', formatIssues(sources.error));
  return parsed.data;
})();

/**
 * Applies an operator's override to a matrix. The result carries the override's version
 * (so reports say which matrix judged them) and both lists of sources.
 */
export function applyMatrixOverride(base: FipsMatrix, override: unknown, origin: string): FipsMatrix {
  const parsedOverride = fipsMatrixOverrideSchema.safeParse(override);
  if (!parsedOverride.success) {
    throw new MatrixError(
      `The FIPS matrix override ${origin} is invalid`,
      formatIssues(parsedOverride.error),
    );
  }
  const o = parsedOverride.data;
  const merged = {
    version: o.version,
    sources: [...(o.sources ?? []), ...base.sources],
    minKubernetesVersion: o.minKubernetesVersion ?? base.minKubernetesVersion,
    fips1402HistoricalSince: o.fips1402HistoricalSince ?? base.fips1402HistoricalSince,
    defaultOsSku: o.defaultOsSku ?? base.defaultOsSku,
    // New defaults come with their own evidence (or none); the built-in evidence is for the built-in defaults.
    defaultOsSkuEvidence: o.defaultOsSkuEvidence ?? (o.defaultOsSku ? undefined : base.defaultOsSkuEvidence),
    osSkus: { ...base.osSkus, ...o.osSkus },
    operatingSystems: { ...base.operatingSystems, ...o.operatingSystems },
  };
  const parsed = fipsMatrixSchema.safeParse(merged);
  if (!parsed.success) {
    throw new MatrixError(
      `The FIPS matrix override ${origin} does not combine with the built-in matrix`,
      formatIssues(parsed.error),
    );
  }
  return parsed.data;
}

/** Compiled once per pattern: resolution runs for every floating-SKU pool of the estate. */
const imageRegExps = new Map<string, RegExp>();
function imageRegExp(pattern: string): RegExp {
  let re = imageRegExps.get(pattern);
  if (!re) {
    re = new RegExp(pattern, 'i');
    imageRegExps.set(pattern, re);
  }
  return re;
}

export interface ResolvedOs {
  /** The OS SKU the pool runs, after defaults for a missing one. */
  osSku: string;
  /** True when the SKU was missing and a default was applied. */
  defaulted: boolean;
  osKey: string;
  os: OperatingSystem;
  /** How a floating SKU was resolved, for the finding text. */
  basis: 'fixed' | 'nodeImage' | 'kubernetesVersion';
}

function findSkuKey(matrix: FipsMatrix, osSku: string): string | undefined {
  if (matrix.osSkus[osSku]) return osSku;
  const lower = osSku.toLowerCase();
  return Object.keys(matrix.osSkus).find((k) => k.toLowerCase() === lower);
}

/**
 * Resolves a pool's OS SKU to the operating system it runs: a missing SKU gets the AKS default
 * for its OS type and Kubernetes version; a floating SKU (Ubuntu, AzureLinux) resolves by the node
 * image name when that names one of its releases, else by Kubernetes version. Returns null when
 * the SKU is not in the matrix, which must never be read as "supported".
 */
export function resolveOs(
  matrix: FipsMatrix,
  pool: { osType: string | null; osSku: string | null; nodeImageVersion: string | null },
  kubernetesVersion: [number, number, number] | null,
): ResolvedOs | null {
  let osSku = pool.osSku?.trim() || null;
  let defaulted = false;
  if (!osSku) {
    const osType = (pool.osType ?? 'Linux').toLowerCase() === 'windows' ? 'Windows' : 'Linux';
    const candidates = matrix.defaultOsSku[osType];
    const pick =
      candidates.find((c) =>
        kubernetesVersion ? inRange(kubernetesVersion, c.kubernetes) : !c.kubernetes?.below,
      ) ?? candidates[candidates.length - 1];
    if (!pick) return null;
    osSku = pick.osSku;
    defaulted = true;
  }
  const skuKey = findSkuKey(matrix, osSku);
  if (!skuKey) return null;
  const sku = matrix.osSkus[skuKey];
  if (!sku) return null;

  const releaseOs = (key: string): ResolvedOs | null => {
    const os = matrix.operatingSystems[key];
    return os ? { osSku: skuKey, defaulted, osKey: key, os, basis: 'fixed' } : null;
  };
  if (sku.releases.length === 1) return releaseOs(sku.releases[0]!.os);

  // Only a FIPS image names the release a floating SKU gives FIPS pools: the non-FIPS default image
  // differs (Ubuntu on 1.30 runs 22.04 without FIPS but 20.04 with it), so it would mislead.
  const image = /fips/i.test(pool.nodeImageVersion ?? '') ? (pool.nodeImageVersion ?? '') : '';
  const byImage = sku.releases.find((r) => {
    const pattern = matrix.operatingSystems[r.os]?.imagePattern;
    return pattern !== undefined && image !== '' && imageRegExp(pattern).test(image);
  });
  if (byImage) {
    const resolved = releaseOs(byImage.os);
    return resolved && { ...resolved, basis: 'nodeImage' };
  }
  const byVersion = kubernetesVersion
    ? sku.releases.find((r) => inRange(kubernetesVersion, r.kubernetes))
    : undefined;
  if (!byVersion) return null;
  const resolved = releaseOs(byVersion.os);
  return resolved && { ...resolved, basis: 'kubernetesVersion' };
}
