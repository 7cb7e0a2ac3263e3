// Registers POST /api/audits (function key): starts an audit now and answers 202 with its run ID.

import { app } from '@azure/functions';

import { appService } from '../appContext';
import { startAuditHandler } from '../handlers/startAuditHandler';
import { API_ROUTES, REGISTERED_METHODS } from '../http/routes';

const { name, route, authLevel } = API_ROUTES.startAudit;
app.http(name, { methods: REGISTERED_METHODS, authLevel, route, handler: startAuditHandler(appService()) });
