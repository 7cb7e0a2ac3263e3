// Who may call what: the route table names a role per route and method, and authorize() enforces it only while
// App Service Authentication is on (when the platform, not the client, writes x-ms-client-principal).

import { HttpRequest } from '@azure/functions';

import { authorize, FUNCTION_KEY_CALLER } from '../../src/http/authorize';
import { parseClientPrincipal } from '../../src/http/clientPrincipal';
import { API_ROUTES, type ApiRoute, APP_ROLES, type AppRole, type RouteName } from '../../src/http/routes';

const principal = (roles: string[], name = 'Alice') =>
  Buffer.from(
    JSON.stringify({
      auth_typ: 'aad',
      name_typ: 'name',
      role_typ: 'roles',
      claims: [{ typ: 'name', val: name }, ...roles.map((val) => ({ typ: 'roles', val }))],
    }),
  ).toString('base64');

const request = (method: string, headers: Record<string, string> = {}) =>
  new HttpRequest({ method, url: 'https://fips-auditor.example.test/api/x', headers });

const ON = { appServiceAuthEnabled: true };
const OFF = { appServiceAuthEnabled: false };

/** Every function-level route and method with the role it needs. */
const OPERATIONS = (Object.entries(API_ROUTES) as [RouteName, ApiRoute][]).flatMap(([name, route]) =>
  route.methods.map((method) => ({ name, route, method, role: route.roles[method] })),
);

it('names a role for every method of every function-level route, and none for anonymous ones', () => {
  for (const { name, route, method, role } of OPERATIONS) {
    const expected: unknown = route.authLevel === 'anonymous' ? undefined : expect.any(String);
    expect([name, method, role]).toEqual([name, method, expected]);
  }
  expect(Object.keys(API_ROUTES.health.roles)).toEqual([]);
});

it.each<[string, RouteName, string, AppRole]>([
  ['reading the report', 'report', 'GET', APP_ROLES.reportsRead],
  ['reading runs', 'runs', 'GET', APP_ROLES.reportsRead],
  ['reading one run', 'run', 'HEAD', APP_ROLES.reportsRead],
  ['reading exemptions', 'exemptions', 'GET', APP_ROLES.reportsRead],
  ['reading one exemption', 'exemption', 'GET', APP_ROLES.reportsRead],
  ['reading the OpenAPI document', 'openApi', 'GET', APP_ROLES.reportsRead],
  ['starting an audit', 'startAudit', 'POST', APP_ROLES.auditsRun],
  ['emailing a digest', 'emailRun', 'POST', APP_ROLES.reportsSend],
  ['writing an exemption', 'exemption', 'PUT', APP_ROLES.exemptionsWrite],
  ['deleting an exemption', 'exemption', 'DELETE', APP_ROLES.exemptionsWrite],
])('requires %s to hold its role: %s %s needs %s', (_title, name, method, role) => {
  expect((API_ROUTES[name].roles as Partial<Record<string, AppRole>>)[method]).toBe(role);
});

describe.each(
  OPERATIONS.filter((o) => o.role !== undefined).map((o) => [`${o.method} ${o.name}`, o] as const),
)('%s', (_title, { route, method, role }) => {
  const others = Object.values(APP_ROLES).filter((r) => r !== role);

  it('lets the function key through alone while App Service Authentication is off, ignoring a forged principal', () => {
    for (const headers of [
      {} as Record<string, string>,
      { 'x-ms-client-principal': principal([]) },
      { 'x-ms-client-principal': 'junk' },
    ]) {
      const result = authorize(request(method, headers), route, OFF);
      expect(result).toEqual({
        ok: true,
        caller: { kind: 'functionKey', who: FUNCTION_KEY_CALLER, roles: [] },
      });
    }
  });

  it('refuses a request without a principal (the function key alone) with 401 while it is on', () => {
    const result = authorize(request(method), route, ON);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.response.status).toBe(401);
    expect(new Headers(result.response.headers).get('www-authenticate')).toBe('Bearer');
    const body = JSON.parse(result.response.body as string) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 401,
      requiredRole: role,
      type: 'urn:aks-fips-auditor:problem:unauthenticated',
    });
    expect(body.detail).toContain(`the app role ${role}`);
  });

  it('refuses a principal holding every other role but this one with 403 naming the role', () => {
    const result = authorize(
      request(method, { 'x-ms-client-principal': principal(others, 'Rob') }),
      route,
      ON,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.response.status).toBe(403);
    const body = JSON.parse(result.response.body as string) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 403,
      requiredRole: role,
      type: 'urn:aks-fips-auditor:problem:forbidden',
    });
    expect(body.detail).toContain('Rob does not hold');
  });

  it('lets a principal holding the role through, named for the records', () => {
    const result = authorize(
      request(method, { 'x-ms-client-principal': principal([role!], 'Alice') }),
      route,
      ON,
    );
    expect(result).toEqual({ ok: true, caller: { kind: 'principal', who: 'Alice', roles: [role] } });
  });
});

it('lets anyone call an anonymous route, with or without App Service Authentication', () => {
  for (const access of [ON, OFF]) {
    expect(authorize(request('GET'), API_ROUTES.health, access)).toEqual({
      ok: true,
      caller: { kind: 'anonymous', who: 'anonymous', roles: [] },
    });
  }
});

it('fails closed, as a fault of the app, when the route table names no role for a method', () => {
  const route: ApiRoute = { ...API_ROUTES.report, methods: ['GET', 'POST'] };
  expect(() =>
    authorize(request('POST', { 'x-ms-client-principal': principal(['Reports.Read']) }), route, ON),
  ).toThrow(/names no app role for POST/);
});

it.each([
  ['not base64 JSON', 'not-base64!'],
  ['claims that are not a list', Buffer.from('{"claims":"x"}').toString('base64')],
  ['an empty header', ''],
])('treats a principal header that is %s as no principal', (_title, header) => {
  expect(parseClientPrincipal(header)).toBeNull();
});
