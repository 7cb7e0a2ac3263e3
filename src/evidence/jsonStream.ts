// JSON text produced piece by piece: documents whose big arrays are streamed items rather than held in memory.

/** An array whose items are produced when serialized; `count` says up front whether it is empty. */
export class LazyArray<T> {
  constructor(
    readonly count: number,
    readonly items: () => AsyncIterable<T> | Iterable<T>,
  ) {}
}

/** A lazy array of items already in memory (tests, small lists). */
export function lazyArrayOf<T>(items: readonly T[]): LazyArray<T> {
  return new LazyArray(items.length, () => items);
}

/**
 * The JSON.stringify text of `value`, in chunks, with each LazyArray's items serialized one at a time. Keys keep
 * their insertion order and `undefined` members are skipped, exactly as JSON.stringify does, so the text equals
 * JSON.stringify of the same document with its lazy arrays materialized.
 */
export async function* jsonChunks(value: unknown): AsyncGenerator<string> {
  if (value instanceof LazyArray) {
    yield '[';
    let first = true;
    for await (const item of (value as LazyArray<unknown>).items()) {
      if (!first) yield ',';
      first = false;
      yield* jsonChunks(item);
    }
    yield ']';
    return;
  }
  if (!containsLazy(value)) {
    yield JSON.stringify(value);
    return;
  }
  if (Array.isArray(value)) {
    yield '[';
    for (const [i, item] of value.entries()) {
      if (i > 0) yield ',';
      yield* jsonChunks(item === undefined ? null : item);
    }
    yield ']';
    return;
  }
  yield '{';
  let first = true;
  for (const [name, member] of Object.entries(value as Record<string, unknown>)) {
    if (member === undefined) continue;
    yield `${first ? '' : ','}${JSON.stringify(name)}:`;
    first = false;
    yield* jsonChunks(member);
  }
  yield '}';
}

function containsLazy(value: unknown): boolean {
  if (value instanceof LazyArray) return true;
  if (typeof value !== 'object' || value === null) return false;
  return Object.values(value).some(containsLazy);
}

/** The document with every lazy array read into a plain array (tests and small documents). */
export async function materialize(value: unknown): Promise<unknown> {
  if (value instanceof LazyArray) {
    const items: unknown[] = [];
    for await (const item of (value as LazyArray<unknown>).items()) items.push(await materialize(item));
    return items;
  }
  if (Array.isArray(value)) return Promise.all(value.map(materialize));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(value)) out[name] = await materialize(member);
  return out;
}
