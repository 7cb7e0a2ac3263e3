// Pure helpers that turn IDs and times into valid, well-ordered Table Storage keys.

/** Table keys are at most 1 KiB; every character the encoding emits is ASCII, so characters = bytes. */
export const MAX_KEY_LENGTH = 1024;

/**
 * A character the encoding never emits, so it can join encoded parts of a composite key without
 * ambiguity: `a|b` cannot be confused with a key whose first part merely starts with `a`.
 */
export const KEY_SEPARATOR = '|';
/** The character right after KEY_SEPARATOR: `ge 'x|' and lt 'x}'` selects exactly the keys that start with `x|`. */
export const KEY_SEPARATOR_END = '}';

// Kept as is: readable in Storage Explorer and safe in URLs and OData literals. Everything else is escaped.
const SAFE_CHAR = /[A-Za-z0-9._-]/;
const ESCAPE = '!';
const ALL_SAFE = /^[A-Za-z0-9._-]*$/;
/** One character (a whole surrogate pair counts as one) outside the safe set. */
const UNSAFE_CHAR = /[^A-Za-z0-9._-]/gu;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Makes any string a valid PartitionKey/RowKey: characters outside `[A-Za-z0-9._-]` (including
 * `/ \ # ?`, `'`, `%`, control characters and non-ASCII) become `!HH` per UTF-8 byte. The mapping is
 * a bijection (see decodeKey), so distinct inputs never share a key. Case is kept: use resourceIdKey
 * for ARM IDs, which compare case-insensitively.
 */
export function encodeKey(s: string): string {
  if (LONE_SURROGATE.test(s)) {
    // Buffer.from would turn every lone surrogate into U+FFFD, so two different strings could collide.
    throw new RangeError(
      `Cannot make a table key of a string with a lone UTF-16 surrogate: ${JSON.stringify(s)}`,
    );
  }
  // One pass that builds a flat string: a key grown a character at a time is a deep rope, which every later use
  // (the SDK escapes each key of each transaction) pays to flatten.
  const out = ALL_SAFE.test(s)
    ? s
    : s.replace(UNSAFE_CHAR, (ch) => {
        let escaped = '';
        for (const byte of Buffer.from(ch, 'utf8'))
          escaped += ESCAPE + byte.toString(16).toUpperCase().padStart(2, '0');
        return escaped;
      });
  if (out.length > MAX_KEY_LENGTH) {
    throw new RangeError(
      `Table key too long: ${out.length} characters once encoded (at most ${MAX_KEY_LENGTH}) for ${JSON.stringify(s.slice(0, 80))}…`,
    );
  }
  return out;
}

/** The inverse of encodeKey. */
export function decodeKey(key: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < key.length;) {
    const ch = key[i] as string;
    if (ch === ESCAPE) {
      const hex = key.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex))
        throw new RangeError(`Not an encoded table key: ${JSON.stringify(key)}`);
      bytes.push(Number.parseInt(hex, 16));
      i += 3;
    } else {
      if (!SAFE_CHAR.test(ch)) throw new RangeError(`Not an encoded table key: ${JSON.stringify(key)}`);
      bytes.push(ch.charCodeAt(0));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The key of an ARM resource ID: lowercased first, because ARM IDs compare case-insensitively. */
export function resourceIdKey(id: string): string {
  return encodeKey(id.toLowerCase());
}

// 13 digits hold every millisecond timestamp up to the year 2286.
const TIME_KEY_DIGITS = 13;
const MAX_TIME_KEY_MS = 10 ** TIME_KEY_DIGITS - 1;

/** A fixed-width key that sorts newer times first (Table Storage only returns keys in ascending order). */
export function invertedTimeKey(date: Date): string {
  const ms = date.getTime();
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_TIME_KEY_MS) {
    throw new RangeError(`invertedTimeKey needs a date between 1970 and 2286; got ${String(date)}`);
  }
  return String(MAX_TIME_KEY_MS - ms).padStart(TIME_KEY_DIGITS, '0');
}

/** The inverse of invertedTimeKey. */
export function invertedTimeKeyTime(key: string): Date {
  if (!new RegExp(`^\\d{${TIME_KEY_DIGITS}}$`).test(key)) {
    throw new RangeError(`Not an inverted time key: ${JSON.stringify(key)}`);
  }
  return new Date(MAX_TIME_KEY_MS - Number(key));
}

/** A stable 32-bit FNV-1a hash of the UTF-8 bytes, for spreading entities over partitions. */
export function stableHash(s: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(s, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}
