// Completing a run, exactly once: sum its shards, decide its status, write the record, free the lease, fire the hook.

import { randomUUID } from 'node:crypto';

import { mergeSummaries } from '../core/breakdownCounter';
import { type RunProgress, type RunRecord } from '../core/run';
import { summarizeRun } from '../core/summarizeRun';
import type { RunStatus, ScopeError, Summary } from '../core/types';
import { describeError } from '../errors';
import { RunRecordChangedError } from '../store/runStore';
import type { ShardRecord } from '../store/shardStore';
import type { Delivery } from './inProcessQueue';
import type { PipelineContext } from './pipelineContext';

function addProgress(shards: readonly ShardRecord[]): RunProgress {
  return {
    pagesRead: shards.reduce((n, s) => n + (s.progress?.pagesRead ?? 0), 0),
    clustersRead: shards.reduce((n, s) => n + (s.progress?.clustersRead ?? 0), 0),
    poolsJudged: shards.reduce((n, s) => n + (s.progress?.poolsJudged ?? 0), 0),
  };
}

/**
 * A run's status from its finished shards. It failed when any shard could not authenticate or was refused
 * outright, or when no shard read anything at all: a run that read nothing has no results to pass for clean. It
 * is partial when some scope or shard could not be read, and succeeded only when everything was.
 */
export function runOutcome(shards: readonly ShardRecord[]): {
  status: RunStatus;
  errors: ScopeError[];
  summary: Summary;
  progress: RunProgress;
} {
  const fatal = shards.filter((s) => s.fatal);
  const errors = [...fatal, ...shards.filter((s) => !s.fatal)].flatMap((s) => s.errors);
  const readAnything = shards.some((s) => s.scopesRead > 0);
  let status: RunStatus;
  if (fatal.length > 0) {
    status = 'failed';
  } else if (!readAnything) {
    status = 'failed';
    errors.push({
      scope: '/',
      code: 'NothingRead',
      message:
        'No scope of this audit could be read, so nothing was judged. The errors above say why for each scope.',
    });
  } else {
    status = errors.length || shards.some((s) => s.status === 'failed') ? 'partial' : 'succeeded';
  }
  return {
    status,
    errors,
    summary: mergeSummaries(shards.map((s) => s.summary ?? summarizeRun([], []))),
    progress: addProgress(shards),
  };
}

/**
 * Writes the completed record (only over the `running` record read: a run marked abandoned meanwhile stays so),
 * frees the lease, and fires the completion hook when this call claimed the completion.
 */
async function finalize(
  ctx: PipelineContext,
  current: { run: RunRecord; etag: string },
  completed: RunRecord,
  claimed: boolean,
  redelivered: boolean,
): Promise<void> {
  if (current.run.status === 'running') {
    try {
      await ctx.stores.runs.putRun(completed, { etag: current.etag });
    } catch (error) {
      if (!(error instanceof RunRecordChangedError)) throw error;
      const again = await ctx.stores.runs.getVersionedRun(completed.id);
      if (again?.run.status !== 'running') {
        ctx.log(
          `Run ${completed.id} was ${again?.run.status ?? 'deleted'} before it could be completed; it stays so`,
        );
        return;
      }
      // Only the stage or progress moved (a shard's note): write over the newer version.
      await ctx.stores.runs.putRun(completed, { etag: again.etag });
    }
  }
  if (completed.leaseGeneration !== undefined) {
    await ctx.stores.lease.release(completed.id, completed.leaseGeneration, ctx.now());
  }
  if (!claimed) return;
  ctx.log(
    `Run ${completed.id} ${completed.status}: ${completed.summary.pools} pools in ${completed.summary.clusters} clusters; ` +
      `${completed.summary.compliant} compliant, ${completed.summary.noncompliant} noncompliant, ` +
      `${completed.summary.exempt} exempt, ${completed.summary.unknown} unknown`,
  );
  try {
    await ctx.onRunCompleted(completed, { redelivered });
  } catch (error) {
    // The run stays complete; the message is delivered again, and the redelivery (the same claimant) runs the hook
    // again to finish what this one could not (see resumeCompletion).
    ctx.log(`After run ${completed.id} completed, its completion hook failed: ${describeError(error)}`);
    throw error;
  }
  // Best effort: the hook's own work is idempotent, so a marker left without it only lets a redelivery run it again.
  await ctx.stores.shards
    .noteCompletionHookDone(completed.id, ctx.now())
    .catch((e: unknown) =>
      ctx.log(`Could not note that run ${completed.id}'s completion hook finished: ${describeError(e)}`),
    );
}

