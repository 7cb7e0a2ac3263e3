// The composition root: builds the stores, Azure clients, pipeline, notifier and HTTP handlers from one Config.

import type { TokenCredential } from '@azure/core-auth';
import type { HttpHandler } from '@azure/functions';

import { storageLabel, tableStorageError } from './azure/accessFailureMessages';
import {
  accessContextOf,
  createCredential,
  createLatestImageFetcher,
  createResourceGraphClient,
} from './azure/azureClients';
import { AcsEmailSender, type EmailSender, SmtpEmailSender } from './azure/emailSender';
import { buildDateOnly, NodeImageLookup, type NodeImageLookupStats } from './azure/nodeImageLookup';
import {
  emptyResourceGraphStats,
  ResourceGraphSource,
  type ResourceGraphStats,
} from './azure/resourceGraphSource';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './azure/retryPolicy';
import { type Config, requireStorage } from './config';
import { isCompleted, type RunProgress, type RunRecord, type RunScope } from './core/run';
import type { Exemption, Report } from './core/types';
import { createRunEvidence } from './evidence/createRunEvidence';
import { type HostEvidence, hostEvidence } from './evidence/hostEvidence';
import type { RunEvidence } from './evidence/runEvidence';
import { emailRunHandler } from './handlers/emailRunHandler';
import { evidenceHandler } from './handlers/evidenceHandler';
import { exemptionApiHandlers, type ExemptionsDependencies } from './handlers/exemptionsHandler';
import { healthHandler } from './handlers/healthHandler';
import { openApiHandler } from './handlers/openApiHandler';
import { reportHandler } from './handlers/reportHandler';
import { runHandler } from './handlers/runHandler';
import { runsHandler } from './handlers/runsHandler';
import { startAuditHandler } from './handlers/startAuditHandler';
import { trendHandler } from './handlers/trendHandler';
import { verificationHandler } from './handlers/verificationHandler';
import type { RouteName } from './http/routes';
import { type EmailHealth, getEmailHealth } from './notify/emailHealth';
import {
  createNotifier,
  describeOutcome,
  type NotifyDependencies,
  type RunNotifier,
} from './notify/notifyRun';
import type { DigestSources } from './notify/runDigest';
import { AuditPipeline } from './pipeline/auditPipeline';
import type { ClusterSource } from './pipeline/auditScope';
import { InProcessQueue } from './pipeline/inProcessQueue';
import type { PipelineContext, PipelineStores } from './pipeline/pipelineContext';
import { createQueueClient, type PipelineQueue, StorageQueue } from './pipeline/pipelineQueue';
import type { StartRequest } from './pipeline/startRun';
import { EmailStore } from './store/emailStore';
import { ExemptionStore } from './store/exemptionStore';
import { LeaseStore, LOCKS_TABLE } from './store/leaseStore';
import {
  MemoryLeaseStore,
  MemoryPoolStateStore,
  MemoryResultStore,
  MemoryRunStore,
  MemoryScheduleStore,
  MemoryShardStore,
} from './store/memoryStores';
import { POOL_HISTORY_TABLE, POOLS_TABLE, PoolStateStore } from './store/poolStateStore';
import { FINDINGS_TABLE, REPORTS_TABLE, ResultStore } from './store/resultStore';
import { RunReports } from './store/runReports';
import { RUNS_TABLE, RunStore } from './store/runStore';
import { ScheduleStore } from './store/scheduleStore';
import { SHARDS_TABLE, ShardStore } from './store/shardStore';
import { TableClientFactory } from './store/tableClientFactory';

/** Every table the pipeline writes. */
const PIPELINE_TABLES = [
  RUNS_TABLE,
  LOCKS_TABLE,
  SHARDS_TABLE,
  FINDINGS_TABLE,
  REPORTS_TABLE,
  POOLS_TABLE,
  POOL_HISTORY_TABLE,
] as const;

