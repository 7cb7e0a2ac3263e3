// Links in API responses: under REPORT_BASE_URL when it is set, relative otherwise; never from the request's URL.

import { ROUTE_PREFIX } from './routes';

/**
 * A link to `path` (under `/api/`, with its query): `<REPORT_BASE_URL>/api/<path>` when the setting is given,
 * `/api/<path>` (relative to whatever address the client used) otherwise. The request's own URL is never used:
 * its host comes from the Host header or an absolute-form request target, which any client (or a proxy) chooses,
 * so a link built from it could send the next request, with its function key, elsewhere.
 */
export function apiLink(reportBaseUrl: string | null, path: string): string {
  return `${reportBaseUrl ?? ''}/${ROUTE_PREFIX}/${path.replace(/^\/+/, '')}`;
}
