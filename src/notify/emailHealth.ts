// The email part of /api/health: how the latest digests fared.

import { type EmailRecord, type EmailStore } from '../store/emailStore';
import { recentDigests } from './runDigest';

// ---- health ----

export interface EmailHealth {
  /** `ok`, `failing` (the latest decided digest failed or never confirmed), or `none` (no digest yet). */
  status: 'ok' | 'failing' | 'none';
  latest: {
    runId: string;
    state: EmailRecord['state'];
    provider: EmailRecord['provider'];
    attempts: number;
    at: string;
    reason: string | null;
  } | null;
  lastSent: { runId: string; at: string; messageId: string | null } | null;
  /** Digests that failed since the last one sent, newest first (at most 30 read). */
  failures: { runId: string; at: string; reason: string }[];
}

/**
 * The email part of GET /api/health: the latest digest's outcome, the last one sent, and failures since.
 * Reads only the digest partition of the email table; never a recipient, key or password.
 */
export async function getEmailHealth(
  store: Pick<EmailStore, 'listDigests'>,
  options: { now?: Date } = {},
): Promise<EmailHealth> {
  const now = (options.now ?? new Date()).getTime();
  let latest: EmailHealth['latest'] = null;
  let lastSent: EmailHealth['lastSent'] = null;
  const failures: EmailHealth['failures'] = [];
  for (const record of await recentDigests(store)) {
    const stale =
      record.state === 'sending' && record.claimedUntil !== null && Date.parse(record.claimedUntil) <= now;
    latest ??= {
      runId: record.runId,
      state: record.state,
      provider: record.provider,
      attempts: record.attempts,
      at: record.updatedAt,
      reason: record.reason,
    };
    if (record.state === 'sent') {
      lastSent = { runId: record.runId, at: record.sentAt ?? record.updatedAt, messageId: record.messageId };
      break;
    }
    if (record.state === 'failed' || stale) {
      failures.push({
        runId: record.runId,
        at: record.updatedAt,
        reason: record.reason ?? 'the send was interrupted and never confirmed',
      });
    }
  }
  return {
    status: latest === null ? 'none' : failures.length ? 'failing' : 'ok',
    latest,
    lastSent,
    failures,
  };
}
