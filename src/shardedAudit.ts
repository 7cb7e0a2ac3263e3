// A sharded run: plans shards of subscriptions onto a queue, audits each shard, and completes the run exactly once.

import { randomUUID } from 'node:crypto';

import { AUDIT_LEASE_TTL_IN_MS, runAuditShard } from './audit';
import type { AuditService } from './auditService';
import { createResourceGraphClient } from './azure/azureClients';
import { ResourceGraphSource } from './azure/resourceGraphSource';
import { type RunRecord, startedRunRecord } from './azure/runStore';
import { createQueueClient, type ShardMessage, ShardQueue } from './azure/shardQueue';
import { type ShardRecord, ShardStore } from './azure/shardStore';
import { requireStorage } from './config';
import { unreadablePool } from './core/evaluatePool';
import { summarizeRun } from './core/summarizeRun';
import type { PoolResult, RunTrigger, ScopeError, Summary } from './core/types';
import { AuditInProgressError, ConfigError, describeError } from './errors';

export interface ShardedAuditDependencies {
  service: AuditService;
  shards: ShardStore;
  queue: ShardQueue;
  log?: (message: string) => void;
  now?: () => Date;
  /** Called by the delivery that completes the run (and by a redelivery of that message only): the email digest. */
  onCompleted?: (run: RunRecord) => Promise<void>;
}

/** Pools written per request when a failed shard's pools are reported unknown. */
const UNREADABLE_CHUNK = 1000;

/** Builds the shard store and queue from the service's settings; AUDIT_SHARDING must be on. */
export function createShardedAuditDependencies(
  service: AuditService,
  options: Pick<ShardedAuditDependencies, 'log' | 'onCompleted'> = {},
): ShardedAuditDependencies {
  const { config } = service;
  const queueSettings = config.sharding.queue;
  if (config.sharding.mode === 'off' || !queueSettings) {
    throw new ConfigError(
      'Sharded audits need AUDIT_SHARDING=subscriptions and AUDIT_QUEUE__queueServiceUri (or AUDIT_QUEUE)',
    );
  }
  const storage = requireStorage(config);
  const needsCredential = storage.kind === 'endpoint' || queueSettings.kind === 'endpoint';
  const credential = needsCredential ? service.credential : undefined;
  return {
    service,
    shards: new ShardStore({
      tablePrefix: config.tablePrefix,
      storage,
      ...(credential ? { credential } : {}),
    }),
    queue: new ShardQueue(createQueueClient(queueSettings, config.sharding.queueName, credential)),
    ...options,
  };
}

/** A shard's scope as errors name it, the way Resource Graph batches are named. */
function shardScope(shard: ShardRecord): string {
  const [first] = shard.subscriptions;
  return shard.subscriptions.length === 1 && first
    ? `/subscriptions/${first}`
    : `/subscriptions/{${shard.subscriptions.length} subscriptions}`;
}

function chunk<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

function addSummaries(summaries: Summary[]): Summary {
  const total = summarizeRun([], []);
  for (const s of summaries) {
    for (const key of Object.keys(total) as (keyof Summary)[]) total[key] += s[key];
  }
  return total;
}

/**
 * Starts a sharded run: takes the audit lease for it (held until the last shard completes the run, and
 * renewed by the shards as they write), lists the audited subscriptions, records one shard per batch of
 * AUDIT_SHARD_SIZE subscriptions, and puts a message per pending shard on the queue. A retry with the same
 * run ID keeps the recorded plan and only re-sends shards still pending (a duplicate message is harmless).
 */
