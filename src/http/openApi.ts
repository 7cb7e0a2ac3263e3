// Builds the OpenAPI 3.1 document from the same zod schemas the handlers validate with, so the two cannot drift.

import type { HttpMethod } from '@azure/functions';
import { z } from 'zod';

import { exemptionInputSchema } from '../core/exemptionRules';
import { emailRunBodySchema, MAX_EMAIL_BODY_BYTES, MAX_EMAIL_RECIPIENTS } from '../handlers/emailRunHandler';
import {
  exemptionHistorySchema,
  exemptionPathSchema,
  exemptionsListSchema,
  exemptionsQuerySchema,
  exemptionViewSchema,
  exemptionWriteResponseSchema,
  MAX_EXEMPTION_BODY_BYTES,
} from '../handlers/exemptionsHandler';
import { MAX_REQUESTED_EMAILS_PER_RUN } from '../notify/requestedEmailPolicy';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../store/emailStore';
import { API_ROUTES, type ApiRoute, APP_ROLE_ACTIONS, ROUTE_PREFIX } from './routes';
import {
  emailRunResponseSchema,
  healthSchema,
  problemSchema,
  reportPageSchema,
  reportQuerySchema,
  runPathSchema,
  runRecordSchema,
  runsQuerySchema,
  runsResponseSchema,
  startAuditBodySchema,
  startAuditResponseSchema,
  trendQuerySchema,
  trendResponseSchema,
  verificationResponseSchema,
} from './schemas';

type JsonObject = Record<string, unknown>;

/** OpenAPI 3.1 schemas are JSON Schema 2020-12, which is what zod emits; the per-schema `$schema` is dropped. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'output'): JsonObject {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonObject;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});

/**
 * Query (or path) parameters from a zod object: each field's own schema, its description lifted to the
 * parameter. `input` describes what a client sends where the handler transforms it (`active=true` → a boolean).
 */
function parameters(
  schema: z.ZodObject,
  where: 'query' | 'path',
  io: 'input' | 'output' = 'output',
): JsonObject[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const fieldSchema = field as z.ZodType;
    const required = where === 'path' || !fieldSchema.safeParse(undefined).success;
    const { description, ...parameterSchema } = jsonSchema(fieldSchema, io);
    const parameter: JsonObject = { name, in: where, required };
    if (typeof description === 'string') parameter.description = description;
    parameter.schema = parameterSchema;
    if (parameterSchema.type === 'array') {
      // Repeated (`status=a&status=b`); the handlers also take comma-separated values.
      parameter.style = 'form';
      parameter.explode = true;
    }
    return parameter;
  });
}

const NOT_MODIFIED = { description: 'Not modified: the If-None-Match ETag is still current (no body).' };

const header = (name: string, description: string): JsonObject => ({
  name,
  in: 'header',
  required: false,
  description,
  schema: { type: 'string' },
});

const RECORDED_CALLER =
  'The change is recorded under the signed-in caller (`function-key` when App Service Authentication is off).';

/** Failures of the storage the exemption routes read and write. */
const STORAGE_RESPONSES = {
  '502': problem(
    'Table Storage answered with an error or could not be reached; the problem carries the invocation ID.',
  ),
  '503': problem('Storage is not configured (the app settings lack it).'),
};

/**
 * One operation: the route's summary and, for function-level routes, who may call it (`x-app-roles`, a sentence of
 * the description, and the 401 and 403 that App Service Authentication adds), all from the route table.
 */
function operation(route: ApiRoute, method: HttpMethod, spec: JsonObject): JsonObject {
  const op: JsonObject = { operationId: route.name, summary: route.summary, ...spec };
  const role = route.roles[method];
  const responses: JsonObject = { ...(spec.responses as JsonObject) };
  if (route.authLevel === 'anonymous') op.security = [];
  if (role) {
    op['x-app-roles'] = [role];
    const who = `Needs the function key; while App Service Authentication is on, also a signed-in caller holding the app role ${role} (${APP_ROLE_ACTIONS[role]}).`;
    op.description = typeof spec.description === 'string' ? `${spec.description} ${who}` : who;
    responses['401'] = {
      ...problem(
        'App Service Authentication is on and the request carries no signed-in principal (the function key alone is not enough).',
      ),
      headers: { 'WWW-Authenticate': { schema: { type: 'string' } } },
    };
    // A route's own 403 (a refusal whoever asks) is kept, after the role's.
    const own = (spec.responses as Record<string, { description?: string } | undefined>)['403']?.description;
    responses['403'] = problem(
      `App Service Authentication is on and the caller lacks the app role ${role}; \`requiredRole\` names it.${own ? ` Or: ${own}` : ''}`,
    );
  }
  op.responses = {
    ...responses,
    '405': problem('Method not allowed: the Allow header lists the methods of this route.'),
    '500': problem('A fault of the app; the problem carries the invocation ID.'),
  };
  return op;
}

