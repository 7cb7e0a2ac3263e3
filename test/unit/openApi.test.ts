// The committed OpenAPI document is what the handlers' schemas generate, and it describes every route of this API.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { buildOpenApiDocument, openApiText } from '../../src/http/openApi';
import { API_ROUTES, ROUTE_PREFIX } from '../../src/http/routes';
import { reportQuerySchema, runsQuerySchema } from '../../src/http/schemas';
import { OPENAPI_PATH } from '../../src/http/writeOpenApi';

type Operation = { operationId: string; parameters?: { name: string }[]; security?: unknown[] };
type Paths = Record<string, Record<string, Operation>>;

const doc = buildOpenApiDocument() as { openapi: string; paths: Paths };
const HTTP_ROUTES = ['report', 'runs', 'run', 'startAudit', 'health', 'openApi'] as const;

it('matches docs/openapi.json (run `npm run openapi` after changing a schema or route)', () => {
  const committed = readFileSync(join(__dirname, '..', '..', OPENAPI_PATH), 'utf8');
  expect(committed).toBe(openApiText());
});

it('is OpenAPI 3.1', () => {
  expect(doc.openapi).toBe('3.1.0');
});

it.each(HTTP_ROUTES)('describes the %s route with its method, operation ID and auth level', (name) => {
  const route = API_ROUTES[name];
  const path = doc.paths[`/${ROUTE_PREFIX}/${route.route}`];
  const method = route.methods[0].toLowerCase();
  const operation = path?.[method];
  expect(operation?.operationId).toBe(route.name);
  if (route.authLevel === 'anonymous') expect(operation?.security).toEqual([]);
  else expect(operation?.security).toBeUndefined();
});

it.each([
  ['report', reportQuerySchema],
  ['runs', runsQuerySchema],
] as const)('lists exactly the query parameters the %s handler accepts', (name, schema) => {
  const operation = doc.paths[`/${ROUTE_PREFIX}/${API_ROUTES[name].route}`]?.get;
  expect(operation?.parameters?.map((p) => p.name)).toEqual(Object.keys(schema.shape));
});
