// Auditing one shard of a run inside a queue invocation, and the poison path for a shard that never could be.

import { mergeSummaries } from '../core/breakdownCounter';
import { unreadablePool } from '../core/evaluatePool';
import { everyScopeFailed } from '../core/everyScopeFailed';
import type { RunProgress, RunScope } from '../core/run';
import { summarizeRun } from '../core/summarizeRun';
import type { PoolResult, ScopeError, Summary } from '../core/types';
import { AzureAccessError, describeError } from '../errors';
import type { ShardOutcome, ShardRecord } from '../store/shardStore';
import { auditScope, type KnownPool } from './auditScope';
import { completeIfFinished } from './completeRun';
import type { Delivery } from './inProcessQueue';
import { LeaseGuard, LeaseLostError } from './leaseGuard';
import type { PipelineContext } from './pipelineContext';
import type { ShardMessage } from './pipelineMessage';
import { liveRun } from './planRun';

/** Pools written per request when a failed shard's pools are reported unknown. */
const UNREADABLE_CHUNK = 1000;
/** How often a shard notes its progress on the run record, for those watching `GET /api/runs/{runId}`. */
const PROGRESS_NOTE_INTERVAL_IN_MS = 2_000;

/** A shard's scope as errors name it, the way Resource Graph batches are named. */
export function shardScopeLabel(scope: RunScope): string {
  const subscriptions = scope.subscriptions ?? [];
  const groups = scope.managementGroups ?? [];
  if (subscriptions.length === 0 && groups.length === 0) return '/';
  if (subscriptions.length === 1 && groups.length === 0) return `/subscriptions/${subscriptions[0]}`;
  if (groups.length === 1 && subscriptions.length === 0) {
    return `/providers/Microsoft.Management/managementGroups/${groups[0]}`;
  }
  return `/subscriptions/{${subscriptions.length} subscriptions}`;
}

/** The report snapshot part a shard writes: `run` for an unsharded run, so it reads as before. */
function snapshotPart(shard: { index: number; shards: number }): string {
  return shard.shards === 1 ? 'run' : `shard${String(shard.index).padStart(5, '0')}`;
}

/** The last known pool states that fall under a shard's scope: per subscription when it names them, else all. */
async function* knownPoolsOf(ctx: PipelineContext, scope: RunScope): AsyncIterable<KnownPool> {
  if (scope.subscriptions && !scope.managementGroups) {
    for (const subscriptionId of scope.subscriptions) {
      yield* ctx.stores.poolStates.listPoolStates({ subscriptionId });
    }
    return;
  }
  yield* ctx.stores.poolStates.listPoolStates();
}

function emptyOutcome(
  errors: ScopeError[],
  status: ShardOutcome['status'],
  fatal: boolean,
  at: Date,
): ShardOutcome {
  return {
    status,
    summary: summarizeRun([], []),
    progress: { pagesRead: 0, clustersRead: 0, poolsJudged: 0 },
    errors,
    scopesRead: 0,
    fatal,
    finishedAt: at.toISOString(),
  };
}

/**
 * The shard stage. A stale message (run no longer running, other lease generation) or a shard already finished
 * (a redelivery) is not audited again; either way the run is completed if this was its last shard. Azure refusing
 * the identity fails the shard (and so the run) without retries; a lease another run took (or the run released)
 * stops the shard without another write. A lease that merely expired unrenewed throws without another write, and
 * anything else throws once the failure is noted, so the queue delivers the shard again.
 */
