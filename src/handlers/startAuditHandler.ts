// POST /api/audits: queues an audit and answers 202 with the run ID at once; the run record shows its progress.

import type { HttpResponseInit, InvocationContext } from '@azure/functions';

import type { Config } from '../config';
import type { RunRecord } from '../core/run';
import { InputError } from '../errors';
import { CACHE_CONTROL } from '../http/conditional';
import { routeHandler } from '../http/handle';
import { API_ROUTES, ROUTE_PREFIX } from '../http/routes';
import { MAX_AUDIT_BODY_BYTES, noQuerySchema, startAuditBodySchema } from '../http/schemas';
import { parseQuery, readJsonBody } from '../http/validate';
import type { StartRequest } from '../pipeline/startRun';

/** What starting an audit needs: the settings that bound a request, and the pipeline's start. */
export interface StartAuditDependencies {
  config: Pick<Config, 'subscriptions' | 'emailProvider' | 'appServiceAuthEnabled'> & {
    email: Pick<Config['email'], 'sender' | 'to'>;
  };
  /**
   * Takes the lease, records the run and queues its plan; AuditInProgressError while a run holds the lease. The
   * audit itself runs in the queue's invocations, never after this handler's response.
   */
  start(request: StartRequest): Promise<RunRecord>;
}

/** Why `"email": true` cannot be honoured with these settings; null when it can. */
export function emailUnavailable(config: StartAuditDependencies['config']): string | null {
  if (config.emailProvider === null) {
    return 'No email provider is configured: set EMAIL_ENDPOINT or EMAIL_CONNECTION_STRING (Azure Communication Services) or SMTP_HOST (SMTP), with EMAIL_SENDER and EMAIL_TO, then restart the app; or leave out "email".';
  }
  if (config.email.sender === null || config.email.to.length === 0) {
    return 'Email has no sender or recipients: set EMAIL_SENDER and EMAIL_TO, then restart the app; or leave out "email". To mail a finished run to other addresses, use POST /api/runs/{runId}/email.';
  }
  return null;
}

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
      const run = await deps.start({
        trigger: 'http',
        ...(subscriptions ? { subscriptions } : {}),
        // Mailed once the run completes, by the completion hook (a failed run's "could not complete" alert).
        ...(email ? { emailRequested: true } : {}),
      });
      const runId = run.id;
      context.log(
        `On-demand audit ${runId} queued${subscriptions ? ` for ${subscriptions.length} subscription(s)` : ''}${email ? '; it is mailed once it completes' : ''}`,
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
