// Registers GET /api/runs and GET /api/runs/{runId} (function key): run history and one run's record.

import { app } from '@azure/functions';

import { appService } from '../appContext';
import { runHandler } from '../handlers/runHandler';
import { runsHandler } from '../handlers/runsHandler';
import { API_ROUTES, REGISTERED_METHODS } from '../http/routes';

app.http(API_ROUTES.runs.name, {
  methods: REGISTERED_METHODS,
  authLevel: API_ROUTES.runs.authLevel,
  route: API_ROUTES.runs.route,
  handler: runsHandler(appService()),
});

app.http(API_ROUTES.run.name, {
  methods: REGISTERED_METHODS,
  authLevel: API_ROUTES.run.authLevel,
  route: API_ROUTES.run.route,
  handler: runHandler(appService()),
});
