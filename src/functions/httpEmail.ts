// Registers POST /api/runs/{runId}/email (function key): a run's digest, sent now, once per Idempotency-Key.

import { app } from '@azure/functions';

import { appEmail, appService } from '../appContext';
import { emailRunHandler } from '../handlers/emailRunHandler';
import { API_ROUTES, REGISTERED_METHODS } from '../http/routes';

// The notifier is built on the first request: a missing storage setting then answers 503 instead of stopping the host.
const { name, route, authLevel } = API_ROUTES.emailRun;
app.http(name, {
  methods: REGISTERED_METHODS,
  authLevel,
  route,
  handler: emailRunHandler({
    notify: (runId, options) => appEmail().notify(runId, options),
    config: appService().config,
  }),
});
