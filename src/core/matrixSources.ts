// The FIPS matrix's sources as data ({ url, title, retrieved }) and the run record's reference to them.

import { z } from 'zod';

import type { MatrixRef, MatrixSourceRef } from './types';

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date like 2026-12-01');

/** An absolute https URL with nothing around it: it goes into href as it is. */
export function isHttpsUrl(text: string): boolean {
  if (!/^https:\/\/\S+$/.test(text)) return false;
  try {
    return new URL(text).protocol === 'https:';
  } catch {
    return false;
  }
}

const httpsUrl = z
  .string()
  .refine(isHttpsUrl, 'an absolute https URL without spaces, like https://learn.microsoft.com/azure/aks/');

/** One source as the matrix file writes it. */
export const matrixSourceObjectSchema = z.strictObject({
  url: httpsUrl,
  title: z.string().trim().min(1),
  /** When the source was read (ISO date). */
  retrieved: isoDate,
});

export type MatrixSource = MatrixSourceRef;

/**
 * Reads a source written the old way, as one string such as
 * `https://learn.microsoft.com/azure/aks/enable-fips-nodes (MicrosoftDocs/azure-aks-docs …)`: a leading
 * https URL becomes `url` and the rest (without its parentheses) the title. Text without such a URL is
 * kept as the title with no link; nothing says when it was read.
 */
export function sourceFromText(text: string): MatrixSource {
  const trimmed = text.trim();
  const [first = '', ...rest] = trimmed.split(/\s+/);
  if (!isHttpsUrl(first)) return { url: null, title: trimmed, retrieved: null };
  const description = rest
    .join(' ')
    .replace(/^\((.*)\)$/s, '$1')
    .trim();
  return { url: first, title: description || first, retrieved: null };
}

const legacySourceSchema = z
  .string()
  .trim()
  .min(1)
  .transform((text) => sourceFromText(text));

/** A source in a matrix file or override: the object form, or (converted) the old string form. */
export const matrixSourceSchema = z.union([matrixSourceObjectSchema, legacySourceSchema]);

/** A source of a merged matrix: also one converted from the old string form, which may lack url and date. */
export const resolvedMatrixSourceSchema = z.union([
  z.strictObject({
    url: httpsUrl.nullable(),
    title: z.string().trim().min(1),
    retrieved: isoDate.nullable(),
  }),
  legacySourceSchema,
]);

/** What a run records about the matrix that judged it. */
export function matrixRefOf(matrix: {
  version: string;
  sources: ReadonlyArray<MatrixSource | string>;
}): MatrixRef {
  const details = matrix.sources.map((s) => (typeof s === 'string' ? sourceFromText(s) : { ...s }));
  return {
    version: matrix.version,
    sources: details.map((s) => s.url ?? s.title),
    sourceDetails: details,
  };
}

const storedDetailSchema = z.object({
  url: z.string().nullable(),
  title: z.string(),
  retrieved: z.string().nullable(),
});

/**
 * The matrix reference of a stored run. Runs stored before sources became data have `sources` strings
 * only (some with their description inside, e.g. "https://… (MicrosoftDocs/…)"): they keep those
 * strings as stored, and `sourceDetails` is derived from them. A detail whose URL is not a clean https
 * URL loses its link and keeps its title.
 */
export function matrixRefFromStored(stored: unknown): MatrixRef {
  const record = typeof stored === 'object' && stored !== null ? (stored as Record<string, unknown>) : {};
  const version = typeof record.version === 'string' ? record.version : '';
  const sources = Array.isArray(record.sources)
    ? record.sources.filter((s): s is string => typeof s === 'string')
    : [];
  const parsed = z.array(storedDetailSchema).safeParse(record.sourceDetails);
  const sourceDetails = parsed.success
    ? parsed.data.map((d) => ({ ...d, url: d.url !== null && isHttpsUrl(d.url) ? d.url : null }))
    : sources.map(sourceFromText);
  return { version, sources, sourceDetails };
}
