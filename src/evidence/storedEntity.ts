// The canonical form of a stored table entity, the unit the chain of runs hashes: properties as stored, typed.

import { createHash } from 'node:crypto';

import { canonicalJson } from './canonicalJson';

/**
 * An entity as `@azure/data-tables` returns it with `disableTypeConversion: true`: every property is
 * `{ value, type }` with the value as the service sent it in text (binary as base64), next to the system
 * properties `partitionKey`, `rowKey`, `etag` and `timestamp`.
 */
export type RawEntity = Record<string, unknown> & { partitionKey?: unknown; rowKey?: unknown };

const SYSTEM_PROPERTIES = new Set(['partitionKey', 'rowKey', 'etag', 'timestamp']);

/** A property kept out of an entity's canonical form: a system property, or one `exclude` names. */
function excluded(name: string, exclude: ((name: string) => boolean) | undefined): boolean {
  return (
    SYSTEM_PROPERTIES.has(name) || name.startsWith('odata.') || name.includes('@odata.') || !!exclude?.(name)
  );
}

function typedValue(name: string, value: unknown): [type: string, value: string] {
  if (typeof value === 'object' && value !== null) {
    const { type, value: text } = value as { type?: unknown; value?: unknown };
    if (typeof type === 'string' && typeof text === 'string') return [type, text];
  }
  // Only when read without disableTypeConversion; the Edm type is then the one the JSON value implies.
  if (typeof value === 'string') return ['String', value];
  if (typeof value === 'boolean') return ['Boolean', String(value)];
  if (typeof value === 'number' && Number.isFinite(value)) {
    return [Number.isInteger(value) && Math.abs(value) < 2 ** 31 ? 'Int32' : 'Double', String(value)];
  }
  throw new TypeError(`Property ${name} has a value the canonical form does not know: ${typeof value}`);
}

/**
 * RFC 8785 text of `{ "<property>": ["<Edm type>", "<value as stored>"], … }` over every property but the
 * system ones (PartitionKey, RowKey, ETag, Timestamp: the keys are hashed beside it, and the service rewrites
 * the others on every write) and those `exclude` names.
 */
export function canonicalEntity(raw: RawEntity, exclude?: (name: string) => boolean): string {
  const properties: Record<string, [string, string]> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (excluded(name, exclude)) continue;
    properties[name] = typedValue(name, value);
  }
  return canonicalJson(properties);
}

/** SHA-256 of the entity's canonical form, base64url (43 characters). */
export function entityDigest(raw: RawEntity, exclude?: (name: string) => boolean): string {
  return createHash('sha256').update(canonicalEntity(raw, exclude), 'utf8').digest('base64url');
}
