// The scheduled audit's handler: picks the run ID (a retry continues its run) and runs the audit.

import type { InvocationContext, Timer } from '@azure/functions';

import type { AuditService } from '../auditService';
import { newRunId } from '../azure/tableKeys';
import { AuditInProgressError, describeError } from '../errors';

/** A retry of the timer within this window continues the same run ID, so it overwrites itself. */
const RETRY_REUSE_WINDOW_IN_MS = 6 * 3_600_000;

export async function timerRunId(service: AuditService, retryCount: number, now: Date): Promise<string> {
  if (retryCount > 0) {
    const latest = await service.store.getLatestRun();
    if (
      latest &&
      latest.trigger === 'timer' &&
      (latest.status === 'failed' || latest.status === 'running') &&
      now.getTime() - Date.parse(latest.startedAt) < RETRY_REUSE_WINDOW_IN_MS
    ) {
      return latest.id;
    }
  }
  return newRunId(now);
}

export function auditTimerHandler(service: AuditService) {
  return async (_timer: Timer, context: InvocationContext): Promise<void> => {
    const retryCount = context.retryContext?.retryCount ?? 0;
    const runId = await timerRunId(service, retryCount, new Date());
    context.log(`Scheduled audit ${runId} starting (attempt ${retryCount + 1})`);
    try {
      const report = await service.audit({ trigger: 'timer', runId, log: (m) => context.log(m) });
      context.log(`Scheduled audit ${runId} ${report.run.status}`);
    } catch (error) {
      if (error instanceof AuditInProgressError) {
        // Not a failure: another instance or a manual run is auditing now. Retrying would only queue up.
        context.warn(`Scheduled audit skipped: ${error.message}`);
        return;
      }
      context.error(`Scheduled audit ${runId} failed: ${describeError(error)}`);
      throw error;
    }
  };
}