export interface AppOptions {
  /**
   * Where the pipeline's messages go. `inProcess` (the default: CLI, `serve`, tests) handles them in this process
   * with the Functions host's retry and poison semantics; `storage` puts them on the AUDIT_QUEUE Storage queue for
   * the `auditPipeline` Function.
   */
  queue?: 'inProcess' | 'storage';
  /** Write nothing to Table Storage (`audit --no-store`): the run lives in memory for this process only. */
  store?: boolean;
  /** Audit these clusters (an export) instead of reading Resource Graph; image freshness then uses build dates. */
  input?: ClusterSource;
  /** Send no email when a run completes (`audit --no-email`). */
  email?: boolean;
  /** Replaces parts of what sending email needs (tests: the sender, a quicker retry policy, a failing store). */
  notify?: Partial<NotifyDependencies>;
  credential?: TokenCredential;
  log?: (message: string) => void;
  onProgress?: (runId: string, progress: RunProgress) => void;
  /** The app's clock (tests). */
  now?: () => Date;
  /** Replaces the evidence step of completing a run (tests: a seal that fails). */
  evidence?: RunEvidence;
  /** In-process queue tuning (tests): how soon a failed delivery is retried. */
  retryDelayInMs?: number;
}

/** The stores of one app: Table Storage, or memory when nothing is stored. */
export interface AppStores extends PipelineStores {
  runs: RunStore | MemoryRunStore;
  reports: RunReports;
  poolStates: PoolStateStore | MemoryPoolStateStore;
}

/**
 * One app per process: the Functions host, the CLI and `serve` each build one from the validated Config and take
 * what they need. Everything is built on first use, so a missing storage setting fails the use that needs it (a
 * 503, a line in health) instead of the host's start.
 */
export class App {
  private credentialInstance: TokenCredential | undefined;
  private tablesInstance: TableClientFactory | undefined;
  private storesInstance: AppStores | undefined;
  private queueInstance: PipelineQueue | undefined;
  private pipelineInstance: AuditPipeline | undefined;
  private emailStoreInstance: EmailStore | undefined;
  private notifierInstance: RunNotifier | undefined;
  private exemptionStoreInstance: ExemptionStore | undefined;
  private evidenceInstance: RunEvidence | undefined;
  private hostEvidenceInstance: HostEvidence | undefined;
  readonly log: (message: string) => void;
  readonly now: () => Date;
  /** The Azure readers this process opened, one per shard: their counters feed `readerStats` (the benchmark). */
  private readonly readers: { graph: ResourceGraphSource; images: NodeImageLookup }[] = [];

  constructor(
    readonly config: Config,
    private readonly options: AppOptions = {},
  ) {
    this.log = options.log ?? (() => undefined);
    this.now = options.now ?? (() => new Date());
  }

  get credential(): TokenCredential {
    this.credentialInstance ??= this.options.credential ?? createCredential(this.config);
    return this.credentialInstance;
  }

  /** The evidence step of completing a run (seal into the chain of runs, retain the bundle); see src/evidence. */
  get evidence(): RunEvidence {
    this.evidenceInstance ??= this.options.evidence ?? createRunEvidence(this);
    return this.evidenceInstance;
  }

  /** The evidence store, signature verifier and health the evidence routes and commands read. */
  get hostEvidence(): HostEvidence {
    this.hostEvidenceInstance ??= hostEvidence(this);
    return this.hostEvidenceInstance;
  }

  /** The Table Storage clients; throws ConfigError when no storage is configured. */
  get tables(): TableClientFactory {
    if (!this.tablesInstance) {
      const storage = requireStorage(this.config);
      this.tablesInstance = new TableClientFactory({
        tablePrefix: this.config.tablePrefix,
        storage,
        requestTimeoutInMs: this.config.requests.tablesTimeoutInMs,
        ...(storage.kind === 'endpoint' ? { credential: this.credential } : {}),
      });
    }
    return this.tablesInstance;
  }

  get stores(): AppStores {
    this.storesInstance ??= this.options.store === false ? memoryStores() : this.tableStores();
    return this.storesInstance;
  }

  get exemptionStore(): ExemptionStore {
    this.exemptionStoreInstance ??= new ExemptionStore(this.tables);
    return this.exemptionStoreInstance;
  }

  get emailStore(): EmailStore {
    this.emailStoreInstance ??= new EmailStore(this.tables);
    return this.emailStoreInstance;
  }

  get queue(): PipelineQueue {
    if (!this.queueInstance) {
      if (this.options.queue === 'storage') {
        const connection = this.config.queue.connection;
        if (!connection)
          throw new Error('unreachable: loadConfig requires AUDIT_QUEUE for the Functions host');
        this.queueInstance = new StorageQueue(
          createQueueClient(
            connection,
            this.config.queue.name,
            connection.kind === 'endpoint' ? this.credential : undefined,
          ),
        );
      } else {
        const queue = new InProcessQueue({
          log: this.log,
          ...(this.options.retryDelayInMs !== undefined
            ? { retryDelayInMs: this.options.retryDelayInMs }
            : {}),
        });
        this.queueInstance = queue;
        queue.start(this.pipeline);
      }
    }
    return this.queueInstance;
  }

