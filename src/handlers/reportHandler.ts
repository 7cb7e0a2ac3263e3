// GET /api/report: the latest (or a given) stored run as JSON (filtered, paged), CSV or an HTML page.

import type { HttpResponseInit } from '@azure/functions';
import type { z } from 'zod';

import type { Config } from '../config';
import type { RunRecord } from '../core/run';
import type { Report, RunStatus } from '../core/types';
import { InputError, NotFoundError } from '../errors';
import { apiLink } from '../http/apiLink';
import type { RouteAccess } from '../http/authorize';
import { CACHE_CONTROL, ifNoneMatchHits, notModified, strongEtag } from '../http/conditional';
import { routeHandler } from '../http/handle';
import { negotiateFormat, type ReportFormat } from '../http/negotiate';
import { API_ROUTES } from '../http/routes';
import { REPORT_ARRAY_PARAMETERS, reportQuerySchema } from '../http/schemas';
import { parseQuery } from '../http/validate';
import { renderReportCsv } from '../render/reportCsv';
import { renderReportHtml, reportContentSecurityPolicy, type TrendPoint } from '../render/reportHtml';
import {
  canonicalFilters,
  decodeContinuationToken,
  filterPools,
  hasFilters,
  type ReportFilters,
  reportPage,
  sameFilters,
} from '../render/reportJson';

/** What the report needs of storage; RunStore implements it. */
export interface ReportStore {
  getRun(runId: string): Promise<RunRecord | undefined>;
  getLatestRun(opts?: { statuses?: RunStatus[] }): Promise<RunRecord | undefined>;
  getReport(runId: string): Promise<Report | undefined>;
  listRuns(opts: { top?: number; since?: Date }): AsyncIterable<RunRecord>;
}

export interface ReportDependencies {
  store: ReportStore;
  /** Who may read (authorization), and REPORT_BASE_URL for the next-page links (relative without it). */
  config: RouteAccess & Pick<Config, 'reportBaseUrl'>;
}

/** Runs drawn in the HTML page's trend chart. */
export const TREND_RUNS = 60;
/** Finished reports kept in memory: paging through one run reads storage once, not once per page. */
const CACHED_REPORTS = 2;

const COMPLETED: RunStatus[] = ['succeeded', 'partial'];

/** Changes whenever what the store holds for the run changes: a retry, more progress, the end. */
function runVersion(run: RunRecord): unknown[] {
  return [run.id, run.status, run.startedAt, run.finishedAt, run.progress.poolsJudged, run.summary.pools];
}

/**
 * A `code` value that is not an upper-case finding code but is shaped like a Functions key: the host's own
 * `?code=` parameter (clients that cannot send `x-functions-key`, such as a link in an email). The host has
 * checked it before the handler runs, so the report ignores it rather than failing with 400.
 */
export function isFunctionKeyShaped(value: string): boolean {
  return !/^[A-Z0-9_]+$/.test(value) && /^[A-Za-z0-9_\-=.]{16,128}$/.test(value);
}

function requestFilters(query: z.output<typeof reportQuerySchema>): ReportFilters {
  const filters: ReportFilters = {};
  if (query.status) filters.status = query.status;
  if (query.subscriptionId) filters.subscriptionId = query.subscriptionId;
  if (query.osType) filters.osType = query.osType;
  if (query.code) filters.code = query.code;
  return canonicalFilters(filters);
}

/** The next page's link, never built from the request's URL (see apiLink). */
function nextLinkOf(reportBaseUrl: string | null): (token: string) => string {
  return (token) => {
    const params = new URLSearchParams({ format: 'json', continuationToken: token });
    return apiLink(reportBaseUrl, `${API_ROUTES.report.route}?${params.toString()}`);
  };
}

