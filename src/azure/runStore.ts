// Stores audit runs, per-run results, pool states and the audit lease in Azure Table Storage.

import { promisify } from 'node:util';
import { constants as zlibConstants, deflateRaw, inflateRaw } from 'node:zlib';

import type { TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { odata, TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';

import { summarizeRun } from '../core/summarizeRun';
import type {
  CloudName,
  ClusterResult,
  PoolResult,
  PoolStatus,
  Report,
  RunInfo,
  RunStatus,
  RunTrigger,
  ScopeError,
  Summary,
} from '../core/types';
import { isConditionFailed, isEntityExists, isNotFound, isTableExists } from './tableErrors';
import {
  invertedTimeKey,
  isRunId,
  KEY_SEPARATOR,
  KEY_SEPARATOR_END,
  resourceIdKey,
  runIdTime,
  stableHash,
} from './tableKeys';

export interface RunProgress {
  pagesRead: number;
  clustersRead: number;
  poolsJudged: number;
}

/** One run as stored: the report's run info plus what the audit tracks while it goes. */
export type RunRecord = RunInfo & {
  summary: Summary;
  errors: ScopeError[];
  progress: RunProgress;
  scope: { subscriptions: string[] | null; managementGroups: string[] | null };
  /** Outcome of the report email, as the mailer records it. */
  email?: unknown;
  /** The run's seal in the chain of runs, as the evidence step records it (src/evidence). */
  chain?: unknown;
  /** Where the run's evidence bundle was retained, or why not, as the evidence step records it. */
  retention?: unknown;
};

/** The latest known state of one pool, kept across runs. */
/** A run as recorded when it starts: running, nothing read yet. */
export function startedRunRecord(run: {
  id: string;
  trigger: RunTrigger;
  startedAt: string;
  cloud: CloudName;
  matrix: { version: string; sources: string[] };
  scope: RunRecord['scope'];
}): RunRecord {
  return {
    id: run.id,
    trigger: run.trigger,
    status: 'running',
    startedAt: run.startedAt,
    finishedAt: null,
    cloud: run.cloud,
    matrix: { version: run.matrix.version, sources: run.matrix.sources },
    summary: summarizeRun([], []),
    errors: [],
    progress: { pagesRead: 0, clustersRead: 0, poolsJudged: 0 },
    scope: run.scope,
  };
}

/** The report's `run` block: the run record without what only the store and the audit track. */
export function runInfoOf(run: RunRecord): RunInfo {
  return {
    id: run.id,
    trigger: run.trigger,
    status: run.status,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    cloud: run.cloud,
    matrix: run.matrix,
  };
}

export interface PoolState {
  id: string;
  subscriptionId: string;
  /** The scope the pool was read through (a subscription or management group ID, or `/`). */
  scope: string;
  status: PoolStatus;
  /** Sorted, distinct finding codes. */
  codes: string[];
  firstSeen: string;
  lastSeen: string;
  lastRunId: string;
  /** When the pool last became noncompliant; null unless it is noncompliant now. */
  noncompliantSince: string | null;
  snapshot: PoolResult;
}

/** One change of a pool's status or finding codes. */
export interface PoolHistoryEntry {
  runId: string;
  at: string;
  status: PoolStatus;
  codes: string[];
}

export type AcquireLeaseResult =
  { acquired: true } | { acquired: false; holderRunId: string; expiresAt: string };

export interface LeaseOptions {
  ttlInMs: number;
  now: Date;
}

export interface RunStoreOptions {
  /** Prefix of every table (letters and digits, starting with a letter), e.g. `fipsaudit`. */
  tablePrefix: string;
  /** Account or SAS connection string (Azurite, keys). Exclusive with `endpoint`. */
  connectionString?: string;
  /** `https://<account>.table.core.windows.net`; needs `credential`. */
  endpoint?: string;
  credential?: TokenCredential;
  /** Only for plain-http endpoints such as Azurite. */
  allowInsecureConnection?: boolean;
  /** Transactions (and partition reads) in flight at once; 8 by default. */
  concurrency?: number;
}

/** Counters for the benchmark. */
export interface RunStoreStats {
  /** HTTP requests sent, retries included (a transaction is one request). */
  requests: number;
  transactions: number;
  entitiesWritten: number;
  entitiesDeleted: number;
  entitiesRead: number;
}

/**
 * Part of the stored format: the findings of run R are spread over partitions `R-00` … `R-15`.
 * Changing it makes older runs unreadable.
 */
export const FINDINGS_SHARDS = 16;

const RUNS_PARTITION = 'run';
const LEASE_PARTITION = 'lease';
const LEASE_ROW = 'audit';
const POOL_PREFIX = `p${KEY_SEPARATOR}`;
const CLUSTER_PREFIX = `c${KEY_SEPARATOR}`;

const MAX_TRANSACTION_ENTITIES = 100;
// The service allows 4 MiB per transaction; leave room for the multipart headers around each entity.
const TRANSACTION_BUDGET_IN_BYTES = 3.5 * 1024 * 1024;
const OPERATION_OVERHEAD_IN_BYTES = 600;
// A string property holds 64 KiB of UTF-16, i.e. 32,768 code units; stay a little below.
const MAX_STRING_CHARS = 32_000;
const MAX_ENTITY_BYTES = 1024 * 1024;
const MAX_CUSTOM_PROPERTIES = 252;
const LEASE_ATTEMPTS = 5;
/** updatePoolStates reads this many partitions one query each; more are read as key ranges. */
const PER_PARTITION_READS_UP_TO = 4;
/** Any 100 entities whose bound is at most this fit in one transaction's budget without measuring them. */
const SMALL_OPERATION_BOUND_IN_BYTES = TRANSACTION_BUDGET_IN_BYTES / MAX_TRANSACTION_ENTITIES;

type Entity = TableEntity<Record<string, unknown>>;
type StoredEntity = Record<string, unknown> & { partitionKey?: string; rowKey?: string; etag?: string };

/** Thrown when a value cannot be stored within Table Storage's entity limits. */
export class EntityTooLargeError extends Error {
  override name = 'EntityTooLargeError';
}

/** Splits at code-unit boundaries, never between the two halves of a surrogate pair. */
function splitString(s: string, size: number): string[] {
  const parts: string[] = [];
  for (let i = 0; i < s.length;) {
    let end = Math.min(i + size, s.length);
    const last = s.charCodeAt(end - 1);
    if (end < s.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    parts.push(s.slice(i, end));
    i = end;
  }
  return parts;
}

/** Stores `value` as JSON in `name`, or in `name_0`, `name_1`, … with the count in `name_parts` when it is long. */
function packJson(into: Record<string, unknown>, name: string, value: unknown): void {
  const json = JSON.stringify(value);
  if (json.length <= MAX_STRING_CHARS) {
    into[name] = json;
    return;
  }
  const parts = splitString(json, MAX_STRING_CHARS);
  into[`${name}_parts`] = parts.length;
  parts.forEach((part, i) => (into[`${name}_${i}`] = part));
}

export function unpackJson<T>(entity: StoredEntity, name: string): T | undefined {
  const whole = entity[name];
  if (typeof whole === 'string') return JSON.parse(whole) as T;
  const count = entity[`${name}_parts`];
  if (typeof count !== 'number') return undefined;
  let json = '';
  for (let i = 0; i < count; i++) {
    const part = entity[`${name}_${i}`];
    if (typeof part !== 'string') throw new Error(`Stored entity is missing part ${i} of ${name}`);
    json += part;
  }
  return JSON.parse(json) as T;
}

/** The entity's size as the service counts it toward the 1 MiB limit (strings are UTF-16). */
function entitySizeInBytes(entity: Entity): number {
  let size = 4 + (entity.partitionKey.length + entity.rowKey.length) * 2;
  for (const [name, value] of Object.entries(entity)) {
    if (name === 'partitionKey' || name === 'rowKey') continue;
    size += 8 + name.length * 2 + (typeof value === 'string' ? 4 + value.length * 2 : 8);
  }
  return size;
}

function checkEntity(entity: Entity, what: string): Entity {
  const properties = Object.keys(entity).length - 2;
  const size = entitySizeInBytes(entity);
  if (size > MAX_ENTITY_BYTES || properties > MAX_CUSTOM_PROPERTIES) {
    throw new EntityTooLargeError(
      `${what} does not fit in one table entity: ${size} bytes in ${properties} properties ` +
        `(Table Storage allows ${MAX_ENTITY_BYTES} bytes and ${MAX_CUSTOM_PROPERTIES} properties)`,
    );
  }
  return entity;
}

function requireString(entity: StoredEntity, name: string): string {
  const value = entity[name];
  if (typeof value !== 'string') {
    throw new Error(`Stored entity ${entity.partitionKey}/${entity.rowKey} has no string property ${name}`);
  }
  return value;
}

function optionalString(entity: StoredEntity, name: string): string | null {
  const value = entity[name];
  return typeof value === 'string' ? value : null;
}

function requireRunId(runId: string): string {
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

/** The findings partition of shard `shard` (0 … FINDINGS_SHARDS - 1) of the run. */
export function findingsPartition(runId: string, shard: number): string {
  return `${runId}-${String(shard).padStart(2, '0')}`;
}

function shardOf(resourceId: string): number {
  return stableHash(resourceId.toLowerCase()) % FINDINGS_SHARDS;
}

const SUBSCRIPTION_IN_ID = /^\/subscriptions\/([^/]+)(?:\/|$)/i;

/** Partition of a pool in the pools and poolhistory tables: its subscription, lowercased (IDs compare case-insensitively). */
function subscriptionPartition(poolId: string, fallbackSubscriptionId?: string): string {
  const fromId = SUBSCRIPTION_IN_ID.exec(poolId)?.[1] ?? fallbackSubscriptionId;
  if (!fromId) throw new RangeError(`Pool ID has no /subscriptions/{id} segment: "${poolId}"`);
  return resourceIdKey(fromId);
}

function codesOf(pool: PoolResult): string[] {
  return [...new Set(pool.findings.map((f) => f.code))].sort();
}

function sameCodes(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((code, i) => code === b[i]);
}

/** The report's order; the same comparison the audit uses, so a rebuilt report equals the one returned. */
function byIdIgnoringCase(a: { id: string }, b: { id: string }): number {
  return a.id.toLowerCase().localeCompare(b.id.toLowerCase());
}

/**
 * The operation's size in the transaction body. Serializing every entity twice cost more CPU than the rest of
 * the write, so a cheap upper bound comes first (a UTF-16 code unit is at most 6 bytes once JSON-escaped);
 * only an entity that might be large is measured exactly.
 */
function estimateOperationBytes(action: TransactionAction): number {
  const entity = action[1] as Record<string, unknown>;
  let bound = OPERATION_OVERHEAD_IN_BYTES;
  for (const name in entity) {
    const value = entity[name];
    bound += 6 * name.length + 16 + (typeof value === 'string' ? 6 * value.length : 32);
  }
  if (bound <= SMALL_OPERATION_BOUND_IN_BYTES) return bound;
  return Buffer.byteLength(JSON.stringify(entity)) + OPERATION_OVERHEAD_IN_BYTES;
}

const TABLE_PREFIX = /^[A-Za-z][A-Za-z0-9]{0,51}$/;

/**
 * Table layout (PK = PartitionKey, RK = RowKey; `|` never occurs inside an encoded key):
 * - runs: PK `run`, RK `invertedTime(run ID time)|runId`: newest first, time ranges are a key range.
 * - findings: PK `runId-NN` (NN = hash of the lowercased resource ID mod 16), RK `p|key(pool id)` or
 *   `c|key(cluster id)`: big runs spread over 16 partitions, one run is deleted or read by partition.
 * - pools: PK key(subscription), RK key(pool id): latest state, one range query per subscription.
 * - poolhistory: PK key(subscription), RK `key(pool id)|invertedTime(run ID time)|runId`: one pool's
 *   history is one range query, newest first.
 * - locks: PK `lease`, RK `audit`: the audit lease.
 */
export class RunStore {
  readonly stats: RunStoreStats = {
    requests: 0,
    transactions: 0,
    entitiesWritten: 0,
    entitiesDeleted: 0,
    entitiesRead: 0,
  };
  private readonly runs: TableClient;
  private readonly findings: TableClient;
  private readonly pools: TableClient;
  private readonly history: TableClient;
  private readonly locks: TableClient;
  private readonly reports: TableClient;
  private readonly concurrency: number;

  constructor(options: RunStoreOptions) {
    const { tablePrefix, connectionString, endpoint, credential } = options;
    if (!TABLE_PREFIX.test(tablePrefix)) {
      throw new RangeError(
        `tablePrefix must be 1-52 letters or digits starting with a letter (table names are alphanumeric); got "${tablePrefix}"`,
      );
    }
    if ((connectionString === undefined) === (endpoint === undefined)) {
      throw new TypeError('RunStore needs exactly one of connectionString or endpoint (with credential)');
    }
    if (endpoint !== undefined && !credential) {
      throw new TypeError('RunStore with an endpoint needs a credential');
    }
    this.concurrency = options.concurrency ?? 8;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer; got ${String(options.concurrency)}`);
    }

    const stats = this.stats;
    const requestCounter: PipelinePolicy = {
      name: 'runStoreRequestCounter',
      sendRequest: (request, next) => {
        stats.requests += 1;
        return next(request);
      },
    };
    // Per retry, so every request that goes on the wire is counted.
    const clientOptions = { additionalPolicies: [{ policy: requestCounter, position: 'perRetry' as const }] };
    const tableClient = (suffix: string): TableClient => {
      const table = `${tablePrefix}${suffix}`;
      if (connectionString !== undefined) {
        const allowInsecureConnection =
          /http:\/\/|DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true/i.test(connectionString);
        return TableClient.fromConnectionString(connectionString, table, {
          ...clientOptions,
          allowInsecureConnection,
        });
      }
      return new TableClient(endpoint as string, table, credential as TokenCredential, {
        ...clientOptions,
        allowInsecureConnection: options.allowInsecureConnection ?? false,
      });
    };
    this.runs = tableClient('runs');
    this.findings = tableClient('findings');
    this.pools = tableClient('pools');
    this.history = tableClient('poolhistory');
    this.locks = tableClient('locks');
    this.reports = tableClient('reports');
  }

  /** Creates the tables that are missing; safe to call on every start. */
  async ensureTables(): Promise<void> {
    await Promise.all(
      [this.runs, this.findings, this.pools, this.history, this.locks, this.reports].map(async (client) => {
        try {
          await client.createTable();
        } catch (error) {
          // data-tables already treats TableAlreadyExists as success; this covers versions that do not.
          if (!isTableExists(error)) throw error;
        }
      }),
    );
  }

  // ---- runs ----

  async upsertRun(run: RunRecord): Promise<void> {
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
    packJson(entity, 'matrix', run.matrix);
    packJson(entity, 'summary', run.summary);
    packJson(entity, 'errors', run.errors);
    packJson(entity, 'progress', run.progress);
    packJson(entity, 'scope', run.scope);
    if (run.email !== undefined) packJson(entity, 'email', run.email);
    if (run.chain !== undefined) packJson(entity, 'chain', run.chain);
    if (run.retention !== undefined) packJson(entity, 'retention', run.retention);
    checkEntity(entity, `Run ${run.id}`);
    // Replace, not merge: parts of a long value that got shorter must not linger.
    await this.runs.upsertEntity(entity, 'Replace');
    this.stats.entitiesWritten += 1;
  }

  /** The run, or undefined when none is stored under that ID (or it is not a run ID at all). */
  async getRun(runId: string): Promise<RunRecord | undefined> {
    if (!isRunId(runId)) return undefined;
    try {
      const response = await this.runs.getEntity(RUNS_PARTITION, runRowKey(runId));
      this.stats.entitiesRead += 1;
      return toRunRecord(response);
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

  /** The newest run, optionally only among runs with one of `statuses`. */
  async getLatestRun(opts: { statuses?: RunStatus[] } = {}): Promise<RunRecord | undefined> {
    let filter = odata`PartitionKey eq ${RUNS_PARTITION}`;
    if (opts.statuses) {
      if (opts.statuses.length === 0) return undefined;
      filter += ` and (${opts.statuses.map((s) => odata`status eq ${s}`).join(' or ')})`;
    }
    for await (const run of this.queryRuns(filter, 1)) return run;
    return undefined;
  }

  private async *queryRuns(filter: string, top: number | undefined): AsyncIterableIterator<RunRecord> {
    if (top !== undefined && top <= 0) return;
    let left = top ?? Number.POSITIVE_INFINITY;
    const pages = this.runs
      .listEntities({ queryOptions: { filter } })
      .byPage({ maxPageSize: Math.min(left, 1000) });
    for await (const page of pages) {
      for (const entity of page) {
        this.stats.entitiesRead += 1;
        yield toRunRecord(entity);
        if (--left <= 0) return;
      }
    }
  }

  // ---- lease ----

  /**
   * Takes the audit lease for `runId` unless another run holds an unexpired one. A conditional insert
   * decides between racing callers (409 = someone holds it); an expired lease, or one this same run ID
   * holds (a retry of the run), is taken over with If-Match on its ETag, so of two racing takeovers
   * exactly one succeeds (412 for the other).
   */
  async acquireAuditLease(runId: string, opts: LeaseOptions): Promise<AcquireLeaseResult> {
    const entity = leaseEntity(runId, opts);
    for (let attempt = 0; attempt < LEASE_ATTEMPTS; attempt++) {
      try {
        await this.locks.createEntity(entity);
        this.stats.entitiesWritten += 1;
        return { acquired: true };
      } catch (error) {
        if (!isEntityExists(error)) throw error;
      }
      const current = await this.getLease();
      if (!current) continue; // released between our insert and our read: insert again
      const expired = Date.parse(current.expiresAt) <= opts.now.getTime();
      if (current.holderRunId !== runId && !expired) {
        return { acquired: false, holderRunId: current.holderRunId, expiresAt: current.expiresAt };
      }
      try {
        await this.locks.updateEntity(entity, 'Replace', { etag: current.etag });
        this.stats.entitiesWritten += 1;
        return { acquired: true };
      } catch (error) {
        if (isNotFound(error)) continue;
        if (!isConditionFailed(error)) throw error;
        const winner = await this.getLease();
        if (winner) return { acquired: false, holderRunId: winner.holderRunId, expiresAt: winner.expiresAt };
      }
    }
    throw new Error(`Could not settle the audit lease for ${runId} in ${LEASE_ATTEMPTS} attempts`);
  }

  /** Extends the lease if `runId` still holds it; false when it was lost (expired and taken over, or released). */
  async renewAuditLease(runId: string, opts: LeaseOptions): Promise<boolean> {
    const current = await this.getLease();
    if (!current || current.holderRunId !== runId) return false;
    const entity = leaseEntity(runId, opts);
    entity.acquiredAt = current.acquiredAt;
    try {
      await this.locks.updateEntity(entity, 'Replace', { etag: current.etag });
      this.stats.entitiesWritten += 1;
      return true;
    } catch (error) {
      if (isNotFound(error) || isConditionFailed(error)) return false;
      throw error;
    }
  }

  /** Deletes the lease only if `runId` still holds it; true when it did. */
  async releaseAuditLease(runId: string): Promise<boolean> {
    const current = await this.getLease();
    if (!current || current.holderRunId !== runId) return false;
    try {
      await this.locks.deleteEntity(LEASE_PARTITION, LEASE_ROW, { etag: current.etag });
      this.stats.entitiesDeleted += 1;
      return true;
    } catch (error) {
      if (isNotFound(error) || isConditionFailed(error)) return false;
      throw error;
    }
  }

  private async getLease(): Promise<
    { holderRunId: string; expiresAt: string; acquiredAt: string; etag: string } | undefined
  > {
    try {
      const entity = await this.locks.getEntity(LEASE_PARTITION, LEASE_ROW);
      this.stats.entitiesRead += 1;
      return {
        holderRunId: requireString(entity, 'holderRunId'),
        expiresAt: requireString(entity, 'expiresAt'),
        acquiredAt: requireString(entity, 'acquiredAt'),
        etag: entity.etag,
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  // ---- per-run results ----

  /**
   * Stores a run's full results. A retry of the same run ID first deletes what the earlier attempt
   * stored, so the run overwrites itself: exactly `pools` and `clusters` are left, never a mix.
   */
  async replaceRunResults(runId: string, pools: PoolResult[], clusters: ClusterResult[]): Promise<void> {
    await this.deleteRunResults(runId);
    await this.appendRunResults(runId, pools, clusters);
  }

  /**
   * Adds results page by page as the audit reads them (upserts; a pool written twice keeps the last).
   * Call deleteRunResults first when the run ID may have been used by an earlier attempt.
   */
  async appendRunResults(runId: string, pools: PoolResult[], clusters: ClusterResult[]): Promise<void> {
    requireRunId(runId);
    const actions: TransactionAction[] = [];
    for (const pool of pools) {
      const entity: Entity = {
        partitionKey: findingsPartition(runId, shardOf(pool.id)),
        rowKey: POOL_PREFIX + resourceIdKey(pool.id),
        kind: 'pool',
        id: pool.id,
        status: pool.status,
      };
      packJson(entity, 'data', pool);
      actions.push(['upsert', checkEntity(entity, `Pool ${pool.id}`), 'Replace']);
    }
    for (const cluster of clusters) {
      const entity: Entity = {
        partitionKey: findingsPartition(runId, shardOf(cluster.id)),
        rowKey: CLUSTER_PREFIX + resourceIdKey(cluster.id),
        kind: 'cluster',
        id: cluster.id,
      };
      packJson(entity, 'data', cluster);
      actions.push(['upsert', checkEntity(entity, `Cluster ${cluster.id}`), 'Replace']);
    }
    await this.submit(this.findings, actions);
  }

  /** Deletes every result stored for the run; returns how many entities went. */
  async deleteRunResults(runId: string): Promise<number> {
    requireRunId(runId);
    let deleted = 0;
    await forEachLimited(shards(), this.concurrency, async (shard) => {
      const partitionKey = findingsPartition(runId, shard);
      const actions: TransactionAction[] = [];
      // Keys first, then deletes: paging over a partition while deleting from it is not worth the doubt.
      const entities = this.findings.listEntities({
        queryOptions: { filter: odata`PartitionKey eq ${partitionKey}`, select: ['RowKey'] },
      });
      for await (const entity of entities) {
        actions.push(['delete', { partitionKey, rowKey: entity.rowKey as string }]);
      }
      await this.submit(this.findings, actions);
      deleted += actions.length;
    });
    const snapshot: TransactionAction[] = [];
    const entities = this.reports.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${runId}`, select: ['RowKey'] },
    });
    for await (const entity of entities)
      snapshot.push(['delete', { partitionKey: runId, rowKey: entity.rowKey as string }]);
    await this.submit(this.reports, snapshot);
    return deleted;
  }

  // ---- report snapshots ----

  /**
   * A writer of the run's report snapshot: the same pools and clusters as its findings, deflated into a few
   * large entities, so the report of 100,000 pools is a dozen reads instead of 125,000 entities. `writer`
   * names the part (`run`, or one per shard of a sharded run); parts are read in the order of their names,
   * and pools given in the report's order (by ID) need no sorting when read.
   */
  reportSnapshotWriter(runId: string, writer: string): ReportSnapshotWriter {
    requireRunId(runId);
    if (!/^[a-z0-9]{1,32}$/.test(writer))
      throw new RangeError(`writer must be 1-32 lowercase letters or digits; got "${writer}"`);
    return new ReportSnapshotWriter(
      async (entity) => {
        await this.reports.upsertEntity(entity, 'Replace');
        this.stats.entitiesWritten += 1;
      },
      runId,
      writer,
    );
  }

  /** The run's report from its snapshot; null when there is none or it does not cover the whole run. */
  private async readReportSnapshot(
    run: RunRecord,
  ): Promise<{ pools: PoolResult[]; clusters: ClusterResult[] } | null> {
    if (run.status === 'running') return null;
    const manifests = new Map<string, SnapshotManifest>();
    const chunks = new Map<string, Uint8Array[]>();
    for await (const entity of this.reports.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${run.id}` },
    })) {
      this.stats.entitiesRead += 1;
      const rowKey = entity.rowKey as string;
      const [type, writer = '', kind = '', index = ''] = rowKey.split(KEY_SEPARATOR);
      if (type === 'manifest') {
        manifests.set(writer, {
          pools: Number(entity.pools),
          clusters: Number(entity.clusters),
          poolChunks: Number(entity.poolChunks),
          clusterChunks: Number(entity.clusterChunks),
          poolsSorted: entity.poolsSorted === true,
          firstPoolId: typeof entity.firstPoolId === 'string' ? entity.firstPoolId : null,
          lastPoolId: typeof entity.lastPoolId === 'string' ? entity.lastPoolId : null,
        });
      } else if (type === 'chunk') {
        const parts: Uint8Array[] = [];
        const count = Number(entity.parts);
        for (let i = 0; i < count; i++) {
          const part = entity[`bin_${i}`];
          if (!(part instanceof Uint8Array)) return null;
          parts.push(part);
        }
        chunks.set(`${writer}${KEY_SEPARATOR}${kind}${KEY_SEPARATOR}${index}`, parts);
      }
    }
    let poolCount = 0;
    let clusterCount = 0;
    for (const m of manifests.values()) {
      poolCount += m.pools;
      clusterCount += m.clusters;
    }
    if (manifests.size === 0 || poolCount !== run.summary.pools || clusterCount !== run.summary.clusters)
      return null;
    const streams: { kind: 'pools' | 'clusters'; bytes: Buffer }[] = [];
    const writers = [...manifests.keys()].sort();
    // Each part checked its own order when written; across parts, only their boundaries need a look.
    let poolsSorted = true;
    let previousLast: string | null = null;
    for (const writer of writers) {
      const m = manifests.get(writer) as SnapshotManifest;
      if (m.pools === 0) continue;
      if (!m.poolsSorted || !m.firstPoolId || !m.lastPoolId) poolsSorted = false;
      else if (previousLast !== null && compareIdsIgnoringCase(previousLast, m.firstPoolId) > 0)
        poolsSorted = false;
      previousLast = m.lastPoolId;
    }
    for (const writer of writers) {
      const manifest = manifests.get(writer) as SnapshotManifest;
      for (const [kind, count] of [
        ['pools', manifest.poolChunks],
        ['clusters', manifest.clusterChunks],
      ] as const) {
        const parts: Uint8Array[] = [];
        for (let i = 0; i < count; i++) {
          const chunk = chunks.get(`${writer}${KEY_SEPARATOR}${kind}${KEY_SEPARATOR}${snapshotIndex(i)}`);
          if (!chunk) return null;
          parts.push(...chunk);
        }
        streams.push({ kind, bytes: Buffer.concat(parts) });
      }
    }
    // Inflate every segment at once (the thread pool works in parallel), each in one output chunk: the
    // default 16 KiB chunks cost a round trip to the main thread each, four times the inflating itself.
    const segments = streams.flatMap(({ kind, bytes }) =>
      splitFrames(bytes).map((frame): { kind: typeof kind; json: Promise<Buffer> | null } => {
        const json = inflate(frame.deflated, { chunkSize: Math.max(MIN_ZLIB_CHUNK, frame.rawLength) });
        // Observed in order below; a segment after a failed one must not surface as an unhandled rejection.
        json.catch(() => undefined);
        return { kind, json };
      }),
    );
    const pools: PoolResult[] = [];
    const clusters: ClusterResult[] = [];
    try {
      for (const segment of segments) {
        const inflated = segment.json;
        // Let go as soon as parsed: 100 MB of inflated buffers held to the end cost the reader full GCs.
        segment.json = null;
        if (!inflated) continue;
        const values = JSON.parse((await inflated).toString('utf8')) as unknown[];
        if (segment.kind === 'pools') for (const v of values) pools.push(v as PoolResult);
        else for (const v of values) clusters.push(v as ClusterResult);
      }
    } catch {
      // A damaged snapshot is only a slower report: the findings hold the same results.
      return null;
    }
    if (pools.length !== poolCount || clusters.length !== clusterCount) return null;
    return {
      pools: poolsSorted ? pools : sortByIdIgnoringCase(pools),
      clusters: sortByIdIgnoringCase(clusters),
    };
  }

  /** The run's pool results, in storage order (by shard, then key); getReport sorts them. */
  async *listRunPools(runId: string): AsyncIterableIterator<PoolResult> {
    if (!isRunId(runId)) return;
    for (const shard of shards()) yield* this.listShard<PoolResult>(runId, shard, POOL_PREFIX);
  }

  async *listRunClusters(runId: string): AsyncIterableIterator<ClusterResult> {
    if (!isRunId(runId)) return;
    for (const shard of shards()) yield* this.listShard<ClusterResult>(runId, shard, CLUSTER_PREFIX);
  }

  private async *listShard<T>(runId: string, shard: number, prefix: string): AsyncIterableIterator<T> {
    const partitionKey = findingsPartition(runId, shard);
    const end = prefix.slice(0, -1) + KEY_SEPARATOR_END;
    const filter = odata`PartitionKey eq ${partitionKey} and RowKey ge ${prefix} and RowKey lt ${end}`;
    for await (const entity of this.findings.listEntities({ queryOptions: { filter } })) {
      this.stats.entitiesRead += 1;
      const value = unpackJson<T>(entity, 'data');
      if (value === undefined) throw new Error(`Stored result ${partitionKey}/${entity.rowKey} has no data`);
      yield value;
    }
  }

  /** Rebuilds the report JSON of a stored run (pools and clusters sorted by ID), or undefined if there is no such run. */
  async getReport(runId: string): Promise<Report | undefined> {
    const run = await this.getRun(runId);
    if (!run) return undefined;
    const snapshot = await this.readReportSnapshot(run);
    let pools: PoolResult[] = [];
    let clusters: ClusterResult[] = [];
    if (snapshot) {
      ({ pools, clusters } = snapshot);
    } else {
      // No complete snapshot (a running run, or one stored before snapshots): the findings, 16 shards in parallel.
      await forEachLimited(shards(), this.concurrency, async (shard) => {
        for await (const pool of this.listShard<PoolResult>(runId, shard, POOL_PREFIX)) pools.push(pool);
        for await (const cluster of this.listShard<ClusterResult>(runId, shard, CLUSTER_PREFIX))
          clusters.push(cluster);
      });
      pools = pools.sort(byIdIgnoringCase);
      clusters = clusters.sort(byIdIgnoringCase);
    }
    return {
      schemaVersion: 1,
      run: runInfoOf(run),
      summary: run.summary,
      pools,
      clusters,
      errors: run.errors,
    };
  }

  // ---- pool states ----

  /**
   * Records what run `runId` (at `at`) saw of `pools`: upserts each pool's latest state, keeping
   * `firstSeen` and a running `noncompliantSince`, and appends a history entry when a pool is new or its
   * status or finding codes changed. Pass only pools actually read in this run: pools not passed are left
   * untouched, so a partial run never overwrites a pool's good state with missing data.
   * A retry of the same run ID compares against what the earlier attempt stored, and its history entries
   * land on the same keys (they are keyed by the run ID's time), so it overwrites rather than duplicates.
   */
  async updatePoolStates(
    runId: string,
    at: Date,
    pools: PoolResult[],
    scopeOf: (p: PoolResult) => string,
  ): Promise<{ changed: number }> {
    const runKey = `${invertedTimeKey(runIdTime(requireRunId(runId)))}${KEY_SEPARATOR}${runId}`;
    const atIso = at.toISOString();
    const byPartition = new Map<string, Map<string, PoolResult>>();
    for (const pool of pools) {
      const partitionKey = subscriptionPartition(pool.id, pool.subscriptionId);
      let partition = byPartition.get(partitionKey);
      if (!partition) byPartition.set(partitionKey, (partition = new Map<string, PoolResult>()));
      partition.set(resourceIdKey(pool.id), pool); // the same pool twice (other casing): the last wins
    }

    const existingByPartition = await this.readPoolStateColumns([...byPartition.keys()]);
    let changed = 0;
    await forEachLimited([...byPartition], this.concurrency, async ([partitionKey, partition]) => {
      const existing = existingByPartition.get(partitionKey) ?? new Map<string, StoredEntity>();
      existingByPartition.delete(partitionKey);

      const stateActions: TransactionAction[] = [];
      const historyActions: TransactionAction[] = [];
      for (const [rowKey, pool] of partition) {
        const before = existing.get(rowKey);
        const codes = codesOf(pool);
        const beforeStatus = before ? optionalString(before, 'status') : null;
        const beforeCodes = before ? (unpackJson<string[]>(before, 'codes') ?? []) : [];
        const beforeSince = before ? optionalString(before, 'noncompliantSince') : null;
        const isNew = !before;
        const transition = isNew || beforeStatus !== pool.status || !sameCodes(beforeCodes, codes);

        const state: Entity = {
          partitionKey,
          rowKey,
          id: pool.id,
          subscriptionId: pool.subscriptionId,
          scope: scopeOf(pool),
          status: pool.status,
          codes: JSON.stringify(codes),
          firstSeen: (before && optionalString(before, 'firstSeen')) ?? atIso,
          lastSeen: atIso,
          lastRunId: runId,
        };
        if (pool.status === 'noncompliant') {
          state.noncompliantSince = beforeStatus === 'noncompliant' && beforeSince ? beforeSince : atIso;
        }
        packJson(state, 'snapshot', pool);
        stateActions.push(['upsert', checkEntity(state, `State of pool ${pool.id}`), 'Replace']);

        if (transition) {
          changed += 1;
          const entry: Entity = {
            partitionKey,
            rowKey: `${rowKey}${KEY_SEPARATOR}${runKey}`,
            poolId: pool.id,
            runId,
            at: atIso,
            status: pool.status,
            codes: JSON.stringify(codes),
          };
          historyActions.push(['upsert', checkEntity(entry, `History of pool ${pool.id}`), 'Replace']);
        }
      }
      await Promise.all([this.submit(this.pools, stateActions), this.submit(this.history, historyActions)]);
    });
    return { changed };
  }

  /**
   * The columns updatePoolStates compares, of every stored state in `partitions`. A few partitions are
   * read one query each; many (a whole run's subscriptions) are read as a few key-range queries, grouped
   * by the partition key's first character: one query per partition would cost thousands of requests at
   * 100,000 pools, and Azurite scans its whole table for each query.
   */
  private async readPoolStateColumns(partitions: string[]): Promise<Map<string, Map<string, StoredEntity>>> {
    const wanted = new Set(partitions);
    const result = new Map<string, Map<string, StoredEntity>>();
    const select = ['PartitionKey', 'RowKey', 'status', 'codes', 'firstSeen', 'noncompliantSince'];
    const filters: string[] = [];
    if (partitions.length <= PER_PARTITION_READS_UP_TO) {
      for (const partitionKey of partitions) filters.push(odata`PartitionKey eq ${partitionKey}`);
    } else {
      const groups = new Map<string, string[]>();
      for (const partitionKey of [...partitions].sort()) {
        const first = partitionKey.slice(0, 1);
        const group = groups.get(first) ?? [];
        group.push(partitionKey);
        groups.set(first, group);
      }
      for (const group of groups.values()) {
        const low = group[0] as string;
        const high = group[group.length - 1] as string;
        filters.push(odata`PartitionKey ge ${low} and PartitionKey le ${high}`);
      }
    }
    await forEachLimited(filters, this.concurrency, async (filter) => {
      for await (const entity of this.pools.listEntities({ queryOptions: { filter, select } })) {
        this.stats.entitiesRead += 1;
        const partitionKey = entity.partitionKey as string;
        if (!wanted.has(partitionKey)) continue;
        let partition = result.get(partitionKey);
        if (!partition) result.set(partitionKey, (partition = new Map<string, StoredEntity>()));
        partition.set(entity.rowKey as string, entity);
      }
    });
    return result;
  }

  /** Latest pool states, all or of one subscription (a single-partition query). */
  async *listPoolStates(opts: { subscriptionId?: string } = {}): AsyncIterableIterator<PoolState> {
    const queryOptions =
      opts.subscriptionId === undefined
        ? {}
        : { filter: odata`PartitionKey eq ${resourceIdKey(opts.subscriptionId)}` };
    for await (const entity of this.pools.listEntities({ queryOptions })) {
      this.stats.entitiesRead += 1;
      yield toPoolState(entity);
    }
  }

  /** One pool's status changes, newest first; the ID compares case-insensitively. */
  async getPoolHistory(poolId: string): Promise<PoolHistoryEntry[]> {
    const partitionKey = subscriptionPartition(poolId);
    const key = resourceIdKey(poolId);
    const filter = odata`PartitionKey eq ${partitionKey} and RowKey ge ${key + KEY_SEPARATOR} and RowKey lt ${key + KEY_SEPARATOR_END}`;
    const entries: PoolHistoryEntry[] = [];
    for await (const entity of this.history.listEntities({ queryOptions: { filter } })) {
      this.stats.entitiesRead += 1;
      entries.push({
        runId: requireString(entity, 'runId'),
        at: requireString(entity, 'at'),
        status: requireString(entity, 'status') as PoolStatus,
        codes: unpackJson<string[]>(entity, 'codes') ?? [],
      });
    }
    return entries;
  }

  // ---- writing ----

  /** Submits upserts/deletes as transactions: per partition, ≤ 100 entities and ≤ 4 MiB each, `concurrency` at a time. */
  private async submit(client: TableClient, actions: TransactionAction[]): Promise<void> {
    // Keyed by row as well: a transaction may not touch one entity twice, so for a repeated key the last wins.
    const byPartition = new Map<string, Map<string, TransactionAction>>();
    for (const action of actions) {
      const { partitionKey, rowKey } = action[1];
      let partition = byPartition.get(partitionKey);
      if (!partition) byPartition.set(partitionKey, (partition = new Map<string, TransactionAction>()));
      partition.delete(rowKey);
      partition.set(rowKey, action);
    }
    const batches: TransactionAction[][] = [];
    for (const partition of byPartition.values()) {
      const list = [...partition.values()];
      let batch: TransactionAction[] = [];
      let bytes = 0;
      for (const action of list) {
        const size = estimateOperationBytes(action);
        if (
          batch.length === MAX_TRANSACTION_ENTITIES ||
          (batch.length > 0 && bytes + size > TRANSACTION_BUDGET_IN_BYTES)
        ) {
          batches.push(batch);
          batch = [];
          bytes = 0;
        }
        batch.push(action);
        bytes += size;
      }
      if (batch.length) batches.push(batch);
    }
    await forEachLimited(batches, this.concurrency, async (batch) => {
      await client.submitTransaction(batch);
      this.stats.transactions += 1;
      for (const [kind] of batch) {
        if (kind === 'delete') this.stats.entitiesDeleted += 1;
        else this.stats.entitiesWritten += 1;
      }
    });
  }
}

function leaseEntity(runId: string, opts: LeaseOptions): Entity {
  if (!(opts.ttlInMs > 0)) throw new RangeError(`ttlInMs must be positive; got ${opts.ttlInMs}`);
  return {
    partitionKey: LEASE_PARTITION,
    rowKey: LEASE_ROW,
    holderRunId: runId,
    acquiredAt: opts.now.toISOString(),
    expiresAt: new Date(opts.now.getTime() + opts.ttlInMs).toISOString(),
  };
}

function toRunRecord(entity: StoredEntity): RunRecord {
  const run: RunRecord = {
    id: requireString(entity, 'id'),
    trigger: requireString(entity, 'trigger') as RunRecord['trigger'],
    status: requireString(entity, 'status') as RunStatus,
    startedAt: requireString(entity, 'startedAt'),
    finishedAt: optionalString(entity, 'finishedAt'),
    cloud: requireString(entity, 'cloud') as RunRecord['cloud'],
    matrix: unpackJson<RunRecord['matrix']>(entity, 'matrix') ?? { version: '', sources: [] },
    summary: unpackJson<Summary>(entity, 'summary') ?? {
      subscriptions: 0,
      clusters: 0,
      pools: 0,
      compliant: 0,
      noncompliant: 0,
      exempt: 0,
      unknown: 0,
    },
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
  return run;
}

function toPoolState(entity: StoredEntity): PoolState {
  const snapshot = unpackJson<PoolResult>(entity, 'snapshot');
  if (!snapshot) throw new Error(`Stored pool state ${entity.partitionKey}/${entity.rowKey} has no snapshot`);
  return {
    id: requireString(entity, 'id'),
    subscriptionId: requireString(entity, 'subscriptionId'),
    scope: requireString(entity, 'scope'),
    status: requireString(entity, 'status') as PoolStatus,
    codes: unpackJson<string[]>(entity, 'codes') ?? [],
    firstSeen: requireString(entity, 'firstSeen'),
    lastSeen: requireString(entity, 'lastSeen'),
    lastRunId: requireString(entity, 'lastRunId'),
    noncompliantSince: optionalString(entity, 'noncompliantSince'),
    snapshot,
  };
}

function shards(): number[] {
  return Array.from({ length: FINDINGS_SHARDS }, (_, i) => i);
}

/**
 * Runs `fn` over `items` with at most `limit` in flight. After a failure it starts nothing new, waits for
 * what is in flight (so nothing writes behind the caller's back), then throws the first error.
 */
async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
}

const deflate = promisify(deflateRaw);
const inflate = promisify(inflateRaw);
/**
 * A binary property holds at most 64 KiB. Ten of them keep a snapshot entity inside the 1 MiB limit even
 * where the limit is applied to the request body, in which binary travels as base64 (Azurite does so).
 */
const SNAPSHOT_PART_BYTES = 64 * 1024;
const SNAPSHOT_PARTS_PER_ENTITY = 10;
const SNAPSHOT_ENTITY_BYTES = SNAPSHOT_PART_BYTES * SNAPSHOT_PARTS_PER_ENTITY;

const MIN_ZLIB_CHUNK = 64;
const MAX_DEFLATE_CHUNK = 1024 * 1024;

interface SnapshotManifest {
  pools: number;
  clusters: number;
  poolChunks: number;
  clusterChunks: number;
  /** The writer checked that every pool came after the one before, in the report's order. */
  poolsSorted: boolean;
  firstPoolId: string | null;
  lastPoolId: string | null;
}

function snapshotIndex(i: number): string {
  return String(i).padStart(5, '0');
}

/**
 * The frames of a snapshot stream: each a 4-byte big-endian length of the deflated bytes, a 4-byte length of
 * the JSON they inflate to, then the deflated bytes.
 */
function splitFrames(bytes: Buffer): { deflated: Buffer; rawLength: number }[] {
  const frames: { deflated: Buffer; rawLength: number }[] = [];
  for (let at = 0; at < bytes.length;) {
    const length = bytes.readUInt32BE(at);
    const rawLength = bytes.readUInt32BE(at + 4);
    frames.push({ deflated: bytes.subarray(at + 8, at + 8 + length), rawLength });
    at += 8 + length;
  }
  return frames;
}

function compareIdsIgnoringCase(a: string, b: string): number {
  return a.toLowerCase().localeCompare(b.toLowerCase());
}

/** The report's order, lowercasing each ID once rather than at every comparison. */
function sortByIdIgnoringCase<T extends { id: string }>(items: T[]): T[] {
  return items
    .map((item) => ({ key: item.id.toLowerCase(), item }))
    .sort((a, b) => a.key.localeCompare(b.key))
    .map(({ item }) => item);
}

/**
 * Writes one part of a run's report snapshot (see RunStore.reportSnapshotWriter). Pools and clusters are
 * deflated a segment per call and framed into two byte streams, cut into entities of 640 KiB as they fill;
 * `finish` writes what is left and then the manifest, without which the part is ignored when read.
 */
export class ReportSnapshotWriter {
  private readonly pending = { pools: [] as Buffer[], clusters: [] as Buffer[] };
  private readonly pendingBytes = { pools: 0, clusters: 0 };
  private readonly chunks = { pools: 0, clusters: 0 };
  private readonly counts = { pools: 0, clusters: 0 };
  private writes: Promise<void> = Promise.resolve();
  private poolsSorted = true;
  private firstPoolKey: string | null = null;
  private lastPoolKey: string | null = null;

  constructor(
    private readonly put: (entity: Entity) => Promise<void>,
    private readonly runId: string,
    private readonly writer: string,
  ) {}

  /** Adds pools; give them sorted by ID (case-insensitively), each call after the last, to spare the reader a sort. */
  async addPools(pools: readonly PoolResult[]): Promise<void> {
    // Checked here, off the report's read path, so the reader can trust the order instead of sorting.
    for (const pool of pools) {
      const key = pool.id.toLowerCase();
      if (this.lastPoolKey !== null && this.lastPoolKey.localeCompare(key) > 0) this.poolsSorted = false;
      this.firstPoolKey ??= key;
      this.lastPoolKey = key;
    }
    await this.add('pools', pools);
  }

  async addClusters(clusters: readonly ClusterResult[]): Promise<void> {
    await this.add('clusters', clusters);
  }

  async finish(): Promise<void> {
    this.flush('pools', true);
    this.flush('clusters', true);
    await this.writes;
    await this.put({
      partitionKey: this.runId,
      rowKey: ['manifest', this.writer].join(KEY_SEPARATOR),
      pools: this.counts.pools,
      clusters: this.counts.clusters,
      poolChunks: this.chunks.pools,
      clusterChunks: this.chunks.clusters,
      poolsSorted: this.poolsSorted,
      ...(this.firstPoolKey !== null && this.lastPoolKey !== null
        ? { firstPoolId: this.firstPoolKey, lastPoolId: this.lastPoolKey }
        : {}),
    });
  }

  private async add(kind: 'pools' | 'clusters', values: readonly unknown[]): Promise<void> {
    if (values.length === 0) return;
    this.counts[kind] += values.length;
    const json = Buffer.from(JSON.stringify(values), 'utf8');
    // Output chunks of up to 1 MiB: few round trips to the main thread, and no large buffer kept behind a slice.
    const frame = await deflate(json, {
      level: zlibConstants.Z_BEST_SPEED,
      chunkSize: Math.min(MAX_DEFLATE_CHUNK, Math.max(MIN_ZLIB_CHUNK, json.length)),
    });
    const header = Buffer.alloc(8);
    header.writeUInt32BE(frame.length, 0);
    header.writeUInt32BE(json.length, 4);
    this.pending[kind].push(header, frame);
    this.pendingBytes[kind] += 8 + frame.length;
    this.flush(kind, false);
    // One entity in flight at a time keeps memory flat; a failed write surfaces here.
    await this.writes;
  }

  private flush(kind: 'pools' | 'clusters', all: boolean): void {
    while (this.pendingBytes[kind] >= SNAPSHOT_ENTITY_BYTES || (all && this.pendingBytes[kind] > 0)) {
      const bytes = Buffer.concat(this.pending[kind]);
      const take = Math.min(bytes.length, SNAPSHOT_ENTITY_BYTES);
      const entity: Entity = {
        partitionKey: this.runId,
        rowKey: ['chunk', this.writer, kind, snapshotIndex(this.chunks[kind])].join(KEY_SEPARATOR),
        parts: 0,
      };
      let parts = 0;
      for (let at = 0; at < take; at += SNAPSHOT_PART_BYTES) {
        entity[`bin_${parts++}`] = new Uint8Array(
          bytes.subarray(at, Math.min(at + SNAPSHOT_PART_BYTES, take)),
        );
      }
      entity.parts = parts;
      this.chunks[kind] += 1;
      const rest = bytes.subarray(take);
      this.pending[kind] = rest.length ? [Buffer.from(rest)] : [];
      this.pendingBytes[kind] = rest.length;
      const previous = this.writes;
      this.writes = previous.then(() => this.put(entity));
    }
  }
}
