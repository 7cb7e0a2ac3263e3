// Registers the daily audit: a timer on AUDIT_SCHEDULE with a retry policy; it only starts the run's pipeline.

import { app } from '@azure/functions';

import { auditTimerHandler } from '../handlers/auditTimerHandler';
import { functionsApp } from './functionsApp';

const fips = functionsApp();

app.timer('auditTimer', {
  schedule: fips.config.schedule,
  runOnStartup: false,
  retry: {
    strategy: 'exponentialBackoff',
    maxRetryCount: 3,
    minimumInterval: { minutes: 1 },
    maximumInterval: { minutes: 15 },
  },
  handler: auditTimerHandler({
    schedule: fips.config.schedule,
    startScheduled: (scheduledAt, log) => fips.pipeline.startScheduled(scheduledAt, log),
  }),
});
