// Table key helpers: valid, collision-free, ordered keys and sortable run IDs.

import { isRunId, newRunId, runIdPattern, runIdSchema, runIdTime } from '../../src/core/runId';
import {
  decodeKey,
  encodeKey,
  invertedTimeKey,
  invertedTimeKeyTime,
  KEY_SEPARATOR,
  MAX_KEY_LENGTH,
  resourceIdKey,
  stableHash,
} from '../../src/store/tableKeys';

/** What Table Storage refuses in PartitionKey/RowKey: / \ # ? and control characters (U+0000-U+001F, U+007F-U+009F). */
function hasForbiddenChar(key: string): boolean {
  return [...key].some((ch) => {
    const code = ch.codePointAt(0) as number;
    return '/\\#?'.includes(ch) || code <= 0x1f || (code >= 0x7f && code <= 0x9f);
  });
}

describe('encodeKey', () => {
  const samples = [
    '/subscriptions/0b1f/resourceGroups/rg-Payments/providers/Microsoft.ContainerService/managedClusters/aks/agentPools/np1',
    'a/b\\c#d?e',
    "it's 100% \u0001\u007f\u0085 tab\there",
    'ünïcødé 名前 🚀',
    '',
    '!41',
    `x${KEY_SEPARATOR}y`,
  ];

  it.each(samples)('makes %j a valid key that decodes back', (s) => {
    const key = encodeKey(s);
    expect(hasForbiddenChar(key)).toBe(false);
    expect(key).toMatch(/^[A-Za-z0-9._!-]*$/);
    expect(key).not.toContain(KEY_SEPARATOR);
    expect(decodeKey(key)).toBe(s);
  });

  it('never maps two different strings to the same key', () => {
    const inputs = ['a/b', 'a!2Fb', 'a%2Fb', 'A/b', 'a_b', 'a.b', 'a b', 'ab', '!', '!!', '!21'];
    const keys = inputs.map(encodeKey);
    expect(new Set(keys).size).toBe(inputs.length);
  });

  it('refuses keys longer than 1 KiB once encoded, with the reason', () => {
    expect(() => encodeKey('a'.repeat(MAX_KEY_LENGTH))).not.toThrow();
    expect(() => encodeKey('a'.repeat(MAX_KEY_LENGTH + 1))).toThrow(/too long/);
    expect(() => encodeKey('/'.repeat(400))).toThrow(/1200 characters/);
  });

  it('refuses lone surrogates, which would otherwise collide', () => {
    expect(() => encodeKey('a\uD800')).toThrow(/surrogate/);
    expect(() => encodeKey('\uDC00b')).toThrow(/surrogate/);
  });

  it('rejects strings that are not encoded keys', () => {
    expect(() => decodeKey('a/b')).toThrow(/Not an encoded table key/);
    expect(() => decodeKey('a!2')).toThrow(/Not an encoded table key/);
  });
});

describe('resourceIdKey', () => {
  it('gives the same key to ARM IDs that differ only in case', () => {
    expect(resourceIdKey('/subscriptions/ABC/resourceGroups/RG')).toBe(
      resourceIdKey('/Subscriptions/abc/resourcegroups/rg'),
    );
  });
});

describe('invertedTimeKey', () => {
  it('is fixed width and sorts newer times first', () => {
    const times = [
      '1970-01-01T00:00:00.000Z',
      '2001-09-09T01:46:40.000Z',
      '2026-11-29T04:34:20.123Z',
      '2286-11-20T17:46:39.999Z',
    ];
    const keys = times.map((t) => invertedTimeKey(new Date(t)));
    expect(new Set(keys.map((k) => k.length))).toEqual(new Set([13]));
    expect([...keys].sort()).toEqual([...keys].reverse());
    keys.forEach((k, i) => expect(invertedTimeKeyTime(k).toISOString()).toBe(times[i]));
  });

  it('refuses dates it cannot order', () => {
    expect(() => invertedTimeKey(new Date(-1))).toThrow(RangeError);
    expect(() => invertedTimeKey(new Date('2300-01-01T00:00:00Z'))).toThrow(RangeError);
    expect(() => invertedTimeKey(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe('run IDs', () => {
  it('encodes the UTC start second and 6 hex digits', () => {
    const id = newRunId(new Date('2026-11-29T04:34:20.987Z'), '3f9a1c');
    expect(id).toBe('20261129T043420Z-3f9a1c');
    expect(id).toMatch(runIdPattern);
    expect(runIdSchema.parse(id)).toBe(id);
    expect(runIdTime(id).toISOString()).toBe('2026-11-29T04:34:20.000Z');
    expect(isRunId(id)).toBe(true);
  });

  it('are random by default and sort by time', () => {
    const a = newRunId(new Date('2026-01-02T03:04:05Z'));
    const b = newRunId(new Date('2026-01-02T03:04:05Z'));
    const later = newRunId(new Date('2026-01-02T03:04:06Z'));
    expect(a).toMatch(runIdPattern);
    expect(a).not.toBe(b);
    expect([later, a].sort()[1]).toBe(later);
  });

  it('rejects what is not a run ID', () => {
    for (const bad of [
      '',
      'run-1',
      '20261129T043420Z-3F9A1C',
      '20261129T043420Z-3f9a1',
      '20260231T000000Z-000000',
    ]) {
      expect(isRunId(bad)).toBe(false);
      expect(() => runIdTime(bad)).toThrow(/Not a run ID/);
    }
    expect(runIdSchema.safeParse('run-1').success).toBe(false);
    expect(() => newRunId(new Date(), 'XYZ')).toThrow(RangeError);
    expect(() => newRunId(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe('stableHash', () => {
  it('is stable across calls and spreads IDs over shards', () => {
    expect(stableHash('abc')).toBe(stableHash('abc'));
    expect(stableHash('')).toBe(0x811c9dc5);
    const shards = new Set(
      Array.from({ length: 200 }, (_, i) => stableHash(`/subscriptions/s/pool${i}`) % 16),
    );
    expect(shards.size).toBe(16);
  });
});
