// Sends one run's digest exactly once: record claimed before the send, retries with backoff, outcome recorded after.

import { randomUUID } from 'node:crypto';

import { classifySendError, type EmailMessage, type EmailSender } from '../azure/emailSender';
import { backoffDelayInMs, type RetryPolicy } from '../azure/retryPolicy';
import type { RunRecord } from '../core/run';
import { isFailedStatus } from '../core/run';
import { isRunId } from '../core/runId';
import {
  type DigestDecision,
  type EmailMode,
  shouldSendAlert,
  shouldSendDigest,
} from '../core/shouldSendDigest';
import { describeError, InputError, NotFoundError } from '../errors';
import { renderFailureAlert } from '../render/failureAlert';
import {
  type EmailKey,
  type EmailRecord,
  EmailRecordConflictError,
  type EmailStore,
} from '../store/emailStore';
import { checkRequestedEmail } from './requestedEmailPolicy';
import { buildRunDigest, type NotifyRunSource } from './runDigest';

export interface NotifyDependencies {
  /** `allowedRecipients`: EMAIL_ALLOWED_RECIPIENTS, which requested emails may also go to (EMAIL_TO only when absent). */
  email: {
    mode: EmailMode;
    sender: string | null;
    to: readonly string[];
    allowedRecipients?: readonly string[];
  };
  reportBaseUrl: string | null;
  runs: NotifyRunSource;
  emails: EmailStore;
  /** Null when no provider is configured: scheduled digests are then skipped, requests refused. */
  sender: EmailSender | null;
  retryPolicy?: RetryPolicy;
  /** How long a claim keeps other instances off; the send and its retries must end well within it. */
  claimTtlInMs?: number;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  log?: (message: string) => void;
}

export interface NotifyOptions {
  /** Someone asked for it (POST /api/runs/{runId}/email, `"email": true`, the CLI): sent whatever EMAIL_MODE. */
  requested?: boolean;
  /** An on-demand send with its own record under this key (POST /api/runs/{runId}/email). */
  idempotencyKey?: string;
  /** Recipients instead of EMAIL_TO (already validated). */
  to?: readonly string[];
  /**
   * The platform retried the invocation that held the claim, so that attempt has ended: take its claim over at
   * once instead of waiting for it to expire. Only the timer can know this (it runs as a singleton).
   */
  takeOverClaim?: boolean;
}

export type NotifyOutcome =
  | { status: 'sent' | 'alreadySent' | 'inProgress' | 'failed' | 'alreadyFailed'; record: EmailRecord }
  /** Decided now (record null: EMAIL_MODE off, nothing stored), or found decided earlier (`alreadySkipped`). */
  | { status: 'skipped' | 'alreadySkipped'; reason: string; record: EmailRecord | null }
  | { status: 'notConfigured'; reason: string };

export type RunNotifier = (runId: string, options?: NotifyOptions) => Promise<NotifyOutcome>;

/** Five attempts over about half a minute; Retry-After wins when the service sends it. */
export const EMAIL_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayInMs: 2_000,
  maxDelayInMs: 60_000,
  retryableStatuses: new Set([408, 429, 500, 502, 503, 504]),
};
export const EMAIL_CLAIM_TTL_IN_MS = 10 * 60_000;
/** ACS takes 10 MB per request, base64 included; leave room for the HTML. */

/** The run is not in a state that has a digest (still running, or failed without results). */
export class RunNotEmailableError extends InputError {
  constructor(message: string) {
    super(message, 422);
  }
}

function requestHashOf(to: readonly string[]): string {
  return JSON.stringify([...new Set(to.map((a) => a.toLowerCase()))].sort());
}

function keyOf(runId: string, options: NotifyOptions): EmailKey {
  return options.idempotencyKey === undefined
    ? { runId, kind: 'digest' }
    : { runId, kind: 'request', idempotencyKey: options.idempotencyKey };
}