export async function startShardedAudit(
  deps: ShardedAuditDependencies,
  request: { runId: string; trigger: RunTrigger },
): Promise<{ runId: string; shards: number; sent: number }> {
  const { service } = deps;
  const { config, store } = service;
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? (() => undefined);
  const startedAt = now();
  await store.ensureTables();
  await deps.shards.ensureTable();
  await deps.queue.ensureQueue();
  const lease = await store.acquireAuditLease(request.runId, {
    ttlInMs: AUDIT_LEASE_TTL_IN_MS,
    now: startedAt,
  });
  if (!lease.acquired) throw new AuditInProgressError(lease.holderRunId);
  try {
    // A retry of the timer keeps a complete plan; one cut short is dropped (nothing of it was queued yet).
    const planned = (await store.getRun(request.runId))
      ? await deps.shards.getPlannedShards(request.runId)
      : undefined;
    let shards = planned === undefined ? [] : await deps.shards.listShards(request.runId);
    if (planned === undefined) {
      await deps.shards.deleteShards(request.runId);
      const subscriptions =
        config.subscriptions ??
        (await new ResourceGraphSource({
          client: createResourceGraphClient(config, service.credential),
          subscriptions: null,
          managementGroups: config.managementGroups,
          log,
        }).listSubscriptions());
      const run = startedRunRecord({
        id: request.runId,
        trigger: request.trigger,
        startedAt: startedAt.toISOString(),
        cloud: config.cloud.name,
        matrix: config.matrix,
        scope: { subscriptions: config.subscriptions, managementGroups: config.managementGroups },
      });
      await store.upsertRun(run);
      await store.deleteRunResults(run.id);
      // Sorted, so each shard's part of the report snapshot follows the one before in the report's order.
      await deps.shards.createShards(run.id, chunk([...subscriptions].sort(), config.sharding.shardSize));
      shards = await deps.shards.listShards(run.id);
      log(`Sharded audit ${run.id}: ${subscriptions.length} subscriptions in ${shards.length} shard(s)`);
    }
    let sent = 0;
    for (const shard of shards) {
      if (shard.status !== 'pending') continue;
      await deps.queue.send({ v: 1, runId: request.runId, shard: shard.index, shards: shards.length });
      sent += 1;
    }
    // Nothing left to send (no subscriptions at all, or a retry after every shard had finished): nothing will
    // arrive on the queue to complete the run, so it is completed here.
    if (sent === 0) await completeIfFinished(deps, request.runId, `plan-${startedAt.toISOString()}`);
    return { runId: request.runId, shards: shards.length, sent };
  } catch (error) {
    // Nothing was queued, or some was: either way a retry with the same run ID picks the plan up.
    await store.releaseAuditLease(request.runId).catch(() => undefined);
    throw error;
  }
}

export type ShardResult = 'audited' | 'alreadyFinished' | 'unknownShard';

/** The queue delivery a shard runs in: its message ID is the same on every redelivery, and differs for a duplicate. */
export interface ShardDelivery {
  messageId?: string;
}

/**
 * Audits one shard into its run. A shard already done or failed (a redelivered or duplicated message) is not
 * audited again; either way, the run is completed if this was the last shard.
 */
export async function auditShard(
  deps: ShardedAuditDependencies,
  message: ShardMessage,
  delivery: ShardDelivery = {},
): Promise<ShardResult> {
  const claimant = delivery.messageId ?? randomUUID();
  const { service } = deps;
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? (() => undefined);
  const shard = await deps.shards.getShard(message.runId, message.shard);
  if (!shard) {
    log(`Shard ${message.shard} of run ${message.runId} is not recorded; the message is dropped`);
    return 'unknownShard';
  }
  if (shard.status !== 'pending') {
    await completeIfFinished(deps, message.runId, claimant);
    return 'alreadyFinished';
  }
  const run = await service.store.getRun(message.runId);
  if (!run) throw new Error(`Run ${message.runId} of shard ${message.shard} is not stored`);
  const result = await runAuditShard(
    {
      ...service.dependencies({
        trigger: run.trigger,
        runId: run.id,
        subscriptions: shard.subscriptions,
        retainPools: false,
        log,
      }),
      // Waivers as stored when this shard runs, applied as of the run's start, as in an unsharded run.
      exemptions: await service.loadExemptions(),
    },
    { id: run.id, startedAt: run.startedAt },
    shard.index,
  );
  const finished = await deps.shards.finishShard(shard, {
    status: 'done',
    summary: result.summary,
    progress: result.progress,
    errors: result.errors,
    finishedAt: now().toISOString(),
  });
  log(
    `Shard ${shard.index + 1}/${shard.shards} of run ${run.id}: ${result.summary.pools} pools` +
      (finished ? '' : ' (another delivery finished it first; its outcome stands)'),
  );
  await completeIfFinished(deps, run.id, claimant);
  return finished ? 'audited' : 'alreadyFinished';
}

/**
 * The poison path: a shard whose message failed on every delivery. Its scope is recorded as failed, its
 * pools are reported unknown from their last known state, and the run completes as partial, never as a
 * silent success.
 */
