// Registers GET /api/trend (function key): per-run counts by subscription, owner or finding code.

import { app } from '@azure/functions';

import { appService } from '../appContext';
import { trendHandler } from '../handlers/trendHandler';
import { API_ROUTES, REGISTERED_METHODS } from '../http/routes';

app.http(API_ROUTES.trend.name, {
  methods: REGISTERED_METHODS,
  authLevel: API_ROUTES.trend.authLevel,
  route: API_ROUTES.trend.route,
  handler: trendHandler(appService()),
});
