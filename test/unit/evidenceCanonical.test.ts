// The evidence's building blocks: RFC 8785 canonical JSON, UUID v5, entity digests, link digests, JSON streaming.

import { generateKeyPairSync, sign } from 'node:crypto';

import { canonicalJson } from '../../src/evidence/canonicalJson';
import {
  contentDigestOf,
  linkDigestOf,
  type LinkFields,
  linkText,
  SEAL_FORMAT,
  sha256Hex,
} from '../../src/evidence/chainLink';
import { jsonChunks, LazyArray, lazyArrayOf, materialize } from '../../src/evidence/jsonStream';
import { publicKeyOf, verifyLinkSignature } from '../../src/evidence/keyVaultLinkSigning';
import {
  DigestListBuilder,
  isRunAnnotation,
  KeyOrderError,
  parseDigestList,
} from '../../src/evidence/runContent';
import { canonicalEntity, entityDigest } from '../../src/evidence/storedEntity';
import { uuidV5 } from '../../src/evidence/uuidV5';

describe('canonicalJson (RFC 8785)', () => {
  it('serializes the RFC 8785 §3.2.2 example exactly', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    ) as unknown;
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts members by UTF-16 code units, as RFC 8785 §3.2.3 shows', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // Read off the text: Object.keys would put the integer-like "1" first whatever the text says.
    const keys = [...canonicalJson(input).matchAll(/"((?:[^"\\]|\\.)*)":/g)].map(
      (m) => JSON.parse(`"${m[1]!}"`) as string,
    );
    expect(keys).toEqual(['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33']);
  });

  it('writes -0 as 0 and nests arrays and objects without whitespace', () => {
    expect(canonicalJson({ b: [-0, { d: 1, c: 'x' }], a: null })).toBe('{"a":null,"b":[0,{"c":"x","d":1}]}');
  });

  it.each<[string, unknown]>([
    ['undefined', { a: undefined }],
    ['NaN', [Number.NaN]],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a BigInt', 1n],
    ['a Date', new Date(0)],
    ['a function', () => 1],
  ])('refuses %s rather than dropping or changing it', (_name, value) => {
    expect(() => canonicalJson(value)).toThrow(TypeError);
  });
});

