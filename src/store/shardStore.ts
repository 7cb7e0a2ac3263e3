// The plan and progress of runs in Table Storage: one entity per shard, the plan's size, and the completion marker.

import { odata, type TableClient } from '@azure/data-tables';

import type { RunProgress, RunScope } from '../core/run';
import type { ScopeError, Summary } from '../core/types';
import { optionalString, packJson, type StoredEntity, unpackJson } from './entityCodec';
import { summaryFromProperties, summaryProperties } from './summaryEntity';
import type { StoreStats, TableClientFactory } from './tableClientFactory';
import { isConditionFailed, isEntityExists, isNotFound } from './tableErrors';

export const SHARDS_TABLE = 'shards';

export type ShardStatus = 'pending' | 'done' | 'failed';

export interface ShardRecord {
  runId: string;
  index: number;
  shards: number;
  /** What this shard audits: a batch of subscriptions, or the run's whole scope when the run is not sharded. */
  scope: RunScope;
  status: ShardStatus;
  summary: Summary | null;
  progress: RunProgress | null;
  errors: ScopeError[];
  /** How many of the shard's scopes were read; 0 with errors means the shard read nothing. */
  scopesRead: number;
  /** The shard could not authenticate or was not authorised at all: the run fails, whatever other shards read. */
  fatal: boolean;
  finishedAt: string | null;
  /** The last delivery's failure, kept for the poison path (the queue does not say why a message died). */
  lastError: string | null;
  /** The entity's ETag: a shard moves out of `pending` only with If-Match on it, so exactly once. */
  etag: string;
}

/** The completion marker of a run: who claimed the completion, when, and whether its hook finished. */
export interface CompletionMarker {
  claimant: string;
  completedAt: string;
  hookDone: boolean;
}

export interface ShardOutcome {
  status: Exclude<ShardStatus, 'pending'>;
  summary: Summary;
  progress: RunProgress;
  errors: ScopeError[];
  scopesRead: number;
  fatal: boolean;
  finishedAt: string;
}

function shardKey(index: number): string {
  return `shard|${String(index).padStart(5, '0')}`;
}

function toShard(runId: string, entity: StoredEntity & { etag?: string }): ShardRecord {
  const status = entity.status;
  if (status !== 'pending' && status !== 'done' && status !== 'failed') {
    throw new Error(`Shard ${String(entity.rowKey)} of run ${runId} has no valid status`);
  }
  return {
    runId,
    index: Number(entity.index),
    shards: Number(entity.shards),
    scope: unpackJson<RunScope>(entity, 'scope') ?? { subscriptions: [], managementGroups: null },
    status,
    summary: summaryFromProperties(entity, 'summary') ?? null,
    progress: unpackJson<RunProgress>(entity, 'progress') ?? null,
    errors: unpackJson<ScopeError[]>(entity, 'errors') ?? [],
    scopesRead: typeof entity.scopesRead === 'number' ? entity.scopesRead : 0,
    fatal: entity.fatal === true,
    finishedAt: optionalString(entity, 'finishedAt'),
    lastError: optionalString(entity, 'lastError'),
    etag: entity.etag ?? '',
  };
}

/**
 * Table `{prefix}shards`, PK = run ID:
 * - RK `shard|NNNNN`: one per shard (its scope, status, and once finished its summary, errors and progress);
 * - RK `plan`: the number of shards, written after them: without it the plan is incomplete;
 * - RK `planfailure`: why the last delivery of the plan failed (for the poison path);
 * - RK `completed`: inserted once by whichever worker finds every shard finished (or ends the run unplanned); its
 *   insert is the exactly-once decision, and its `completedAt` is the run's `finishedAt`, so a repeated completion
 *   writes the same run record. `hookDoneAt` is merged in once the completion hook finished: until then the
 *   claimant's redelivery (or the poison path) runs the hook again.
 */
export class ShardStore {
  private readonly table: TableClient;
  private readonly stats: StoreStats;

  constructor(tables: TableClientFactory) {
    this.table = tables.client(SHARDS_TABLE);
    this.stats = tables.stats;
  }

  /**
   * Records the plan: one entity per shard, then the `plan` entity with their count, written last, so a plan
   * cut short (the planner died) is recognisably incomplete. Shards that already exist are kept as they are.
   */
  async createShards(runId: string, scopes: RunScope[]): Promise<void> {
    for (const [index, scope] of scopes.entries()) {
      const entity: Record<string, unknown> & { partitionKey: string; rowKey: string } = {
        partitionKey: runId,
        rowKey: shardKey(index),
        index,
        shards: scopes.length,
        status: 'pending',
      };
      packJson(entity, 'scope', scope);
      try {
        await this.table.createEntity(entity);
        this.stats.entitiesWritten += 1;
      } catch (error) {
        if (!isEntityExists(error)) throw error;
      }
    }
    await this.table.upsertEntity({ partitionKey: runId, rowKey: 'plan', shards: scopes.length }, 'Replace');
    this.stats.entitiesWritten += 1;
  }

