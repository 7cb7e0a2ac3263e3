// Reading Azure's throttling headers and the backoff rule.

import {
  backoffDelayInMs,
  DEFAULT_RETRY_POLICY,
  type HeaderReader,
  headerReader,
  parseTimeSpanInMs,
  serverDelayInMs,
  shouldRetry,
} from '../../src/azure/retryPolicy';

const headers = (values: Record<string, string>): HeaderReader => ({
  get: (name) => values[name.toLowerCase()],
});
const now = new Date('2026-11-29T06:00:00Z');

it.each([
  ['00:00:05', 5000],
  ['00:01:00', 60000],
  ['01:00:00.5', 3600500],
  ['5', null],
  ['', null],
  [undefined, null],
])('reads the quota reset time span %p as %p ms', (text, expected) => {
  expect(parseTimeSpanInMs(text)).toBe(expected);
});

it.each([
  ['retry-after-ms wins', { 'retry-after-ms': '250', 'retry-after': '9' }, 250],
  ['x-ms-retry-after-ms', { 'x-ms-retry-after-ms': '400' }, 400],
  ['Retry-After in seconds', { 'retry-after': '3' }, 3000],
  ['Retry-After as an HTTP date', { 'retry-after': 'Sun, 29 Nov 2026 06:00:10 GMT' }, 10000],
  ['the quota window when nothing else is given', { 'x-ms-user-quota-resets-after': '00:00:02' }, 2000],
  ['nothing at all', {}, null],
])('takes the server delay from %s', (_title, values, expected) => {
  expect(serverDelayInMs(headers(values), now)).toBe(expected);
});

it('backs off exponentially with jitter, capped at the maximum', () => {
  const policy = { ...DEFAULT_RETRY_POLICY, baseDelayInMs: 100, maxDelayInMs: 1000 };
  expect(backoffDelayInMs(policy, 1, () => 0)).toBe(50);
  expect(backoffDelayInMs(policy, 1, () => 1)).toBe(100);
  expect(backoffDelayInMs(policy, 3, () => 1)).toBe(400);
  expect(backoffDelayInMs(policy, 10, () => 1)).toBe(1000);
});

it('retries throttling, timeouts and server errors but not client errors', () => {
  for (const status of [408, 429, 500, 502, 503, 504])
    expect(DEFAULT_RETRY_POLICY.retryableStatuses.has(status)).toBe(true);
  for (const status of [400, 401, 403, 404])
    expect(DEFAULT_RETRY_POLICY.retryableStatuses.has(status)).toBe(false);
});

describe('shouldRetry: the one rule of the Resource Graph and upgrade profile readers', () => {
  const policy = { ...DEFAULT_RETRY_POLICY, maxAttempts: 3, maxTimedOutAttempts: 2 };
  it.each([
    ['a throttled first attempt', { kind: 'throttled', retryable: true }, 1, 0, true],
    ['a 5xx on the last attempt', { kind: 'serverError', retryable: true }, 3, 0, false],
    ['the first timeout', { kind: 'timeout', retryable: true }, 1, 1, true],
    ['the second timeout', { kind: 'timeout', retryable: true }, 2, 2, false],
    ['a network error after a timeout', { kind: 'network', retryable: true }, 2, 1, true],
    ['a refused token', { kind: 'authenticationFailed', retryable: false }, 1, 0, false],
    ['a 403', { kind: 'authorizationFailed', retryable: false }, 1, 0, false],
  ] as const)('%s', (_what, failure, attempt, timedOut, expected) => {
    expect(shouldRetry(policy, failure, attempt, timedOut)).toBe(expected);
  });

  it('allows one retry after a timeout when the policy does not say', () => {
    const { maxTimedOutAttempts: _omitted, ...bare } = policy;
    expect(shouldRetry(bare, { kind: 'timeout', retryable: true }, 1, 1)).toBe(true);
    expect(shouldRetry(bare, { kind: 'timeout', retryable: true }, 2, 2)).toBe(false);
  });
});

it.each([
  ['a Headers-like object', new Headers({ 'Retry-After': '7' })],
  ['a plain object, any casing', { 'retry-AFTER': '7' }],
])('headerReader reads %s case-insensitively', (_what, raw) => {
  expect(headerReader(raw)?.get('Retry-After')).toBe('7');
});

it('headerReader reads nothing from a missing header bag', () => {
  expect(headerReader(undefined)).toBeUndefined();
});
