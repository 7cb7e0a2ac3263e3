// Registers GET /api/report (function key): the latest or a given run as JSON, CSV or an HTML page.

import { app } from '@azure/functions';

import { appService } from '../appContext';
import { reportHandler } from '../handlers/reportHandler';
import { API_ROUTES, REGISTERED_METHODS } from '../http/routes';

const { name, route, authLevel } = API_ROUTES.report;
app.http(name, { methods: REGISTERED_METHODS, authLevel, route, handler: reportHandler(appService()) });
