// Registers GET /api/runs/{runId}/evidence and /verification (function key): a run's bundle and its seal check.

import { app } from '@azure/functions';

import { appService } from '../appContext';
import { hostEvidence } from '../evidence/hostEvidence';
import { evidenceHandler } from '../handlers/evidenceHandler';
import { verificationHandler } from '../handlers/verificationHandler';
import { API_ROUTES, REGISTERED_METHODS } from '../http/routes';

// The bundle of a large run is tens of MB of zip produced as it is sent: without streaming, the worker would
// buffer all of it before the host sends a byte. Applies to every HTTP function of the app (Functions host 4.28+).
app.setup({ enableHttpStream: true });

const evidence = hostEvidence(appService());

app.http(API_ROUTES.runEvidence.name, {
  methods: REGISTERED_METHODS,
  authLevel: API_ROUTES.runEvidence.authLevel,
  route: API_ROUTES.runEvidence.route,
  handler: evidenceHandler(evidence),
});

app.http(API_ROUTES.runVerification.name, {
  methods: REGISTERED_METHODS,
  authLevel: API_ROUTES.runVerification.authLevel,
  route: API_ROUTES.runVerification.route,
  handler: verificationHandler(evidence),
});
