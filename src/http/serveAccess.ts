// Who may reach `serve`: loopback alone without a key; anywhere else only with the key, checked like a function key.

import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether `address` (as `server.address()` reports the bound address) is loopback: 127.0.0.0/8, `::1`, or an
 * IPv4-mapped 127.x. Anything else (0.0.0.0, ::, a LAN address) can be reached from another machine.
 */
export function isLoopbackAddress(address: string): boolean {
  const v4 = address.replace(/^::ffff:/i, '');
  return address === '::1' || /^127(\.\d{1,3}){3}$/.test(v4);
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Whether the request presents `key` as the Functions host takes a function key: the `x-functions-key` header, or
 * the `code` query parameter. Compared in constant time (of SHA-256 digests, so the length leaks nothing either).
 */
export function presentsServeKey(
  key: string,
  request: { header: string | string[] | undefined; query: URLSearchParams },
): boolean {
  const expected = digest(key);
  const offered = [
    ...(Array.isArray(request.header)
      ? request.header
      : request.header === undefined
        ? []
        : [request.header]),
    ...request.query.getAll('code'),
  ];
  // Every candidate is compared, so the time does not tell which one (or whether any) matched.
  return offered.reduce((ok, value) => timingSafeEqual(digest(value), expected) || ok, false);
}
