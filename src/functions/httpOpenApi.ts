// Registers GET /api/openapi.json (function key): the OpenAPI 3.1 description of this API.

import { app } from '@azure/functions';

import { appService } from '../appContext';
import { openApiHandler } from '../handlers/openApiHandler';
import { API_ROUTES, REGISTERED_METHODS } from '../http/routes';

const { name, route, authLevel } = API_ROUTES.openApi;
app.http(name, { methods: REGISTERED_METHODS, authLevel, route, handler: openApiHandler(appService()) });
