// Planning a run: split its scope into shards (one when unsharded), record them, queue one message per shard.

import type { RunRecord, RunScope } from '../core/run';
import { AzureAccessError, describeError } from '../errors';
import { RunRecordChangedError, type VersionedRun } from '../store/runStore';
import { completeIfFinished, finishRunWithoutShards, resumeCompletion } from './completeRun';
import type { Delivery } from './inProcessQueue';
import { LeaseGuard, LeaseLostError } from './leaseGuard';
import type { PipelineContext } from './pipelineContext';
import type { PlanMessage } from './pipelineMessage';

const MANAGEMENT_GROUP_SCOPE = /^\/providers\/Microsoft\.Management\/managementGroups\/([^/]+)$/i;

function chunk<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/**
 * The current record of the run a message belongs to, or null when the message is stale: the run is gone, no
 * longer running, or was restarted under another lease generation. Stale messages are dropped, never acted on.
 */
export async function liveRun(
  ctx: PipelineContext,
  message: { runId: string; generation: number },
  what: string,
): Promise<VersionedRun | null> {
  const versioned = await ctx.stores.runs.getVersionedRun(message.runId);
  if (!versioned) {
    ctx.log(`Dropped the ${what}: run ${message.runId} is not stored`);
    return null;
  }
  const { run } = versioned;
  if (run.status !== 'running' || run.leaseGeneration !== message.generation) {
    ctx.log(
      `Dropped the ${what}: run ${run.id} is ${run.status}` +
        (run.leaseGeneration !== message.generation ? ' under another lease generation' : ''),
    );
    return null;
  }
  return versioned;
}

/**
 * The shards of a run: its whole scope when unsharded; batches of AUDIT_SHARD_SIZE subscriptions when sharded,
 * sorted so each shard's part of the report snapshot follows the one before in the report's order.
 */
async function shardScopes(
  ctx: PipelineContext,
  run: RunRecord,
  guard: LeaseGuard,
): Promise<{ scopes: RunScope[]; failure: string | null }> {
  const { shardSize } = ctx.settings;
  if (shardSize === null) return { scopes: [run.scope], failure: null };
  if (run.scope.subscriptions && !run.scope.managementGroups) {
    const sorted = [...run.scope.subscriptions].map((s) => s.toLowerCase()).sort();
    return {
      scopes: chunk(sorted, shardSize).map((s) => ({ subscriptions: s, managementGroups: null })),
      failure: null,
    };
  }
  const listed = await ctx.listSubscriptions(run.scope, { log: (m) => ctx.log(m), signal: guard.signal });
  if (listed.errors.length > 0 && listed.subscriptions.length === 0) {
    return {
      scopes: [],
      failure: `No subscription of the audited scope could be listed: ${listed.errors.map((e) => `${e.scope}: ${e.message}`).join('; ')}`,
    };
  }
  if (listed.subscriptions.length === 0) {
    return {
      scopes: [],
      failure:
        'The identity can read no subscription in the audited scope, so there is nothing to audit. Grant it the Reader role on the subscriptions or management groups to audit (or set AUDIT_SUBSCRIPTIONS).',
    };
  }
  const sorted = [...new Set(listed.subscriptions.map((s) => s.toLowerCase()))].sort();
  const scopes: RunScope[] = chunk(sorted, shardSize).map((s) => ({
    subscriptions: s,
    managementGroups: null,
  }));
  // A management group that could not be listed is not silently left out: it gets a shard of its own, which reads
  // it again and, failing, reports its pools unknown and the run partial.
  for (const error of listed.errors) {
    const group = MANAGEMENT_GROUP_SCOPE.exec(error.scope)?.[1];
    ctx.log(`Could not list the subscriptions of ${error.scope}: ${error.message}`);
    scopes.push(group ? { subscriptions: null, managementGroups: [group] } : { ...run.scope });
  }
  return { scopes, failure: null };
}

/**
 * The plan stage. Idempotent: a redelivered plan keeps a complete recorded plan and only re-sends the shards still
 * pending (a duplicate shard message is harmless). A plan that fails because Azure refuses the identity fails the
 * run at once; any other failure throws, so the queue delivers the plan again. A redelivery after the run ended
 * only finishes a completion hook that failed.
 */
export async function planRun(ctx: PipelineContext, message: PlanMessage, delivery: Delivery): Promise<void> {
  const versioned = await liveRun(ctx, message, 'plan');
  // A run this message ended unplanned, whose completion hook failed: its redelivery runs the hook again.
  if (!versioned) {
    await resumeCompletion(ctx, message.runId, delivery);
    return;
  }
  const { run } = versioned;
  const guard = new LeaseGuard(ctx.stores.lease, run.id, message.generation, {
    ttlInMs: ctx.settings.leaseTtlInMs,
    now: () => ctx.now(),
    log: (m) => ctx.log(m),
  });
  try {
    await guard.start();
    let planned = await ctx.stores.shards.getPlannedShards(run.id);
    if (planned === undefined) {
      await guard.check();
      await ctx.stores.runs.putRun({ ...run, stage: 'planning' }, { etag: versioned.etag });
      await ctx.stores.shards.deleteShards(run.id);
      let plan: { scopes: RunScope[]; failure: string | null };
      try {
        plan = await shardScopes(ctx, run, guard);
      } catch (error) {
        if (!(error instanceof AzureAccessError)) throw error;
        plan = { scopes: [], failure: error.message };
      }
      if (plan.failure !== null) {
        await guard.check();
        await finishRunWithoutShards(
          ctx,
          run,
          message.generation,
          { scope: '/', code: 'PlanFailed', message: plan.failure },
          delivery,
        );
        return;
      }
      await guard.check();
      await ctx.stores.shards.createShards(run.id, plan.scopes);
      planned = plan.scopes.length;
      ctx.log(`Run ${run.id}: ${planned} shard(s) planned`);
    }
    const latest = await ctx.stores.runs.getVersionedRun(run.id);
    if (latest?.run.status !== 'running') return;
    await guard.check();
    try {
      await ctx.stores.runs.putRun(
        { ...latest.run, stage: 'auditing', shards: planned },
        { etag: latest.etag },
      );
    } catch (error) {
      if (!(error instanceof RunRecordChangedError)) throw error;
    }
    let sent = 0;
    for (const shard of await ctx.stores.shards.listShards(run.id)) {
      if (shard.status !== 'pending') continue;
      await guard.check();
      await ctx.queue.send({
        v: 2,
        kind: 'shard',
        runId: run.id,
        generation: message.generation,
        shard: shard.index,
        shards: planned,
      });
      sent += 1;
    }
    // Nothing left to send (a redelivered plan after every shard finished): complete here, or nobody would.
    if (sent === 0) await completeIfFinished(ctx, run.id, delivery);
  } catch (error) {
    if (error instanceof LeaseLostError) {
      ctx.log(`Stopped planning run ${run.id}: ${error.message}`);
      // Only expired: planned again on the next delivery, under the same lease if nobody took it.
      if (error.expired) throw error;
      return;
    }
    ctx.log(`Planning run ${run.id} failed; the queue will deliver it again: ${describeError(error)}`);
    await ctx.stores.shards.notePlanFailure(run.id, describeError(error)).catch(() => undefined);
    throw error;
  } finally {
    guard.stop();
  }
}
