// Registers every route of the HTTP API from the route table, each with its handler from the composition root.

import { app } from '@azure/functions';

import { API_ROUTES, REGISTERED_METHODS, type RouteName } from '../http/routes';
import { functionsApp } from './functionsApp';

// The evidence bundle of a large run is tens of MB of zip produced as it is sent: without streaming, the worker
// would buffer all of it before the host sends a byte. Applies to every HTTP function (Functions host 4.28+).
app.setup({ enableHttpStream: true });

const handlers = functionsApp().httpHandlers();

// Function names, routes and auth levels come from the table (src/http/routes.ts), as does the OpenAPI document.
for (const key of Object.keys(API_ROUTES) as RouteName[]) {
  const { name, route, authLevel } = API_ROUTES[key];
  app.http(name, { methods: REGISTERED_METHODS, authLevel, route, handler: handlers[key] });
}
