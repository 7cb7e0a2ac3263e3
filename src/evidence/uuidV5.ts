// Name-based UUIDs (version 5, RFC 9562 §5.5): the same name in the same namespace always gives the same UUID.

import { createHash } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * SHA-1 of the namespace's 16 bytes followed by the name's UTF-8 bytes, the first 16 bytes kept, with the
 * version (5) and variant (10xx) bits set. Hand-written because the uuid package's current major is an ES
 * module only; the RFC's example vector is checked in the unit tests.
 */
export function uuidV5(name: string, namespace: string): string {
  if (!UUID.test(namespace)) throw new RangeError(`namespace must be a UUID; got "${namespace}"`);
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
