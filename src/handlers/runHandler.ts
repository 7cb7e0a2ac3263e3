// GET /api/runs/{runId}: one run's record, which shows an on-demand audit's progress while it runs.

import type { HttpResponseInit } from '@azure/functions';

import type { RunRecord } from '../core/run';
import { NotFoundError } from '../errors';
import type { RouteAccess } from '../http/authorize';
import { CACHE_CONTROL, ifNoneMatchHits, notModified, strongEtag } from '../http/conditional';
import { routeHandler } from '../http/handle';
import { API_ROUTES } from '../http/routes';
import { noQuerySchema, runPathSchema } from '../http/schemas';
import { parsePathParams, parseQuery } from '../http/validate';

export interface RunStoreReader {
  getRun(runId: string): Promise<RunRecord | undefined>;
}

export interface RunDependencies {
  store: RunStoreReader;
  config: RouteAccess;
}

export function runHandler(deps: RunDependencies) {
  return routeHandler(API_ROUTES.run, deps.config, async (request): Promise<HttpResponseInit> => {
    parseQuery(request.query, { schema: noQuerySchema, ignored: ['code'] });
    const { runId } = parsePathParams(request.params, runPathSchema);
    const run = await deps.store.getRun(runId);
    if (!run) throw new NotFoundError(`No run ${runId} is stored. List the stored runs with GET /api/runs.`);
    const body = JSON.stringify(run);
    const running = run.status === 'running';
    const headers: Record<string, string> = {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': running ? CACHE_CONTROL.noStore : CACHE_CONTROL.revalidate,
      ETag: strongEtag(['run', body]),
    };
    // A client polling a running audit is told when to look again.
    if (running) headers['Retry-After'] = '5';
    if (ifNoneMatchHits(request.headers.get('if-none-match'), headers.ETag!)) return notModified(headers);
    return { status: 200, headers, body };
  });
}
