// The request target: only a path (or an absolute http URL, whose host is dropped) reaches routing; the rest is a 400.

import { parseRequestTarget } from '../../src/http/requestTarget';
import { isLoopbackAddress, presentsServeKey } from '../../src/http/serveAccess';

it.each<[string, string, string]>([
  ['/api/health', '/api/health', ''],
  ['/api/report?top=1&status=compliant,unknown', '/api/report', '?top=1&status=compliant,unknown'],
  ['/api/report?', '/api/report', ''],
  ['//evil.example/api/report?top=1', '//evil.example/api/report', '?top=1'],
  ['//a:99999/api/health', '//a:99999/api/health', ''],
  ['//x%00y/api/health', '//x%00y/api/health', ''],
  ['//user@:80/api/health', '//user@:80/api/health', ''],
  ['/api/runs/%E2%9C%93', '/api/runs/%E2%9C%93', ''],
  ['/api/report?q={a}|[b]^', '/api/report', '?q={a}|[b]^'],
  ['http://evil.example/api/report?top=1', '/api/report', '?top=1'],
  ['HTTPS://evil.example:8443/api/health', '/api/health', ''],
])('takes %j as path %j and query %j', (raw, pathname, search) => {
  expect(parseRequestTarget(raw)).toEqual({ pathname, search });
});

it.each<[string, string, RegExp]>([
  ['an empty target', '', /must be a path/],
  ['the asterisk form', '*', /must be a path/],
  ['the authority form', 'example.org:443', /must be a path/],
  ['another scheme', 'ftp://example.org/x', /must be a path/],
  ['an unparseable absolute URL', 'http://[::1/api/health', /cannot be parsed/],
  ['a port out of range', 'http://a:99999/api/health', /cannot be parsed/],
  ['credentials in an absolute URL', 'http://user:pw@host/api/health', /user name or password/],
  ['a fragment', 'http://host/api/health#x', /fragment/],
  ['a [ in the path', '//[/api/health', /percent-encoded/],
  ['a backslash in the path', '/api\\health', /percent-encoded/],
  ['a # in the query', '/api/report?a#b', /query/],
  ['a broken percent-encoding', '/api/runs/%E0%A4%A', /malformed percent-encoding/],
  ['a % alone in the query', '/api/report?a=%', /malformed percent-encoding/],
  ['a target over 8 KiB', `/${'a'.repeat(8200)}`, /longer than/],
])('refuses %s', (_title, raw, problem) => {
  const result = parseRequestTarget(raw);
  expect('problem' in result && result.problem).toMatch(problem);
});

it.each<[string, boolean]>([
  ['127.0.0.1', true],
  ['127.1.2.3', true],
  ['::1', true],
  ['::ffff:127.0.0.1', true],
  ['0.0.0.0', false],
  ['::', false],
  ['10.0.0.4', false],
  ['::ffff:10.0.0.4', false],
  ['fe80::1', false],
  ['1127.0.0.1', false],
])('judges %s loopback: %s', (address, loopback) => {
  expect(isLoopbackAddress(address)).toBe(loopback);
});

describe('presentsServeKey', () => {
  const key = 'c2VydmUta2V5LWZvci10ZXN0cy0wMTIzNDU2Nzg5YWJj';
  const query = (text: string) => new URLSearchParams(text);

  it.each<[string, string | string[] | undefined, string, boolean]>([
    ['the header', key, '', true],
    ['?code=', undefined, `code=${encodeURIComponent(key)}`, true],
    ['the header among repeats', ['wrong', key], '', true],
    ['nothing', undefined, '', false],
    ['a wrong header', 'wrong', '', false],
    ['a prefix of the key', key.slice(0, -1), '', false],
    ['the key with more after it', `${key}x`, '', false],
    ['a wrong ?code=', undefined, 'code=wrong', false],
    ['the key in another parameter', undefined, `key=${encodeURIComponent(key)}`, false],
  ])('with %s: %s', (_title, header, search, expected) => {
    expect(presentsServeKey(key, { header, query: query(search) })).toBe(expected);
  });
});
