// Registers POST /api/runs/{runId}/email (function key): a run's digest, sent now, once per Idempotency-Key.

import { app } from '@azure/functions';

import { appService } from '../appContext';
import { EMAIL_RUN_ROUTE, emailRunHandler } from '../handlers/emailRunHandler';
import { REGISTERED_METHODS } from '../http/routes';
import { createNotifier, createNotifyDependencies, type RunNotifier } from '../notify';

// Built on the first request: a missing storage setting then answers 503 instead of stopping the host.
let notifier: RunNotifier | undefined;
const notify: RunNotifier = (runId, options) => {
  notifier ??= createNotifier(createNotifyDependencies(appService()));
  return notifier(runId, options);
};

const { name, route, authLevel } = EMAIL_RUN_ROUTE;
app.http(name, { methods: REGISTERED_METHODS, authLevel, route, handler: emailRunHandler({ notify }) });
