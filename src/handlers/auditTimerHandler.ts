// The scheduled audit's handler: picks the run ID (a retry continues its run) and runs the audit.

import type { InvocationContext, Timer } from '@azure/functions';

import type { AuditService } from '../auditService';
import { newRunId } from '../azure/tableKeys';
import { AuditInProgressError, describeError } from '../errors';
import {
  createNotifier,
  createNotifyDependencies,
  type NotifyOptions,
  type NotifyOutcome,
  notifyQuietly,
  type RunNotifier,
} from '../notify';
import { createShardedAuditDependencies, startShardedAudit } from '../shardedAudit';

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

/**
 * Emails the digest of a completed run per EMAIL_MODE. Never throws: a failed email is recorded (email table, run
 * record, /api/health, next digest) and must not fail the invocation, which would make the platform retry the audit.
 */
function emailDigest(
  notify: RunNotifier,
  runId: string,
  options: NotifyOptions,
  context: InvocationContext,
): Promise<NotifyOutcome | null> {
  return notifyQuietly(notify, runId, options, {
    info: (m) => context.log(m),
    warn: (m) => context.warn(m),
    error: (m) => context.error(m),
  });
}

/** A platform retry this soon after a completed scheduled run may be the retry of that run's email step. */
const EMAIL_RETRY_WINDOW_IN_MS = 3_600_000;

export function auditTimerHandler(service: AuditService, options: { notify?: RunNotifier } = {}) {
  let notify = options.notify;
  const notifier = (): RunNotifier => (notify ??= createNotifier(createNotifyDependencies(service)));
  return async (_timer: Timer, context: InvocationContext): Promise<void> => {
    const retryCount = context.retryContext?.retryCount ?? 0;
    if (retryCount > 0) {
      // The earlier attempt may have died in the email step after its audit completed: finish that email (its
      // claim is taken over at once: the platform retries only after the attempt ended) instead of auditing again.
      const latest = await service.store.getLatestRun();
      if (
        latest?.trigger === 'timer' &&
        (latest.status === 'succeeded' || latest.status === 'partial') &&
        latest.finishedAt !== null &&
        Date.now() - Date.parse(latest.finishedAt) < EMAIL_RETRY_WINDOW_IN_MS
      ) {
        const outcome = await emailDigest(notifier(), latest.id, { takeOverClaim: true }, context);
        // Work was left (or storage failed again): this retry was the email's. Otherwise the email had been
        // settled, so the earlier attempt failed elsewhere and a new audit runs.
        const emailWasLeft =
          outcome === null ||
          ['sent', 'failed', 'inProgress'].includes(outcome.status) ||
          (outcome.status === 'skipped' && outcome.record !== null);
        if (emailWasLeft) {
          context.log(
            `Scheduled audit ${latest.id} had completed (attempt ${retryCount + 1}); only its email was finished`,
          );
          return;
        }
      }
    }
    const runId = await timerRunId(service, retryCount, new Date());
    context.log(`Scheduled audit ${runId} starting (attempt ${retryCount + 1})`);
    try {
      if (service.config.sharding.mode !== 'off') {
        // Scale-out: the shards are audited by queue-triggered workers; the last one completes the run and emails.
        const deps = createShardedAuditDependencies(service, { log: (m) => context.log(m) });
        const planned = await startShardedAudit(deps, { runId, trigger: 'timer' });
        context.log(`Scheduled audit ${runId} sharded: ${planned.shards} shard(s), ${planned.sent} queued`);
        return;
      }
      const report = await service.audit({ trigger: 'timer', runId, log: (m) => context.log(m) });
      context.log(`Scheduled audit ${runId} ${report.run.status}`);
      await emailDigest(notifier(), runId, { takeOverClaim: retryCount > 0 }, context);
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
