// POST /api/audits: starts an audit and answers 202 with the run ID at once; the run record shows its progress.

import type { HttpResponseInit, InvocationContext } from '@azure/functions';

import type { AuditOptions } from '../auditService';
import { describeError, InputError } from '../errors';
import { CACHE_CONTROL } from '../http/conditional';
import { routeHandler } from '../http/handle';
import { API_ROUTES, ROUTE_PREFIX } from '../http/routes';
import { MAX_AUDIT_BODY_BYTES, noQuerySchema, startAuditBodySchema } from '../http/schemas';
import { parseQuery, readJsonBody } from '../http/validate';

/** What starting an audit needs; AuditService implements it. */
export interface AuditStarter {
  config: { subscriptions: readonly string[] | null };
  /** Resolves once the audit holds the lease and its run record exists; AuditInProgressError when one runs. */
  start(options: AuditOptions): Promise<{ runId: string; done: Promise<unknown> }>;
}

export function startAuditHandler(deps: AuditStarter) {
  return routeHandler(
    API_ROUTES.startAudit,
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
      const { runId, done } = await deps.start({
        trigger: 'http',
        ...(subscriptions ? { subscriptions } : {}),
      });
      // The audit goes on after this response, past the invocation, so its context can no longer log: the
      // outcome is on the run record, and a failure also goes to the worker's console (the host keeps it).
      done.catch((error: unknown) =>
        console.error(`On-demand audit ${runId} failed: ${describeError(error)}`),
      );
      context.log(
        `On-demand audit ${runId} started${subscriptions ? ` for ${subscriptions.length} subscription(s)` : ''}`,
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
        body: JSON.stringify({ runId, status: 'running', location, subscriptions }),
      };
    },
  );
}
