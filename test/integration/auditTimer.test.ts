// The timer's handler: a retry continues its failed run under the same ID; a held lease skips without failing.

import { InvocationContext, type Timer } from '@azure/functions';

import { generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { AuditService } from '../../src/auditService';
import { newRunId } from '../../src/azure/tableKeys';
import { loadConfig } from '../../src/config';
import { summarizeRun } from '../../src/core/summarizeRun';
import { auditTimerHandler } from '../../src/handlers/auditTimerHandler';

let local: LocalAzure;
const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: true },
  scheduleStatus: { last: '', next: '', lastUpdated: '' },
};

function context(retryCount: number, logs: string[] = []): InvocationContext {
  return new InvocationContext({
    functionName: 'auditTimer',
    invocationId: `test-${retryCount}`,
    retryContext: { retryCount, maxRetryCount: 3 },
    logHandler: (_level, ...args) => logs.push(args.map(String).join(' ')),
  });
}

beforeAll(async () => {
  local = await startLocalAzure(generateEstate({ seed: 5, pools: 120, subscriptions: 3 }));
});

afterAll(async () => {
  await local?.stop();
});

it('continues a failed scheduled run under the same run ID when the platform retries it', async () => {
  const service = new AuditService(loadConfig({ ...local.env, AUDIT_TABLE_PREFIX: 'timerretry' }));
  await service.store.ensureTables();
  const failedId = newRunId(new Date(Date.now() - 60_000));
  await service.store.upsertRun({
    id: failedId,
    trigger: 'timer',
    status: 'failed',
    startedAt: new Date(Date.now() - 60_000).toISOString(),
    finishedAt: new Date().toISOString(),
    cloud: 'AzureCloud',
    matrix: { version: 'x', sources: [], sourceDetails: [] },
    summary: summarizeRun([], []),
    errors: [{ scope: '/', code: 'AuditFailed', message: 'simulated crash' }],
    progress: { pagesRead: 0, clustersRead: 0, poolsJudged: 0 },
    scope: { subscriptions: null, managementGroups: null },
  });

  await auditTimerHandler(service)(timer, context(1));

  const runs = [];
  for await (const run of service.store.listRuns({})) runs.push(run);
  expect(runs.map((r) => [r.id, r.status])).toEqual([[failedId, 'succeeded']]);
  expect((await service.store.getReport(failedId))?.summary.pools).toBe(120);
});

it('starts a new run on the first attempt even when the last scheduled run failed', async () => {
  const service = new AuditService(loadConfig({ ...local.env, AUDIT_TABLE_PREFIX: 'timerfresh' }));
  await auditTimerHandler(service)(timer, context(0));
  await auditTimerHandler(service)(timer, context(0));
  const runs = [];
  for await (const run of service.store.listRuns({})) runs.push(run);
  expect(runs).toHaveLength(2);
});

it('skips without failing when another audit holds the lease', async () => {
  const service = new AuditService(loadConfig({ ...local.env, AUDIT_TABLE_PREFIX: 'timerbusy' }));
  await service.store.ensureTables();
  const holder = newRunId(new Date());
  await service.store.acquireAuditLease(holder, { ttlInMs: 60_000, now: new Date() });
  const logs: string[] = [];
  await expect(auditTimerHandler(service)(timer, context(0, logs))).resolves.toBeUndefined();
  expect(logs.join('\n')).toContain(`Scheduled audit skipped: An audit is already running (run ${holder})`);
  const runs = [];
  for await (const run of service.store.listRuns({})) runs.push(run);
  expect(runs).toHaveLength(0);
});
