// Composition root: builds the real Azure clients, the store and the audit from one Config.

import type { TokenCredential } from '@azure/core-auth';

import { type AuditDependencies, type ClusterSource, runAudit, type RunProgress } from './audit';
import { createCredential, createLatestImageFetcher, createResourceGraphClient } from './azure/azureClients';
import { ExemptionStore } from './azure/exemptionStore';
import { buildDateOnly, type FreshnessSource, NodeImageLookup } from './azure/nodeImageLookup';
import { ResourceGraphSource } from './azure/resourceGraphSource';
import { RunStore } from './azure/runStore';
import { newRunId } from './azure/tableKeys';
import { type Config, requireStorage } from './config';
import type { Exemption, Report, RunTrigger } from './core/types';
import { createRunEvidence } from './evidence/createRunEvidence';
import type { RunEvidence } from './evidence/RunEvidence';

export interface AuditOptions {
  trigger: RunTrigger;
  runId?: string;
  /** Narrows the audit to these subscriptions (validated GUIDs), instead of the configured scopes. */
  subscriptions?: string[];
  /** Audit these clusters (an export) instead of reading Resource Graph. */
  input?: ClusterSource;
  store?: boolean;
  /**
   * Keep every pool in the returned report (the default; the CLI's --json needs it). `false` returns the
   * summary only, so memory stays flat at any estate size: the timer, the shard workers and the benchmark.
   */
  retainPools?: boolean;
  log?: (message: string) => void;
  onProgress?: (progress: RunProgress) => void;
  /** The run's clock (tests); exemptions are applied as of its start. */
  now?: () => Date;
}

export function createRunStore(config: Config, credential?: TokenCredential): RunStore {
  const storage = requireStorage(config);
  if (storage.kind === 'connectionString') {
    return new RunStore({ tablePrefix: config.tablePrefix, connectionString: storage.connectionString });
  }
  return new RunStore({
    tablePrefix: config.tablePrefix,
    endpoint: storage.endpoint,
    credential: credential ?? createCredential(config),
    allowInsecureConnection: storage.endpoint.startsWith('http://'),
  });
}

export function createExemptionStore(config: Config, credential?: TokenCredential): ExemptionStore {
  const storage = requireStorage(config);
  if (storage.kind === 'connectionString') {
    return new ExemptionStore({
      tablePrefix: config.tablePrefix,
      connectionString: storage.connectionString,
    });
  }
  return new ExemptionStore({
    tablePrefix: config.tablePrefix,
    endpoint: storage.endpoint,
    credential: credential ?? createCredential(config),
    allowInsecureConnection: storage.endpoint.startsWith('http://'),
  });
}

/** Everything an audit needs, built once per process and shared by the timer, HTTP and CLI. */
export class AuditService {
  private credentialInstance: TokenCredential | undefined;
  private storeInstance: RunStore | undefined;
  private exemptionStoreInstance: ExemptionStore | undefined;
  private evidenceInstance: RunEvidence | undefined;

  constructor(readonly config: Config) {}

  /** The evidence step of completing a run (seal, retain), built on first use. */
  get evidence(): RunEvidence {
    this.evidenceInstance ??= createRunEvidence(this);
    return this.evidenceInstance;
  }

  get credential(): TokenCredential {
    this.credentialInstance ??= createCredential(this.config);
    return this.credentialInstance;
  }

  get store(): RunStore {
    this.storeInstance ??= createRunStore(this.config, this.credential);
    return this.storeInstance;
  }

  get exemptionStore(): ExemptionStore {
    this.exemptionStoreInstance ??= createExemptionStore(this.config, this.credential);
    return this.exemptionStoreInstance;
  }

  /** The stored exemptions, read before a run starts; none without storage (an `--input` audit on a laptop). */
  async loadExemptions(): Promise<Exemption[]> {
    return this.config.storage ? this.exemptionStore.listExemptions() : [];
  }

  /** Builds the dependencies of one run; exposed so the benchmark can read the clients' counters. */
  dependencies(options: AuditOptions): AuditDependencies & {
    graph: ResourceGraphSource | null;
    images: NodeImageLookup | null;
  } {
    const { config } = this;
    const log = options.log ?? (() => undefined);
    const subscriptions = options.subscriptions ?? config.subscriptions;
    const managementGroups = options.subscriptions ? null : config.managementGroups;
    let graph: ResourceGraphSource | null = null;
    let images: NodeImageLookup | null = null;
    let freshness: FreshnessSource;
    let source: ClusterSource;
    if (options.input) {
      source = options.input;
      freshness = buildDateOnly('the audit read an export, so ARM was not asked for the latest image');
    } else {
      graph = new ResourceGraphSource({
        client: createResourceGraphClient(config, this.credential),
        subscriptions,
        managementGroups,
        log,
      });
      images = new NodeImageLookup(createLatestImageFetcher(config, this.credential), {}, log);
      source = graph;
      freshness = images;
    }
    return {
      source,
      freshness,
      graph,
      images,
      store: options.store === false ? null : this.store,
      ...(options.store === false ? {} : { evidence: this.evidence }),
      matrix: config.matrix,
      cloud: config.cloud.name,
      nodeImageMaxAgeInDays: config.nodeImageMaxAgeInDays,
      scope: { subscriptions, managementGroups },
      log,
      ...(options.retainPools === false ? { retainPools: false } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.now ? { now: options.now } : {}),
    };
  }

  /**
   * Starts an audit and resolves as soon as it holds the lease and its run record exists, so an
   * HTTP caller can answer 202 with the run ID while the audit goes on. Rejects with
   * AuditInProgressError (or any error) that happens before that point; later errors are
   * recorded on the run and surface through `done`.
   */
  async start(options: AuditOptions): Promise<{ runId: string; done: Promise<Report> }> {
    // The run ID carries the run's start time, which orders runs and pool history: take it from the same clock.
    const runId = options.runId ?? newRunId(options.now?.() ?? new Date());
    const exemptions = await this.loadExemptions();
    return new Promise((resolve, reject) => {
      let started = false;
      const done: Promise<Report> = runAudit(
        {
          ...this.dependencies(options),
          exemptions,
          onStarted: () => {
            started = true;
            resolve({ runId, done });
          },
        },
        { runId, trigger: options.trigger },
      );
      done.catch((error: unknown) => {
        if (!started) reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  /** Runs one audit to the end. Throws AuditInProgressError when another audit holds the lease. */
  async audit(options: AuditOptions): Promise<Report> {
    // The run ID carries the run's start time, which orders runs and pool history: take it from the same clock.
    const runId = options.runId ?? newRunId(options.now?.() ?? new Date());
    const exemptions = await this.loadExemptions();
    return runAudit({ ...this.dependencies(options), exemptions }, { runId, trigger: options.trigger });
  }
}
