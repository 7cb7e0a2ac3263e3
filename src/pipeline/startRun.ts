// Starting a run: take the lease, write the run record, queue its plan. Quick enough for an HTTP request.

import { type RunRecord, type RunScope, startedRunRecord } from '../core/run';
import { newRunId } from '../core/runId';
import type { RunTrigger } from '../core/types';
import { AuditInProgressError, describeError } from '../errors';
import { RunRecordChangedError } from '../store/runStore';
import { finishRunWithoutShards } from './completeRun';
import type { PipelineContext } from './pipelineContext';

export interface StartRequest {
  trigger: RunTrigger;
  /** Narrows the run to these subscriptions instead of the configured scope. */
  subscriptions?: string[];
  /** Mail the run's digest once it completes, whatever EMAIL_MODE says. */
  emailRequested?: boolean;
  /** The run's ID (tests); minted from the clock otherwise. */
  runId?: string;
}

/**
 * Marks a run whose lease expired without it completing as `abandoned` (a failed status), so it is never shown as
 * running or served as a report. Conditional on the record read: a run that completed meanwhile keeps its status.
 */
export async function abandonRun(ctx: PipelineContext, runId: string, reason: string): Promise<boolean> {
  const versioned = await ctx.stores.runs.getVersionedRun(runId);
  if (!versioned || versioned.run.status !== 'running') return false;
  const { run, etag } = versioned;
  const abandoned: RunRecord = {
    ...run,
    status: 'abandoned',
    finishedAt: ctx.now().toISOString(),
    errors: [...run.errors, { scope: '/', code: 'RunAbandoned', message: reason }],
  };
  delete abandoned.stage;
  try {
    await ctx.stores.runs.putRun(abandoned, { etag });
    ctx.log(`Run ${runId} is marked abandoned: ${reason}`);
    return true;
  } catch (error) {
    if (error instanceof RunRecordChangedError) return false;
    throw error;
  }
}

/**
 * Starts a run: takes the audit lease (AuditInProgressError while a live run holds it; a run whose lease expired is
 * taken over and marked abandoned), writes the run record and puts the plan on the queue. Everything else happens
 * in the queue's invocations. If a step after the lease fails, the run is recorded failed and the lease freed.
 */
export async function startRun(ctx: PipelineContext, request: StartRequest): Promise<RunRecord> {
  await ctx.stores.ensureTables();
  const startedAt = ctx.now();
  const runId = request.runId ?? newRunId(startedAt);
  const scope: RunScope = request.subscriptions
    ? { subscriptions: request.subscriptions, managementGroups: null }
    : ctx.settings.scope;
  const lease = await ctx.stores.lease.acquire(runId, { ttlInMs: ctx.settings.leaseTtlInMs, now: startedAt });
  if (!lease.acquired) throw new AuditInProgressError(lease.holderRunId);
  const run: RunRecord = {
    ...startedRunRecord({
      id: runId,
      trigger: request.trigger,
      startedAt: startedAt.toISOString(),
      cloud: ctx.settings.cloud,
      matrix: ctx.settings.matrix,
      scope,
    }),
    leaseGeneration: lease.generation,
    stage: 'queued',
    ...(request.emailRequested ? { emailRequested: true } : {}),
  };
  try {
    if (lease.tookOverFrom) {
      await abandonRun(
        ctx,
        lease.tookOverFrom.runId,
        `its lease expired at ${lease.tookOverFrom.expiredAt} before it completed: its worker stopped (recycled, out of memory, killed or cut off from storage); run ${runId} took over`,
      );
    }
    await ctx.stores.runs.putRun(run, { ifNew: true });
    await ctx.queue.send({ v: 2, kind: 'plan', runId, generation: lease.generation });
  } catch (error) {
    ctx.log(`Run ${runId} could not be started: ${describeError(error)}`);
    await finishRunWithoutShards(ctx, run, lease.generation, {
      scope: '/',
      code: 'StartFailed',
      message: `The run could not be started: ${describeError(error)}`,
    }).catch((e: unknown) =>
      ctx.log(`Could not record that run ${runId} failed to start: ${describeError(e)}`),
    );
    throw error;
  }
  ctx.log(`Run ${runId} started (${request.trigger}); its plan is queued`);
  return run;
}
