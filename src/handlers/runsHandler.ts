// GET /api/runs: run history with summaries, newest first, for trend charts.

import type { HttpResponseInit } from '@azure/functions';

import type { RunRecord } from '../core/run';
import type { RouteAccess } from '../http/authorize';
import { CACHE_CONTROL, ifNoneMatchHits, notModified, strongEtag } from '../http/conditional';
import { routeHandler } from '../http/handle';
import { API_ROUTES } from '../http/routes';
import { runsQuerySchema } from '../http/schemas';
import { parseQuery } from '../http/validate';

export interface RunsStore {
  listRuns(opts: { top?: number; since?: Date }): AsyncIterable<RunRecord>;
}

export interface RunsDependencies {
  store: RunsStore;
  config: RouteAccess;
}

/** Runs listed when the client gives no `top`. */
export const DEFAULT_RUNS = 30;

export function runsHandler(deps: RunsDependencies) {
  return routeHandler(API_ROUTES.runs, deps.config, async (request): Promise<HttpResponseInit> => {
    const query = parseQuery(request.query, { schema: runsQuerySchema, ignored: ['code'] });
    const runs: RunRecord[] = [];
    const options = {
      top: query.top ?? DEFAULT_RUNS,
      ...(query.since ? { since: new Date(query.since) } : {}),
    };
    for await (const run of deps.store.listRuns(options)) runs.push(run);
    const body = JSON.stringify({ runs });
    const headers: Record<string, string> = {
      'Content-Type': 'application/json; charset=utf-8',
      // A running run's progress changes by the second: nothing may keep the list.
      'Cache-Control': runs.some((r) => r.status === 'running')
        ? CACHE_CONTROL.noStore
        : CACHE_CONTROL.revalidate,
      ETag: strongEtag(['runs', body]),
    };
    if (ifNoneMatchHits(request.headers.get('if-none-match'), headers.ETag!)) return notModified(headers);
    return { status: 200, headers, body };
  });
}