/** The outcome for a record someone else holds or finished. */
function existingOutcome(record: EmailRecord): NotifyOutcome {
  switch (record.state) {
    case 'sent':
      return { status: 'alreadySent', record };
    case 'failed':
      return { status: 'alreadyFailed', record };
    case 'skipped':
      return { status: 'alreadySkipped', reason: record.reason ?? 'skipped', record };
    case 'sending':
      return { status: 'inProgress', record };
  }
}

/** Thrown for an Idempotency-Key already used for another request (other recipients). */
export class IdempotencyKeyReusedError extends InputError {
  constructor(readonly record: EmailRecord) {
    super(
      `This Idempotency-Key was already used for another request to email run ${record.runId} (other recipients). Use a new key for a new request.`,
      422,
    );
  }
}

/** The run's email outcome on its record, for GET /api/runs/{runId}: best effort, the email table is the truth. */
async function noteOnRun(deps: NotifyDependencies, run: RunRecord, record: EmailRecord): Promise<void> {
  try {
    await deps.runs.noteEmail(run.id, {
      state: record.state,
      provider: record.provider,
      attempts: record.attempts,
      messageId: record.messageId,
      reason: record.reason,
      at: record.updatedAt,
    });
  } catch (error) {
    deps.log?.(`Could not note the email outcome on run ${run.id}: ${describeError(error)}`);
  }
}

/**
 * Sends the digest of `runId` once. Outcomes, not exceptions, for everything about the email (a failed send is
 * `failed`, recorded and mentioned in the next digest); exceptions only for a missing or unfinished run, a reused
 * idempotency key, or storage that cannot record (then nothing was marked sent, and a retry resumes).
 */
