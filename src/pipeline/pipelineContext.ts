// What every stage of the audit pipeline works with: the stores, the queue, the sources and the settings.

import type { FreshnessSource } from '../azure/nodeImageLookup';
import type { FipsMatrix } from '../core/fipsMatrix';
import type { RunProgress, RunRecord, RunScope } from '../core/run';
import type { CloudName, Exemption, ScopeError } from '../core/types';
import type { LeaseStore } from '../store/leaseStore';
import type { RunStore } from '../store/runStore';
import type { ScheduleStore } from '../store/scheduleStore';
import type { ShardStore } from '../store/shardStore';
import type { ClusterSource, KnownPool, PoolStateWriter, ScopeResultWriter } from './auditScope';
import type { PipelineQueue } from './pipelineQueue';

/** The stores a run is written to: Table Storage in Azure, or memory for an audit that stores nothing. */
export interface PipelineStores {
  runs: Pick<RunStore, 'putRun' | 'getRun' | 'getVersionedRun' | 'noteProgress'>;
  lease: Pick<LeaseStore, 'acquire' | 'renew' | 'release'>;
  shards: Pick<
    ShardStore,
    | 'createShards'
    | 'getPlannedShards'
    | 'deleteShards'
    | 'getShard'
    | 'listShards'
    | 'finishShard'
    | 'noteShardFailure'
    | 'notePlanFailure'
    | 'getPlanFailure'
    | 'claimCompletion'
    | 'getCompletion'
    | 'noteCompletionHookDone'
  >;
  results: ScopeResultWriter;
  poolStates: PoolStateWriter & {
    listPoolStates(opts?: { subscriptionId?: string }): AsyncIterable<KnownPool>;
  };
  schedule: Pick<ScheduleStore, 'get' | 'recordStarted' | 'recordDeferred' | 'recordMissed'>;
  /** Creates what is missing; called before a run starts. */
  ensureTables(): Promise<void>;
}

/** The readers of one shard's scope. */
export interface ScopeReaders {
  source: ClusterSource;
  freshness: FreshnessSource;
}

export interface PipelineSettings {
  cloud: CloudName;
  matrix: FipsMatrix;
  nodeImageMaxAgeInDays: number;
  /** AUDIT_OWNER_TAG: the cluster tag copied to each pool's `owner`; null when unset. */
  ownerTag: string | null;
  /** What a run audits unless a request narrows it (AUDIT_SUBSCRIPTIONS, AUDIT_MANAGEMENT_GROUPS). */
  scope: RunScope;
  /** Subscriptions per shard (AUDIT_SHARD_SIZE) when sharding is on; null: every run is one shard. */
  shardSize: number | null;
  /** How long the audit lease lasts without renewal; a dead run is taken over after it. */
  leaseTtlInMs: number;
}

export interface PipelineContext {
  stores: PipelineStores;
  queue: PipelineQueue;
  settings: PipelineSettings;
  /** Builds the readers of one shard's scope; `signal` aborts their requests when the run loses its lease. */
  openScope(scope: RunScope, options: { log: (message: string) => void; signal: AbortSignal }): ScopeReaders;
  /** Every subscription of a scope, for splitting a run into shards; errors name scopes that could not be listed. */
  listSubscriptions(
    scope: RunScope,
    options: { log: (message: string) => void; signal: AbortSignal },
  ): Promise<{ subscriptions: string[]; errors: ScopeError[] }>;
  /** The waivers in force; read by each shard as it starts. */
  loadExemptions(): Promise<Exemption[]>;
  /**
   * Called once per run by the worker that completed it (the digest, the failure alert), and again only by a
   * redelivery of that worker's message (`redelivered`: the earlier delivery ended, so its unfinished work may be
   * taken over). Never throws.
   */
  onRunCompleted(run: RunRecord, info: { redelivered: boolean }): Promise<void>;
  /** Progress of a shard as it reads (the CLI's status line). */
  onProgress?: (runId: string, progress: RunProgress) => void;
  now(): Date;
  log(message: string): void;
}
