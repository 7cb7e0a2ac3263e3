// Registers GET /api/health (anonymous): liveness and configuration check, no secrets.

import { app } from '@azure/functions';

import { appEmail, appService } from '../appContext';
import { hostEvidence } from '../evidence/hostEvidence';
import { healthHandler } from '../handlers/healthHandler';
import { API_ROUTES, REGISTERED_METHODS } from '../http/routes';

const service = appService();
const evidence = hostEvidence(service);
const { name, route, authLevel } = API_ROUTES.health;
app.http(name, {
  methods: REGISTERED_METHODS,
  authLevel,
  route,
  handler: healthHandler({
    config: service.config,
    // A getter: storage that is not configured throws inside the check (degraded), not at start-up.
    get store() {
      return service.store;
    },
    emailHealth: (options) => appEmail().health(options),
    evidenceHealth: (options) => evidence.health(options),
  }),
});
