// Who may call a route: the function key alone while App Service Authentication is off, the route's app role while it is on.

import type { HttpRequest, HttpResponseInit } from '@azure/functions';

import { parseClientPrincipal } from './clientPrincipal';
import { problemResponse } from './problem';
import { type ApiRoute, APP_ROLE_ACTIONS } from './routes';

/** What authorization needs of the settings: whether App Service Authentication (WEBSITE_AUTH_ENABLED) is on. */
export interface RouteAccess {
  appServiceAuthEnabled: boolean;
}

/** `who` of a change when no signed-in principal is known: the caller only proved the function key. */
export const FUNCTION_KEY_CALLER = 'function-key';

/** The caller a route's logic runs for. */
export interface Caller {
  /**
   * `anonymous`: an anonymous route (health); `functionKey`: App Service Authentication is off, so the function
   * key the host checked is all that is known; `principal`: a signed-in caller holding the route's role.
   */
  kind: 'anonymous' | 'functionKey' | 'principal';
  /** Who, for records (exemption history): the principal's name, `app:<appid>`, or `function-key`. */
  who: string;
  /** The app roles of a signed-in caller; empty otherwise. */
  roles: readonly string[];
}

export type Authorization = { ok: true; caller: Caller } | { ok: false; response: HttpResponseInit };

/**
 * Decides whether `request` may run `route`'s logic, from the route table alone, so no handler can forget it.
 *
 * - Anonymous routes: anyone.
 * - App Service Authentication off: the function key (checked by the host before the handler runs) authorises
 *   every route; `x-ms-client-principal` is ignored altogether, since nothing strips a forged one.
 * - App Service Authentication on: a signed-in principal holding the role the route table names for the method.
 *   A request with no principal (the platform let an unauthenticated request through, or it carries only the
 *   function key) is 401: once identities are in use, a shared key identifies nobody and grants nothing.
 */
export function authorize(request: HttpRequest, route: ApiRoute, access: RouteAccess): Authorization {
  if (route.authLevel === 'anonymous') {
    return { ok: true, caller: { kind: 'anonymous', who: 'anonymous', roles: [] } };
  }
  if (!access.appServiceAuthEnabled) {
    return { ok: true, caller: { kind: 'functionKey', who: FUNCTION_KEY_CALLER, roles: [] } };
  }
  const role = route.roles[request.method as keyof ApiRoute['roles']];
  // The route table is wrong, not the request: fail closed, as a fault of the app (500, logged).
  if (role === undefined) throw new Error(`API_ROUTES.${route.name} names no app role for ${request.method}`);
  const needs = `the app role ${role} (${APP_ROLE_ACTIONS[role]})`;
  const principal = parseClientPrincipal(request.headers.get('x-ms-client-principal'));
  if (!principal) {
    return {
      ok: false,
      response: problemResponse(
        401,
        `App Service Authentication is on, and this request carries no signed-in principal; the function key alone is not enough. Send an Entra ID access token for this app (Authorization: Bearer …) of a user or application holding ${needs}.`,
        {
          type: 'urn:aks-fips-auditor:problem:unauthenticated',
          title: 'Sign-in required',
          requiredRole: role,
        },
        { 'WWW-Authenticate': 'Bearer' },
      ),
    };
  }
  if (!principal.roles.includes(role)) {
    return {
      ok: false,
      response: problemResponse(
        403,
        `${principal.name ?? 'This caller'} does not hold ${needs}. Ask an owner of the app registration to assign it; it takes effect with the next token.`,
        { type: 'urn:aks-fips-auditor:problem:forbidden', title: 'Missing app role', requiredRole: role },
      ),
    };
  }
  return {
    ok: true,
    caller: { kind: 'principal', who: principal.name ?? FUNCTION_KEY_CALLER, roles: principal.roles },
  };
}