export async function notifyRun(
  deps: NotifyDependencies,
  runId: string,
  options: NotifyOptions = {},
): Promise<NotifyOutcome> {
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? (() => undefined);
  const requested = options.requested === true || options.idempotencyKey !== undefined;
  if (!isRunId(runId)) throw new NotFoundError(`No stored run ${runId}.`);
  if (!requested && deps.email.mode === 'off')
    return { status: 'skipped', reason: 'EMAIL_MODE is off', record: null };
  const to = options.to ?? deps.email.to;
  if (!deps.sender || !deps.email.sender || to.length === 0) {
    return {
      status: 'notConfigured',
      reason:
        'Email is not configured: set EMAIL_ENDPOINT or EMAIL_CONNECTION_STRING (ACS) or SMTP_HOST (SMTP), with EMAIL_SENDER and EMAIL_TO.',
    };
  }
  const key = keyOf(runId, options);
  const requestHash = key.kind === 'request' ? requestHashOf(to) : null;

  const existing = await deps.emails.get(key);
  await checkRequestedEmail(deps, { runId, to: options.to, newKey: key.kind === 'request' && !existing });
  if (existing && requestHash !== null && existing.requestHash !== requestHash) {
    throw new IdempotencyKeyReusedError(existing);
  }
  if (existing && existing.state !== 'sending') return existingOutcome(existing);
  if (
    existing?.claimedUntil &&
    Date.parse(existing.claimedUntil) > now().getTime() &&
    !options.takeOverClaim
  ) {
    return { status: 'inProgress', record: existing };
  }

  const run = await deps.runs.getRun(runId);
  if (!run) throw new NotFoundError(`No stored run ${runId}.`);
  if (run.status === 'running') {
    throw new RunNotEmailableError(`Run ${runId} is still running; email it once it has finished.`);
  }
  // A run that could not complete has no digest: its record gets the "audit could not complete" alert instead.
  const failed = isFailedStatus(run.status);
  if (failed && key.kind === 'request') {
    throw new RunNotEmailableError(
      `Run ${runId} ${run.status}, so it has no results to email. Start a new audit.`,
    );
  }
  const address = { from: deps.email.sender, to };
  const built = failed ? null : await buildRunDigest(deps, run, address);
  const message: EmailMessage = built?.message ?? alertMessage(run, deps.reportBaseUrl, address);
  const createdAt = now().toISOString();
  const init = {
    runId,
    kind: key.kind,
    idempotencyKey: key.idempotencyKey ?? null,
    provider: deps.sender.provider,
    operationId: randomUUID(),
    attempts: 0,
    attemptInFlight: false,
    recipients: [...to],
    requestHash,
    subject: message.subject,
    messageId: null,
    reason: null,
    createdAt,
    updatedAt: createdAt,
    sentAt: null,
    claimedUntil: null,
  };

  if (key.kind === 'digest' && !requested) {
    const decision: DigestDecision = built
      ? shouldSendDigest(built.diff, {
          mode: deps.email.mode,
          trigger: run.trigger,
          requested,
          incomplete: run.status === 'partial',
          undeliveredEarlier: built.earlierFailures.length,
        })
      : shouldSendAlert({
          mode: deps.email.mode,
          trigger: run.trigger,
          requested: run.emailRequested === true,
        });
    if (!decision.send) {
      const { record } = await deps.emails.create({ ...init, state: 'skipped', reason: decision.reason });
      log(`Email of run ${runId} not sent: ${decision.reason}`);
      return record.state === 'skipped'
        ? { status: 'skipped', reason: decision.reason, record }
        : existingOutcome(record);
    }
  }

  const claimTtlInMs = deps.claimTtlInMs ?? EMAIL_CLAIM_TTL_IN_MS;
  const claim = await deps.emails.claim(
    { ...init, state: 'sending' },
    { now: now(), claimTtlInMs, takeOver: options.takeOverClaim === true },
  );
  if (!claim.claimed) return existingOutcome(claim.record);
  let record = claim.record;
  if (claim.takenOver) {
    log(
      `Taking over the unfinished send of run ${runId}'s digest (operation ${record.operationId}, ${record.attempts} attempt(s) so far)`,
    );
    if (record.attemptInFlight && !deps.sender.idempotent) {
      // SMTP cannot tell whether the interrupted attempt was delivered; a second send could duplicate it.
      record = await deps.emails.update(record, {
        state: 'failed',
        attemptInFlight: false,
        claimedUntil: null,
        updatedAt: now().toISOString(),
        reason: `The send was interrupted mid-way and its outcome is unknown; it is not repeated over ${deps.sender.provider.toUpperCase()}, which could deliver it twice (Message-ID <${record.operationId}@…>).`,
      });
      if (key.kind === 'digest') await noteOnRun(deps, run, record);
      return { status: 'failed', record };
    }
  }

  record = await sendWithRetries(deps, message, record, claimTtlInMs);
  if (key.kind === 'digest') await noteOnRun(deps, run, record);
  if (record.state === 'sent')
    log(`Digest of run ${runId} sent to ${to.length} recipient(s) (${record.messageId ?? ''})`);
  else if (record.state === 'failed') log(`Digest of run ${runId} could not be sent: ${record.reason ?? ''}`);
  return record.state === 'sent' || record.state === 'failed'
    ? { status: record.state, record }
    : existingOutcome(record);
}

