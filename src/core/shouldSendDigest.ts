// When a run's digest is mailed: EMAIL_MODE (always, changes, off), who asked, and digests that never arrived.

import { hasChanges, type RunDiff } from './diffRuns';
import type { RunTrigger } from './types';

export type EmailMode = 'always' | 'changes' | 'off';

export interface DigestContext {
  mode: EmailMode;
  /** What started the run: `timer` and `cli` audits follow EMAIL_MODE; `http` audits email only when asked. */
  trigger: RunTrigger;
  /** Someone asked for this digest (POST /api/runs/{runId}/email, `"email": true`, the CLI `email` command). */
  requested: boolean;
  /** The run is partial: some scope could not be read. Its digest doubles as the alert, so it always goes out. */
  incomplete?: boolean;
  /** Digests of earlier runs that failed since the last one that was sent: their changes were never heard of. */
  undeliveredEarlier: number;
}

export type DigestDecision = { send: true; reason: string } | { send: false; reason: string };

/**
 * The rules, in order:
 * 1. asked for: always sent, whatever EMAIL_MODE (off stops scheduled digests, not explicit requests);
 * 2. an on-demand (`http`) audit that nobody asked to email: not sent;
 * 3. `off`: not sent; `always`: sent; an incomplete (partial) run: sent, so nobody takes silence for clean;
 * 4. `changes`: sent for the first run, new or resolved findings, newly unknown pools, a scope newly unreadable,
 *    expiring or lapsed exemptions, and when an earlier digest failed (its changes are compared away otherwise).
 */
export function shouldSendDigest(diff: RunDiff, context: DigestContext): DigestDecision {
  if (context.requested) return { send: true, reason: 'requested' };
  if (context.trigger === 'http') {
    return { send: false, reason: 'an on-demand audit is emailed only when the request asks for it' };
  }
  if (context.mode === 'off') return { send: false, reason: 'EMAIL_MODE is off' };
  if (context.mode === 'always') return { send: true, reason: 'EMAIL_MODE is always' };
  if (context.incomplete)
    return { send: true, reason: 'the audit is incomplete: some scopes could not be read' };
  if (context.undeliveredEarlier > 0) {
    return { send: true, reason: `${context.undeliveredEarlier} earlier digest(s) could not be sent` };
  }
  if (hasChanges(diff)) {
    return {
      send: true,
      reason: diff.previousRunId === null ? 'first audit' : 'changes since the previous good run',
    };
  }
  return {
    send: false,
    reason: `EMAIL_MODE is changes and nothing changed since run ${diff.previousRunId ?? '(none)'}`,
  };
}

/**
 * Whether a run that could not complete is mailed its "audit could not complete" alert: scheduled and CLI runs
 * unless EMAIL_MODE is off; an on-demand run only when its request asked for email.
 */
export function shouldSendAlert(
  context: Omit<DigestContext, 'undeliveredEarlier' | 'incomplete'>,
): DigestDecision {
  if (context.requested) return { send: true, reason: 'requested' };
  if (context.trigger === 'http') {
    return { send: false, reason: 'an on-demand audit is emailed only when the request asks for it' };
  }
  if (context.mode === 'off') return { send: false, reason: 'EMAIL_MODE is off' };
  return { send: true, reason: 'the audit could not complete' };
}
