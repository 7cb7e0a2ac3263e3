// The evidence part of GET /api/health: is the chain keeping up, is signing on, are bundles being retained.

import type { Config } from '../config';
import { describeError } from '../errors';
import type { EvidenceStore } from './evidenceStore';

export interface EvidenceHealth {
  status: 'ok' | 'degraded';
  chain: {
    head: { seq: number; runId: string; sealedAt: string } | null;
    /** Whether the latest completed run is sealed; null when no run has completed. */
    latestCompletedRunSealed: boolean | null;
  };
  signing: { configured: boolean };
  retention: {
    configured: boolean;
    retentionDays: number;
    latest: { runId: string; state: 'retained' | 'failed'; at: string } | null;
    lastFailure: { runId: string; at: string; reason: string } | null;
    failuresSinceLastRetained: number;
  };
  warnings: string[];
  detail?: string;
}

/** A seal runs right after completion; one this much older that is still missing means sealing failed. */
const SEAL_GRACE_IN_MS = 15 * 60_000;
const RETENTION_RECORDS_READ = 30;

export async function getEvidenceHealth(
  store: EvidenceStore,
  config: Config,
  options: { now: Date; abortSignal?: AbortSignal },
): Promise<EvidenceHealth> {
  // Health gives up on storage after its probe timeout: every read is cancelled then.
  const cancel = options.abortSignal ? { abortSignal: options.abortSignal } : {};
  const warnings: string[] = [];
  const health: EvidenceHealth = {
    status: 'ok',
    chain: { head: null, latestCompletedRunSealed: null },
    signing: { configured: config.evidence.signingKeyId !== null },
    retention: {
      configured: config.evidence.container !== null,
      retentionDays: config.evidence.retentionDays,
      latest: null,
      lastFailure: null,
      failuresSinceLastRetained: 0,
    },
    warnings,
  };
  try {
    const head = await store.getHeadLink(cancel);
    health.chain.head = head ? { seq: head.seq, runId: head.runId, sealedAt: head.sealedAt } : null;
    const latest = await store.runs.getLatestRun({ statuses: ['succeeded', 'partial'], ...cancel });
    if (latest) {
      const sealed = (await store.getRunIndex(latest.id, cancel)) !== undefined;
      health.chain.latestCompletedRunSealed = sealed;
      const age = options.now.getTime() - Date.parse(latest.finishedAt ?? latest.startedAt);
      if (!sealed && age > SEAL_GRACE_IN_MS) {
        warnings.push(
          `The latest completed run ${latest.id} is not sealed: its seal failed (see the logs); the next run's seal catches it up.`,
        );
      }
    }
    if (health.retention.configured) {
      for await (const record of store.listRetention({ top: RETENTION_RECORDS_READ, ...cancel })) {
        health.retention.latest ??= { runId: record.runId, state: record.state, at: record.at };
        if (record.state === 'retained') break;
        health.retention.failuresSinceLastRetained += 1;
        health.retention.lastFailure ??= { runId: record.runId, at: record.at, reason: record.reason ?? '' };
      }
      const failure = health.retention.lastFailure;
      if (failure) {
        warnings.push(
          `${health.retention.failuresSinceLastRetained} evidence bundle(s) could not be retained since the last one that was; the latest, of run ${failure.runId}: ${failure.reason}`,
        );
      }
    }
  } catch (error) {
    health.detail = `The evidence records could not be read: ${describeError(error)}`;
    warnings.push('Whether runs are sealed and retained is unknown: the evidence records could not be read.');
  }
  health.status = warnings.length ? 'degraded' : 'ok';
  return health;
}
