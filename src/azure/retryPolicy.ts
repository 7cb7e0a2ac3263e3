// Retry rules as named data, and the reading of Azure's throttling headers.

import type { AzureFailure } from './classifyAzureError';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  baseDelayInMs: number;
  maxDelayInMs: number;
  retryableStatuses: ReadonlySet<number>;
  /**
   * Attempts that may end in a timeout before the call is given up (default 2: one retry). A service that let two
   * requests hang for a full timeout each is down; waiting `maxAttempts` timeouts would hold the run for minutes.
   */
  maxTimedOutAttempts?: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 6,
  baseDelayInMs: 1000,
  maxDelayInMs: 60_000,
  retryableStatuses: new Set([408, 429, 500, 502, 503, 504]),
  maxTimedOutAttempts: 2,
};

/** Waits `ms`, or rejects with the signal's AbortError as soon as it fires. */
export function sleepInMs(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortErrorOf(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortErrorOf(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The error an aborted wait rejects with: named AbortError, as the Azure pipeline names its own. */
export function abortErrorOf(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const error = new Error('The operation was aborted.', { cause: reason });
  error.name = 'AbortError';
  return error;
}

/**
 * Whether a failed attempt (1 = the first) is tried again: only a transient failure, while attempts remain, and
 * for a timeout only while fewer than `maxTimedOutAttempts` attempts have timed out (`timedOutAttempts` counts
 * this one).
 */
export function shouldRetry(
  policy: RetryPolicy,
  failure: Pick<AzureFailure, 'kind' | 'retryable'>,
  attempt: number,
  timedOutAttempts: number,
): boolean {
  return (
    failure.retryable &&
    attempt < policy.maxAttempts &&
    (failure.kind !== 'timeout' || timedOutAttempts < (policy.maxTimedOutAttempts ?? 2))
  );
}

export interface HeaderReader {
  get(name: string): string | undefined;
}

/** The headers of a response or of a RestError's response (core HttpHeaders, or a plain object), case-insensitive. */
export function headerReader(raw: unknown): HeaderReader | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const candidate = raw as { get?: unknown };
  if (typeof candidate.get === 'function') {
    const get = candidate.get as (name: string) => string | undefined;
    return { get: (name) => get.call(raw, name) };
  }
  const record = raw as Record<string, unknown>;
  return {
    get: (name) => {
      const key = Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase());
      const value = key === undefined ? undefined : record[key];
      return typeof value === 'string' ? value : undefined;
    },
  };
}

/** `hh:mm:ss` (as in x-ms-user-quota-resets-after) to milliseconds; null when it is not that shape. */
export function parseTimeSpanInMs(text: string | undefined): number | null {
  if (!text) return null;
  const match = /^(\d+):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(text.trim());
  if (!match) return null;
  const fraction = match[4] ? Number(`0.${match[4]}`) : 0;
  return ((Number(match[1]) * 60 + Number(match[2])) * 60 + Number(match[3]) + fraction) * 1000;
}

/**
 * How long the service asked us to wait: `retry-after-ms` / `x-ms-retry-after-ms`, then
 * `Retry-After` (seconds or an HTTP date), then Resource Graph's `x-ms-user-quota-resets-after`.
 */
export function serverDelayInMs(headers: HeaderReader | undefined, now: Date): number | null {
  if (!headers) return null;
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const ms = Number(headers.get(name));
    if (headers.get(name) !== undefined && Number.isFinite(ms) && ms >= 0) return ms;
  }
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now.getTime());
  }
  return parseTimeSpanInMs(headers.get('x-ms-user-quota-resets-after'));
}

/** Exponential backoff with full jitter for attempt n (1 = the first retry). */
export function backoffDelayInMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayInMs, policy.baseDelayInMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
