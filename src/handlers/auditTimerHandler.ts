// The daily audit's timer: starts the scheduled run, or defers it behind a live run; the queue does the rest.

import type { InvocationContext, Timer } from '@azure/functions';

import { latestOccurrence } from '../core/schedule';
import { describeError } from '../errors';
import type { ScheduledOutcome } from '../pipeline/scheduledRun';

export interface AuditTimerDependencies {
  /** AUDIT_SCHEDULE: a retried invocation maps to the same occurrence, so it is the same day's audit. */
  schedule: string;
  startScheduled(scheduledAt: Date, log: (message: string) => void): Promise<ScheduledOutcome>;
  now?: () => Date;
}

/**
 * Starts the audit this occurrence of the schedule is for. A storage failure throws, so the platform's retry
 * policy runs the invocation again; an audit already running is not a failure (the start is deferred and retried
 * from the queue later the same day).
 */
export function auditTimerHandler(deps: AuditTimerDependencies) {
  return async (_timer: Timer, context: InvocationContext): Promise<void> => {
    const scheduledAt = latestOccurrence(deps.schedule, (deps.now ?? (() => new Date()))());
    const attempt = (context.retryContext?.retryCount ?? 0) + 1;
    try {
      const outcome = await deps.startScheduled(scheduledAt, (m) => context.log(m));
      const detail =
        outcome.status === 'started'
          ? `run ${outcome.run.id} queued`
          : outcome.status === 'deferred'
            ? `deferred behind run ${outcome.behindRunId} until ${outcome.nextAttemptAt.toISOString()}`
            : outcome.status === 'alreadyStarted'
              ? `already started as run ${outcome.runId}`
              : 'missed';
      context.log(`Scheduled audit of ${scheduledAt.toISOString()} (attempt ${attempt}): ${detail}`);
    } catch (error) {
      context.error(
        `Scheduled audit of ${scheduledAt.toISOString()} (attempt ${attempt}) could not start: ${describeError(error)}`,
      );
      throw error;
    }
  };
}
