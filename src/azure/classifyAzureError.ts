// Sorts anything the @azure clients and the credential chain throw into what it means for a retry.

import { sanitize } from '../errors';

/**
 * - `credentialUnavailable`: no credential of the chain could produce a token (@azure/identity
 *   `CredentialUnavailableError` or `AuthenticationRequiredError`, or the chain's `AggregateAuthenticationError`
 *   of them; a managed identity endpoint that refuses ends here);
 * - `authenticationFailed`: a token was refused: Entra ID refused the credential (`AuthenticationError`), or ARM
 *   answered 401 (`InvalidAuthenticationToken`, `InvalidAuthenticationTokenAudience`, `ExpiredAuthenticationToken`…);
 * - `authorizationFailed`: 403 (`AuthorizationFailed`, Resource Graph's `AccessDenied`): the identity may not read
 *   that scope;
 * - `throttled`: 429; `serverError`: 408 or 5xx; `timeout`: no answer in time (our request timeout, a socket
 *   ETIMEDOUT); `network`: the request never got an answer (refused, reset, DNS);
 * - `aborted`: the caller's AbortSignal fired; `payloadTooLarge`: Resource Graph's 400 ResponsePayloadTooLarge;
 * - `notFound`: 404; `badRequest`: any other 4xx; `unknown`: anything else (a bug, a parse error).
 */
export type AzureFailureKind =
  | 'credentialUnavailable'
  | 'authenticationFailed'
  | 'authorizationFailed'
  | 'throttled'
  | 'serverError'
  | 'timeout'
  | 'network'
  | 'aborted'
  | 'payloadTooLarge'
  | 'notFound'
  | 'badRequest'
  | 'unknown';

export interface AzureFailure {
  kind: AzureFailureKind;
  /** Worth another attempt: throttling, 408/5xx, timeouts and network errors, and nothing else. */
  retryable: boolean;
  /** Nothing will be read with these credentials: stop the run instead of failing scope after scope. */
  fatal: boolean;
  /** Thrown by the credential (no token was sent), rather than answered by the service. */
  fromCredential: boolean;
  /** HTTP status, when the service answered. */
  status?: number;
  /** The most specific code known: the service's inner error code, the Node error code, or the kind. */
  code: string;
  /** What the service or the credential said, secrets removed, on one line. */
  message: string;
  /** The credential chain's attempts, one line each, when the failure came from the chain. */
  attempts?: string[];
}

const RETRYABLE: ReadonlySet<AzureFailureKind> = new Set(['throttled', 'serverError', 'timeout', 'network']);
const FATAL: ReadonlySet<AzureFailureKind> = new Set(['credentialUnavailable', 'authenticationFailed']);

/** Node and core-rest-pipeline codes of a request that never got an answer. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'UND_ERR_SOCKET',
  'REQUEST_SEND_ERROR',
]);
const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  statusCode?: unknown;
  details?: unknown;
  errors?: unknown;
  cause?: unknown;
}

function asObject(value: unknown): ErrorLike {
  return typeof value === 'object' && value !== null ? value : {};
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** First line, secrets removed, at most `max` characters. */
export function oneLine(value: string, max = 300): string {
  const line =
    sanitize(value)
      .split(/\r?\n/)
      .find((l) => l.trim() !== '') ?? '';
  const trimmed = line.trim();
  return trimmed.length > max ? `${trimmed.slice(0, max - 1)}…` : trimmed;
}

/**
 * The ARM error body `{ error: { code, message, details: [{ code, message }] } }` as the modular clients attach it
 * (`RestError.details`); the innermost detail is the specific one (`ResponsePayloadTooLarge` under `BadRequest`).
 */
function armError(error: ErrorLike): { code?: string; message?: string } {
  const body = asObject((asObject(error.details) as { error?: unknown }).error);
  const inner = Array.isArray(body.details) ? asObject(body.details[0]) : {};
  return {
    code: text(inner.code) ?? text(body.code),
    message: text(inner.message) ?? text(body.message),
  };
}

function make(
  kind: AzureFailureKind,
  code: string,
  message: string,
  extra: { status?: number; attempts?: string[] } = {},
): AzureFailure {
  return {
    kind,
    retryable: RETRYABLE.has(kind),
    fatal: FATAL.has(kind),
    // Only the credential's own errors carry the chain's attempts.
    fromCredential: extra.attempts !== undefined,
    code,
    message: oneLine(message, 600),
    ...(extra.status !== undefined ? { status: extra.status } : {}),
    ...(extra.attempts ? { attempts: extra.attempts } : {}),
  };
}

