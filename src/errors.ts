// The error vocabulary of the app, and the one place errors are made safe to log or return.

/** A setting is missing or wrong. The app refuses to start; the CLI exits 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

/** Something a caller sent is wrong: HTTP 400, CLI exit 2. */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    message: string,
    readonly status: 400 | 403 | 405 | 413 | 415 | 422 = 400,
  ) {
    super(message);
  }
}

/**
 * A request refused by a setting or a limit, whoever asks (a recipient outside EMAIL_ALLOWED_RECIPIENTS, a cap
 * reached): HTTP 403 problem+json of type `urn:aks-fips-auditor:problem:<slug>`, naming `setting` when one decides;
 * CLI exit 2.
 */
export class RefusedError extends InputError {
  constructor(
    message: string,
    readonly problem: { slug: string; title: string; setting?: string; limit?: number },
  ) {
    super(message, 403);
  }
}

export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** An audit is already running; carries the run that holds the lease. */
export class AuditInProgressError extends Error {
  override readonly name = 'AuditInProgressError';
  constructor(readonly runId: string) {
    super(`An audit is already running (run ${runId}). Wait for it to finish.`);
  }
}

/** An Azure service answered with an error, or could not be reached. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  constructor(
    message: string,
    readonly details: { status?: number; code?: string; retryable: boolean; cause?: unknown },
  ) {
    super(message, { cause: details.cause });
  }
}

/**
 * Why Azure would not let the audit read anything:
 * - `credentialUnavailable`: no credential of the chain could produce a token (no `az login`, no managed identity);
 * - `authenticationFailed`: a token was refused (Entra ID refused the credential, or ARM answered 401);
 * - `authorizationFailed`: the identity may not read the only scope the audit has (403 on the tenant-wide query);
 * - `noReadableSubscriptions`: with no scope configured, the identity can read no subscription at all.
 */
export type AzureAccessErrorKind =
  'credentialUnavailable' | 'authenticationFailed' | 'authorizationFailed' | 'noReadableSubscriptions';

/**
 * The audit cannot read Azure at all, and retrying will not help: the run fails at once. `message` says what was
 * tried and how to fix it; `scope` is the ARM scope the audit was reading (`/` for the whole tenant); `code` is
 * the service's error code when there was one (`InvalidAuthenticationToken`, `AuthorizationFailed`, …).
 */
export class AzureAccessError extends Error {
  override readonly name = 'AzureAccessError';
  constructor(
    readonly kind: AzureAccessErrorKind,
    message: string,
    readonly details: { scope: string; code: string; status?: number; cause?: unknown },
  ) {
    super(message, { cause: details.cause });
  }

  get scope(): string {
    return this.details.scope;
  }

  get code(): string {
    return this.details.code;
  }
}

/**
 * Table Storage, where every run is recorded, cannot be used: it did not answer, could not be reached, or refused
 * the identity. Nothing was audited (a run that cannot be recorded is not started); `message` says how to fix it.
 */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';
  constructor(
    message: string,
    readonly code: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

export function ensureError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === 'string') return new Error(value);
  try {
    return new Error(JSON.stringify(value));
  } catch {
    return new Error(String(value));
  }
}

const SECRET_PATTERNS: [RegExp, string][] = [
  [/(AccountKey|SharedAccessKey|accesskey|AccessKey)=[^;\s"']+/gi, '$1=***'],
  [/([?&](sig|code|client_secret|access_token)=)[^&\s"']+/gi, '$1***'],
  // HTTP auth schemes are case-insensitive: `bearer` leaks as easily as `Bearer`.
  [/(\bBearer\s+)[A-Za-z0-9\-._~+/]+=*/gi, '$1***'],
  [/(x-functions-key"?\s*[:=]\s*"?)[^"\s,}]+/gi, '$1***'],
  // user:password@host, where the password itself may contain @ or /: up to the last @ before the host.
  [/(\/\/)[^/\s:@]+:\S*@(?=[^@\s]*(?:[/?#\s]|$))/g, '$1***:***@'],
  [/("?(access_token|password|secret)"?\s*[:=]\s*"?)[^",\s}]+/gi, '$1***'],
];

/** Removes keys, SAS signatures, function keys, bearer tokens and URL credentials from a text. */
export function sanitize(text: string): string {
  return SECRET_PATTERNS.reduce((acc, [pattern, replacement]) => acc.replace(pattern, replacement), text);
}

/** A one-line, secret-free description of any thrown value, for logs and run records. */
export function describeError(value: unknown): string {
  const error = ensureError(value);
  return sanitize(`${error.name}: ${error.message}`);
}
