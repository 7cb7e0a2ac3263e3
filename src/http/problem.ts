// Problem details (RFC 9457): the one mapping from thrown errors to HTTP error responses.

import type { HttpResponseInit } from '@azure/functions';

import {
  AuditInProgressError,
  AzureAccessError,
  ConfigError,
  describeError,
  InputError,
  NotFoundError,
  RefusedError,
  StorageUnavailableError,
  UpstreamError,
} from '../errors';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** One thing wrong with a request: where (`query`, `path`, `body`, `header`), which name, and what to change. */
export interface RequestIssue {
  in: 'query' | 'path' | 'body' | 'header';
  name: string;
  detail: string;
}

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

/** A request that failed validation, with every issue found (not only the first). */
export class RequestValidationError extends InputError {
  constructor(
    readonly issues: RequestIssue[],
    status: 400 | 413 | 415 | 422 = 400,
  ) {
    super(issues.map((i) => `${i.in} ${i.name}: ${i.detail}`).join('; '), status);
  }
}

/** The route exists but not for this method; `allow` lists the methods it has. */
export class MethodNotAllowedError extends InputError {
  constructor(
    method: string,
    readonly allow: readonly string[],
  ) {
    super(`${method.slice(0, 20)} is not supported here. Use ${allow.join(' or ')}.`, 405);
  }
}

/** No representation the client accepts: HTTP 406. */
export class NotAcceptableError extends Error {
  override readonly name = 'NotAcceptableError';
}

const TYPE_PREFIX = 'urn:aks-fips-auditor:problem:';

const TITLES: Record<number, [slug: string, title: string]> = {
  400: ['invalid-request', 'The request is not valid'],
  401: ['unauthenticated', 'Sign-in required'],
  403: ['forbidden', 'Forbidden'],
  404: ['not-found', 'Not found'],
  405: ['method-not-allowed', 'Method not allowed'],
  406: ['not-acceptable', 'No acceptable representation'],
  408: ['request-timeout', 'The request did not arrive in time'],
  409: ['audit-in-progress', 'An audit is already running'],
  413: ['body-too-large', 'Request body too large'],
  415: ['unsupported-media-type', 'Unsupported media type'],
  417: ['expectation-failed', 'Expectation not supported'],
  422: ['unprocessable', 'The request cannot be carried out'],
  431: ['headers-too-large', 'Request headers too large'],
  500: ['internal-error', 'Internal error'],
  502: ['upstream-error', 'An Azure service answered with an error'],
  503: ['not-configured', 'The app is not configured'],
};

/** A problem+json response; `extensions` add members such as `errors` or `runId`. */
export function problemResponse(
  status: number,
  detail: string,
  extensions: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): HttpResponseInit {
  const [slug, title] = TITLES[status] ?? ['error', 'Error'];
  const body: ProblemDetails = { type: `${TYPE_PREFIX}${slug}`, title, status, detail, ...extensions };
  return {
    status,
    headers: {
      'Content-Type': PROBLEM_CONTENT_TYPE,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      ...headers,
    },
    body: JSON.stringify(body),
  };
}

function isRestError(error: unknown): error is Error & { statusCode?: number } {
  return error instanceof Error && error.name === 'RestError';
}

/**
 * Maps any thrown value to a problem response, once: caller errors keep their message (it says what to
 * change); server errors are sanitized (no keys, signatures or tokens) and never carry a stack.
 */
export function toProblem(error: unknown, context: { invocationId?: string } = {}): HttpResponseInit {
  const correlation = context.invocationId ? { invocationId: context.invocationId } : {};
  if (error instanceof MethodNotAllowedError) {
    return problemResponse(405, error.message, {}, { Allow: error.allow.join(', ') });
  }
  if (error instanceof RequestValidationError) {
    return problemResponse(error.status, error.message, { errors: error.issues });
  }
  if (error instanceof RefusedError) {
    const { slug, ...members } = error.problem;
    return problemResponse(403, error.message, { ...members, type: `${TYPE_PREFIX}${slug}` });
  }
  if (error instanceof InputError) return problemResponse(error.status, error.message);
  if (error instanceof NotAcceptableError) return problemResponse(406, error.message);
  if (error instanceof NotFoundError) return problemResponse(404, error.message);
  if (error instanceof AuditInProgressError) {
    return problemResponse(
      409,
      `${error.message} Follow it at /api/runs/${error.runId} and start another audit once it has finished.`,
      { runId: error.runId, run: `/api/runs/${error.runId}` },
      { 'Retry-After': '30' },
    );
  }
  if (error instanceof ConfigError) {
    return problemResponse(
      503,
      `${describeError(error)} Fix the app settings and restart the app.`,
      correlation,
    );
  }
  if (
    error instanceof UpstreamError ||
    error instanceof StorageUnavailableError ||
    error instanceof AzureAccessError ||
    isRestError(error)
  ) {
    return problemResponse(
      502,
      `${describeError(error)}. Try again later; if it persists, check the app's access to Azure.`,
      correlation,
    );
  }
  return problemResponse(
    500,
    `${describeError(error)}. This is a fault of the app, not of the request; it was logged${context.invocationId ? ` with invocation ID ${context.invocationId}` : ''}.`,
    correlation,
  );
}