function kindOfStatus(status: number, code: string | undefined): AzureFailureKind {
  if (status === 401) return 'authenticationFailed';
  if (status === 403) return 'authorizationFailed';
  if (status === 404) return 'notFound';
  if (status === 408) return 'serverError';
  if (status === 429) return 'throttled';
  if (status === 400 && code === 'ResponsePayloadTooLarge') return 'payloadTooLarge';
  if (status >= 500) return 'serverError';
  if (status >= 400) return 'badRequest';
  return 'unknown';
}

/** The credential chain's attempts, one short line each, in the order they were tried. */
function chainAttempts(error: ErrorLike): string[] {
  const inner = Array.isArray(error.errors) ? error.errors : [];
  return inner.map((e) => {
    const item = asObject(e);
    const said = oneLine(text(item.message) ?? String(text(item.name) ?? 'unknown error'), 240);
    // What MSAL makes of a managed identity endpoint that refuses with App Service's error body (400 "No MSI
    // found for specified ClientId/ResourceId."): a "token" without expiry, which @azure/identity then rejects.
    return /^(Response had no "(expiresOn|accessToken)" property\.|No response\.)$/.test(said)
      ? `a credential was answered without a usable token (${said})`
      : said;
  });
}

/**
 * Classifies a thrown value. Identity errors are recognised by name (the chain itself compares names, and a
 * second copy of @azure/identity would defeat `instanceof`); RestErrors by status code, or by their Node code when
 * the request never got an answer.
 */
export function classifyAzureError(error: unknown): AzureFailure {
  const e = asObject(error);
  const name = text(e.name) ?? '';
  const message = text(e.message) ?? String(error);

  if (name === 'AbortError') return make('aborted', 'Aborted', message);

  if (name === 'AggregateAuthenticationError') {
    // The chain aggregates only the credentials it skipped (unavailable, or needing a sign-in) and throws a
    // refused one (AuthenticationError) as it is; a refusal inside an aggregate is still called a refusal.
    const attempts = chainAttempts(e);
    const inner = Array.isArray(e.errors) ? e.errors.map((x) => text(asObject(x).name) ?? '') : [];
    const refused = inner.some((n) => n === 'AuthenticationError');
    return make(
      refused ? 'authenticationFailed' : 'credentialUnavailable',
      refused ? 'AuthenticationFailed' : 'CredentialUnavailable',
      attempts.join(' | ') || message,
      { attempts },
    );
  }
  // The chain skips both: no credential of that kind can give a token without someone signing in.
  if (name === 'CredentialUnavailableError' || name === 'AuthenticationRequiredError') {
    return make('credentialUnavailable', 'CredentialUnavailable', message, {
      attempts: [oneLine(message, 240)],
    });
  }
  if (name === 'AuthenticationError') {
    const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
    // Its message puts the OAuth error on the first line and Entra's AADSTS description further down.
    const response = asObject((e as { errorResponse?: unknown }).errorResponse) as {
      error?: unknown;
      errorDescription?: unknown;
    };
    const said =
      text(response.error) && text(response.errorDescription)
        ? `${String(response.error)} (${status ?? '?'}): ${oneLine(String(response.errorDescription), 300)}`
        : message;
    return make('authenticationFailed', 'AuthenticationFailed', said, {
      ...(status !== undefined ? { status } : {}),
      attempts: [oneLine(said, 360)],
    });
  }

  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const nodeCode = text(e.code) ?? text(asObject(e.cause).code);
  if (status !== undefined && status > 0) {
    const inner = armError(e);
    const code = inner.code ?? nodeCode ?? `HTTP${status}`;
    return make(kindOfStatus(status, inner.code ?? nodeCode), code, inner.message ?? message, { status });
  }
  if (nodeCode && TIMEOUT_CODES.has(nodeCode)) {
    return make(
      'timeout',
      asObject(e.details).code === 'RequestTimeout' ? 'RequestTimeout' : nodeCode,
      message,
    );
  }
  if (nodeCode && NETWORK_CODES.has(nodeCode)) return make('network', nodeCode, message);
  return make('unknown', nodeCode ?? (name || 'Error'), message);
}
