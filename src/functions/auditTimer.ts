// Registers the daily audit: a timer on AUDIT_SCHEDULE with a retry policy; one audit at a time via the lease.

import { app } from '@azure/functions';

import { appService } from '../appContext';
import { auditTimerHandler } from '../handlers/auditTimerHandler';

app.timer('auditTimer', {
  schedule: appService().config.schedule,
  runOnStartup: false,
  retry: {
    strategy: 'exponentialBackoff',
    maxRetryCount: 3,
    minimumInterval: { minutes: 1 },
    maximumInterval: { minutes: 15 },
  },
  handler: auditTimerHandler(appService()),
});
