// Where a digest may be mailed on request, and how often: EMAIL_ALLOWED_RECIPIENTS and a per-run cap.

import { RefusedError } from '../errors';
import type { EmailStore } from '../store/emailStore';

/**
 * Requested emails (distinct Idempotency-Keys: `POST /api/runs/{runId}/email`, the `email` command) one run may
 * have. A digest goes to its people once a day; ten deliberate re-sends of one run cover forwarding it to an
 * assessor or a new team member, and bound what a leaked key or role can do with the API as a mail cannon.
 */
export const MAX_REQUESTED_EMAILS_PER_RUN = 10;

/** The settings the policy reads: EMAIL_TO and EMAIL_ALLOWED_RECIPIENTS (lowercased entries). */
export interface RecipientSettings {
  to: readonly string[];
  /** Addresses and `@domain` entries; absent or empty: EMAIL_TO only. */
  allowedRecipients?: readonly string[];
}

/**
 * The recipients of `to` that neither EMAIL_TO nor EMAIL_ALLOWED_RECIPIENTS covers: an address matches itself
 * and a `@domain` entry matches every address of exactly that domain (not its subdomains), all case-insensitively.
 */
export function recipientsNotAllowed(to: readonly string[], settings: RecipientSettings): string[] {
  const allowed = new Set(
    [...settings.to, ...(settings.allowedRecipients ?? [])].map((e) => e.toLowerCase()),
  );
  return to.filter((address) => {
    const lower = address.toLowerCase();
    const at = lower.lastIndexOf('@');
    return !allowed.has(lower) && !(at > 0 && allowed.has(lower.slice(at)));
  });
}

/** Refuses (403) recipients outside EMAIL_TO and EMAIL_ALLOWED_RECIPIENTS. */
export function assertRecipientsAllowed(to: readonly string[], settings: RecipientSettings): void {
  const refused = recipientsNotAllowed(to, settings);
  if (refused.length === 0) return;
  const shown =
    refused.slice(0, 5).join(', ') + (refused.length > 5 ? ` and ${refused.length - 5} more` : '');
  throw new RefusedError(
    `Not sent: ${shown} ${refused.length === 1 ? 'is' : 'are'} outside the recipients this app may mail. A requested email goes only to EMAIL_TO and to the addresses and @domain entries of EMAIL_ALLOWED_RECIPIENTS; ask the app's operator to add ${refused.length === 1 ? 'it' : 'them'} there, or leave \`to\` out to send to EMAIL_TO.`,
    { slug: 'recipient-not-allowed', title: 'Recipient not allowed', setting: 'EMAIL_ALLOWED_RECIPIENTS' },
  );
}

/**
 * Refuses (403) a new requested email of `runId` once the run has MAX_REQUESTED_EMAILS_PER_RUN of them, counted
 * as distinct Idempotency-Keys in the email table. A repeat of an earlier key is never counted (it replays its
 * outcome). Checked before the send: requests racing past it at the same moment can overshoot by as many as race.
 */
export async function assertRequestCapNotReached(
  emails: Pick<EmailStore, 'listRequests'>,
  runId: string,
): Promise<void> {
  let count = 0;
  for await (const _record of emails.listRequests(runId)) {
    if (++count >= MAX_REQUESTED_EMAILS_PER_RUN) {
      throw new RefusedError(
        `Not sent: run ${runId} has been emailed on request ${MAX_REQUESTED_EMAILS_PER_RUN} times already, the most one run may be (MAX_REQUESTED_EMAILS_PER_RUN). Repeat an earlier request with its Idempotency-Key to get its outcome, or email a later run.`,
        {
          slug: 'email-cap-reached',
          title: 'Too many emails of this run',
          limit: MAX_REQUESTED_EMAILS_PER_RUN,
        },
      );
    }
  }
}

/**
 * The one check notifyRun makes before a requested send (an Idempotency-Key): recipients first (no storage read),
 * then the cap, which only a key not seen before can reach.
 */
export async function checkRequestedEmail(
  deps: { emails: Pick<EmailStore, 'listRequests'>; email: RecipientSettings },
  request: { runId: string; to: readonly string[] | undefined; newKey: boolean },
): Promise<void> {
  if (request.to) assertRecipientsAllowed(request.to, deps.email);
  if (request.newKey) await assertRequestCapNotReached(deps.emails, request.runId);
}