  get pipeline(): AuditPipeline {
    this.pipelineInstance ??= new AuditPipeline(this.pipelineContext());
    return this.pipelineInstance;
  }

  /** Sends a run's email per its rules (digest, alert, on request), exactly once; see notifyRun. */
  get notify(): RunNotifier {
    this.notifierInstance ??= createNotifier(this.notifyDependencies(this.options.notify));
    return this.notifierInstance;
  }

  /** The stored exemptions, read before each shard; none without storage (an `--input` audit on a laptop). */
  async loadExemptions(): Promise<Exemption[]> {
    return this.config.storage && this.options.store !== false ? this.exemptionStore.listExemptions() : [];
  }

  /**
   * Runs one audit to the end in this process (CLI, `serve`'s tests, the demo): starts it and handles its queue
   * until nothing is left, then returns the run as recorded. Throws AuditInProgressError while another run holds
   * the lease.
   */
  async runAudit(request: StartRequest): Promise<RunRecord> {
    if (this.options.queue === 'storage') throw new TypeError('runAudit needs the in-process queue');
    const started = await this.pipeline.start(request);
    await this.drain();
    const run = await this.stores.runs.getRun(started.id);
    if (!run) throw new Error(`Run ${started.id} is no longer stored`);
    return run;
  }

  /** The report of a stored run. */
  async getReport(runId: string): Promise<Report | undefined> {
    return this.stores.reports.getReport(runId);
  }

  /** Runs one audit to the end and returns its report (tests and the CLI's `--json`). */
  async audit(request: StartRequest): Promise<Report> {
    const run = await this.runAudit(request);
    return (await this.getReport(run.id)) as Report;
  }

  /** Waits until the in-process queue has handled every message (queued audits have ended). */
  async drain(): Promise<void> {
    if (this.queueInstance instanceof InProcessQueue) await this.queueInstance.drain();
  }

  /** Stops the in-process queue (the rest has nothing to close). */
  close(): void {
    if (this.queueInstance instanceof InProcessQueue) this.queueInstance.stop();
  }

  /** What the Azure readers of this process did, summed over every shard: requests, pages, throttling. */
  readerStats(): { graph: ResourceGraphStats; images: NodeImageLookupStats } {
    const graph = emptyResourceGraphStats();
    const images: NodeImageLookupStats = { requests: 0, keys: 0, failures: 0, forbiddenSubscriptions: 0 };
    for (const reader of this.readers) {
      for (const key of Object.keys(graph) as (keyof ResourceGraphStats)[])
        graph[key] += reader.graph.stats[key];
      for (const key of Object.keys(images) as (keyof NodeImageLookupStats)[])
        images[key] += reader.images.stats[key];
    }
    return { graph, images };
  }

  /** The email part of /api/health; `abortSignal` cancels its reads. */
  emailHealth(options: { now?: Date; abortSignal?: AbortSignal } = {}): Promise<EmailHealth> {
    const { abortSignal, ...rest } = options;
    if (!abortSignal) return getEmailHealth(this.emailStore, rest);
    const store = this.emailStore;
    return getEmailHealth({ listDigests: (opts) => store.listDigests({ ...opts, abortSignal }) }, rest);
  }

  /** The HTTP API's handlers, each given only what it uses: the Functions registrations and `serve` share them. */
  httpHandlers(): Record<RouteName, HttpHandler> {
    const reports = (): RunReports => this.stores.reports;
    const reader = {
      getRun: (runId: string) => reports().getRun(runId),
      getLatestRun: (opts?: Parameters<RunReports['getLatestRun']>[0]) => reports().getLatestRun(opts),
      listRuns: (opts: { top?: number; since?: Date }) => reports().listRuns(opts),
      getReport: (runId: string) => reports().getReport(runId),
      openReportSnapshot: (run: RunRecord) => reports().openReportSnapshot(run),
    };
    const notify: RunNotifier = (runId, options) => this.notify(runId, options);
    const exemptions = exemptionApiHandlers(this.exemptionsDependencies());
    return {
      report: reportHandler({ store: reader, config: this.config }),
      runs: runsHandler({ store: reader, config: this.config }),
      trend: trendHandler({ store: reader, config: this.config }),
      run: runHandler({ store: reader, config: this.config }),
      startAudit: startAuditHandler({
        config: this.config,
        start: (request) => this.pipeline.start(request),
      }),
      emailRun: emailRunHandler({ notify, config: this.config }),
      runEvidence: evidenceHandler({ evidence: () => this.hostEvidence, config: this.config }),
      runVerification: verificationHandler({ evidence: () => this.hostEvidence, config: this.config }),
      health: healthHandler({
        config: this.config,
        store: reader,
        lease: { get: (opts) => new LeaseStore(this.tables).get(opts) },
        schedule: { get: (opts) => new ScheduleStore(this.tables).get(opts) },
        emailHealth: (options) => this.emailHealth(options),
        evidenceHealth: (options) => this.hostEvidence.health(options),
      }),
      openApi: openApiHandler({ config: this.config }),
      ...exemptions,
    };
  }

