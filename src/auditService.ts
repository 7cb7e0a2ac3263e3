// Composition root: builds the real Azure clients, the store and the audit from one Config.

import type { TokenCredential } from '@azure/core-auth';

import { type AuditDependencies, type ClusterSource, runAudit, type RunProgress } from './audit';
import { createCredential, createLatestImageFetcher, createResourceGraphClient } from './azure/azureClients';
import { buildDateOnly, type FreshnessSource, NodeImageLookup } from './azure/nodeImageLookup';
import { ResourceGraphSource } from './azure/resourceGraphSource';
import { RunStore } from './azure/runStore';
import { newRunId } from './azure/tableKeys';
import { type Config, requireStorage } from './config';
import type { Report, RunTrigger } from './core/types';

export interface AuditOptions {
  trigger: RunTrigger;
  runId?: string;
  /** Narrows the audit to these subscriptions (validated GUIDs), instead of the configured scopes. */
  subscriptions?: string[];
  /** Audit these clusters (an export) instead of reading Resource Graph. */
  input?: ClusterSource;
  store?: boolean;
  log?: (message: string) => void;
  onProgress?: (progress: RunProgress) => void;
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

/** Everything an audit needs, built once per process and shared by the timer, HTTP and CLI. */
export class AuditService {
  private credentialInstance: TokenCredential | undefined;
  private storeInstance: RunStore | undefined;

  constructor(readonly config: Config) {}

  get credential(): TokenCredential {
    this.credentialInstance ??= createCredential(this.config);
    return this.credentialInstance;
  }

  get store(): RunStore {
    this.storeInstance ??= createRunStore(this.config, this.credential);
    return this.storeInstance;
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
      matrix: config.matrix,
      cloud: config.cloud.name,
      nodeImageMaxAgeInDays: config.nodeImageMaxAgeInDays,
      scope: { subscriptions, managementGroups },
      log,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    };
  }

  /**
   * Starts an audit and resolves as soon as it holds the lease and its run record exists, so an
   * HTTP caller can answer 202 with the run ID while the audit goes on. Rejects with
   * AuditInProgressError (or any error) that happens before that point; later errors are
   * recorded on the run and surface through `done`.
   */
  start(options: AuditOptions): Promise<{ runId: string; done: Promise<Report> }> {
    const runId = options.runId ?? newRunId(new Date());
    return new Promise((resolve, reject) => {
      let started = false;
      const done: Promise<Report> = runAudit(
        {
          ...this.dependencies(options),
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
    const runId = options.runId ?? newRunId(new Date());
    return runAudit(this.dependencies(options), { runId, trigger: options.trigger });
  }
}