  /** The number of shards of the run's complete plan; undefined when no plan was completed. */
  async getPlannedShards(runId: string): Promise<number | undefined> {
    try {
      const plan = await this.table.getEntity<{ shards: number }>(runId, 'plan');
      this.stats.entitiesRead += 1;
      return Number(plan.shards);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Deletes an incomplete plan's shards, before planning the run again (none of them was queued yet). */
  async deleteShards(runId: string): Promise<void> {
    for (const shard of await this.listShards(runId)) {
      await this.table.deleteEntity(runId, shardKey(shard.index));
      this.stats.entitiesDeleted += 1;
    }
  }

  async getShard(runId: string, index: number): Promise<ShardRecord | undefined> {
    try {
      const shard = toShard(runId, await this.table.getEntity(runId, shardKey(index)));
      this.stats.entitiesRead += 1;
      return shard;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async listShards(runId: string): Promise<ShardRecord[]> {
    const shards: ShardRecord[] = [];
    const filter = odata`PartitionKey eq ${runId} and RowKey ge ${'shard|'} and RowKey lt ${'shard}'}`;
    for await (const entity of this.table.listEntities({ queryOptions: { filter } })) {
      this.stats.entitiesRead += 1;
      shards.push(toShard(runId, entity));
    }
    return shards.sort((a, b) => a.index - b.index);
  }

  /**
   * Moves a pending shard to done or failed, only if it is still the version read (`shard.etag`). False when
   * another delivery of the same message finished it first: that one's outcome stands.
   */
  async finishShard(shard: ShardRecord, outcome: ShardOutcome): Promise<boolean> {
    const entity: Record<string, unknown> & { partitionKey: string; rowKey: string } = {
      partitionKey: shard.runId,
      rowKey: shardKey(shard.index),
      status: outcome.status,
      scopesRead: outcome.scopesRead,
      fatal: outcome.fatal,
      finishedAt: outcome.finishedAt,
    };
    Object.assign(entity, summaryProperties('summary', outcome.summary));
    packJson(entity, 'progress', outcome.progress);
    packJson(entity, 'errors', outcome.errors);
    try {
      await this.table.updateEntity(entity, 'Merge', { etag: shard.etag });
      this.stats.entitiesWritten += 1;
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  /** Notes why a delivery of a pending shard failed, for the poison path; best effort, never with If-Match. */
  async noteShardFailure(runId: string, index: number, reason: string): Promise<void> {
    await this.table.updateEntity(
      { partitionKey: runId, rowKey: shardKey(index), lastError: reason.slice(0, 4000) },
      'Merge',
    );
    this.stats.entitiesWritten += 1;
  }

  /** Notes why a delivery of the run's plan failed, for the poison path; best effort. */
  async notePlanFailure(runId: string, reason: string): Promise<void> {
    await this.table.upsertEntity(
      { partitionKey: runId, rowKey: 'planfailure', lastError: reason.slice(0, 4000) },
      'Replace',
    );
    this.stats.entitiesWritten += 1;
  }

  /** The last noted failure of the run's plan, if any. */
  async getPlanFailure(runId: string): Promise<string | null> {
    try {
      const entity = await this.table.getEntity(runId, 'planfailure');
      this.stats.entitiesRead += 1;
      return optionalString(entity, 'lastError');
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /**
   * Claims the run's completion for `claimant` (a queue message ID): a conditional insert, so of any number of
   * workers exactly one gets `claimed: true`; a redelivery of that same message (its worker died after the
   * insert) gets it again, so the work after the claim is not lost, while a duplicate message does not. With
   * `takeOver` (the poison path: the claimant's deliveries have all ended), a claim whose hook never finished is
   * moved to `claimant`, with If-Match so of two takers one wins. Every caller learns the completion time.
   */
  async claimCompletion(
    runId: string,
    claimant: string,
    at: Date,
    options: { takeOver?: boolean } = {},
  ): Promise<{ claimed: boolean; completedAt: string }> {
    try {
      await this.table.createEntity({
        partitionKey: runId,
        rowKey: 'completed',
        completedAt: at.toISOString(),
        claimant,
      });
      this.stats.entitiesWritten += 1;
      return { claimed: true, completedAt: at.toISOString() };
    } catch (error) {
      if (!isEntityExists(error)) throw error;
    }
    const marker = await this.readCompletion(runId);
    if (!marker) throw new Error(`The completion marker of run ${runId} disappeared while it was claimed`);
    if (marker.claimant === claimant || !options.takeOver || marker.hookDone) {
      return { claimed: marker.claimant === claimant, completedAt: marker.completedAt };
    }
    try {
      await this.table.updateEntity({ partitionKey: runId, rowKey: 'completed', claimant }, 'Merge', {
        etag: marker.etag,
      });
      this.stats.entitiesWritten += 1;
      return { claimed: true, completedAt: marker.completedAt };
    } catch (error) {
      if (isConditionFailed(error)) return { claimed: false, completedAt: marker.completedAt };
      throw error;
    }
  }

  /** The run's completion marker; undefined while nobody claimed its completion. */
  async getCompletion(runId: string): Promise<CompletionMarker | undefined> {
    const marker = await this.readCompletion(runId);
    return (
      marker && { claimant: marker.claimant, completedAt: marker.completedAt, hookDone: marker.hookDone }
    );
  }

  /** Notes that the run's completion hook finished, so nobody runs it again. */
  async noteCompletionHookDone(runId: string, at: Date): Promise<void> {
    await this.table.updateEntity(
      { partitionKey: runId, rowKey: 'completed', hookDoneAt: at.toISOString() },
      'Merge',
    );
    this.stats.entitiesWritten += 1;
  }

  private async readCompletion(runId: string): Promise<(CompletionMarker & { etag: string }) | undefined> {
    try {
      const entity = await this.table.getEntity<{
        completedAt: string;
        claimant: string;
        hookDoneAt?: string;
      }>(runId, 'completed');
      this.stats.entitiesRead += 1;
      return {
        claimant: entity.claimant,
        completedAt: entity.completedAt,
        hookDone: typeof entity.hookDoneAt === 'string',
        etag: entity.etag,
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}
