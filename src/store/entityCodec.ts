// How values become Table Storage entities within the service's limits: JSON split over properties, sizes checked.

import type { TableEntity } from '@azure/data-tables';

// A string property holds 64 KiB of UTF-16, i.e. 32,768 code units; stay a little below.
const MAX_STRING_CHARS = 32_000;
export const MAX_ENTITY_BYTES = 1024 * 1024;
const MAX_CUSTOM_PROPERTIES = 252;

export type Entity = TableEntity<Record<string, unknown>>;
export type StoredEntity = Record<string, unknown> & {
  partitionKey?: string;
  rowKey?: string;
  etag?: string;
};

/** Thrown when a value cannot be stored within Table Storage's entity limits. */
export class EntityTooLargeError extends Error {
  override name = 'EntityTooLargeError';
}

/** Splits at code-unit boundaries, never between the two halves of a surrogate pair. */
function splitString(s: string, size: number): string[] {
  const parts: string[] = [];
  for (let i = 0; i < s.length;) {
    let end = Math.min(i + size, s.length);
    const last = s.charCodeAt(end - 1);
    if (end < s.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    parts.push(s.slice(i, end));
    i = end;
  }
  return parts;
}

/** Stores `value` as JSON in `name`, or in `name_0`, `name_1`, … with the count in `name_parts` when it is long. */
export function packJson(into: Record<string, unknown>, name: string, value: unknown): void {
  const json = JSON.stringify(value);
  if (json.length <= MAX_STRING_CHARS) {
    into[name] = json;
    return;
  }
  const parts = splitString(json, MAX_STRING_CHARS);
  into[`${name}_parts`] = parts.length;
  parts.forEach((part, i) => (into[`${name}_${i}`] = part));
}

export function unpackJson<T>(entity: StoredEntity, name: string): T | undefined {
  const whole = entity[name];
  if (typeof whole === 'string') return JSON.parse(whole) as T;
  const count = entity[`${name}_parts`];
  if (typeof count !== 'number') return undefined;
  let json = '';
  for (let i = 0; i < count; i++) {
    const part = entity[`${name}_${i}`];
    if (typeof part !== 'string') throw new Error(`Stored entity is missing part ${i} of ${name}`);
    json += part;
  }
  return JSON.parse(json) as T;
}

/** The entity's size as the service counts it toward the 1 MiB limit (strings are UTF-16). */
export function entitySizeInBytes(entity: Entity): number {
  let size = 4 + (entity.partitionKey.length + entity.rowKey.length) * 2;
  for (const [name, value] of Object.entries(entity)) {
    if (name === 'partitionKey' || name === 'rowKey') continue;
    size += 8 + name.length * 2 + (typeof value === 'string' ? 4 + value.length * 2 : 8);
  }
  return size;
}

export function checkEntity(entity: Entity, what: string): Entity {
  const properties = Object.keys(entity).length - 2;
  const size = entitySizeInBytes(entity);
  if (size > MAX_ENTITY_BYTES || properties > MAX_CUSTOM_PROPERTIES) {
    throw new EntityTooLargeError(
      `${what} does not fit in one table entity: ${size} bytes in ${properties} properties ` +
        `(Table Storage allows ${MAX_ENTITY_BYTES} bytes and ${MAX_CUSTOM_PROPERTIES} properties)`,
    );
  }
  return entity;
}

export function requireString(entity: StoredEntity, name: string): string {
  const value = entity[name];
  if (typeof value !== 'string') {
    throw new Error(`Stored entity ${entity.partitionKey}/${entity.rowKey} has no string property ${name}`);
  }
  return value;
}

export function optionalString(entity: StoredEntity, name: string): string | null {
  const value = entity[name];
  return typeof value === 'string' ? value : null;
}
