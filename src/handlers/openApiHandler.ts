// GET /api/openapi.json: the API description, built once from the handlers' own schemas.

import type { HttpResponseInit } from '@azure/functions';

import type { RouteAccess } from '../http/authorize';
import { CACHE_CONTROL, ifNoneMatchHits, notModified, strongEtag } from '../http/conditional';
import { routeHandler } from '../http/handle';
import { openApiText } from '../http/openApi';
import { API_ROUTES } from '../http/routes';
import { noQuerySchema } from '../http/schemas';
import { parseQuery } from '../http/validate';

export interface OpenApiDependencies {
  config: RouteAccess;
}

export function openApiHandler(deps: OpenApiDependencies) {
  const body = openApiText();
  const etag = strongEtag(['openapi', body]);
  return routeHandler(API_ROUTES.openApi, deps.config, async (request): Promise<HttpResponseInit> => {
    parseQuery(request.query, { schema: noQuerySchema, ignored: ['code'] });
    const headers = {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': CACHE_CONTROL.openApi,
      ETag: etag,
    };
    if (ifNoneMatchHits(request.headers.get('if-none-match'), etag)) return notModified(headers);
    return Promise.resolve({ status: 200, headers, body });
  });
}
