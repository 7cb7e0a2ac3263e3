// Registers GET /api/health (anonymous): liveness and configuration check, no secrets.

import { app } from '@azure/functions';

import { appService } from '../appContext';
import { healthHandler } from '../handlers/healthHandler';
import { API_ROUTES, REGISTERED_METHODS } from '../http/routes';

const { name, route, authLevel } = API_ROUTES.health;
app.http(name, { methods: REGISTERED_METHODS, authLevel, route, handler: healthHandler(appService()) });
