// The plan and progress of sharded runs in Table Storage: one entity per shard, and the run's completion marker.

import type { TokenCredential } from '@azure/core-auth';
import { odata, TableClient } from '@azure/data-tables';

import type { StorageSettings } from '../config';
import type { ScopeError, Summary } from '../core/types';
import type { RunProgress } from './runStore';
import { summaryFromProperties, summaryProperties } from './summaryEntity';

export type ShardStatus = 'pending' | 'done' | 'failed';

export interface ShardRecord {
  runId: string;
  index: number;
  shards: number;
  subscriptions: string[];
  status: ShardStatus;
  summary: Summary | null;
  progress: RunProgress | null;
  errors: ScopeError[];
  finishedAt: string | null;
  /** The entity's ETag: a shard moves out of `pending` only with If-Match on it, so exactly once. */
  etag: string;
}

export interface ShardOutcome {
  status: Exclude<ShardStatus, 'pending'>;
  summary: Summary;
  progress: RunProgress;
  errors: ScopeError[];
  finishedAt: string;
}

/**
 * Table `{prefix}shards`, PK = run ID:
 * - RK `shard|NNNNN`: one per shard (its subscriptions, status, and once finished its summary and errors);
 * - RK `plan`: the number of shards, written after them: without it the plan is incomplete;
 * - RK `completed`: inserted once by whichever worker finds every shard finished; its insert is the
 *   exactly-once decision, and its `completedAt` is the run's `finishedAt`, so a repeated finalization
 *   writes the same run record.
 */
export class ShardStore {
  private readonly table: TableClient;

  constructor(options: { tablePrefix: string; storage: StorageSettings; credential?: TokenCredential }) {
    const name = `${options.tablePrefix}shards`;
    const { storage } = options;
    if (storage.kind === 'connectionString') {
      this.table = TableClient.fromConnectionString(storage.connectionString, name, {
        allowInsecureConnection: /http:\/\/|DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true/i.test(
          storage.connectionString,
        ),
      });
    } else {
      if (!options.credential) throw new TypeError('ShardStore with an endpoint needs a credential');
      this.table = new TableClient(storage.endpoint, name, options.credential, {
        allowInsecureConnection: storage.endpoint.startsWith('http://'),
      });
    }
  }

  async ensureTable(): Promise<void> {
    await this.table.createTable();
  }

  /**
   * Records the plan: one entity per shard, then the `plan` entity with their count, written last, so a plan
   * cut short (the planner died) is recognisably incomplete. Shards that already exist are kept as they are.
   */
  async createShards(runId: string, shards: string[][]): Promise<void> {
    for (const [index, subscriptions] of shards.entries()) {
      try {
        await this.table.createEntity({
          partitionKey: runId,
          rowKey: shardKey(index),
          index,
          shards: shards.length,
          subscriptions: JSON.stringify(subscriptions),
          status: 'pending',
        });
      } catch (error) {
        if (!isStatus(error, 409)) throw error;
      }
    }
    await this.table.upsertEntity({ partitionKey: runId, rowKey: 'plan', shards: shards.length }, 'Replace');
  }

  /** The number of shards of the run's complete plan; undefined when no plan was completed. */
  async getPlannedShards(runId: string): Promise<number | undefined> {
    try {
      const plan = await this.table.getEntity<{ shards: number }>(runId, 'plan');
      return Number(plan.shards);
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** Deletes an incomplete plan's shards, before planning the run again (none of them was queued yet). */
  async deleteShards(runId: string): Promise<void> {
    for (const shard of await this.listShards(runId)) {
      await this.table.deleteEntity(runId, shardKey(shard.index));
    }
  }

  async getShard(runId: string, index: number): Promise<ShardRecord | undefined> {
    try {
      return toShard(runId, await this.table.getEntity(runId, shardKey(index)));
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async listShards(runId: string): Promise<ShardRecord[]> {
    const shards: ShardRecord[] = [];
    const filter = odata`PartitionKey eq ${runId} and RowKey ge ${'shard|'} and RowKey lt ${'shard}'}`;
    for await (const entity of this.table.listEntities({ queryOptions: { filter } })) {
      shards.push(toShard(runId, entity));
    }
    return shards.sort((a, b) => a.index - b.index);
  }

  /**
   * Moves a pending shard to done or failed, only if it is still the version read (`shard.etag`). False when
   * another delivery of the same message finished it first: that one's outcome stands.
   */
  async finishShard(shard: ShardRecord, outcome: ShardOutcome): Promise<boolean> {
    try {
      await this.table.updateEntity(
        {
          partitionKey: shard.runId,
          rowKey: shardKey(shard.index),
          status: outcome.status,
          ...summaryProperties('summary', outcome.summary),
          progress: JSON.stringify(outcome.progress),
          errors: JSON.stringify(outcome.errors),
          finishedAt: outcome.finishedAt,
        },
        'Merge',
        { etag: shard.etag },
      );
      return true;
    } catch (error) {
      if (isStatus(error, 412)) return false;
      throw error;
    }
  }

  /**
   * Claims the run's completion for `claimant` (a queue message ID): a conditional insert, so of any number of
   * workers exactly one gets `claimed: true`; a redelivery of that same message (its worker died after the
   * insert) gets it again, so the work after the claim is not lost, while a duplicate message does not. Every
   * caller learns the completion time.
   */
  async claimCompletion(
    runId: string,
    claimant: string,
    at: Date,
  ): Promise<{ claimed: boolean; completedAt: string }> {
    try {
      await this.table.createEntity({
        partitionKey: runId,
        rowKey: 'completed',
        completedAt: at.toISOString(),
        claimant,
      });
      return { claimed: true, completedAt: at.toISOString() };
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
      const marker = await this.table.getEntity<{ completedAt: string; claimant: string }>(
        runId,
        'completed',
      );
      return { claimed: marker.claimant === claimant, completedAt: marker.completedAt };
    }
  }
}

function shardKey(index: number): string {
  return `shard|${String(index).padStart(5, '0')}`;
}

function isStatus(error: unknown, status: number): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { statusCode?: number }).statusCode === status
  );
}

function parseJson<T>(value: unknown, fallback: T): T {
  return typeof value === 'string' ? (JSON.parse(value) as T) : fallback;
}

function toShard(runId: string, entity: Record<string, unknown> & { etag?: string }): ShardRecord {
  const status = entity.status;
  if (status !== 'pending' && status !== 'done' && status !== 'failed') {
    throw new Error(`Shard ${String(entity.rowKey)} of run ${runId} has no valid status`);
  }
  return {
    runId,
    index: Number(entity.index),
    shards: Number(entity.shards),
    subscriptions: parseJson<string[]>(entity.subscriptions, []),
    status,
    summary: summaryFromProperties(entity, 'summary') ?? null,
    progress: parseJson<RunProgress | null>(entity.progress, null),
    errors: parseJson<ScopeError[]>(entity.errors, []),
    finishedAt: typeof entity.finishedAt === 'string' ? entity.finishedAt : null,
    etag: entity.etag ?? '',
  };
}