export function reportHandler(deps: ReportDependencies) {
  const cache = new Map<string, Report>();

  async function loadReport(run: RunRecord): Promise<Report> {
    const key = JSON.stringify(runVersion(run));
    const cached = cache.get(key);
    if (cached) return cached;
    const report = await deps.store.getReport(run.id);
    if (!report)
      throw new NotFoundError(`Run ${run.id} has no stored results. List runs with GET /api/runs.`);
    // A running run changes under us: only finished ones are kept.
    if (run.status !== 'running') {
      cache.set(key, report);
      while (cache.size > CACHED_REPORTS) cache.delete(cache.keys().next().value as string);
    }
    return report;
  }

  async function trendOf(): Promise<TrendPoint[]> {
    const points: TrendPoint[] = [];
    for await (const run of deps.store.listRuns({ top: TREND_RUNS })) {
      if (!COMPLETED.includes(run.status)) continue;
      const { compliant, noncompliant, unknown } = run.summary;
      points.push({
        runId: run.id,
        startedAt: run.startedAt,
        status: run.status,
        compliant,
        noncompliant,
        unknown,
      });
    }
    return points;
  }

  return routeHandler(API_ROUTES.report, deps.config, async (request): Promise<HttpResponseInit> => {
    const query = parseQuery(request.query, {
      schema: reportQuerySchema,
      arrays: REPORT_ARRAY_PARAMETERS,
      dropValue: (name, value) => name === 'code' && isFunctionKeyShaped(value),
    });
    const format: ReportFormat = negotiateFormat(query.format, request.headers.get('accept'));
    if (format !== 'json' && (query.top !== undefined || query.continuationToken !== undefined)) {
      throw new InputError(
        `top and continuationToken page the JSON report only; the ${format} report is always the whole (filtered) run. Drop them, or ask for format=json.`,
      );
    }

    let runId = query.runId;
    let filters = requestFilters(query);
    let offset = 0;
    let top = query.top;
    if (query.continuationToken !== undefined) {
      const state = decodeContinuationToken(query.continuationToken);
      if (runId !== undefined && runId !== state.runId) {
        throw new InputError(
          `continuationToken belongs to run ${state.runId}, not ${runId}. Drop runId, or drop the token to start that run's first page.`,
        );
      }
      if (hasFilters(filters) && !sameFilters(filters, state.filters)) {
        throw new InputError(
          'continuationToken was issued for other filters. Repeat the same filters (or none) with the token, or drop the token to start over.',
        );
      }
      runId = state.runId;
      filters = state.filters;
      offset = state.offset;
      top = top ?? state.top;
    }

    const run = runId
      ? await deps.store.getRun(runId)
      : await deps.store.getLatestRun({ statuses: COMPLETED });
    if (!run) {
      throw new NotFoundError(
        runId
          ? `No run ${runId} is stored. List the stored runs with GET /api/runs.`
          : 'No completed audit is stored yet. Start one with POST /api/audits, or wait for the scheduled audit.',
      );
    }

    const cacheControl = run.status === 'running' ? CACHE_CONTROL.noStore : CACHE_CONTROL.revalidate;
    const common: Record<string, string> = { Vary: 'Accept' };
    if (format !== 'html') {
      const etag = strongEtag(['report', runVersion(run), format, filters, offset, top ?? null]);
      common.ETag = etag;
      common['Cache-Control'] = cacheControl;
      if (ifNoneMatchHits(request.headers.get('if-none-match'), etag)) return notModified(common);
    }

    const report = await loadReport(run);
    if (format === 'json') {
      const page = reportPage(
        report,
        filters,
        top === undefined ? { offset } : { offset, top },
        nextLinkOf(deps.config.reportBaseUrl),
      );
      const headers: Record<string, string> = {
        ...common,
        'Content-Type': 'application/json; charset=utf-8',
      };
      if (page.page.nextLink) headers.Link = `<${page.page.nextLink}>; rel="next"`;
      return { status: 200, headers, body: JSON.stringify(page) };
    }
    const pools = filterPools(report.pools, filters);
    if (format === 'csv') {
      return {
        status: 200,
        headers: {
          ...common,
          'Content-Type': 'text/csv; charset=utf-8; header=present',
          'Content-Disposition': `attachment; filename="fips-audit-${run.id}.csv"`,
        },
        body: renderReportCsv(report, pools),
      };
    }
    const { html, nonce } = renderReportHtml(report, { trend: await trendOf(), pools, filters });
    return {
      status: 200,
      headers: {
        ...common,
        'Content-Type': 'text/html; charset=utf-8',
        'Cache-Control': CACHE_CONTROL.html,
        'Content-Security-Policy': reportContentSecurityPolicy(nonce),
        'Referrer-Policy': 'no-referrer',
        'X-Frame-Options': 'DENY',
        'Cross-Origin-Opener-Policy': 'same-origin',
      },
      body: html,
    };
  });
}
