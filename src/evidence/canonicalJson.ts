// RFC 8785 JSON Canonicalization Scheme (JCS) for the JSON values the evidence hashes and signs.

/**
 * The canonical text of a JSON value per RFC 8785: object members sorted by their names' UTF-16 code units,
 * no whitespace, strings and numbers serialized as ECMAScript's JSON.stringify does (RFC 8785 §3.2.2 defines
 * them by that very algorithm). Only JSON values are accepted: `undefined`, functions, symbols, BigInt,
 * NaN and the infinities throw a TypeError rather than being dropped or turned into `null` silently.
 *
 * Written here rather than taken from the registry: the maintained JCS packages (canonicalize 5) are
 * ES modules only, which this CommonJS build and its Jest setup cannot load, and for JSON values the scheme
 * is exactly this sort plus JSON.stringify (checked against the RFC's examples in the unit tests).
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, '$');
}

function serialize(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${path} is ${value}, which JSON cannot represent`);
      // -0 serializes as 0, as RFC 8785 requires.
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new TypeError(`${path} is a ${typeof value}, which is not a JSON value`);
  }
  if (Array.isArray(value)) {
    return `[${value.map((item, i) => serialize(item, `${path}[${i}]`)).join(',')}]`;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) {
    throw new TypeError(`${path} is not a plain object, array or JSON primitive`);
  }
  const record = value as Record<string, unknown>;
  // The default sort compares UTF-16 code units, which is what RFC 8785 §3.2.3 asks for.
  const names = Object.keys(record).sort();
  const members: string[] = [];
  for (const name of names) {
    const member = record[name];
    if (member === undefined) throw new TypeError(`${path}.${name} is undefined, which is not a JSON value`);
    members.push(`${JSON.stringify(name)}:${serialize(member, `${path}.${name}`)}`);
  }
  return `{${members.join(',')}}`;
}