/** The "audit could not complete" alert of a failed or abandoned run, as a message. */
function alertMessage(
  run: RunRecord,
  reportBaseUrl: string | null,
  address: { from: string; to: readonly string[] },
): EmailMessage {
  const alert = renderFailureAlert(run, reportBaseUrl);
  return {
    from: address.from,
    to: address.to,
    subject: alert.subject,
    html: alert.html,
    text: alert.text,
    attachments: [],
    headers: { 'X-FIPS-Audit-Run': run.id },
  };
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Attempts under the claim; each attempt is counted on the record before it starts, so a takeover knows. */
async function sendWithRetries(
  deps: NotifyDependencies,
  message: EmailMessage,
  claimed: EmailRecord,
  claimTtlInMs: number,
): Promise<EmailRecord> {
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? defaultSleep;
  const policy = deps.retryPolicy ?? EMAIL_RETRY_POLICY;
  const sender = deps.sender as EmailSender;
  // Stop well before the claim runs out, so no other instance takes over while this one may still send.
  const deadline = now().getTime() + claimTtlInMs * 0.8;
  let record = claimed;
  for (let attempt = 1; ; attempt++) {
    record = await deps.emails.update(record, {
      attempts: record.attempts + 1,
      attemptInFlight: true,
      updatedAt: now().toISOString(),
    });
    let result: { messageId: string } | undefined;
    let failure: ReturnType<typeof classifySendError> | undefined;
    try {
      const remaining = Math.max(1, deadline - now().getTime());
      result = await sender.send(message, {
        operationId: record.operationId,
        abortSignal: AbortSignal.timeout(remaining),
      });
    } catch (error) {
      failure = classifySendError(error, now());
    }
    // Recording happens outside the try: a storage error after a delivered send must never pass for a send error
    // (that would record `failed`, or worse, send again). It propagates, and the record stays `sending`.
    if (result) {
      return finish(deps, record, {
        state: 'sent',
        messageId: result.messageId,
        sentAt: now().toISOString(),
        reason: null,
      });
    }
    const { transient, reason, retryAfterInMs } = failure!;
    const wait = retryAfterInMs ?? backoffDelayInMs(policy, attempt);
    const fits = now().getTime() + wait < deadline;
    if (transient && attempt < policy.maxAttempts && fits && wait <= policy.maxDelayInMs) {
      deps.log?.(
        `Email attempt ${record.attempts} of run ${record.runId} failed (${reason}); retrying in ${wait} ms`,
      );
      // Known to have failed: should this instance die while it waits, a takeover may safely send again.
      record = await deps.emails.update(record, {
        attemptInFlight: false,
        reason: `attempt ${record.attempts}: ${reason}`,
        updatedAt: now().toISOString(),
      });
      await sleep(wait);
      continue;
    }
    const why = transient ? `${reason} (gave up after ${record.attempts} attempt(s))` : reason;
    return finish(deps, record, { state: 'failed', reason: why });
  }
}

/** Records the final state; if another instance took the claim meanwhile, its view wins and is returned. */
async function finish(
  deps: NotifyDependencies,
  record: EmailRecord,
  changes: Partial<EmailRecord>,
): Promise<EmailRecord> {
  const now = deps.now ?? (() => new Date());
  try {
    return await deps.emails.update(record, {
      ...changes,
      attemptInFlight: false,
      claimedUntil: null,
      updatedAt: now().toISOString(),
    });
  } catch (error) {
    if (!(error instanceof EmailRecordConflictError)) throw error;
    const current = await deps.emails.get({
      runId: record.runId,
      kind: record.kind,
      ...(record.idempotencyKey !== null ? { idempotencyKey: record.idempotencyKey } : {}),
    });
    deps.log?.(`The email record of run ${record.runId} was taken over while this instance sent it`);
    return current ?? record;
  }
}

/** One line saying how a send ended: to whom and through what when it was sent, why otherwise. */
export function describeOutcome(outcome: NotifyOutcome): string {
  if ('reason' in outcome) return outcome.reason;
  const r = outcome.record;
  return outcome.status === 'sent' || outcome.status === 'alreadySent'
    ? `sent to ${r.recipients.join(', ')} via ${r.provider ?? '?'} (${r.messageId ?? ''}, ${r.attempts} attempt(s))`
    : `${outcome.status}: ${r.reason ?? ''}`;
}

/**
 * A notifier over `deps`: creates the email table on first use, then calls notifyRun. This is what the timer,
 * POST /api/audits (`"email": true`) and the CLI call once an audit has completed.
 */
export function createNotifier(deps: NotifyDependencies): RunNotifier {
  let ready: Promise<void> | undefined;
  return async (runId, options = {}) => {
    const requested = options.requested === true || options.idempotencyKey !== undefined;
    // With nothing to send (EMAIL_MODE off, no provider) notifyRun answers without storage: no table is made.
    if (deps.sender && deps.email.sender && (requested || deps.email.mode !== 'off')) {
      ready ??= deps.emails.ensureTable().catch((error: unknown) => {
        ready = undefined;
        throw error;
      });
      await ready;
    }
    return notifyRun(deps, runId, options);
  };
}

/** The email side of one host: sends and health over the same dependencies, built on first use. */
