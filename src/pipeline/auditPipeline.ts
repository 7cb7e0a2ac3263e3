// The audit pipeline's entry points: start a run, handle a queued message, handle a poisoned one.

import { describeError } from '../errors';
import { finishRunWithoutShards, resumeCompletion } from './completeRun';
import { executeShard, failShard } from './executeShard';
import type { Delivery, QueueConsumer } from './inProcessQueue';
import type { PipelineContext } from './pipelineContext';
import { describeMessage, type PipelineMessage } from './pipelineMessage';
import { liveRun, planRun } from './planRun';
import { retryScheduledRun, startScheduledRun } from './scheduledRun';
import { type StartRequest, startRun } from './startRun';

/**
 * One pipeline for every run, whoever starts it (timer, HTTP, CLI, serve): `start` takes the lease, records the
 * run and queues its plan; the queue's invocations plan it into shards, audit each shard, and the last one
 * completes the run and fires the completion hook once. An unsharded run is a plan with one shard.
 */
export class AuditPipeline implements QueueConsumer {
  constructor(readonly context: PipelineContext) {}

  /** The context with this invocation's log (the Functions host keeps logs per invocation). */
  private withLog(log: ((message: string) => void) | undefined): PipelineContext {
    if (!log) return this.context;
    const base = this.context;
    return {
      ...base,
      get queue() {
        return base.queue;
      },
      log,
    };
  }

  start(request: StartRequest, log?: (message: string) => void) {
    return startRun(this.withLog(log), request);
  }

  /** The timer's entry: start the scheduled audit, or defer it behind a live run. */
  startScheduled(scheduledAt: Date, log?: (message: string) => void) {
    return startScheduledRun(this.withLog(log), scheduledAt);
  }

  async handle(message: PipelineMessage, delivery: Delivery, log?: (message: string) => void): Promise<void> {
    const ctx = this.withLog(log);
    switch (message.kind) {
      case 'plan':
        return planRun(ctx, message, delivery);
      case 'shard':
        return executeShard(ctx, message, delivery);
      case 'schedule':
        await retryScheduledRun(ctx, message);
        return;
    }
  }

  /** A message that failed on every delivery: its run is failed (plan) or partial (shard), never left running. */
  async poison(
    message: PipelineMessage,
    reason: string,
    delivery: Delivery,
    log?: (message: string) => void,
  ): Promise<void> {
    const ctx = this.withLog(log);
    ctx.log(`The ${describeMessage(message)} failed on every delivery: ${reason}`);
    switch (message.kind) {
      case 'plan': {
        const versioned = await liveRun(ctx, message, 'poison plan');
        // Failed by an earlier delivery whose completion hook failed each time: the last chance to run it.
        if (!versioned) {
          await resumeCompletion(ctx, message.runId, delivery, { takeOver: true });
          return;
        }
        const lastError = await ctx.stores.shards.getPlanFailure(message.runId).catch(() => null);
        await finishRunWithoutShards(
          ctx,
          versioned.run,
          message.generation,
          {
            scope: '/',
            code: 'PlanFailed',
            message: `The run could not be planned on any delivery: ${lastError ?? reason}`,
          },
          delivery,
        );
        return;
      }
      case 'shard':
        return failShard(ctx, message, reason, delivery);
      case 'schedule':
        try {
          await ctx.stores.schedule.recordMissed(new Date(message.scheduledAt), ctx.now());
        } catch (error) {
          ctx.log(`Could not record the missed scheduled audit: ${describeError(error)}`);
        }
        return;
    }
  }
}