describe('uuidV5', () => {
  it('gives the RFC 9562 example: www.example.com in the DNS namespace', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('is the same for the same name and different for another', () => {
    const ns = '201ecf01-7d20-4240-bef6-57560c1c77ba';
    expect(uuidV5('a', ns)).toBe(uuidV5('a', ns));
    expect(uuidV5('a', ns)).not.toBe(uuidV5('b', ns));
    expect(uuidV5('a', ns)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('the canonical form of a stored entity', () => {
  const raw = {
    partitionKey: 'p',
    rowKey: 'r',
    etag: 'W/"1"',
    timestamp: '2026-12-01T00:00:00Z',
    status: { value: 'compliant', type: 'String' },
    count: { value: '5', type: 'Int32' },
    bin: { value: 'AQID', type: 'Binary' },
  };

  it('covers every property with its Edm type and stored text, and not the keys, ETag or Timestamp', () => {
    expect(canonicalEntity(raw)).toBe(
      '{"bin":["Binary","AQID"],"count":["Int32","5"],"status":["String","compliant"]}',
    );
  });

  it('changes its digest when a value or a type changes, and not when the service rewrites Timestamp or ETag', () => {
    const digest = entityDigest(raw);
    expect(digest).toHaveLength(43);
    expect(entityDigest({ ...raw, timestamp: 'later', etag: 'W/"2"' })).toBe(digest);
    expect(entityDigest({ ...raw, status: { value: 'noncompliant', type: 'String' } })).not.toBe(digest);
    expect(entityDigest({ ...raw, count: { value: '5', type: 'Int64' } })).not.toBe(digest);
    expect(entityDigest({ ...raw, added: { value: 'x', type: 'String' } })).not.toBe(digest);
  });

  it.each([
    ['chain', true],
    ['retention', true],
    ['email', true],
    ['email_parts', true],
    ['email_3', true],
    ['progress', true],
    ['summary', false],
    ['status', false],
    ['chainOfCustody', false],
  ])('leaves the run record property %s out of the seal: %s', (name, annotation) => {
    expect(isRunAnnotation(name)).toBe(annotation);
  });
});

describe('digest lists and links', () => {
  it('lists entities in key order and refuses an answer out of order', () => {
    const builder = new DigestListBuilder();
    builder.add({ rowKey: 'a', x: { value: '1', type: 'String' } });
    builder.add({ rowKey: 'b', x: { value: '2', type: 'String' } });
    const { list, digest, entities } = builder.finish();
    expect(entities).toBe(2);
    expect(digest).toBe(sha256Hex(list));
    expect(parseDigestList(list).map((l) => l.rowKey)).toEqual(['a', 'b']);
    const unordered = new DigestListBuilder();
    unordered.add({ rowKey: 'b' });
    expect(() => unordered.add({ rowKey: 'a' })).toThrow(KeyOrderError);
  });

  it('hashes the content without the chunk counts, and the link over its fields in RFC 8785 form', () => {
    const group = { table: 'findings' as const, partitionKey: 'r-00', entities: 2, digest: 'ab' };
    expect(contentDigestOf([{ ...group, chunks: 1 }] as never)).toBe(
      contentDigestOf([{ ...group, chunks: 3 }] as never),
    );
    const fields: LinkFields = {
      format: SEAL_FORMAT,
      seq: 2,
      runId: '20261201T000000Z-abcdef',
      previousRunId: '20261130T000000Z-abcdef',
      previousDigest: 'f'.repeat(64),
      contentDigest: 'e'.repeat(64),
      sealedAt: '2026-12-01T00:01:00.000Z',
    };
    expect(linkText(fields)).toBe(
      `{"contentDigest":"${'e'.repeat(64)}","format":"${SEAL_FORMAT}","previousDigest":"${'f'.repeat(64)}","previousRunId":"20261130T000000Z-abcdef","runId":"20261201T000000Z-abcdef","sealedAt":"2026-12-01T00:01:00.000Z","seq":2}`,
    );
    expect(linkDigestOf(fields)).toBe(sha256Hex(linkText(fields)));
    expect(linkDigestOf({ ...fields, previousDigest: 'e'.repeat(64) })).not.toBe(linkDigestOf(fields));
  });
});

describe('link signatures, checked locally with the public key', () => {
  const message = '{"seq":1}';

  it('verifies an ES256 signature given as R‖S (as Key Vault returns it) and refuses another message', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const key = publicKeyOf({
      name: 'k',
      properties: {} as never,
      keyType: 'EC',
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: Buffer.from(jwk.x!, 'base64url'),
        y: Buffer.from(jwk.y!, 'base64url'),
      },
    });
    const value = sign('sha256', Buffer.from(message), {
      key: privateKey,
      dsaEncoding: 'ieee-p1363',
    }).toString('base64url');
    const signature = { alg: 'ES256' as const, keyId: 'https://v.vault.azure.net/keys/k/0', value };
    expect(verifyLinkSignature(key, message, signature)).toBe(true);
    expect(verifyLinkSignature(key, '{"seq":2}', signature)).toBe(false);
  });

  it('verifies an RS256 signature and refuses a forged one', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    const key = publicKeyOf({
      name: 'k',
      properties: {} as never,
      keyType: 'RSA',
      key: { kty: 'RSA', n: Buffer.from(jwk.n!, 'base64url'), e: Buffer.from(jwk.e!, 'base64url') },
    });
    const value = sign('sha256', Buffer.from(message), privateKey).toString('base64url');
    expect(verifyLinkSignature(key, message, { alg: 'RS256', keyId: 'k', value })).toBe(true);
    expect(
      verifyLinkSignature(key, message, {
        alg: 'RS256',
        keyId: 'k',
        value: Buffer.alloc(256).toString('base64url'),
      }),
    ).toBe(false);
  });
});

describe('jsonChunks', () => {
  it('streams the same text JSON.stringify writes for the document with its lazy arrays read', async () => {
    const document = {
      a: 1,
      skipped: undefined,
      list: lazyArrayOf([{ x: 'y' }, { z: [1, 2] }]),
      empty: new LazyArray(0, () => []),
      nested: { deeper: lazyArrayOf(['"quoted"']) },
      tail: [true, null],
    };
    let text = '';
    for await (const chunk of jsonChunks(document)) text += chunk;
    expect(text).toBe(JSON.stringify(await materialize(document)));
    expect(JSON.parse(text)).toEqual({
      a: 1,
      list: [{ x: 'y' }, { z: [1, 2] }],
      empty: [],
      nested: { deeper: ['"quoted"'] },
      tail: [true, null],
    });
  });
});
