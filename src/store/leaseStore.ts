// The audit lease in Table Storage: one holder at a time, taken over only once expired, with a rising generation.

import type { TableClient } from '@azure/data-tables';

import { type Entity, optionalString, requireString, type StoredEntity } from './entityCodec';
import type { StoreStats, TableClientFactory } from './tableClientFactory';
import { isConditionFailed, isEntityExists, isNotFound } from './tableErrors';

export const LOCKS_TABLE = 'locks';
const LEASE_PARTITION = 'lease';
const LEASE_ROW = 'audit';
/** Races settle within a few rounds; more means something else keeps writing the entity. */
const ATTEMPTS = 8;

export interface Lease {
  /** The run holding it; null once released. */
  holderRunId: string | null;
  /** Rises by one with every acquisition, never reused: a run's writes are fenced by (run ID, generation). */
  generation: number;
  acquiredAt: string;
  expiresAt: string;
  etag: string;
}

export type AcquireResult =
  | {
      acquired: true;
      generation: number;
      /** The run whose lease expired without being released and was taken over here; it did not complete. */
      tookOverFrom: { runId: string; generation: number; expiredAt: string } | null;
    }
  | { acquired: false; holderRunId: string; generation: number; expiresAt: string };

export interface LeaseTiming {
  ttlInMs: number;
  now: Date;
}

function leaseEntity(
  runId: string | null,
  generation: number,
  acquiredAt: string,
  expiresAt: string,
): Entity {
  const entity: Entity = {
    partitionKey: LEASE_PARTITION,
    rowKey: LEASE_ROW,
    generation,
    acquiredAt,
    expiresAt,
  };
  if (runId !== null) entity.holderRunId = runId;
  return entity;
}

function toLease(entity: StoredEntity & { etag: string }): Lease {
  return {
    holderRunId: optionalString(entity, 'holderRunId'),
    generation: typeof entity.generation === 'number' ? entity.generation : 0,
    acquiredAt: requireString(entity, 'acquiredAt'),
    expiresAt: requireString(entity, 'expiresAt'),
    etag: entity.etag,
  };
}

function expiry(timing: LeaseTiming): string {
  if (!(timing.ttlInMs > 0)) throw new RangeError(`ttlInMs must be positive; got ${timing.ttlInMs}`);
  return new Date(timing.now.getTime() + timing.ttlInMs).toISOString();
}

/**
 * Table `{prefix}locks`, PK `lease`, RK `audit`. The entity is never deleted: releasing it clears the holder and
 * keeps the generation, so generations only rise. Every change is a conditional write (insert, or If-Match on the
 * ETag read), so of racing writers exactly one wins and the others re-read.
 */
export class LeaseStore {
  private readonly locks: TableClient;
  private readonly stats: StoreStats;

  constructor(tables: TableClientFactory) {
    this.locks = tables.client(LOCKS_TABLE);
    this.stats = tables.stats;
  }

  /** The lease as stored; undefined before any run took it. `abortSignal` cancels the read. */
  async get(options: { abortSignal?: AbortSignal } = {}): Promise<Lease | undefined> {
    try {
      const entity = await this.locks.getEntity(LEASE_PARTITION, LEASE_ROW, options);
      this.stats.entitiesRead += 1;
      return toLease(entity);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * Takes the lease for `runId` unless another run holds an unexpired one. Asking again for a run that holds it
   * returns its generation (a retried start). An expired holder is taken over and reported in `tookOverFrom`.
   */
  async acquire(runId: string, timing: LeaseTiming): Promise<AcquireResult> {
    const now = timing.now.toISOString();
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const current = await this.get();
      if (!current) {
        try {
          await this.locks.createEntity(leaseEntity(runId, 1, now, expiry(timing)));
          this.stats.entitiesWritten += 1;
          return { acquired: true, generation: 1, tookOverFrom: null };
        } catch (error) {
          if (isEntityExists(error)) continue;
          throw error;
        }
      }
      const expired = Date.parse(current.expiresAt) <= timing.now.getTime();
      if (current.holderRunId === runId && !expired) {
        return { acquired: true, generation: current.generation, tookOverFrom: null };
      }
      if (current.holderRunId !== null && !expired) {
        return {
          acquired: false,
          holderRunId: current.holderRunId,
          generation: current.generation,
          expiresAt: current.expiresAt,
        };
      }
      const generation = current.generation + 1;
      try {
        await this.locks.updateEntity(leaseEntity(runId, generation, now, expiry(timing)), 'Replace', {
          etag: current.etag,
        });
        this.stats.entitiesWritten += 1;
        const tookOverFrom =
          current.holderRunId !== null && current.holderRunId !== runId
            ? { runId: current.holderRunId, generation: current.generation, expiredAt: current.expiresAt }
            : null;
        return { acquired: true, generation, tookOverFrom };
      } catch (error) {
        if (isConditionFailed(error) || isNotFound(error)) continue;
        throw error;
      }
    }
    throw new Error(`Could not settle the audit lease for run ${runId} in ${ATTEMPTS} attempts`);
  }

  /**
   * Extends the lease while `runId` still holds it at `generation`. A concurrent renewal by another worker of the
   * same run (412) is re-read and retried. `lost` when another run or generation holds it, or it was released.
   */
  async renew(runId: string, generation: number, timing: LeaseTiming): Promise<'renewed' | 'lost'> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const current = await this.get();
      if (!current || current.holderRunId !== runId || current.generation !== generation) return 'lost';
      try {
        await this.locks.updateEntity(
          leaseEntity(runId, generation, current.acquiredAt, expiry(timing)),
          'Replace',
          { etag: current.etag },
        );
        this.stats.entitiesWritten += 1;
        return 'renewed';
      } catch (error) {
        if (isConditionFailed(error) || isNotFound(error)) continue;
        throw error;
      }
    }
    throw new Error(`Could not renew the audit lease of run ${runId} in ${ATTEMPTS} attempts`);
  }

  /** Frees the lease if `runId` still holds it at `generation`; true when it did. */
  async release(runId: string, generation: number, now: Date): Promise<boolean> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const current = await this.get();
      if (!current || current.holderRunId !== runId || current.generation !== generation) return false;
      try {
        await this.locks.updateEntity(
          leaseEntity(null, generation, current.acquiredAt, now.toISOString()),
          'Replace',
          { etag: current.etag },
        );
        this.stats.entitiesWritten += 1;
        return true;
      } catch (error) {
        if (isConditionFailed(error) || isNotFound(error)) continue;
        throw error;
      }
    }
    return false;
  }
}
