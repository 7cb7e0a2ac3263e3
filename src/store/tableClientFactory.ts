// The one place Table Storage clients are made: from a connection string or an endpoint with the managed identity.

import type { TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { TableClient } from '@azure/data-tables';

import { tableClientTimeoutOptions } from '../azure/requestTimeoutPolicy';
import type { StorageSettings } from '../config';
import { isTableExists } from './tableErrors';

/** Counters for the benchmark, shared by every store made from one factory. */
export interface StoreStats {
  /** HTTP requests sent, retries included (a transaction is one request). */
  requests: number;
  transactions: number;
  entitiesWritten: number;
  entitiesDeleted: number;
  entitiesRead: number;
  /** Answers 429 or 503 (Table Storage's ServerBusy when a partition or the account is over its target). */
  throttled: number;
}

export interface TableClientFactoryOptions {
  /** Prefix of every table (letters and digits, starting with a letter), e.g. `fipsaudit`. */
  tablePrefix: string;
  storage: StorageSettings;
  /** Needed for an endpoint: the managed identity (or whatever DefaultAzureCredential finds). */
  credential?: TokenCredential;
  /** Transactions (and partition reads) each store keeps in flight at once; 8 by default. */
  concurrency?: number;
  /** Bound on each attempt of each request (TABLE_REQUEST_TIMEOUT_IN_MS by default); tests shorten it. */
  requestTimeoutInMs?: number;
  /** More pipeline policies for every client (fault injection in tests). */
  additionalPolicies?: { policy: PipelinePolicy; position: 'perCall' | 'perRetry' }[];
}

const TABLE_PREFIX = /^[A-Za-z][A-Za-z0-9]{0,51}$/;

/** Whether a connection string points at plain http (Azurite), which the client refuses unless told. */
export function isInsecureConnectionString(connectionString: string): boolean {
  return /http:\/\/|DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true/i.test(connectionString);
}

/** Makes the TableClient of each table (`{prefix}{suffix}`), counting every request in `stats`. */
export class TableClientFactory {
  readonly stats: StoreStats = {
    requests: 0,
    transactions: 0,
    entitiesWritten: 0,
    entitiesDeleted: 0,
    entitiesRead: 0,
    throttled: 0,
  };
  readonly concurrency: number;
  private readonly clients = new Map<string, TableClient>();
  private readonly policies: { policy: PipelinePolicy; position: 'perCall' | 'perRetry' }[];

  constructor(private readonly options: TableClientFactoryOptions) {
    if (!TABLE_PREFIX.test(options.tablePrefix)) {
      throw new RangeError(
        `tablePrefix must be 1-52 letters or digits starting with a letter (table names are alphanumeric); got "${options.tablePrefix}"`,
      );
    }
    if (options.storage.kind === 'endpoint' && !options.credential) {
      throw new TypeError('A Table Storage endpoint needs a credential');
    }
    this.concurrency = options.concurrency ?? 8;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer; got ${String(options.concurrency)}`);
    }
    const stats = this.stats;
    const requestCounter: PipelinePolicy = {
      name: 'tableRequestCounter',
      sendRequest: async (request, next) => {
        stats.requests += 1;
        const response = await next(request);
        if (response.status === 429 || response.status === 503) stats.throttled += 1;
        return response;
      },
    };
    // Per retry, so every request that goes on the wire is counted; and every attempt is bounded in time, so a
    // hung call fails (and is retried) instead of holding the run until the host kills it.
    this.policies = [
      { policy: requestCounter, position: 'perRetry' },
      ...tableClientTimeoutOptions(options.requestTimeoutInMs).additionalPolicies,
      ...(options.additionalPolicies ?? []),
    ];
  }

  get tablePrefix(): string {
    return this.options.tablePrefix;
  }

  /** The client of table `{prefix}{suffix}`, made once. */
  client(suffix: string): TableClient {
    let client = this.clients.get(suffix);
    if (client) return client;
    const table = `${this.options.tablePrefix}${suffix}`;
    const { storage } = this.options;
    const clientOptions = { additionalPolicies: this.policies };
    client =
      storage.kind === 'connectionString'
        ? TableClient.fromConnectionString(storage.connectionString, table, {
            ...clientOptions,
            allowInsecureConnection: isInsecureConnectionString(storage.connectionString),
          })
        : new TableClient(storage.endpoint, table, this.options.credential as TokenCredential, {
            ...clientOptions,
            allowInsecureConnection: storage.endpoint.startsWith('http://'),
          });
    this.clients.set(suffix, client);
    return client;
  }

  /** Creates the tables that are missing; safe to call on every start. */
  async ensureTables(suffixes: readonly string[]): Promise<void> {
    await Promise.all(
      suffixes.map(async (suffix) => {
        try {
          await this.client(suffix).createTable();
        } catch (error) {
          // data-tables already treats TableAlreadyExists as success; this covers versions that do not.
          if (!isTableExists(error)) throw error;
        }
      }),
    );
  }
}
