// GET /api/trend: each completed run's counts by subscription, owner or finding code, as flat rows for charts.

import type { HttpResponseInit } from '@azure/functions';
import type { z } from 'zod';

import { compliancePercent } from '../core/compliancePercent';
import { isCompleted, type RunRecord } from '../core/run';
import type { RouteAccess } from '../http/authorize';
import { CACHE_CONTROL, ifNoneMatchHits, notModified, strongEtag } from '../http/conditional';
import { routeHandler } from '../http/handle';
import { API_ROUTES } from '../http/routes';
import { trendQuerySchema, type trendResponseSchema } from '../http/schemas';
import { parseQuery } from '../http/validate';
import { DEFAULT_RUNS, type RunsStore } from './runsHandler';

export interface TrendDependencies {
  store: RunsStore;
  config: RouteAccess;
}

type TrendResponse = z.infer<typeof trendResponseSchema>;
type TrendRow = TrendResponse['rows'][number];

/** The rows of one run: its breakdown by `by`, each with the run's ID, start and status. */
export function trendRows(run: RunRecord, by: TrendResponse['by']): TrendRow[] {
  if (!isCompleted(run.status)) return [];
  const base = { runId: run.id, startedAt: run.startedAt, runStatus: run.status };
  const counts = (r: {
    pools: number;
    compliant: number;
    noncompliant: number;
    exempt: number;
    unknown: number;
  }) => ({
    pools: r.pools,
    compliant: r.compliant,
    noncompliant: r.noncompliant,
    exempt: r.exempt,
    unknown: r.unknown,
    compliancePercent: compliancePercent(r),
  });
  switch (by) {
    case 'subscription':
      return (run.summary.bySubscription ?? []).map((r) => ({
        ...base,
        subscriptionId: r.subscriptionId,
        subscriptionName: r.other ? 'all other subscriptions' : (r.subscriptionName ?? null),
        ...counts(r),
      }));
    case 'owner':
      return (run.summary.byOwner ?? []).map((r) => ({
        ...base,
        owner: r.other ? 'all other owners' : r.owner,
        ...counts(r),
      }));
    case 'code':
      return (run.summary.byCode ?? []).map(({ fix: _fix, ...r }) => ({ ...base, ...r }));
  }
}

export function trendHandler(deps: TrendDependencies) {
  return routeHandler(API_ROUTES.trend, deps.config, async (request): Promise<HttpResponseInit> => {
    const query = parseQuery(request.query, { schema: trendQuerySchema, ignored: ['code'] });
    const by = query.by ?? 'subscription';
    const runs: RunRecord[] = [];
    const options = {
      top: query.top ?? DEFAULT_RUNS,
      ...(query.since ? { since: new Date(query.since) } : {}),
    };
    for await (const run of deps.store.listRuns(options)) runs.push(run);
    // Oldest first: the order a chart draws in.
    runs.sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt) || a.id.localeCompare(b.id));
    const body = JSON.stringify({
      by,
      rows: runs.flatMap((run) => trendRows(run, by)),
    } satisfies TrendResponse);
    const headers: Record<string, string> = {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': CACHE_CONTROL.revalidate,
      ETag: strongEtag(['trend', body]),
    };
    if (ifNoneMatchHits(request.headers.get('if-none-match'), headers.ETag!)) return notModified(headers);
    return { status: 200, headers, body };
  });
}