export async function executeShard(
  ctx: PipelineContext,
  message: ShardMessage,
  delivery: Delivery,
): Promise<void> {
  const shard = await ctx.stores.shards.getShard(message.runId, message.shard);
  if (!shard) {
    ctx.log(`Dropped shard ${message.shard} of run ${message.runId}: it is not recorded`);
    return;
  }
  if (shard.status !== 'pending') {
    await completeIfFinished(ctx, message.runId, delivery);
    return;
  }
  const versioned = await liveRun(ctx, message, `shard ${message.shard + 1}/${message.shards}`);
  if (!versioned) return;
  const { run } = versioned;
  const log = (m: string) => ctx.log(`[${run.id} ${shard.index + 1}/${shard.shards}] ${m}`);
  const guard = new LeaseGuard(ctx.stores.lease, run.id, message.generation, {
    ttlInMs: ctx.settings.leaseTtlInMs,
    now: () => ctx.now(),
    log,
  });
  try {
    await guard.start();
    const exemptions = await ctx.loadExemptions();
    const readers = ctx.openScope(shard.scope, { log, signal: guard.signal });
    // An unsharded run shows its progress as it reads; a sharded one as its shards finish (see completeRun).
    let progressNotedAt = 0;
    let noting: Promise<void> = Promise.resolve();
    const noteProgress = (progress: RunProgress) => {
      ctx.onProgress?.(run.id, progress);
      const now = Date.now();
      if (shard.shards !== 1 || now - progressNotedAt < PROGRESS_NOTE_INTERVAL_IN_MS) return;
      progressNotedAt = now;
      noting = noting
        .then(() => guard.check())
        .then(() => ctx.stores.runs.noteProgress(run.id, progress, 'auditing'))
        .catch((error: unknown) => log(`Could not note the run's progress: ${describeError(error)}`));
    };
    let outcome: ShardOutcome;
    try {
      const result = await auditScope({
        runId: run.id,
        startedAt: new Date(run.startedAt),
        part: snapshotPart(shard),
        source: readers.source,
        freshness: readers.freshness,
        matrix: ctx.settings.matrix,
        nodeImageMaxAgeInDays: ctx.settings.nodeImageMaxAgeInDays,
        ownerTag: ctx.settings.ownerTag,
        exemptions,
        results: ctx.stores.results,
        poolStates: ctx.stores.poolStates,
        knownPools: () => knownPoolsOf(ctx, shard.scope),
        beforeWrite: () => guard.check(),
        onProgress: noteProgress,
        log,
      });
      outcome = {
        status: 'done',
        summary: result.summary,
        progress: result.progress,
        errors: result.errors,
        // An empty page over scopes that all failed is no read: Resource Graph filters, it does not refuse.
        scopesRead:
          result.readAnything &&
          !(result.progress.clustersRead === 0 && everyScopeFailed(shard.scope, result.errors))
            ? 1
            : 0,
        fatal: false,
        finishedAt: ctx.now().toISOString(),
      };
    } catch (error) {
      if (!(error instanceof AzureAccessError)) throw error;
      log(error.message);
      outcome = emptyOutcome(
        [{ scope: error.scope, code: error.code, message: error.message }],
        'failed',
        true,
        ctx.now(),
      );
    }
    await noting;
    await guard.check();
    const finished = await ctx.stores.shards.finishShard(shard, outcome);
    log(
      `${outcome.summary.pools} pools, ${outcome.errors.length} error(s)` +
        (finished ? '' : ' (another delivery finished it first; its outcome stands)'),
    );
    await completeIfFinished(ctx, run.id, delivery);
  } catch (error) {
    if (error instanceof LeaseLostError) {
      log(`Stopped: ${error.message}`);
      // Only expired (storage unreachable, or the worker stalled): delivered again, the shard goes on under the
      // same lease if nobody took it, or is dropped once the run was taken over. Writing nothing meanwhile.
      if (error.expired) throw error;
      return;
    }
    await ctx.stores.shards
      .noteShardFailure(run.id, shard.index, `delivery ${delivery.dequeueCount}: ${describeError(error)}`)
      .catch(() => undefined);
    throw error;
  } finally {
    guard.stop();
  }
}

/**
 * The poison path: a shard whose message failed on every delivery. Its scope is recorded as failed with the last
 * delivery's error, its pools are reported unknown from their last known state, and the run completes as partial,
 * never as a silent success.
 */
export async function failShard(
  ctx: PipelineContext,
  message: ShardMessage,
  reason: string,
  delivery: Delivery,
): Promise<void> {
  const shard: ShardRecord | undefined = await ctx.stores.shards.getShard(message.runId, message.shard);
  if (!shard) return;
  if (shard.status !== 'pending') {
    // The last chance to run a completion hook that failed on every delivery of the claimant (this message).
    await completeIfFinished(ctx, message.runId, delivery, { takeOver: true });
    return;
  }
  if (!(await liveRun(ctx, message, `poison shard ${message.shard + 1}/${message.shards}`))) return;
  const guard = new LeaseGuard(ctx.stores.lease, message.runId, message.generation, {
    ttlInMs: ctx.settings.leaseTtlInMs,
    now: () => ctx.now(),
    log: (m) => ctx.log(m),
  });
  try {
    await guard.start();
    await reportShardUnreadable(ctx, shard, reason, () => guard.check());
    await completeIfFinished(ctx, message.runId, delivery);
  } catch (error) {
    if (error instanceof LeaseLostError) {
      ctx.log(`Stopped the poison path of run ${message.runId}: ${error.message}`);
      if (error.expired) throw error;
      return;
    }
    throw error;
  } finally {
    guard.stop();
  }
}

/** Reports a failed shard's pools unknown from their last state and marks the shard failed with `reason`. */
async function reportShardUnreadable(
  ctx: PipelineContext,
  shard: ShardRecord,
  reason: string,
  beforeWrite: () => Promise<void>,
): Promise<void> {
  const { runId } = shard;
  const scope = shardScopeLabel(shard.scope);
  const error: ScopeError = {
    scope,
    code: 'ShardFailed',
    message: `Shard ${shard.index + 1} of ${shard.shards} (${scope}) could not be audited on any delivery: ${shard.lastError ?? reason}`,
  };
  // Best effort: storage may be what failed. The shard is marked failed whatever happens here.
  const summaries: Summary[] = [];
  try {
    const snapshot = ctx.stores.results.reportSnapshotWriter(runId, snapshotPart(shard));
    let pending: PoolResult[] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      await beforeWrite();
      await ctx.stores.results.appendRunResults(runId, pending, []);
      await snapshot.addPools(pending.sort((a, b) => a.id.toLowerCase().localeCompare(b.id.toLowerCase())));
      summaries.push(summarizeRun(pending, []));
      pending = [];
    };
    for await (const state of knownPoolsOf(ctx, shard.scope)) {
      pending.push(unreadablePool(state.snapshot, scope, 'ShardFailed'));
      if (pending.length >= UNREADABLE_CHUNK) await flush();
    }
    await flush();
    await snapshot.finish();
  } catch (e) {
    ctx.log(
      `The pools of failed shard ${shard.index} could not all be reported unknown: ${describeError(e)}`,
    );
  }
  const summary = mergeSummaries(summaries);
  await beforeWrite();
  await ctx.stores.shards.finishShard(shard, {
    ...emptyOutcome([error], 'failed', false, ctx.now()),
    summary,
  });
  ctx.log(`Shard ${shard.index + 1}/${shard.shards} of run ${runId} failed: ${shard.lastError ?? reason}`);
}
