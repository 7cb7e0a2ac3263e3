// Registers POST /api/audits (function key): starts an audit now and answers 202 with its run ID.

import { app } from '@azure/functions';

import { appEmail, appService } from '../appContext';
import { startAuditHandler } from '../handlers/startAuditHandler';
import { API_ROUTES, REGISTERED_METHODS } from '../http/routes';

const service = appService();
const { name, route, authLevel } = API_ROUTES.startAudit;
app.http(name, {
  methods: REGISTERED_METHODS,
  authLevel,
  route,
  handler: startAuditHandler({
    config: service.config,
    start: (options) => service.start(options),
    // `"email": true`: the digest once the audit completes; built on first use, like the email route's.
    notify: (runId, options) => appEmail().notify(runId, options),
  }),
});
