// The table stores of one app over fresh tables in Azurite, with a report read as the API reads it.

import { LeaseStore, LOCKS_TABLE } from '../../src/store/leaseStore';
import { POOL_HISTORY_TABLE, POOLS_TABLE, PoolStateStore } from '../../src/store/poolStateStore';
import { FINDINGS_TABLE, REPORTS_TABLE, ResultStore } from '../../src/store/resultStore';
import { RUNS_TABLE, RunStore } from '../../src/store/runStore';
import { TableClientFactory } from '../../src/store/tableClientFactory';

const TABLES = [RUNS_TABLE, LOCKS_TABLE, FINDINGS_TABLE, REPORTS_TABLE, POOLS_TABLE, POOL_HISTORY_TABLE];

export class TableStores {
  readonly runs: RunStore;
  readonly results: ResultStore;
  readonly poolStates: PoolStateStore;
  readonly lease: LeaseStore;

  constructor(readonly tables: TableClientFactory) {
    this.runs = new RunStore(tables);
    this.results = new ResultStore(tables);
    this.poolStates = new PoolStateStore(tables);
    this.lease = new LeaseStore(tables);
  }

  ensureTables(): Promise<void> {
    return this.tables.ensureTables(TABLES);
  }

  async getReport(runId: string) {
    const run = await this.runs.getRun(runId);
    return run ? this.results.getReport(run) : undefined;
  }
}

/** Stores over tables named with `tablePrefix`, created. */
export async function tableStores(connectionString: string, tablePrefix: string): Promise<TableStores> {
  const stores = new TableStores(
    new TableClientFactory({ tablePrefix, storage: { kind: 'connectionString', connectionString } }),
  );
  await stores.ensureTables();
  return stores;
}
