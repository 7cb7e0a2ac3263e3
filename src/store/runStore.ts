// Stores run records in Table Storage: one entity per run, newest first, written with If-Match where it matters.

import { odata, type TableClient } from '@azure/data-tables';

import { emptySummary } from '../core/emptySummary';
import { matrixRefFromStored } from '../core/matrixSources';
import type { RunProgress, RunRecord, RunStage } from '../core/run';
import { isRunId, runIdTime } from '../core/runId';
import type { RunStatus, ScopeError, Summary } from '../core/types';
import {
  checkEntity,
  type Entity,
  optionalString,
  packJson,
  requireString,
  type StoredEntity,
  unpackJson,
} from './entityCodec';
import { summaryFromProperties, summaryProperties } from './summaryEntity';
import type { StoreStats, TableClientFactory } from './tableClientFactory';
import { isConditionFailed, isEntityExists, isNotFound } from './tableErrors';
import { invertedTimeKey, KEY_SEPARATOR, KEY_SEPARATOR_END } from './tableKeys';

export const RUNS_TABLE = 'runs';
const RUNS_PARTITION = 'run';

/** The run record changed since it was read (another worker, or the next audit marked it abandoned). */
export class RunRecordChangedError extends Error {
  override readonly name = 'RunRecordChangedError';
  constructor(readonly runId: string) {
    super(`The record of run ${runId} was changed by someone else since it was read`);
  }
}

/** A run record with the ETag it was read or written with, for a later conditional write. */
export interface VersionedRun {
  run: RunRecord;
  etag: string;
}

export function requireRunId(runId: string): string {
  if (!isRunId(runId)) {
    throw new RangeError(
      `Not a run ID: "${runId}" (the store keys runs by IDs like 20261129T043420Z-3f9a1c)`,
    );
  }
  return runId;
}

/** The run's RowKey in the runs table (partition `run`). */
export function runRowKey(runId: string): string {
  return `${invertedTimeKey(runIdTime(runId))}${KEY_SEPARATOR}${requireRunId(runId)}`;
}

function toEntity(run: RunRecord): Entity {
  const entity: Entity = {
    partitionKey: RUNS_PARTITION,
    rowKey: runRowKey(run.id),
    id: run.id,
    trigger: run.trigger,
    status: run.status,
    startedAt: run.startedAt,
    cloud: run.cloud,
  };
  if (run.finishedAt !== null) entity.finishedAt = run.finishedAt;
  if (run.leaseGeneration !== undefined) entity.leaseGeneration = run.leaseGeneration;
  if (run.stage !== undefined) entity.stage = run.stage;
  if (run.shards !== undefined) entity.shards = run.shards;
  if (run.emailRequested !== undefined) entity.emailRequested = run.emailRequested;
  packJson(entity, 'matrix', run.matrix);
  Object.assign(entity, summaryProperties('summary', run.summary));
  packJson(entity, 'errors', run.errors);
  packJson(entity, 'progress', run.progress);
  packJson(entity, 'scope', run.scope);
  if (run.email !== undefined) packJson(entity, 'email', run.email);
  if (run.chain !== undefined) packJson(entity, 'chain', run.chain);
  if (run.retention !== undefined) packJson(entity, 'retention', run.retention);
  return checkEntity(entity, `Run ${run.id}`);
}

function toRunRecord(entity: StoredEntity): RunRecord {
  const run: RunRecord = {
    id: requireString(entity, 'id'),
    trigger: requireString(entity, 'trigger') as RunRecord['trigger'],
    status: requireString(entity, 'status') as RunStatus,
    startedAt: requireString(entity, 'startedAt'),
    finishedAt: optionalString(entity, 'finishedAt'),
    cloud: requireString(entity, 'cloud') as RunRecord['cloud'],
    matrix: matrixRefFromStored(unpackJson<unknown>(entity, 'matrix')),
    summary:
      summaryFromProperties(entity, 'summary') ?? unpackJson<Summary>(entity, 'summary') ?? emptySummary(),
    errors: unpackJson<ScopeError[]>(entity, 'errors') ?? [],
    progress: unpackJson<RunProgress>(entity, 'progress') ?? {
      pagesRead: 0,
      clustersRead: 0,
      poolsJudged: 0,
    },
    scope: unpackJson<RunRecord['scope']>(entity, 'scope') ?? { subscriptions: null, managementGroups: null },
  };
  const email = unpackJson<unknown>(entity, 'email');
  if (email !== undefined) run.email = email;
  const chain = unpackJson<unknown>(entity, 'chain');
  if (chain !== undefined) run.chain = chain;
  const retention = unpackJson<unknown>(entity, 'retention');
  if (retention !== undefined) run.retention = retention;
  if (typeof entity.leaseGeneration === 'number') run.leaseGeneration = entity.leaseGeneration;
  if (typeof entity.stage === 'string') run.stage = entity.stage as RunStage;
  if (typeof entity.shards === 'number') run.shards = entity.shards;
  if (typeof entity.emailRequested === 'boolean') run.emailRequested = entity.emailRequested;
  return run;
}

