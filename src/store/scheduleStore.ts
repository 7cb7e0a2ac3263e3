// What became of the scheduled audits: started, deferred behind another run, or missed; read by /api/health.

import type { TableClient } from '@azure/data-tables';

import { optionalString } from './entityCodec';
import { LOCKS_TABLE } from './leaseStore';
import type { StoreStats, TableClientFactory } from './tableClientFactory';
import { isNotFound } from './tableErrors';

const SCHEDULE_PARTITION = 'schedule';
const SCHEDULE_ROW = 'timer';

export interface ScheduleState {
  /** When the timer last fired (the scheduled time of the latest scheduled audit). */
  lastScheduledAt: string | null;
  /** The run that scheduled audit started, once it did. */
  lastStartedRunId: string | null;
  lastStartedAt: string | null;
  /** Set while that scheduled audit waits behind another run. */
  deferredSince: string | null;
  deferredBehindRunId: string | null;
  nextAttemptAt: string | null;
  /** A scheduled audit that never found the lease free before its deadline. */
  lastMissedAt: string | null;
}

/** A schedule that has never run: every field null. */
export const NO_SCHEDULE_STATE: Readonly<ScheduleState> = {
  lastScheduledAt: null,
  lastStartedRunId: null,
  lastStartedAt: null,
  deferredSince: null,
  deferredBehindRunId: null,
  nextAttemptAt: null,
  lastMissedAt: null,
};

/** Table `{prefix}locks`, PK `schedule`, RK `timer`: one small entity, merged field by field. */
export class ScheduleStore {
  private readonly locks: TableClient;
  private readonly stats: StoreStats;

  constructor(tables: TableClientFactory) {
    this.locks = tables.client(LOCKS_TABLE);
    this.stats = tables.stats;
  }

  /** What became of the scheduled audits; `abortSignal` cancels the read. */
  async get(options: { abortSignal?: AbortSignal } = {}): Promise<ScheduleState> {
    try {
      const entity = await this.locks.getEntity(SCHEDULE_PARTITION, SCHEDULE_ROW, options);
      this.stats.entitiesRead += 1;
      // A cleared field is an empty string (see merge).
      const field = (name: keyof ScheduleState) => optionalString(entity, name) || null;
      return {
        lastScheduledAt: field('lastScheduledAt'),
        lastStartedRunId: field('lastStartedRunId'),
        lastStartedAt: field('lastStartedAt'),
        deferredSince: field('deferredSince'),
        deferredBehindRunId: field('deferredBehindRunId'),
        nextAttemptAt: field('nextAttemptAt'),
        lastMissedAt: field('lastMissedAt'),
      };
    } catch (error) {
      if (isNotFound(error)) return { ...NO_SCHEDULE_STATE };
      throw error;
    }
  }

  async recordStarted(scheduledAt: Date, runId: string, at: Date): Promise<void> {
    await this.merge({
      lastScheduledAt: scheduledAt.toISOString(),
      lastStartedRunId: runId,
      lastStartedAt: at.toISOString(),
      deferredSince: '',
      deferredBehindRunId: '',
      nextAttemptAt: '',
    });
  }

  async recordDeferred(
    scheduledAt: Date,
    behindRunId: string,
    since: Date,
    nextAttemptAt: Date,
  ): Promise<void> {
    await this.merge({
      lastScheduledAt: scheduledAt.toISOString(),
      deferredSince: since.toISOString(),
      deferredBehindRunId: behindRunId,
      nextAttemptAt: nextAttemptAt.toISOString(),
    });
  }

  async recordMissed(scheduledAt: Date, at: Date): Promise<void> {
    await this.merge({
      lastScheduledAt: scheduledAt.toISOString(),
      lastMissedAt: at.toISOString(),
      deferredSince: '',
      deferredBehindRunId: '',
      nextAttemptAt: '',
    });
  }

  /** Empty strings clear a field (a merge cannot remove a property). */
  private async merge(fields: Record<string, string>): Promise<void> {
    await this.locks.upsertEntity(
      { partitionKey: SCHEDULE_PARTITION, rowKey: SCHEDULE_ROW, ...fields },
      'Merge',
    );
    this.stats.entitiesWritten += 1;
  }
}
