// The daily audit: started by the timer, deferred behind a live run and retried the same day, never silently lost.

import type { RunRecord } from '../core/run';
import { AuditInProgressError } from '../errors';
import type { PipelineContext } from './pipelineContext';
import type { ScheduleMessage } from './pipelineMessage';
import { startRun } from './startRun';

/** How long a deferred scheduled audit waits before it tries again. */
export const SCHEDULE_RETRY_DELAY_IN_SECONDS = 15 * 60;
/** A scheduled audit that found no free lease this long after its time is given up (the next day's takes over). */
export const SCHEDULE_DEADLINE_IN_MS = 20 * 3_600_000;

export type ScheduledOutcome =
  | { status: 'started'; run: RunRecord }
  | { status: 'deferred'; behindRunId: string; nextAttemptAt: Date }
  | { status: 'alreadyStarted'; runId: string }
  | { status: 'missed' };

/**
 * Starts the scheduled audit of `scheduledAt`. When a live run holds the lease, records that this audit was
 * deferred and queues a retry in SCHEDULE_RETRY_DELAY_IN_SECONDS (a run whose lease expired is taken over by
 * startRun). A retry after the audit started, or after its deadline, does nothing more.
 */
export async function startScheduledRun(ctx: PipelineContext, scheduledAt: Date): Promise<ScheduledOutcome> {
  const { schedule } = ctx.stores;
  const state = await schedule.get();
  if (
    state.lastStartedRunId !== null &&
    state.lastScheduledAt !== null &&
    Date.parse(state.lastScheduledAt) >= scheduledAt.getTime() &&
    // A deferral moves lastScheduledAt on and leaves lastStartedRunId alone: that run is an earlier occurrence's.
    state.deferredSince === null
  ) {
    return { status: 'alreadyStarted', runId: state.lastStartedRunId };
  }
  const now = ctx.now();
  if (now.getTime() - scheduledAt.getTime() > SCHEDULE_DEADLINE_IN_MS) {
    // On a fresh deployment nothing has made the tables yet: the miss must still be recorded (health reads it).
    await ctx.stores.ensureTables();
    await schedule.recordMissed(scheduledAt, now);
    ctx.log(
      `The scheduled audit of ${scheduledAt.toISOString()} never found the audit lease free before its deadline; it is missed`,
    );
    return { status: 'missed' };
  }
  try {
    const run = await startRun(ctx, { trigger: 'timer' });
    await schedule.recordStarted(scheduledAt, run.id, now);
    return { status: 'started', run };
  } catch (error) {
    if (!(error instanceof AuditInProgressError)) throw error;
    // Another instance's timer fired for the same occurrence and started it: nothing to defer.
    const holder = await ctx.stores.runs.getRun(error.runId);
    if (holder?.trigger === 'timer' && Date.parse(holder.startedAt) >= scheduledAt.getTime()) {
      return { status: 'alreadyStarted', runId: holder.id };
    }
    const nextAttemptAt = new Date(now.getTime() + SCHEDULE_RETRY_DELAY_IN_SECONDS * 1000);
    await schedule.recordDeferred(scheduledAt, error.runId, now, nextAttemptAt);
    await ctx.queue.send(
      { v: 2, kind: 'schedule', scheduledAt: scheduledAt.toISOString() },
      { delayInSeconds: SCHEDULE_RETRY_DELAY_IN_SECONDS },
    );
    ctx.log(
      `The scheduled audit of ${scheduledAt.toISOString()} waits behind run ${error.runId}; it tries again at ${nextAttemptAt.toISOString()}`,
    );
    return { status: 'deferred', behindRunId: error.runId, nextAttemptAt };
  }
}

export function retryScheduledRun(ctx: PipelineContext, message: ScheduleMessage): Promise<ScheduledOutcome> {
  return startScheduledRun(ctx, new Date(message.scheduledAt));
}
