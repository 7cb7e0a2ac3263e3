// POST /api/audits: starts an audit and answers 202 with the run ID at once; the run record shows its progress.

import type { HttpResponseInit, InvocationContext } from '@azure/functions';

import type { AuditOptions } from '../auditService';
import type { Config } from '../config';
import { describeError, InputError } from '../errors';
import { CACHE_CONTROL } from '../http/conditional';
import { routeHandler } from '../http/handle';
import { API_ROUTES, ROUTE_PREFIX } from '../http/routes';
import { MAX_AUDIT_BODY_BYTES, noQuerySchema, startAuditBodySchema } from '../http/schemas';
import { parseQuery, readJsonBody } from '../http/validate';
import { type NotifyLog, notifyQuietly, type RunNotifier } from '../notify';

/** What starting an audit needs; AuditService implements it. */
export interface AuditStarter {
  config: Pick<Config, 'subscriptions' | 'emailProvider' | 'appServiceAuthEnabled'> & {
    email: Pick<Config['email'], 'sender' | 'to'>;
  };
  /** Resolves once the audit holds the lease and its run record exists; AuditInProgressError when one runs. */
  start(options: AuditOptions): Promise<{ runId: string; done: Promise<unknown> }>;
}

export interface StartAuditDependencies extends AuditStarter {
  /** Mails the run's digest once it completes, for `"email": true` (createNotifier over the app's settings). */
  notify: RunNotifier;
}

/** Why `"email": true` cannot be honoured with these settings; null when it can. */
export function emailUnavailable(config: AuditStarter['config']): string | null {
  if (config.emailProvider === null) {
    return 'No email provider is configured: set EMAIL_ENDPOINT or EMAIL_CONNECTION_STRING (Azure Communication Services) or SMTP_HOST (SMTP), with EMAIL_SENDER and EMAIL_TO, then restart the app; or leave out "email".';
  }
  if (config.email.sender === null || config.email.to.length === 0) {
    return 'Email has no sender or recipients: set EMAIL_SENDER and EMAIL_TO, then restart the app; or leave out "email". To mail a finished run to other addresses, use POST /api/runs/{runId}/email.';
  }
  return null;
}

/**
 * The audit goes on after the response, past the invocation, so its context can no longer log: outcomes are on
 * the run record (and the email table), and also go to the worker's console, which the host keeps.
 */
const backgroundLog: NotifyLog = {
  info: (message) => console.log(message),
  warn: (message) => console.warn(message),
  error: (message) => console.error(message),
};

export function startAuditHandler(deps: StartAuditDependencies) {
  return routeHandler(
    API_ROUTES.startAudit,
    deps.config,
    async (request, context: InvocationContext): Promise<HttpResponseInit> => {
      parseQuery(request.query, { schema: noQuerySchema, ignored: ['code'] });
      const body = await readJsonBody(request, startAuditBodySchema, { maxBytes: MAX_AUDIT_BODY_BYTES });
      const subscriptions = body.subscriptions
        ? [...new Set(body.subscriptions.map((s) => s.toLowerCase()))]
        : null;
      const configured = deps.config.subscriptions;
      if (subscriptions && configured) {
        // Narrowing only: a request cannot widen the audit beyond the configured subscriptions.
        const outside = subscriptions.filter((s) => !configured.includes(s));
        if (outside.length) {
          throw new InputError(
            `These subscriptions are not among AUDIT_SUBSCRIPTIONS, so this app does not audit them: ${outside.join(', ')}. Name only configured subscriptions, or leave subscriptions out.`,
            422,
          );
        }
      }
      // Refused before anything starts: an audit asked to be mailed must not run only to drop its email.
      const email = body.email === true;
      const unavailable = email ? emailUnavailable(deps.config) : null;
      if (unavailable) throw new InputError(`"email": true cannot be honoured. ${unavailable}`, 422);
      const { runId, done } = await deps.start({
        trigger: 'http',
        ...(subscriptions ? { subscriptions } : {}),
      });
      // Only when asked: an on-demand audit is never mailed by itself (notifyRun skips unrequested http runs).
      // Once the audit completes; a failed audit has nothing to mail. The email never fails the audit.
      const finished = email
        ? done.then(() => notifyQuietly(deps.notify, runId, { requested: true }, backgroundLog))
        : done;
      finished.catch((error: unknown) =>
        backgroundLog.error(`On-demand audit ${runId} failed: ${describeError(error)}`),
      );
      context.log(
        `On-demand audit ${runId} started${subscriptions ? ` for ${subscriptions.length} subscription(s)` : ''}${email ? '; its digest is mailed once it completes' : ''}`,
      );
      const location = `/${ROUTE_PREFIX}/${API_ROUTES.run.route.replace('{runId}', runId)}`;
      return {
        status: 202,
        headers: {
          'Content-Type': 'application/json; charset=utf-8',
          'Cache-Control': CACHE_CONTROL.noStore,
          Location: location,
          'Retry-After': '5',
        },
        body: JSON.stringify({ runId, status: 'running', location, subscriptions, email }),
      };
    },
  );
}
