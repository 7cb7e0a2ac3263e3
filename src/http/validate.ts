// Request validation: query strings, path parameters and JSON bodies checked against zod schemas, every issue reported.

import type { HttpRequest } from '@azure/functions';
import type { z } from 'zod';

import { InputError } from '../errors';
import { type RequestIssue, RequestValidationError } from './problem';

/** Longest parameter name or value echoed back in a problem detail. */
const ECHO_LIMIT = 80;

function echo(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this replaces
  const clean = value.replace(/[\u0000-\u001F\u007F]/g, '?');
  return JSON.stringify(clean.length > ECHO_LIMIT ? `${clean.slice(0, ECHO_LIMIT)}…` : clean);
}

function issuesOf(error: z.ZodError, where: RequestIssue['in']): RequestIssue[] {
  return error.issues.map((issue) => ({
    in: where,
    name: issue.path.length ? issue.path.map(String).join('.') : '(whole)',
    detail: issue.message,
  }));
}

export interface QuerySpec<S extends z.ZodObject> {
  schema: S;
  /** Parameters that take several values, repeated (`status=a&status=b`) or comma-separated (`status=a,b`). */
  arrays?: readonly string[];
  /**
   * Parameters the Functions host owns and this API ignores: `code` carries the function key when a client
   * cannot send the `x-functions-key` header.
   */
  ignored?: readonly string[];
  /** Drops values of an array parameter before validation (the report's `code` doubles as the function key). */
  dropValue?: (name: string, value: string) => boolean;
}

/** Validates a query string: unknown parameters, repeated single-valued ones and bad values are all 400s. */
export function parseQuery<S extends z.ZodObject>(query: URLSearchParams, spec: QuerySpec<S>): z.output<S> {
  const issues: RequestIssue[] = [];
  const raw: Record<string, string | string[]> = {};
  const known = new Set(Object.keys(spec.schema.shape));
  const arrays = new Set(spec.arrays ?? []);
  const ignored = new Set(spec.ignored ?? []);
  for (const name of new Set(query.keys())) {
    if (ignored.has(name) && !known.has(name)) continue;
    if (!known.has(name)) {
      const allowed = [...known].join(', ') || 'none';
      issues.push({
        in: 'query',
        name: echo(name),
        detail: `is not a parameter of this route (parameters: ${allowed})`,
      });
      continue;
    }
    const values = query.getAll(name);
    if (arrays.has(name)) {
      const all = values.flatMap((v) => v.split(',')).map((v) => v.trim());
      const parts = all.filter((v) => !(spec.dropValue?.(name, v) ?? false));
      // Only host-owned values (a function key in `code`): as if the parameter were absent.
      if (parts.length === 0 && all.length > 0) continue;
      if (parts.some((p) => p === '')) {
        issues.push({
          in: 'query',
          name,
          detail: 'has an empty value; give at least one value or leave the parameter out',
        });
        continue;
      }
      raw[name] = parts;
    } else {
      if (values.length > 1) {
        issues.push({ in: 'query', name, detail: `is given ${values.length} times; give it once` });
        continue;
      }
      raw[name] = values[0] ?? '';
    }
  }
  const parsed = spec.schema.safeParse(raw);
  if (!parsed.success) issues.push(...issuesOf(parsed.error, 'query'));
  if (issues.length) throw new RequestValidationError(issues);
  return (parsed as { data: z.output<S> }).data;
}

/** Validates route parameters (`runs/{runId}`). */
export function parsePathParams<S extends z.ZodObject>(
  params: Record<string, string>,
  schema: S,
): z.output<S> {
  const parsed = schema.safeParse(params);
  if (!parsed.success) throw new RequestValidationError(issuesOf(parsed.error, 'path'));
  return parsed.data;
}

/**
 * Keys no body may hold at any depth. JSON.parse makes `__proto__` an ordinary own property, which object spread,
 * `Object.assign` and zod's object parsing then drop or turn into a prototype: the key would pass a strict schema
 * unseen. So these are refused as unknown fields before any schema runs.
 */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Where `value` holds a prototype key, as dotted paths (`__proto__`, `to.0.constructor`); iterative, so depth is no risk. */
export function prototypeKeyPaths(value: unknown): string[] {
  interface Step {
    value: unknown;
    key: string;
    parent: Step | null;
  }
  const pathOf = (step: Step | null, key: string): string => {
    const keys = [key];
    for (let at = step; at?.parent; at = at.parent) keys.push(at.key);
    return keys.reverse().join('.');
  };
  const found: string[] = [];
  const pending: Step[] = [{ value, key: '', parent: null }];
  for (let step = pending.pop(); step; step = pending.pop()) {
    if (typeof step.value !== 'object' || step.value === null) continue;
    for (const key of Object.keys(step.value)) {
      if (PROTOTYPE_KEYS.has(key)) found.push(pathOf(step, key));
      else pending.push({ value: (step.value as Record<string, unknown>)[key], key, parent: step });
    }
  }
  return found.sort();
}

export interface BodyOptions {
  maxBytes: number;
}

const JSON_MEDIA_TYPE = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/**
 * Reads and validates an optional JSON body: 413 beyond `maxBytes` (checked on Content-Length before
 * reading, and on the bytes read), 415 unless it is `application/json` in UTF-8, 400 for bad JSON or
 * values. An empty body validates as `{}`.
 */
export async function readJsonBody<S extends z.ZodObject>(
  request: HttpRequest,
  schema: S,
  options: BodyOptions,
): Promise<z.output<S>> {
  const tooLarge = (size: string) =>
    new InputError(`The body is ${size}; this route accepts at most ${options.maxBytes} bytes of JSON.`, 413);
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > options.maxBytes) {
    throw tooLarge(`${declared.trim()} bytes`);
  }
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > options.maxBytes) throw tooLarge(`${bytes.byteLength} bytes`);
  let value: unknown = {};
  if (bytes.byteLength > 0) {
    const contentType = request.headers.get('content-type');
    if (contentType === null || !JSON_MEDIA_TYPE.test(contentType.trim())) {
      throw new InputError(
        `The body must be JSON: send it with Content-Type: application/json (got ${contentType === null ? 'no Content-Type' : echo(contentType)}).`,
        415,
      );
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new RequestValidationError([{ in: 'body', name: '(whole)', detail: 'is not valid UTF-8' }]);
    }
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new RequestValidationError([
        {
          in: 'body',
          name: '(whole)',
          detail: `is not valid JSON (${(error as Error).message.slice(0, 120)})`,
        },
      ]);
    }
  }
  const prototypeKeys = prototypeKeyPaths(value);
  if (prototypeKeys.length) {
    throw new RequestValidationError(
      prototypeKeys.map((path) => ({
        in: 'body',
        name: echo(path).slice(1, -1),
        detail: 'is not a field of this request (__proto__, constructor and prototype never are)',
      })),
    );
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new RequestValidationError(issuesOf(parsed.error, 'body'));
  return parsed.data;
}
