// The report JSON for the API: filters, paging with an opaque continuation token, and the whole run's summary.

import { z } from 'zod';

import { slicePools } from '../core/pagePools';
import { runIdSchema } from '../core/runId';
import { FINDING_CODES, type PoolResult, type Report } from '../core/types';
import { InputError } from '../errors';
import type { FramedReportSource, PoolSelection } from './reportText';

/** The largest page a client may ask for; a page of 5,000 pools is about 5 MB of JSON. */
export const MAX_PAGE_SIZE = 5000;
/** Limits on filter values, so a request cannot make the worker compare against an unbounded list. */
export const MAX_FILTER_VALUES = 200;
/** The longest free-text filter. */
export const MAX_TEXT_FILTER_LENGTH = 200;
const MAX_TOKEN_LENGTH = 4096;
const TOKEN_VERSION = 'v1';

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export const poolStatusSchema = z.enum(['compliant', 'noncompliant', 'exempt', 'unknown']);
export const osTypeSchema = z.enum(['Linux', 'Windows']);
export const findingCodeSchema = z.enum(FINDING_CODES);
export const subscriptionIdSchema = z
  .string()
  .regex(GUID, 'a subscription ID is a GUID such as 00000000-0000-0000-0000-000000000001');

/** An owner tag value (Azure allows 256 characters); one value, since a tag value may itself hold a comma. */
export const ownerFilterSchema = z.string().min(1).max(256);
/** Free text: every word must occur in the pool's names, IDs, OS, versions, owner or findings (any case). */
export const textFilterSchema = z
  .string()
  .max(MAX_TEXT_FILTER_LENGTH, `must be at most ${MAX_TEXT_FILTER_LENGTH} characters`)
  .regex(/\S/, 'must hold at least one word');

/** The report's filters: values of one filter are alternatives (OR); different filters all apply (AND). */
export const reportFiltersSchema = z
  .object({
    status: z.array(poolStatusSchema).min(1).max(MAX_FILTER_VALUES).optional(),
    subscriptionId: z.array(subscriptionIdSchema).min(1).max(MAX_FILTER_VALUES).optional(),
    osType: z.array(osTypeSchema).min(1).max(MAX_FILTER_VALUES).optional(),
    code: z.array(findingCodeSchema).min(1).max(MAX_FILTER_VALUES).optional(),
    owner: ownerFilterSchema.optional(),
    q: textFilterSchema.optional(),
  })
  .strict();
export type ReportFilters = z.infer<typeof reportFiltersSchema>;

/** Where a page starts and how long it is; `top` absent means every matching pool from `offset` on. */
export interface PageRequest {
  offset: number;
  top?: number;
}

export interface ReportPage extends Report {
  /** The filters that applied (in canonical form) and how many pools of the whole run matched them. */
  filter: ReportFilters & { matched: number };
  page: {
    offset: number;
    top: number | null;
    returned: number;
    /** Pass back as `continuationToken` for the next page; null on the last page. */
    continuationToken: string | null;
    /** The next page's URL (without any function key), or null on the last page. */
    nextLink: string | null;
  };
}

/** Sorted, de-duplicated values; subscription IDs lowercased (IDs compare case-insensitively); empty filters dropped. */
export function canonicalFilters(filters: ReportFilters): ReportFilters {
  const out: ReportFilters = {};
  const canon = <T extends string>(values: T[] | undefined): T[] | undefined =>
    values && values.length ? [...new Set(values)].sort() : undefined;
  const status = canon(filters.status);
  const subscriptionId = canon(filters.subscriptionId?.map((s) => s.toLowerCase()));
  const osType = canon(filters.osType);
  const code = canon(filters.code);
  if (status) out.status = status;
  if (subscriptionId) out.subscriptionId = subscriptionId;
  if (osType) out.osType = osType;
  if (code) out.code = code;
  if (filters.owner !== undefined && filters.owner !== '') out.owner = filters.owner;
  const q = filters.q?.trim().replace(/\s+/g, ' ');
  if (q) out.q = q;
  return out;
}

export function hasFilters(filters: ReportFilters): boolean {
  return Object.keys(canonicalFilters(filters)).length > 0;
}

/** True when the pool passes every filter given. */
export function poolMatches(pool: PoolResult, filters: ReportFilters): boolean {
  if (filters.status && !filters.status.includes(pool.status)) return false;
  if (filters.subscriptionId && !filters.subscriptionId.includes(pool.subscriptionId.toLowerCase()))
    return false;
  if (filters.osType && !filters.osType.some((t) => t.toLowerCase() === (pool.osType ?? '').toLowerCase())) {
    return false;
  }
  if (filters.code && !pool.findings.some((f) => (filters.code as string[]).includes(f.code))) return false;
  if (filters.owner !== undefined && pool.owner !== filters.owner) return false;
  if (filters.q !== undefined && !textMatches(pool, filters.q)) return false;
  return true;
}