  /**
   * What the exemption routes and the CLI's `exemptions` command need. Built on first use, so an app without
   * storage settings still starts (and answers these routes 503, as health reports).
   */
  exemptionsDependencies(): ExemptionsDependencies {
    const app = {
      exemptionStore: () => this.exemptionStore,
      stores: () => this.stores,
    };
    return {
      get store() {
        return app.exemptionStore();
      },
      get catalog() {
        const stores = app.stores();
        return {
          getLatestRun: (opts?: Parameters<RunReports['getLatestRun']>[0]) =>
            stores.reports.getLatestRun(opts),
          listPoolStates: (opts?: { subscriptionId?: string }) => stores.poolStates.listPoolStates(opts),
        };
      },
      config: this.config,
    };
  }

  private tableStores(): AppStores {
    const tables = this.tables;
    const runs = new RunStore(tables);
    const results = new ResultStore(tables);
    let ready: Promise<void> | undefined;
    return {
      runs,
      lease: new LeaseStore(tables),
      shards: new ShardStore(tables),
      results,
      poolStates: new PoolStateStore(tables),
      schedule: new ScheduleStore(tables),
      reports: new RunReports(runs, results),
      ensureTables: () =>
        (ready ??= tables.ensureTables(PIPELINE_TABLES).catch((error: unknown) => {
          ready = undefined;
          // The first call of every run: a storage account that cannot be used is said with its fix here.
          throw tableStorageError(
            error,
            accessContextOf(this.config),
            storageLabel(requireStorage(this.config)),
          );
        })),
    };
  }

  /** What a digest is built from: the runs, their reports and pool states, the earlier digests' records. */
  digestSources(): DigestSources {
    const stores = this.stores;
    return {
      reportBaseUrl: this.config.reportBaseUrl,
      runs: {
        getRun: (runId) => stores.reports.getRun(runId),
        getReport: (runId) => stores.reports.getReport(runId),
        listRuns: (opts) => stores.reports.listRuns(opts),
        openReportSnapshot: (run) => stores.reports.openReportSnapshot(run),
        listNoncompliantSince: () => stores.poolStates.listNoncompliantSince(),
        noteEmail: (runId, email) => stores.runs.noteEmail(runId, email),
      },
      emails: this.emailStore,
      now: this.now,
    };
  }

  /** What sending a run's email needs; `overrides` replace parts (tests: a quicker retry policy, a sender). */
  notifyDependencies(overrides: Partial<NotifyDependencies> = {}): NotifyDependencies {
    const { config } = this;
    return {
      ...this.digestSources(),
      email: {
        mode: config.email.mode,
        sender: config.email.sender,
        to: config.email.to,
        allowedRecipients: config.email.allowedRecipients,
      },
      emails: this.emailStore,
      sender: createEmailSender(config, () => this.credential),
      log: this.log,
      ...overrides,
    };
  }

  /**
   * The one completion hook: a completed run is sealed into the chain of runs (and its bundle retained), then its
   * digest, or its "audit could not complete" alert, goes out exactly once. A send that
   * fails is recorded (email table, run record, health, next digest) and ends here; a failure to record it throws,
   * so the queue delivers the completing message again and the redelivery takes the unfinished send over.
   */
  private async onRunCompleted(run: RunRecord, info: { redelivered: boolean }): Promise<void> {
    if (this.options.store === false || !this.config.storage) return;
    // Sealed first, so the digest goes out about a run whose evidence is fixed; sealing never throws.
    if (isCompleted(run.status)) await this.evidence.onRunCompleted(run.id, this.log);
    if (this.options.email === false) return;
    // An on-demand audit is mailed only when its request asked (POST /api/audits with "email": true).
    if (run.trigger === 'http' && !run.emailRequested) return;
    if (!this.config.emailProvider && !run.emailRequested) return;
    const outcome = await this.notify(run.id, {
      ...(run.emailRequested ? { requested: true } : {}),
      takeOverClaim: info.redelivered,
    });
    this.log(`Digest of run ${run.id}: ${describeOutcome(outcome)}`);
  }

