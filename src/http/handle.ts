// Wraps a route's logic: method check (405), authorization, errors mapped once to problem+json, HEAD without a body, nosniff.

import { Readable } from 'node:stream';

import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { describeError } from '../errors';
import { authorize, type Caller, type RouteAccess } from './authorize';
import { MethodNotAllowedError, toProblem } from './problem';
import type { ApiRoute } from './routes';

export type RouteLogic = (
  request: HttpRequest,
  context: InvocationContext,
  /** Who is calling, already authorised for this route and method (src/http/authorize.ts). */
  caller: Caller,
) => Promise<HttpResponseInit>;

function headersOf(init: HttpResponseInit): Record<string, string> {
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((value, name) => (headers[name] = value));
  return headers;
}

/**
 * The handler a registration uses: nothing a client sends escapes as an exception. The caller is authorised
 * from the route table before `logic` runs (`access` is required, so no route can leave it out). Server faults
 * (5xx) are logged sanitized with the invocation ID that the problem body also carries.
 */
export function routeHandler(route: ApiRoute, access: RouteAccess, logic: RouteLogic): HttpHandler {
  return async (request, context) => {
    let response: HttpResponseInit;
    try {
      if (!(route.methods as readonly string[]).includes(request.method)) {
        throw new MethodNotAllowedError(request.method, route.methods);
      }
      const authorization = authorize(request, route, access);
      response = authorization.ok
        ? await logic(request, context, authorization.caller)
        : authorization.response;
    } catch (error) {
      response = toProblem(error, { invocationId: context.invocationId });
      if ((response.status ?? 500) >= 500) context.error(`${request.method} failed: ${describeError(error)}`);
    }
    const headers = headersOf(response);
    headers['x-content-type-options'] = 'nosniff';
    if (request.method === 'HEAD') {
      // A body produced as it is read (a report, a zip) is let go of: nothing reads it, nothing may keep producing it.
      if (response.body instanceof Readable) response.body.destroy();
      return { status: response.status ?? 200, headers };
    }
    return { ...response, headers };
  };
}
