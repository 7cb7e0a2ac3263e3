// Builds the OpenAPI 3.1 document from the same zod schemas the handlers validate with, so the two cannot drift.

import { z } from 'zod';

import { API_ROUTES, type ApiRoute, ROUTE_PREFIX } from './routes';
import {
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

/** Query (or path) parameters from a zod object: each field's own schema, its description lifted to the parameter. */
function parameters(schema: z.ZodObject, where: 'query' | 'path'): JsonObject[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const fieldSchema = field as z.ZodType;
    const required = where === 'path' || !fieldSchema.safeParse(undefined).success;
    const { description, ...parameterSchema } = jsonSchema(fieldSchema);
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

function operation(route: ApiRoute, spec: JsonObject): JsonObject {
  const op: JsonObject = { operationId: route.name, summary: route.summary, ...spec };
  if (route.authLevel === 'anonymous') op.security = [];
  op.responses = {
    ...(spec.responses as JsonObject),
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
  return {
    openapi: '3.1.0',
    info: {
      title: 'aks-fips-auditor',
      version: '1.0.0',
      description:
        'Audits every AKS node pool for FIPS 140. Errors are application/problem+json (RFC 9457). Every route but /api/health needs a function key, in the x-functions-key header or the code query parameter.',
    },
    security: [{ functionKeyHeader: [] }, { functionKeyQuery: [] }],
    paths: {
      [path(API_ROUTES.report)]: {
        get: operation(API_ROUTES.report, {
          description:
            'JSON (report JSON schemaVersion 1 plus `filter` and `page`), CSV (one row per pool, UTF-8 with BOM) or a standalone HTML page. `?format=` wins over Accept; JSON when neither says otherwise. The summary is always the whole run. Follow page.continuationToken (or page.nextLink, or the Link header) to the last page.',
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
        get: operation(API_ROUTES.runs, {
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
      [path(API_ROUTES.run)]: {
        get: operation(API_ROUTES.run, {
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
        post: operation(API_ROUTES.startAudit, {
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
            '422': problem('A subscription is outside AUDIT_SUBSCRIPTIONS.'),
          },
        }),
      },
      [path(API_ROUTES.health)]: {
        get: operation(API_ROUTES.health, {
          parameters: [],
          responses: {
            '200': { description: 'Healthy.', content: { 'application/json': { schema: ref('Health') } } },
            '503': {
              description: 'Degraded: storage not configured or unreachable.',
              content: { 'application/json': { schema: ref('Health') } },
            },
          },
        }),
      },
      [path(API_ROUTES.openApi)]: {
        get: operation(API_ROUTES.openApi, {
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
        StartAuditRequest: jsonSchema(startAuditBodySchema, 'input'),
        StartAuditResponse: jsonSchema(startAuditResponseSchema),
        Health: jsonSchema(healthSchema),
        Problem: jsonSchema(problemSchema),
      },
    },
  };
}

/** The document as committed: two-space JSON with a final newline. */
export function openApiText(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}