export async function failShard(
  deps: ShardedAuditDependencies,
  message: ShardMessage,
  reason: string,
  delivery: ShardDelivery = {},
): Promise<void> {
  const claimant = delivery.messageId ?? randomUUID();
  const { store } = deps.service;
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? (() => undefined);
  const shard = await deps.shards.getShard(message.runId, message.shard);
  if (!shard) return;
  if (shard.status !== 'pending') {
    await completeIfFinished(deps, message.runId, claimant);
    return;
  }
  const scope = shardScope(shard);
  const listed = shard.subscriptions.slice(0, 5).join(', ') + (shard.subscriptions.length > 5 ? ', …' : '');
  const error: ScopeError = {
    scope,
    code: 'ShardFailed',
    message: `Shard ${shard.index + 1} of ${shard.shards} (subscriptions ${listed}) failed on every delivery: ${reason}`,
  };
  // Best effort: storage may be what failed. The shard is marked failed whatever happens here.
  const summaries: Summary[] = [];
  try {
    // Its part of the report snapshot too, or the run's report would fall back to reading every finding.
    const snapshot = store.reportSnapshotWriter(
      message.runId,
      `shard${String(shard.index).padStart(5, '0')}`,
    );
    let pending: PoolResult[] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      await store.appendRunResults(message.runId, pending, []);
      await snapshot.addPools(pending.sort((a, b) => a.id.toLowerCase().localeCompare(b.id.toLowerCase())));
      summaries.push(summarizeRun(pending, []));
      pending = [];
    };
    for (const subscription of shard.subscriptions) {
      for await (const state of store.listPoolStates({ subscriptionId: subscription })) {
        pending.push(unreadablePool(state.snapshot, `/subscriptions/${subscription}`, 'ShardFailed'));
        if (pending.length >= UNREADABLE_CHUNK) await flush();
      }
    }
    await flush();
    await snapshot.finish();
  } catch (e) {
    log(`The pools of failed shard ${shard.index} could not all be reported unknown: ${describeError(e)}`);
  }
  await deps.shards.finishShard(shard, {
    status: 'failed',
    summary: addSummaries(summaries),
    progress: { pagesRead: 0, clustersRead: 0, poolsJudged: 0 },
    errors: [error],
    finishedAt: now().toISOString(),
  });
  log(`Shard ${shard.index + 1}/${shard.shards} of run ${message.runId} failed: ${reason}`);
  await completeIfFinished(deps, message.runId, claimant);
}

/**
 * Completes the run when no shard is pending: sums the shards' summaries and errors into the run record
 * (partial when any shard failed or could not read a scope) and releases the lease. Whoever gets here may
 * write the run record (the same content each time); only the claimer of the completion marker calls
 * `onCompleted`. Returns whether this call claimed it.
 */
export async function completeIfFinished(
  deps: ShardedAuditDependencies,
  runId: string,
  claimant: string,
): Promise<boolean> {
  const { store } = deps.service;
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? (() => undefined);
  const planned = await deps.shards.getPlannedShards(runId);
  const shards = await deps.shards.listShards(runId);
  if (planned === undefined || shards.length !== planned || shards.some((s) => s.status === 'pending')) {
    return false;
  }
  const run = await store.getRun(runId);
  if (!run) return false;
  const claim = await deps.shards.claimCompletion(runId, claimant, now());
  if (run.status === 'running' || claim.claimed) {
    const errors = shards.flatMap((s) => s.errors);
    const completed: RunRecord = {
      ...run,
      status: errors.length || shards.some((s) => s.status === 'failed') ? 'partial' : 'succeeded',
      finishedAt: claim.completedAt,
      summary: addSummaries(shards.map((s) => s.summary ?? summarizeRun([], []))),
      errors,
      progress: {
        pagesRead: shards.reduce((n, s) => n + (s.progress?.pagesRead ?? 0), 0),
        clustersRead: shards.reduce((n, s) => n + (s.progress?.clustersRead ?? 0), 0),
        poolsJudged: shards.reduce((n, s) => n + (s.progress?.poolsJudged ?? 0), 0),
      },
    };
    await store.upsertRun(completed);
    // Still under the run's lease, so the next audit cannot complete before this run is sealed.
    if (claim.claimed) await deps.service.evidence.onRunCompleted(runId, log);
    await store.releaseAuditLease(runId);
    if (claim.claimed) {
      log(
        `Sharded audit ${runId} ${completed.status}: ${completed.summary.pools} pools in ${shards.length} shard(s)`,
      );
      try {
        await deps.onCompleted?.(completed);
      } catch (error) {
        // The run is complete whatever the digest does; failing here would only redeliver a finished shard.
        log(`After sharded audit ${runId} completed: ${describeError(error)}`);
      }
    }
  }
  return claim.claimed;
}
