// GET /api/report: the latest (or a given) stored run as JSON (filtered, paged), CSV or an HTML page.

import { Readable } from 'node:stream';

import type { HttpResponseInit } from '@azure/functions';
import type { z } from 'zod';

import type { Config } from '../config';
import { framesOf, pagePools, type PoolFrames } from '../core/pagePools';
import { COMPLETED_STATUSES, runInfoOf, type RunRecord } from '../core/run';
import type { ClusterResult, Report, RunStatus, Summary } from '../core/types';
import { InputError, NotFoundError } from '../errors';
import { apiLink } from '../http/apiLink';
import type { RouteAccess } from '../http/authorize';
import { CACHE_CONTROL, ifNoneMatchHits, notModified, strongEtag } from '../http/conditional';
import { routeHandler } from '../http/handle';
import { negotiateFormat, type ReportFormat } from '../http/negotiate';
import { API_ROUTES } from '../http/routes';
import { HTML_PAGE_SIZE, REPORT_ARRAY_PARAMETERS, reportQuerySchema } from '../http/schemas';
import { parseQuery } from '../http/validate';
import { type ReportHistory, reportHistory, TREND_RUNS } from '../render/reportHistory';
import { renderReportHtml, reportContentSecurityPolicy } from '../render/reportHtml';
import {
  canonicalFilters,
  decodeContinuationToken,
  hasFilters,
  type ReportFilters,
  reportPage,
  sameFilters,
  selectionOf,
} from '../render/reportJson';
import { type FramedReportSource, reportCsvText, reportPageJsonText } from '../render/reportText';
import { summaryWithBreakdowns } from '../render/summaryWithBreakdowns';

/** What the report needs of storage; RunStore implements it. */
export interface ReportStore {
  getRun(runId: string): Promise<RunRecord | undefined>;
  getLatestRun(opts?: { statuses?: RunStatus[] }): Promise<RunRecord | undefined>;
  getReport(runId: string): Promise<Report | undefined>;
  listRuns(opts: { top?: number; since?: Date }): AsyncIterable<RunRecord>;
  /**
   * The run's pools as indexed frames, so the HTML page reads only the frames of the page it shows; null when
   * the run has no such snapshot (the whole report is read then). Optional: RunStore implements it.
   */
  openReportSnapshot?(
    run: RunRecord,
  ): Promise<(PoolFrames & { clusters(): Promise<ClusterResult[]> }) | null>;
}

export interface ReportDependencies {
  store: ReportStore;
  /** Who may read (authorization), and REPORT_BASE_URL for the next-page links (relative without it). */
  config: RouteAccess & Pick<Config, 'reportBaseUrl'>;
}

/** Finished runs' pools kept in memory: paging through one run reads storage once, not once per page. */
const CACHED_REPORTS = 2;

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
  if (query.owner !== undefined) filters.owner = query.owner;
  if (query.q !== undefined) filters.q = query.q;
  return canonicalFilters(filters);
}

/** Parameters of the HTML page's filter form: a choice left at "all" arrives empty and means no filter. */
const FORM_FIELDS = new Set(['status', 'subscriptionId', 'osType', 'code', 'owner', 'q', 'page']);

/** The query without the form's empty fields, for a request of the HTML page (the form always sends format=html). */
function withoutEmptyFormFields(query: URLSearchParams): URLSearchParams {
  if (query.get('format') !== 'html') return query;
  const kept = new URLSearchParams();
  for (const [name, value] of query)
    if (!(FORM_FIELDS.has(name) && value.trim() === '')) kept.append(name, value);
  return kept;
}

/** The function key the request carried in `code` (a client that cannot send the header), for the page's own links. */
function functionKeyOf(query: URLSearchParams): string | undefined {
  return query.getAll('code').find(isFunctionKeyShaped);
}

/** The next page's link, never built from the request's URL (see apiLink). */
function nextLinkOf(reportBaseUrl: string | null): (token: string) => string {
  return (token) => {
    const params = new URLSearchParams({ format: 'json', continuationToken: token });
    return apiLink(reportBaseUrl, `${API_ROUTES.report.route}?${params.toString()}`);
  };
}

/** A body produced as it is read, with backpressure: the host (or serve) pulls the next text when it can send it. */
function textStream(texts: AsyncIterable<string>): Readable {
  return Readable.from(
    (async function* () {
      for await (const text of texts) yield Buffer.from(text, 'utf8');
    })(),
    { objectMode: false },
  );
}

