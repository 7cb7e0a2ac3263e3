// POST /api/runs/{runId}/email: sends a run's digest now, once per Idempotency-Key, to EMAIL_TO or the body's list.

import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';

import type { RouteAccess } from '../http/authorize';
import { CACHE_CONTROL } from '../http/conditional';
import { routeHandler } from '../http/handle';
import { problemResponse, RequestValidationError } from '../http/problem';
import { API_ROUTES } from '../http/routes';
import { emailRunResponseSchema, noQuerySchema, runPathSchema } from '../http/schemas';
import { parsePathParams, parseQuery, readJsonBody } from '../http/validate';
import type { NotifyOutcome, RunNotifier } from '../notify/notifyRun';
import type { EmailRecord } from '../store/emailStore';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../store/emailStore';

/** The route, from the routes table (src/http/routes.ts). */
export const EMAIL_RUN_ROUTE = API_ROUTES.emailRun;

export const MAX_EMAIL_RECIPIENTS = 20;
export const MAX_EMAIL_BODY_BYTES = 16 * 1024;
/** How long a client should wait before asking again about a send in progress. */
const IN_PROGRESS_RETRY_AFTER_IN_SECONDS = 10;

export const emailRunBodySchema = z
  .object({
    to: z
      .array(z.email({ message: 'must be an email address such as compliance@contoso.com' }).max(254))
      .min(1, { message: 'must name at least one address, or leave `to` out to use EMAIL_TO' })
      .max(MAX_EMAIL_RECIPIENTS, { message: `must name at most ${MAX_EMAIL_RECIPIENTS} addresses` })
      .optional()
      .meta({
        description:
          'Recipients instead of EMAIL_TO, each allowed by EMAIL_TO or EMAIL_ALLOWED_RECIPIENTS (403 otherwise).',
      }),
  })
  .strict()
  .meta({ description: 'Optional: an empty body sends to EMAIL_TO.' });

export interface EmailRunDependencies {
  notify: RunNotifier;
  config: RouteAccess;
}

/**
 * The Idempotency-Key header (draft-ietf-httpapi-idempotency-key-header): required, so a retried request cannot
 * send twice. Its value is a structured-field string, so surrounding quotes are accepted and dropped.
 */
export function idempotencyKeyOf(header: string | null): string {
  const issue = (detail: string) =>
    new RequestValidationError([{ in: 'header', name: 'Idempotency-Key', detail }]);
  if (header === null || header.trim() === '') {
    throw issue(
      'is required: send a fresh unique value (a UUID) per intended email, and the same value when retrying it',
    );
  }
  let key = header.trim();
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) key = key.slice(1, -1);
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
    throw issue(`must be 1-${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters, such as a UUID`);
  }
  return key;
}

function view(record: EmailRecord): z.infer<typeof emailRunResponseSchema> {
  return {
    runId: record.runId,
    state: record.state,
    provider: record.provider,
    recipients: record.recipients,
    subject: record.subject,
    messageId: record.messageId,
    attempts: record.attempts,
    sentAt: record.sentAt,
    reason: record.reason,
  };
}

function respond(outcome: NotifyOutcome): HttpResponseInit {
  const json = (status: number, body: unknown, extra: Record<string, string> = {}): HttpResponseInit => ({
    status,
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': CACHE_CONTROL.noStore,
      ...extra,
    },
    body: JSON.stringify(body),
  });
  switch (outcome.status) {
    case 'sent':
      return json(200, view(outcome.record));
    case 'alreadySent':
      return json(200, view(outcome.record), { 'Idempotent-Replayed': 'true' });
    case 'inProgress':
      return problemResponse(
        409,
        `A request with this Idempotency-Key is still being sent (attempt ${outcome.record.attempts}). Repeat the same request after ${IN_PROGRESS_RETRY_AFTER_IN_SECONDS} s to get its outcome.`,
        {
          type: 'urn:aks-fips-auditor:problem:idempotency-key-in-progress',
          title: 'This request is still being processed',
          runId: outcome.record.runId,
        },
        { 'Retry-After': String(IN_PROGRESS_RETRY_AFTER_IN_SECONDS) },
      );
    case 'failed':
    case 'alreadyFailed':
      return problemResponse(
        502,
        `The digest of run ${outcome.record.runId} could not be sent: ${outcome.record.reason ?? 'unknown reason'}. This Idempotency-Key keeps that outcome; to try again, fix the cause and send a new key.`,
        {
          type: 'urn:aks-fips-auditor:problem:email-failed',
          title: 'The email could not be sent',
          email: view(outcome.record),
        },
        outcome.status === 'alreadyFailed' ? { 'Idempotent-Replayed': 'true' } : {},
      );
    case 'notConfigured':
      return problemResponse(503, `${outcome.reason} Then restart the app.`);
    case 'skipped':
    case 'alreadySkipped':
      // A request is always sent; a skipped outcome here is a fault of the app.
      return problemResponse(500, `The digest was not sent: ${outcome.reason}.`);
  }
}

export function emailRunHandler(deps: EmailRunDependencies) {
  return routeHandler(
    EMAIL_RUN_ROUTE,
    deps.config,
    async (request, context: InvocationContext): Promise<HttpResponseInit> => {
      parseQuery(request.query, { schema: noQuerySchema, ignored: ['code'] });
      const { runId } = parsePathParams(request.params, runPathSchema);
      const idempotencyKey = idempotencyKeyOf(request.headers.get('idempotency-key'));
      const body = await readJsonBody(request, emailRunBodySchema, { maxBytes: MAX_EMAIL_BODY_BYTES });
      const to = body.to ? [...new Map(body.to.map((a) => [a.toLowerCase(), a])).values()] : undefined;
      const outcome = await deps.notify(runId, { idempotencyKey, ...(to ? { to } : {}) });
      context.log(
        `Email of run ${runId} (Idempotency-Key ${idempotencyKey.slice(0, 40)}): ${outcome.status}`,
      );
      return respond(outcome);
    },
  );
}