/** What the free-text filter searches in a pool, lowercased. */
function searchableText(pool: PoolResult): string {
  return [
    pool.id,
    pool.subscriptionName ?? '',
    pool.resourceGroup,
    pool.cluster,
    pool.pool,
    pool.location,
    pool.osType ?? '',
    pool.osSku ?? '',
    pool.kubernetesVersion ?? '',
    pool.nodeImageVersion ?? '',
    pool.owner ?? '',
    pool.status,
    ...pool.findings.flatMap((f) => [f.code, f.message]),
  ]
    .join('\n')
    .toLowerCase();
}

/** True when every word of `text` occurs in the pool (case-insensitively). */
export function textMatches(pool: PoolResult, text: string): boolean {
  const haystack = searchableText(pool);
  return text
    .toLowerCase()
    .split(' ')
    .every((word) => word === '' || haystack.includes(word));
}

/** What a continuation token carries: everything needed to continue exactly where the last page ended. */
export interface ContinuationState {
  runId: string;
  filters: ReportFilters;
  offset: number;
  top: number;
}

const continuationSchema = z
  .object({
    v: z.literal(1),
    runId: runIdSchema,
    filters: reportFiltersSchema,
    offset: z.number().int().min(1).max(10_000_000),
    top: z.number().int().min(1).max(MAX_PAGE_SIZE),
  })
  .strict();

/** An opaque, URL-safe token. Not signed: it only points into data the caller may read anyway, and is fully re-validated. */
export function encodeContinuationToken(state: ContinuationState): string {
  const payload = {
    v: 1,
    runId: state.runId,
    filters: canonicalFilters(state.filters),
    offset: state.offset,
    top: state.top,
  };
  return `${TOKEN_VERSION}.${Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url')}`;
}

/** Decodes and validates a token; InputError (400) for anything this API did not issue. */
export function decodeContinuationToken(token: string): ContinuationState {
  const invalid = (why: string) =>
    new InputError(
      `continuationToken is not one this API issued (${why}). Pass the page.continuationToken of the previous page unchanged, or drop it to start from the first page.`,
    );
  if (token.length > MAX_TOKEN_LENGTH) throw invalid(`longer than ${MAX_TOKEN_LENGTH} characters`);
  const match = /^v1\.([A-Za-z0-9_-]+)$/.exec(token);
  if (!match?.[1]) throw invalid('wrong format');
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(match[1], 'base64url').toString('utf8'));
  } catch {
    throw invalid('not readable');
  }
  const parsed = continuationSchema.safeParse(payload);
  if (!parsed.success) throw invalid('its content is not valid');
  const { runId, filters, offset, top } = parsed.data;
  return { runId, filters: canonicalFilters(filters), offset, top };
}

/** True when both filter sets are the same once canonical. */
export function sameFilters(a: ReportFilters, b: ReportFilters): boolean {
  return JSON.stringify(canonicalFilters(a)) === JSON.stringify(canonicalFilters(b));
}

/** The filters as a pool selection: statuses, which the frames' counts answer, and the rest as one test. */
export function selectionOf(filters: ReportFilters): PoolSelection {
  const { status, ...rest } = canonicalFilters(filters);
  const selection: PoolSelection = {};
  if (status) selection.statuses = status;
  if (Object.keys(rest).length) selection.matches = (pool) => poolMatches(pool, rest);
  return selection;
}

/**
 * One page of the report: `pools` holds the matching pools from `offset` (at most `top`), in the report's
 * order, while `summary`, `clusters` and `errors` are always the whole run's. Only the frames holding the page
 * are read when the filters are statuses alone; `nextLink` turns a token into a URL. Every matching pool at
 * once is `reportPageJsonText`, which streams.
 */
export async function reportPage(
  report: FramedReportSource,
  filters: ReportFilters,
  page: Required<PageRequest>,
  nextLink: (token: string) => string | null = () => null,
): Promise<ReportPage> {
  const canon = canonicalFilters(filters);
  const { pools, matched } = await slicePools(report.frames, {
    ...selectionOf(canon),
    offset: page.offset,
    limit: page.top,
  });
  if (page.offset > matched) {
    throw new InputError(
      `continuationToken points past the end of the report (offset ${page.offset} of ${matched} matching pools). Start again from the first page.`,
    );
  }
  const end = page.offset + pools.length;
  const token =
    end < matched
      ? encodeContinuationToken({ runId: report.head.run.id, filters: canon, offset: end, top: page.top })
      : null;
  const { schemaVersion, run, summary, errors } = report.head;
  return {
    schemaVersion,
    run,
    summary,
    pools,
    clusters: [...(await report.clusters())],
    errors,
    filter: { ...canon, matched },
    page: {
      offset: page.offset,
      top: page.top,
      returned: pools.length,
      continuationToken: token,
      nextLink: token ? nextLink(token) : null,
    },
  };
}
