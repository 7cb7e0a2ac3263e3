// Registers POST /api/runs/{runId}/email (function key): a run's digest, sent now, once per Idempotency-Key.

import { app } from '@azure/functions';

import { appService } from '../appContext';
import { emailRunHandler } from '../handlers/emailRunHandler';
import { REGISTERED_METHODS } from '../http/routes';
import { createNotifier, createNotifyDependencies, type RunNotifier } from '../notify';

// Built on the first request: a missing storage setting then answers 503 instead of stopping the host.
let notifier: RunNotifier | undefined;
const notify: RunNotifier = (runId, options) => {
  notifier ??= createNotifier(createNotifyDependencies(appService()));
  return notifier(runId, options);
};

// Literals, as test/unit/infra.test.ts reads them; the same as EMAIL_RUN_ROUTE in the handler.
app.http('emailRun', {
  methods: REGISTERED_METHODS,
  authLevel: 'function',
  route: 'runs/{runId}/email',
  handler: emailRunHandler({ notify }),
});
