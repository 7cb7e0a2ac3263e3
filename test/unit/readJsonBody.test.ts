// Request bodies: prototype keys are refused as unknown fields at any depth, before a schema could drop them unseen.

import { HttpRequest } from '@azure/functions';
import { z } from 'zod';

import { RequestValidationError } from '../../src/http/problem';
import { prototypeKeyPaths, readJsonBody } from '../../src/http/validate';

const request = (body: string) =>
  new HttpRequest({
    method: 'PUT',
    url: 'https://fips-auditor.example.test/api/x',
    headers: { 'content-type': 'application/json' },
    body: { string: body },
  });

async function issuesOf(body: string, schema: z.ZodObject = z.looseObject({})) {
  try {
    await readJsonBody(request(body), schema, { maxBytes: 16 * 1024 });
  } catch (error) {
    expect(error).toBeInstanceOf(RequestValidationError);
    return (error as RequestValidationError).issues;
  }
  return [];
}

it('shows why: a loose zod object drops a parsed __proto__ without a word', () => {
  const parsed: unknown = JSON.parse('{"__proto__": {"isAdmin": true}, "reason": "x"}');
  expect(Object.keys(parsed as object)).toEqual(['__proto__', 'reason']);
  const result = z.looseObject({}).parse(parsed);
  expect(Object.keys(result)).toEqual(['reason']);
});

it.each([
  ['__proto__ at the top', '{"__proto__": {"isAdmin": true}, "reason": "x"}', ['__proto__']],
  ['constructor at the top', '{"constructor": {"prototype": {"x": 1}}}', ['constructor']],
  ['prototype at the top', '{"prototype": null}', ['prototype']],
  ['__proto__ in a nested object', '{"a": {"b": {"__proto__": 1}}}', ['a.b.__proto__']],
  ['__proto__ inside an array', '{"to": [{"__proto__": {}}, "x"]}', ['to.0.__proto__']],
  ['several at once', '{"__proto__": 1, "x": {"constructor": 2}}', ['__proto__', 'x.constructor']],
])('refuses %s as an unknown body field, naming where', async (_title, body, paths) => {
  const issues = await issuesOf(body);
  expect(issues).toEqual(
    paths.map((name) => ({ in: 'body', name, detail: expect.stringContaining('is not a field') as string })),
  );
});

it('refuses them under a strict schema too, where the schema alone would name them differently', async () => {
  const issues = await issuesOf(
    '{"__proto__": {}}',
    z.object({ to: z.array(z.string()).optional() }).strict(),
  );
  expect(issues.map((i) => i.name)).toEqual(['__proto__']);
});

it.each([
  ['ordinary keys that merely contain the words', '{"constructorName": 1, "proto": 2, "my_prototype": 3}'],
  ['the words as values', '{"reason": "__proto__", "list": ["constructor", "prototype"]}'],
  ['an empty body', ''],
])('accepts %s', async (_title, body) => {
  expect(await issuesOf(body)).toEqual([]);
});

it('walks deeply nested bodies without recursion', () => {
  const deep = `${'{"a":'.repeat(5000)}{"__proto__":1}${'}'.repeat(5000)}`;
  const paths = prototypeKeyPaths(JSON.parse(deep));
  expect(paths).toHaveLength(1);
  expect(paths[0]!.endsWith('a.__proto__')).toBe(true);
});