  /** AUDIT_ARM_TIMEOUT_SECONDS, as the clients take it. */
  private get armTimeoutInMs(): number {
    return this.config.requests.armTimeoutInMs;
  }

  /** The retry policy of every ARM and Resource Graph read, with AUDIT_ARM_MAX_ATTEMPTS. */
  private get armRetry(): RetryPolicy {
    return { ...DEFAULT_RETRY_POLICY, maxAttempts: this.config.requests.armMaxAttempts };
  }

  /** A Resource Graph reader of `scope`, bounded by the configured timeout and attempts. */
  private resourceGraphSource(
    scope: RunScope,
    options: { log: (message: string) => void; signal: AbortSignal },
  ): ResourceGraphSource {
    return new ResourceGraphSource({
      client: createResourceGraphClient(this.config, this.credential, { timeoutInMs: this.armTimeoutInMs }),
      subscriptions: scope.subscriptions,
      managementGroups: scope.managementGroups,
      log: options.log,
      signal: options.signal,
      access: accessContextOf(this.config),
      retry: this.armRetry,
    });
  }

  private openScope(scope: RunScope, options: { log: (message: string) => void; signal: AbortSignal }) {
    if (this.options.input) {
      return {
        source: this.options.input,
        freshness: buildDateOnly('the audit read an export, so ARM was not asked for the latest image'),
      };
    }
    const access = accessContextOf(this.config);
    const source = this.resourceGraphSource(scope, options);
    const freshness = new NodeImageLookup(
      createLatestImageFetcher(this.config, this.credential, { timeoutInMs: this.armTimeoutInMs }),
      { signal: options.signal, access, retry: this.armRetry },
      options.log,
    );
    this.readers.push({ graph: source, images: freshness });
    return { source, freshness };
  }

  private pipelineContext(): PipelineContext {
    const { config } = this;
    const queue = () => this.queue;
    return {
      stores: this.stores,
      // A getter: the in-process queue starts its consumer (this pipeline) when first asked for.
      get queue() {
        return queue();
      },
      settings: {
        cloud: config.cloud.name,
        matrix: config.matrix,
        nodeImageMaxAgeInDays: config.nodeImageMaxAgeInDays,
        ownerTag: config.ownerTag,
        scope: { subscriptions: config.subscriptions, managementGroups: config.managementGroups },
        shardSize: config.sharding.mode === 'off' || this.options.input ? null : config.sharding.shardSize,
        leaseTtlInMs: config.leaseTtlInMs,
      },
      openScope: (scope, options) => this.openScope(scope, options),
      listSubscriptions: async (scope, options) => {
        const coverage = await this.resourceGraphSource(scope, options).readCoverage();
        return { subscriptions: coverage.subscriptions, errors: coverage.failures };
      },
      loadExemptions: () => this.loadExemptions(),
      onRunCompleted: (run, info) => this.onRunCompleted(run, info),
      ...(this.options.onProgress ? { onProgress: this.options.onProgress } : {}),
      now: this.now,
      log: this.log,
    };
  }
}

/** The configured email path: ACS when EMAIL_ENDPOINT or EMAIL_CONNECTION_STRING is set, SMTP when SMTP_HOST is. */
export function createEmailSender(config: Config, credential: () => TokenCredential): EmailSender | null {
  if (config.emailProvider === 'acs') {
    return config.email.connectionString
      ? new AcsEmailSender({ connectionString: config.email.connectionString })
      : new AcsEmailSender({ endpoint: config.email.endpoint as string, credential: credential() });
  }
  if (config.emailProvider === 'smtp' && config.smtp) return new SmtpEmailSender(config.smtp);
  return null;
}

function memoryStores(): AppStores {
  const runs = new MemoryRunStore();
  const results = new MemoryResultStore();
  return {
    runs,
    lease: new MemoryLeaseStore(),
    shards: new MemoryShardStore(),
    results,
    poolStates: new MemoryPoolStateStore(),
    schedule: new MemoryScheduleStore(),
    reports: new RunReports(runs, results),
    ensureTables: () => Promise.resolve(),
  };
}