/**
 * Finishes the completion of a run that is no longer running: its completion was claimed, but the hook did not
 * finish (it threw, or its worker died). Only the claimant's redelivery runs the hook again, or, with `takeOver`,
 * the poison path of a message whose deliveries have all ended: a message that is not the claimant returns
 * normally on redelivery, so only the claimant's message ends in poison. A run that was abandoned (its completion
 * never wrote the record) or whose hook finished is left alone. True when this call ran the hook.
 */
export async function resumeCompletion(
  ctx: PipelineContext,
  runId: string,
  delivery: Delivery,
  options: { takeOver?: boolean } = {},
): Promise<boolean> {
  const current = await ctx.stores.runs.getVersionedRun(runId);
  if (!current || current.run.status === 'running' || current.run.status === 'abandoned') return false;
  const marker = await ctx.stores.shards.getCompletion(runId);
  if (!marker || marker.hookDone) return false;
  const claim = await ctx.stores.shards.claimCompletion(runId, delivery.messageId, ctx.now(), options);
  if (!claim.claimed) return false;
  ctx.log(`Run ${runId} is ${current.run.status}, but its completion hook did not finish: running it again`);
  const completed: RunRecord = { ...current.run };
  delete completed.stage;
  // A redelivery, or a poison message after every delivery of the claimant ended: its claims may be taken over.
  await finalize(ctx, current, completed, true, delivery.dequeueCount > 1 || options.takeOver === true);
  return true;
}

/**
 * Completes the run when no shard is pending: sums the shards into the run record, frees the lease, and fires
 * `onRunCompleted` once. Whoever gets here may write the record (the same content each time: the completion time
 * comes from the marker); only the claimer of the completion marker fires the hook. The claimant is the queue
 * message's ID, the same on a redelivery, so a worker that died after claiming is succeeded by its redelivery. A
 * run no longer running only gets its unfinished hook run again (resumeCompletion; `takeOver` for the poison path).
 */
export async function completeIfFinished(
  ctx: PipelineContext,
  runId: string,
  delivery: Delivery,
  options: { takeOver?: boolean } = {},
): Promise<boolean> {
  const planned = await ctx.stores.shards.getPlannedShards(runId);
  const shards = await ctx.stores.shards.listShards(runId);
  if (planned === undefined || shards.length !== planned || shards.some((s) => s.status === 'pending')) {
    return false;
  }
  const current = await ctx.stores.runs.getVersionedRun(runId);
  if (!current) return false;
  if (current.run.status !== 'running') return resumeCompletion(ctx, runId, delivery, options);
  const claim = await ctx.stores.shards.claimCompletion(runId, delivery.messageId, ctx.now());
  const completed: RunRecord = { ...current.run, ...runOutcome(shards), finishedAt: claim.completedAt };
  delete completed.stage;
  await finalize(ctx, current, completed, claim.claimed, delivery.dequeueCount > 1);
  return claim.claimed;
}

/**
 * Ends a run that never got as far as its shards (it could not be planned or started) as failed with `error`,
 * frees its lease and fires the hook once.
 */
export async function finishRunWithoutShards(
  ctx: PipelineContext,
  run: RunRecord,
  generation: number,
  error: ScopeError,
  delivery: Delivery = { messageId: randomUUID(), dequeueCount: 1 },
): Promise<void> {
  const current = (await ctx.stores.runs.getVersionedRun(run.id)) ?? null;
  if (current && (current.run.status !== 'running' || current.run.leaseGeneration !== generation)) return;
  const claim = await ctx.stores.shards.claimCompletion(run.id, delivery.messageId, ctx.now());
  const base = current?.run ?? run;
  const failed: RunRecord = {
    ...base,
    status: 'failed',
    finishedAt: claim.completedAt,
    errors: [...base.errors, error],
  };
  delete failed.stage;
  if (current) {
    await finalize(ctx, current, failed, claim.claimed, delivery.dequeueCount > 1);
  } else {
    await ctx.stores.runs.putRun(failed);
    await ctx.stores.lease.release(run.id, generation, ctx.now());
    if (!claim.claimed) return;
    // No queue message stands behind this completion to deliver it again: the failure is said, not retried.
    await ctx
      .onRunCompleted(failed, { redelivered: false })
      .catch((e: unknown) =>
        ctx.log(`After run ${run.id} failed, its completion hook failed: ${describeError(e)}`),
      );
  }
}