/** The API description served at /api/openapi.json and kept in docs/openapi.json. */
export function buildOpenApiDocument(): JsonObject {
  const path = (route: ApiRoute) => `/${ROUTE_PREFIX}/${route.route}`;
  const etagHeaders = {
    ETag: {
      description: 'Pass back in If-None-Match to get 304 while nothing changed.',
      schema: { type: 'string' },
    },
    'Cache-Control': { schema: { type: 'string' } },
  };
  const exemptionEtagHeaders = {
    ETag: {
      description:
        "The exemption's current ETag: send it in If-Match to replace or delete it, or in If-None-Match to get 304 while it is unchanged.",
      schema: { type: 'string' },
    },
    'Cache-Control': { schema: { type: 'string' } },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'aks-fips-auditor',
      version: '1.0.0',
      description:
        'Audits every AKS node pool for FIPS 140. Errors are application/problem+json (RFC 9457). Every route but /api/health needs a function key, in the x-functions-key header or the code query parameter. While App Service Authentication is on, every such operation also needs a signed-in caller (an Entra ID access token for the app registration) holding the app role its `x-app-roles` names: Reports.Read to read, Audits.Run to start audits, Reports.Send to email a digest on request, Exemptions.Write to change exemptions. Links in responses are relative, or absolute under REPORT_BASE_URL when the app has it.',
    },
    security: [{ functionKeyHeader: [] }, { functionKeyQuery: [] }],
    paths: {
      [path(API_ROUTES.report)]: {
        get: operation(API_ROUTES.report, 'GET', {
          description:
            "JSON (report JSON schemaVersion 1 plus `filter` and `page`), CSV (one row per pool, UTF-8 with BOM) or a standalone HTML page. `?format=` wins over Accept; JSON when neither says otherwise. The summary is always the whole run. Follow page.continuationToken (or page.nextLink, or the Link header) to the last page. page.nextLink and the Link header are relative (/api/report?…), or absolute under REPORT_BASE_URL when the app has it; never built from the request's Host header or target.",
          parameters: parameters(reportQuerySchema, 'query'),
          responses: {
            '200': {
              description: 'The report.',
              headers: etagHeaders,
              content: {
                'application/json': { schema: ref('ReportPage') },
                'text/csv': { schema: { type: 'string' } },
                'text/html': { schema: { type: 'string' } },
              },
            },
            '304': NOT_MODIFIED,
            '400': problem('A parameter is wrong: the problem lists each one and what to change.'),
            '404': problem('No such run, or no completed run yet.'),
            '406': problem('The Accept header accepts none of JSON, CSV and HTML.'),
          },
        }),
      },
      [path(API_ROUTES.runs)]: {
        get: operation(API_ROUTES.runs, 'GET', {
          parameters: parameters(runsQuerySchema, 'query'),
          responses: {
            '200': {
              description: 'Runs, newest first.',
              headers: etagHeaders,
              content: { 'application/json': { schema: ref('Runs') } },
            },
            '304': NOT_MODIFIED,
            '400': problem('A parameter is wrong.'),
          },
        }),
      },
      [path(API_ROUTES.trend)]: {
        get: operation(API_ROUTES.trend, 'GET', {
          description:
            "Each completed run's counts by subscription (`by=subscription`, the default), owner tag value (`by=owner`) or finding code (`by=code`), as flat rows a dashboard charts over `startedAt` (oldest first), from the breakdowns stored with each run.",
          parameters: parameters(trendQuerySchema, 'query'),
          responses: {
            '200': {
              description: 'The rows.',
              headers: etagHeaders,
              content: { 'application/json': { schema: ref('Trend') } },
            },
            '304': NOT_MODIFIED,
            '400': problem('A parameter is wrong.'),
          },
        }),
      },
      [path(API_ROUTES.run)]: {
        get: operation(API_ROUTES.run, 'GET', {
          parameters: parameters(runPathSchema, 'path'),
          responses: {
            '200': {
              description: 'The run record; while `status` is `running`, `progress` grows.',
              headers: etagHeaders,
              content: { 'application/json': { schema: ref('RunRecord') } },
            },
            '304': NOT_MODIFIED,
            '400': problem('Not a run ID.'),
            '404': problem('No such run.'),
          },
        }),
      },
      [path(API_ROUTES.startAudit)]: {
        post: operation(API_ROUTES.startAudit, 'POST', {
          requestBody: {
            required: false,
            content: { 'application/json': { schema: ref('StartAuditRequest') } },
          },
          responses: {
            '202': {
              description: 'The audit started; follow it at the Location.',
              headers: {
                Location: { description: '/api/runs/{runId}', schema: { type: 'string' } },
                'Retry-After': { schema: { type: 'string' } },
              },
              content: { 'application/json': { schema: ref('StartAuditResponse') } },
            },
            '400': problem('The body is not valid JSON or not valid.'),
            '409': problem('An audit is already running: `runId` names it.'),
            '413': problem('The body is larger than 16 KiB.'),
            '415': problem('The body is not application/json.'),
            '422': problem(
              'A subscription is outside AUDIT_SUBSCRIPTIONS, or `"email": true` was sent while no email provider (or no EMAIL_SENDER / EMAIL_TO) is configured; nothing was started.',
            ),
          },
        }),
      },
      [path(API_ROUTES.emailRun)]: {
        post: operation(API_ROUTES.emailRun, 'POST', {
          description: `Sends the digest of a finished run now, whatever EMAIL_MODE says, to EMAIL_TO or to the body's \`to\` (at most ${MAX_EMAIL_RECIPIENTS} addresses, each one EMAIL_TO or EMAIL_ALLOWED_RECIPIENTS allows: an address, or an @domain entry for that exact domain). The Idempotency-Key makes a retried request send once: the same key with the same body answers the recorded outcome again (\`Idempotent-Replayed: true\`). A run may be emailed on request under at most ${MAX_REQUESTED_EMAILS_PER_RUN} distinct keys.`,
          parameters: [
            ...parameters(runPathSchema, 'path'),
            {
              ...header(
                'Idempotency-Key',
                `Required: a fresh unique value (a UUID) per intended email, the same value when retrying it; 1-${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters, optionally quoted.`,
              ),
              required: true,
            },
          ],
          requestBody: {
            required: false,
            description: `JSON (Content-Type: application/json), at most ${MAX_EMAIL_BODY_BYTES / 1024} KiB; an empty body sends to EMAIL_TO.`,
            content: { 'application/json': { schema: ref('EmailRunRequest') } },
          },
          responses: {
            '200': {
              description: 'Sent (now, or earlier under the same Idempotency-Key).',
              headers: {
                'Idempotent-Replayed': {
                  description: '`true` when this is the outcome of an earlier request with the same key.',
                  schema: { type: 'string' },
                },
                'Cache-Control': { schema: { type: 'string' } },
              },
              content: { 'application/json': { schema: ref('EmailRunResult') } },
            },
            '400': problem(
              'The Idempotency-Key is missing or malformed, the run ID or an address is not valid, or a query parameter was given.',
            ),
            '403': problem(
              `A recipient is outside EMAIL_TO and EMAIL_ALLOWED_RECIPIENTS (\`setting\` names the setting), or the run was already emailed on request under ${MAX_REQUESTED_EMAILS_PER_RUN} distinct Idempotency-Keys (\`limit\`); nothing was sent.`,
            ),
            '404': problem('No such run.'),
            '409': {
              ...problem(
                'A request with this Idempotency-Key is still being sent: repeat it after Retry-After to get its outcome.',
              ),
              headers: { 'Retry-After': { schema: { type: 'string' } } },
            },
            '413': problem(`The body is larger than ${MAX_EMAIL_BODY_BYTES / 1024} KiB.`),
            '415': problem('The body is not application/json.'),
            '422': problem(
              'The run is still running or failed (no results to mail), or the Idempotency-Key was already used for other recipients.',
            ),
            '502': problem(
              'The send failed (after retries for transient errors); `email` is the record. The key keeps that outcome: send a new key to try again.',
            ),
            '503': problem('Email or storage is not configured (the app settings lack it).'),
          },
        }),
      },
      [path(API_ROUTES.exemptions)]: {
        get: operation(API_ROUTES.exemptions, 'GET', {
          description:
            'Every stored exemption, in force or not, each with its `state` and ETag. Filters combine: `?active&expiringWithinDays=14` lists the exemptions lapsing within two weeks. A flag given without a value means true.',
          parameters: parameters(exemptionsQuerySchema, 'query', 'input'),
          responses: {
            '200': {
              description: 'The exemptions matching the filters, soonest expiry first.',
              headers: { 'Cache-Control': { schema: { type: 'string' } } },
              content: { 'application/json': { schema: ref('ExemptionList') } },
            },
            '400': problem('A parameter is wrong: the problem lists each one and what to change.'),
            ...STORAGE_RESPONSES,
          },
        }),
      },
      [path(API_ROUTES.exemption)]: {
        get: operation(API_ROUTES.exemption, 'GET', {
          parameters: [
            ...parameters(exemptionPathSchema, 'path'),
            header('If-None-Match', 'The ETag of an earlier read: 304 while the exemption is unchanged.'),
          ],
          responses: {
            '200': {
              description: 'The exemption and its `state` now.',
              headers: exemptionEtagHeaders,
              content: { 'application/json': { schema: ref('Exemption') } },
            },
            '304': { ...NOT_MODIFIED, headers: exemptionEtagHeaders },
            '400': problem('Not an exemption ID, or a query parameter was given (this route takes none).'),
            '404': problem('No such exemption (deleted ones keep their history).'),
            ...STORAGE_RESPONSES,
          },
        }),
        put: operation(API_ROUTES.exemption, 'PUT', {
          operationId: 'putExemption',
          summary: 'Create an exemption, or replace it with If-Match',
          description: `Creates the exemption (201) or replaces it (200; \`createdBy\` and \`createdAt\` are kept); either way a history entry is written in the same transaction. Replacing needs If-Match with the ETag of the last read; If-None-Match: * creates only. The read-only fields of a GET may be sent back unchanged (a read-modify-write round trip) and are ignored. ${RECORDED_CALLER}`,
          parameters: [
            ...parameters(exemptionPathSchema, 'path'),
            header(
              'If-Match',
              'Required to replace an existing exemption: the ETag of your last read (or *). Weak ETags never match. Sent for an exemption that does not exist: 412.',
            ),
            header('If-None-Match', 'Only `*`: create, never replace (412 when the exemption exists).'),
          ],
          requestBody: {
            required: true,
            description: `JSON (Content-Type: application/json), at most ${MAX_EXEMPTION_BODY_BYTES / 1024} KiB.`,
            content: { 'application/json': { schema: ref('ExemptionRequest') } },
          },
          responses: {
            '200': {
              description: 'Replaced.',
              headers: exemptionEtagHeaders,
              content: { 'application/json': { schema: ref('ExemptionWriteResult') } },
            },
            '201': {
              description: 'Created.',
              headers: {
                ...exemptionEtagHeaders,
                Location: { description: '/api/exemptions/{id}', schema: { type: 'string' } },
              },
              content: { 'application/json': { schema: ref('ExemptionWriteResult') } },
            },
            '400': problem(
              'The body is not valid JSON, or fields are wrong (every one is listed in `errors`, `in: body`); or the ID, a precondition header or a query parameter is wrong.',
            ),
            '412': problem(
              'A precondition failed: the exemption changed since the If-Match ETag was read, If-Match was sent for an exemption that does not exist, If-None-Match: * was sent for one that does, or a concurrent write got there first. GET it again and retry.',
            ),
            '413': problem(`The body is larger than ${MAX_EXEMPTION_BODY_BYTES / 1024} KiB.`),
            '415': problem('The body is not application/json in UTF-8.'),
            '428': problem('The exemption exists and If-Match is missing: send the ETag of your last read.'),
            ...STORAGE_RESPONSES,
          },
        }),
        delete: operation(API_ROUTES.exemption, 'DELETE', {
          operationId: 'deleteExemption',
          summary: 'Delete an exemption (its history is kept)',
          description: `Deletes the exemption and appends a \`deleted\` history entry in the same transaction. ${RECORDED_CALLER}`,
          parameters: [
            ...parameters(exemptionPathSchema, 'path'),
            header(
              'If-Match',
              'Optional: delete only if the exemption still has one of these ETags (or *). Weak ETags never match.',
            ),
          ],
          responses: {
            '204': {
              description: 'Deleted (no body).',
              headers: { 'Cache-Control': { schema: { type: 'string' } } },
            },
            '400': problem('Not an exemption ID, a malformed If-Match, or a query parameter was given.'),
            '404': problem('No such exemption; nothing was deleted.'),
            '412': problem(
              'The exemption changed since the If-Match ETag was read, or a concurrent write got there first.',
            ),
            ...STORAGE_RESPONSES,
          },
        }),
      },
      [path(API_ROUTES.exemptionHistory)]: {
        get: operation(API_ROUTES.exemptionHistory, 'GET', {
          parameters: parameters(exemptionPathSchema, 'path'),
          responses: {
            '200': {
              description:
                'Every change (who, when, before, after), newest first; also of a deleted exemption.',
              headers: { 'Cache-Control': { schema: { type: 'string' } } },
              content: { 'application/json': { schema: ref('ExemptionHistory') } },
            },
            '400': problem('Not an exemption ID, or a query parameter was given (this route takes none).'),
            '404': problem('No exemption with this ID was ever stored.'),
            ...STORAGE_RESPONSES,
          },
        }),
      },
      [path(API_ROUTES.runEvidence)]: {
        get: operation(API_ROUTES.runEvidence, 'GET', {
          description:
            "The assessor's bundle of a completed run, streamed as a zip: report.json (the report, schemaVersion 1), pools.csv, report.html, fips-matrix.json (the matrix the run was judged with), oscal-assessment-results.json (OSCAL Assessment Results) and manifest.json (the SHA-256 of every other file, the run ID, its chain digest and signature). The run is verified against its seal before the first byte; the same run always gives the same files (docs/evidence.md).",
          parameters: parameters(runPathSchema, 'path'),
          responses: {
            '200': {
              description: 'The bundle.',
              headers: {
                'Content-Disposition': {
                  description: 'attachment; filename="fips-audit-evidence-<runId>.zip"',
                  schema: { type: 'string' },
                },
              },
              content: {
                'application/zip': { schema: { type: 'string', contentMediaType: 'application/zip' } },
              },
            },
            '400': problem('Not a run ID, or a query parameter was given (this route takes none).'),
            '404': problem('No such run.'),
            '422': problem(
              'The run has not completed (running or failed), or it no longer matches its seal: `verification` names the stored entity, and no bundle is made.',
            ),
            ...STORAGE_RESPONSES,
          },
        }),
      },
      [path(API_ROUTES.runVerification)]: {
        get: operation(API_ROUTES.runVerification, 'GET', {
          description:
            "Recomputes the run's seal from storage: its chain link, the links before and after it, its signature (with the Key Vault key's public part) and the digest of every entity stored for it.",
          parameters: parameters(runPathSchema, 'path'),
          responses: {
            '200': {
              description:
                '`status` is `intact`, `mismatch` (with the first entity that no longer matches) or `unsealed`.',
              headers: { 'Cache-Control': { schema: { type: 'string' } } },
              content: { 'application/json': { schema: ref('Verification') } },
            },
            '400': problem('Not a run ID, or a query parameter was given (this route takes none).'),
            '404': problem('No such run.'),
            ...STORAGE_RESPONSES,
          },
        }),
      },
      [path(API_ROUTES.health)]: {
        get: operation(API_ROUTES.health, 'GET', {
          parameters: [],
          responses: {
            '200': {
              description:
                'Healthy: storage answers. Email trouble (`email.status: degraded`: digests failing, an unresolved SMTP password) shows in the body but never turns this into 503.',
              content: { 'application/json': { schema: ref('Health') } },
            },
            '503': {
              description: 'Degraded: storage not configured or unreachable.',
              content: { 'application/json': { schema: ref('Health') } },
            },
          },
        }),
      },
      [path(API_ROUTES.openApi)]: {
        get: operation(API_ROUTES.openApi, 'GET', {
          parameters: [],
          responses: {
            '200': {
              description: 'This document.',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
            '304': NOT_MODIFIED,
          },
        }),
      },
    },
    components: {
      securitySchemes: {
        functionKeyHeader: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
        functionKeyQuery: { type: 'apiKey', in: 'query', name: 'code' },
      },
      schemas: {
        ReportPage: jsonSchema(reportPageSchema),
        RunRecord: jsonSchema(runRecordSchema),
        Runs: jsonSchema(runsResponseSchema),
        Trend: jsonSchema(trendResponseSchema),
        StartAuditRequest: jsonSchema(startAuditBodySchema, 'input'),
        StartAuditResponse: jsonSchema(startAuditResponseSchema),
        EmailRunRequest: jsonSchema(emailRunBodySchema, 'input'),
        EmailRunResult: jsonSchema(emailRunResponseSchema),
        ExemptionRequest: jsonSchema(exemptionInputSchema, 'input'),
        Exemption: jsonSchema(exemptionViewSchema),
        ExemptionWriteResult: jsonSchema(exemptionWriteResponseSchema),
        ExemptionList: jsonSchema(exemptionsListSchema),
        ExemptionHistory: jsonSchema(exemptionHistorySchema),
        Health: jsonSchema(healthSchema),
        Verification: jsonSchema(verificationResponseSchema),
        Problem: jsonSchema(problemSchema),
      },
    },
  };
}

/** The document as committed: two-space JSON with a final newline. */
export function openApiText(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}