/**
 * Table `{prefix}runs`: PK `run`, RK `invertedTime(run ID time)|runId`, so the newest run is the first row and a
 * time range is a key range.
 */
export class RunStore {
  private readonly runs: TableClient;
  private readonly stats: StoreStats;

  constructor(tables: TableClientFactory) {
    this.runs = tables.client(RUNS_TABLE);
    this.stats = tables.stats;
  }

  /**
   * Writes the run. With `etag`, only if the stored record is still that version (RunRecordChangedError
   * otherwise); with `ifNew`, only if no record exists (RunRecordChangedError when one does); else whatever is
   * stored. Replace, not merge: parts of a long value that got shorter must not linger. Returns the new ETag.
   */
  async putRun(run: RunRecord, condition: { etag?: string; ifNew?: boolean } = {}): Promise<string> {
    const entity = toEntity(run);
    try {
      const response = condition.ifNew
        ? await this.runs.createEntity(entity)
        : condition.etag !== undefined
          ? await this.runs.updateEntity(entity, 'Replace', { etag: condition.etag })
          : await this.runs.upsertEntity(entity, 'Replace');
      this.stats.entitiesWritten += 1;
      return response.etag ?? '';
    } catch (error) {
      if (isConditionFailed(error) || isEntityExists(error) || (condition.etag && isNotFound(error))) {
        throw new RunRecordChangedError(run.id);
      }
      throw error;
    }
  }

  /**
   * Sets the running run's progress and stage and nothing else (a merge), so it never undoes a concurrent status
   * change; the caller checks its lease first. A run that is gone is left alone.
   */
  async noteProgress(runId: string, progress: RunProgress, stage: RunStage): Promise<void> {
    const entity: Entity = { partitionKey: RUNS_PARTITION, rowKey: runRowKey(runId), stage };
    packJson(entity, 'progress', progress);
    try {
      await this.runs.updateEntity(entity, 'Merge');
      this.stats.entitiesWritten += 1;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Sets the run's email outcome and nothing else (a merge), so it never undoes a concurrent status change. */
  async noteEmail(runId: string, email: unknown): Promise<void> {
    const entity: Entity = { partitionKey: RUNS_PARTITION, rowKey: runRowKey(runId) };
    packJson(entity, 'email', email);
    try {
      await this.runs.updateEntity(entity, 'Merge');
      this.stats.entitiesWritten += 1;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** The run, or undefined when none is stored under that ID (or it is not a run ID at all). */
  async getRun(runId: string): Promise<RunRecord | undefined> {
    return (await this.getVersionedRun(runId))?.run;
  }

  /** The run with its ETag, for a conditional write. */
  async getVersionedRun(runId: string): Promise<VersionedRun | undefined> {
    if (!isRunId(runId)) return undefined;
    try {
      const response = await this.runs.getEntity(RUNS_PARTITION, runRowKey(runId));
      this.stats.entitiesRead += 1;
      return { run: toRunRecord(response), etag: response.etag };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * Runs newest first. `since` keeps runs whose ID time (when the run was first started, to the
   * second) is at or after it; `top` caps the count.
   */
  async *listRuns(opts: { top?: number; since?: Date } = {}): AsyncIterableIterator<RunRecord> {
    let filter = odata`PartitionKey eq ${RUNS_PARTITION}`;
    if (opts.since) {
      const since = new Date(Math.floor(opts.since.getTime() / 1000) * 1000);
      filter += odata` and RowKey lt ${invertedTimeKey(since) + KEY_SEPARATOR_END}`;
    }
    yield* this.queryRuns(filter, opts.top);
  }

  /** The newest run, optionally only among runs with one of `statuses`; `abortSignal` cancels the query. */
  async getLatestRun(
    opts: { statuses?: RunStatus[]; abortSignal?: AbortSignal } = {},
  ): Promise<RunRecord | undefined> {
    let filter = odata`PartitionKey eq ${RUNS_PARTITION}`;
    if (opts.statuses) {
      if (opts.statuses.length === 0) return undefined;
      filter += ` and (${opts.statuses.map((s) => odata`status eq ${s}`).join(' or ')})`;
    }
    for await (const run of this.queryRuns(filter, 1, opts.abortSignal)) return run;
    return undefined;
  }

  private async *queryRuns(
    filter: string,
    top: number | undefined,
    abortSignal?: AbortSignal,
  ): AsyncIterableIterator<RunRecord> {
    if (top !== undefined && top <= 0) return;
    let left = top ?? Number.POSITIVE_INFINITY;
    const pages = this.runs
      .listEntities({ queryOptions: { filter }, ...(abortSignal ? { abortSignal } : {}) })
      .byPage({ maxPageSize: Math.min(left, 1000) });
    for await (const page of pages) {
      for (const entity of page) {
        this.stats.entitiesRead += 1;
        yield toRunRecord(entity);
        if (--left <= 0) return;
      }
    }
  }
}
