// The API's routes in one table: the Functions registrations, the local adapter and the OpenAPI document read it.

import type { HttpMethod } from '@azure/functions';

/**
 * The app roles of the app registration (infra/README.md defines them). Which one each route and method needs is
 * in API_ROUTES; src/http/authorize.ts checks it on every request while App Service Authentication is on.
 */
export const APP_ROLES = {
  reportsRead: 'Reports.Read',
  auditsRun: 'Audits.Run',
  reportsSend: 'Reports.Send',
  exemptionsWrite: 'Exemptions.Write',
} as const;
export type AppRole = (typeof APP_ROLES)[keyof typeof APP_ROLES];

/** What each role lets its holder do, for problem details and docs. */
export const APP_ROLE_ACTIONS: Record<AppRole, string> = {
  'Reports.Read': 'reading reports, runs and their evidence, exemptions and the OpenAPI document',
  'Audits.Run': 'starting audits',
  'Reports.Send': "emailing a run's digest on request",
  'Exemptions.Write': 'creating, replacing and deleting exemptions',
};

const READ = { GET: APP_ROLES.reportsRead, HEAD: APP_ROLES.reportsRead } as const;

export interface ApiRoute {
  /** The Function's name: stable, it appears in the portal, in logs and in the function-key settings. */
  name: string;
  /** Route template under the host's `api/` prefix. */
  route: string;
  /** Methods the route answers; every other registered method gets 405 with an Allow header. */
  methods: readonly HttpMethod[];
  authLevel: 'function' | 'anonymous';
  /**
   * The app role each method needs while App Service Authentication is on (WEBSITE_AUTH_ENABLED=True), on top of
   * the function key the host checks. With it off, the function key alone is the credential. Every method of a
   * `function` route has one; an anonymous route has none.
   */
  roles: Partial<Record<HttpMethod, AppRole>>;
  summary: string;
}

export const API_ROUTES = {
  report: {
    name: 'report',
    route: 'report',
    methods: ['GET', 'HEAD'],
    authLevel: 'function',
    roles: READ,
    summary: 'The latest (or a given) run as JSON, CSV or an HTML page, with filters and paging',
  },
  runs: {
    name: 'runs',
    route: 'runs',
    methods: ['GET', 'HEAD'],
    authLevel: 'function',
    roles: READ,
    summary: 'Run history with summaries, newest first',
  },
  trend: {
    name: 'trend',
    route: 'trend',
    methods: ['GET', 'HEAD'],
    authLevel: 'function',
    roles: READ,
    summary: 'Per-run counts by subscription, owner or finding code, flat rows for dashboards',
  },
  run: {
    name: 'run',
    route: 'runs/{runId}',
    methods: ['GET', 'HEAD'],
    authLevel: 'function',
    roles: READ,
    summary: "One run's record, with its progress while it runs",
  },
  startAudit: {
    name: 'startAudit',
    route: 'audits',
    methods: ['POST'],
    authLevel: 'function',
    roles: { POST: APP_ROLES.auditsRun },
    summary: 'Start an audit now; 202 with the run ID, 409 while one runs',
  },
  emailRun: {
    name: 'emailRun',
    route: 'runs/{runId}/email',
    methods: ['POST'],
    authLevel: 'function',
    roles: { POST: APP_ROLES.reportsSend },
    summary: "Email a run's digest now; a repeated Idempotency-Key sends once",
  },
  runEvidence: {
    name: 'runEvidence',
    route: 'runs/{runId}/evidence',
    methods: ['GET', 'HEAD'],
    authLevel: 'function',
    roles: READ,
    summary:
      "A completed run's evidence bundle (zip): report, CSV, page, matrix, OSCAL assessment results, manifest of SHA-256s",
  },
  runVerification: {
    name: 'runVerification',
    route: 'runs/{runId}/verification',
    methods: ['GET', 'HEAD'],
    authLevel: 'function',
    roles: READ,
    summary:
      "Recomputes a run's seal from storage: intact, or the first stored entity that no longer matches",
  },
  health: {
    name: 'health',
    route: 'health',
    methods: ['GET', 'HEAD'],
    authLevel: 'anonymous',
    roles: {},
    summary: 'Liveness and configuration check, no secrets',
  },
  exemptions: {
    name: 'exemptions',
    route: 'exemptions',
    methods: ['GET', 'HEAD'],
    authLevel: 'function',
    roles: READ,
    summary: 'Exemptions, soonest expiry first; filters active, expired, expiringWithinDays',
  },
  exemption: {
    name: 'exemption',
    route: 'exemptions/{id}',
    methods: ['GET', 'HEAD', 'PUT', 'DELETE'],
    authLevel: 'function',
    roles: { ...READ, PUT: APP_ROLES.exemptionsWrite, DELETE: APP_ROLES.exemptionsWrite },
    summary:
      'One exemption: read, create or replace (If-Match), delete; writes need the Exemptions.Write role',
  },
  exemptionHistory: {
    name: 'exemptionHistory',
    route: 'exemptions/{id}/history',
    methods: ['GET', 'HEAD'],
    authLevel: 'function',
    roles: READ,
    summary: "An exemption's append-only change history (who, when, before, after), newest first",
  },
  openApi: {
    name: 'openApi',
    route: 'openapi.json',
    methods: ['GET', 'HEAD'],
    authLevel: 'function',
    roles: READ,
    summary: 'This API as an OpenAPI 3.1 document',
  },
} as const satisfies Record<string, ApiRoute>;

export type RouteName = keyof typeof API_ROUTES;

/**
 * Every route is registered for all of these, so a wrong method reaches the handler and gets a
 * problem+json 405 instead of the host's bare 404. TRACE and CONNECT are left to the host.
 */
export const REGISTERED_METHODS: HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** The host's default route prefix (host.json sets no other). */
export const ROUTE_PREFIX = 'api';