export function reportHandler(deps: ReportDependencies) {
  /** The trend's runs, and the previous good run of the same scope (for each subscription's change). */
  async function historyOf(current: RunRecord): Promise<ReportHistory> {
    const runs: RunRecord[] = [];
    for await (const run of deps.store.listRuns({ top: TREND_RUNS })) runs.push(run);
    return reportHistory(runs, current);
  }

  interface PagedRun {
    frames: PoolFrames;
    clusters: () => Promise<ClusterResult[]>;
    summary: Summary;
  }
  const paged = new Map<string, PagedRun>();

  /** The run's pools for paging: the snapshot's frames when indexed, else the whole report (cached either way). */
  async function pagedRun(run: RunRecord): Promise<PagedRun> {
    const key = JSON.stringify(runVersion(run));
    const cached = paged.get(key);
    if (cached) return cached;
    const snapshot = (await deps.store.openReportSnapshot?.(run)) ?? null;
    let result: PagedRun;
    if (snapshot) {
      let clusters: Promise<ClusterResult[]> | undefined;
      result = {
        frames: snapshot,
        clusters: () => {
          clusters ??= snapshot.clusters();
          // eslint-disable-next-line no-restricted-syntax -- nothing is left running: every caller awaits `clusters`; this only forgets a failed read so the next call reads again
          clusters.catch(() => (clusters = undefined));
          return clusters;
        },
        summary: run.summary,
      };
    } else {
      const report = await deps.store.getReport(run.id);
      if (!report)
        throw new NotFoundError(`Run ${run.id} has no stored results. List runs with GET /api/runs.`);
      result = {
        frames: framesOf(report.pools),
        clusters: () => Promise.resolve(report.clusters),
        // A run stored before breakdowns were counted: counted now, from the pools in hand.
        summary: summaryWithBreakdowns(report),
      };
    }
    if (run.status !== 'running') {
      paged.set(key, result);
      while (paged.size > CACHED_REPORTS) paged.delete(paged.keys().next().value as string);
    }
    return result;
  }

  return routeHandler(API_ROUTES.report, deps.config, async (request): Promise<HttpResponseInit> => {
    const query = parseQuery(withoutEmptyFormFields(request.query), {
      schema: reportQuerySchema,
      arrays: REPORT_ARRAY_PARAMETERS,
      dropValue: (name, value) => name === 'code' && isFunctionKeyShaped(value),
    });
    const format: ReportFormat = negotiateFormat(query.format, request.headers.get('accept'));
    if (format !== 'html' && query.page !== undefined) {
      throw new InputError(
        `page pages the HTML report only; the ${format} report ${format === 'json' ? 'pages with top and continuationToken' : 'is always the whole (filtered) run'}. Drop page${format === 'json' ? ', or use top' : ''}.`,
      );
    }
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
      : await deps.store.getLatestRun({ statuses: COMPLETED_STATUSES });
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

    if (format === 'html') {
      const { frames, clusters, summary } = await pagedRun(run);
      const { statuses, matches } = selectionOf(filters);
      const size = HTML_PAGE_SIZE;
      const pageAt = (n: number) =>
        pagePools(frames, {
          ...(statuses ? { statuses } : {}),
          ...(matches ? { matches } : {}),
          offset: (n - 1) * size,
          limit: size,
        });
      let number = query.page ?? 1;
      let page = await pageAt(number);
      // A page past the end (fewer pools since the link was made) shows the last page instead.
      if (page.pools.length === 0 && page.matched > 0) {
        number = Math.ceil(page.matched / size);
        page = await pageAt(number);
      }
      const [history, clusterResults] = await Promise.all([historyOf(run), clusters()]);
      const functionKey = functionKeyOf(request.query);
      const { html, nonce } = renderReportHtml(
        {
          schemaVersion: 1,
          run: runInfoOf(run),
          summary,
          pools: [],
          clusters: clusterResults,
          errors: run.errors,
        },
        {
          trend: history.trend,
          previous: history.previous,
          pools: page.pools,
          page: { number, size, matched: page.matched },
          filters,
          ...(query.runId ? { runId: query.runId } : {}),
          ...(functionKey ? { functionKey } : {}),
        },
      );
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
    }

    // JSON and CSV are read from the run's frames: a page holds at most `top` pools, and the whole (filtered)
    // run is streamed a frame at a time, so a 100,000-pool report never sits in the handler's memory.
    const { frames, clusters, summary } = await pagedRun(run);
    const source: FramedReportSource = {
      head: { schemaVersion: 1, run: runInfoOf(run), summary, errors: run.errors },
      // The cached reader is shared by concurrent requests: no request lets go of another's chunks.
      frames: { frames: frames.frames, pools: (index) => frames.pools(index) },
      clusters,
    };
    if (format === 'json') {
      const headers: Record<string, string> = {
        ...common,
        'Content-Type': 'application/json; charset=utf-8',
      };
      if (top === undefined) {
        // Only a continuation token carries an offset, and every token carries its page's top.
        return {
          status: 200,
          headers,
          body: textStream(reportPageJsonText(source, selectionOf(filters), filters)),
        };
      }
      const page = await reportPage(source, filters, { offset, top }, nextLinkOf(deps.config.reportBaseUrl));
      if (page.page.nextLink) headers.Link = `<${page.page.nextLink}>; rel="next"`;
      return { status: 200, headers, body: JSON.stringify(page) };
    }
    return {
      status: 200,
      headers: {
        ...common,
        'Content-Type': 'text/csv; charset=utf-8; header=present',
        'Content-Disposition': `attachment; filename="fips-audit-${run.id}.csv"`,
      },
      body: textStream(reportCsvText(source, selectionOf(filters))),
    };
  });
}
