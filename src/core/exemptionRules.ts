// Pure validation of exemptions (scope, codes, texts, bounded mandatory expiry) and their state at a time.

import { z } from 'zod';

import { isActive } from './applyExemptions';
import { type Exemption, FINDING_CODES, type FindingCode } from './types';

/** Field limits: long enough for real use, short enough for a table entity, an email line and a CSV cell. */
export const EXEMPTION_LIMITS = {
  idLength: 64,
  scopeLength: 512,
  reasonLength: 2000,
  ownerLength: 256,
  ticketLength: 256,
} as const;

/** The default of AUDIT_EXEMPTION_MAX_DAYS. */
export const DEFAULT_EXEMPTION_MAX_DAYS = 180;

const DAY_IN_MS = 86_400_000;

export type ScopeLevel = 'subscription' | 'resourceGroup' | 'cluster' | 'pool';

/** A scope that names one of the four levels an exemption may cover, with its fixed segments in canonical casing. */
export interface ExemptionScope {
  level: ScopeLevel;
  /** `/subscriptions/<guid lowercased>[/resourceGroups/<rg>[/providers/Microsoft.ContainerService/managedClusters/<c>[/agentPools/<p>]]]` */
  scope: string;
  subscriptionId: string;
}

/** What a caller supplies; the store adds `id`, `createdBy`, `createdAt` and the update fields. */
export interface ExemptionInput {
  scope: string;
  codes: FindingCode[] | null;
  reason: string;
  ticket: string | null;
  owner: string;
  /** ISO 8601 in UTC (`toISOString()`). */
  expiresOn: string;
}

export interface ExemptionIssue {
  /** The field at fault (`scope`, `expiresOn`, …), or `body` for the document as a whole. */
  field: string;
  detail: string;
}

export type Validation<T> = { ok: true; value: T } | { ok: false; issues: ExemptionIssue[] };

export interface ExemptionRulesOptions {
  /** The clock, passed in: `expiresOn` must be after it and at most `maxDays` ahead. */
  now: Date;
  maxDays: number;
  /** The ID the exemption is stored under (from the URL or `--id`); a body `id` must equal it. */
  id?: string;
}

/** Fields a client may send back from a GET or PUT response; the server sets them, so their values are ignored. */
export const READ_ONLY_FIELDS = [
  'id',
  'createdBy',
  'createdAt',
  'updatedBy',
  'updatedAt',
  'state',
  'etag',
  'warnings',
] as const;
const WRITABLE_FIELDS = ['scope', 'codes', 'reason', 'ticket', 'owner', 'expiresOn'] as const;

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// ARM's naming rules: resource group 1-90 of letters, digits, _ ( ) - . (not ending in .); cluster 1-63 of
// letters, digits, _ - starting and ending alphanumeric; agent pool a letter then up to 11 letters or digits.
const RESOURCE_GROUP = /^[\p{L}\p{N}_().-]{1,90}$/u;
const CLUSTER = /^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$/;
const POOL = /^[a-z][a-z0-9]{0,11}$/i;
// Matching control characters is the point of these two.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
// eslint-disable-next-line no-control-regex
const CONTROL_OR_NEWLINE = /[\u0000-\u001F\u007F]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

const SCOPE_EXAMPLE =
  '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod/agentPools/win22';

/** Why `id` cannot name an exemption, or null when it can. IDs compare case-insensitively. */
export function exemptionIdProblem(id: string): string | null {
  if (id.length === 0) return 'is empty';
  if (id.length > EXEMPTION_LIMITS.idLength) {
    return `is ${id.length} characters long; at most ${EXEMPTION_LIMITS.idLength} are allowed`;
  }
  if (!ID.test(id)) return 'may hold only letters, digits, ".", "_" and "-", starting with a letter or digit';
  return null;
}

/**
 * Parses an exemption scope: the ARM ID of a subscription, resource group, managed cluster or agent pool.
 * Segment names compare case-insensitively (ARM IDs do); one trailing slash is tolerated.
 */
export function parseExemptionScope(text: string): Validation<ExemptionScope> {
  const fail = (detail: string): Validation<ExemptionScope> => ({
    ok: false,
    issues: [{ field: 'scope', detail }],
  });
  if (text.length > EXEMPTION_LIMITS.scopeLength) {
    return fail(`is ${text.length} characters long; at most ${EXEMPTION_LIMITS.scopeLength} are allowed`);
  }
  const forms =
    'an ARM ID of a subscription, resource group, managed cluster or agent pool, e.g. ' + SCOPE_EXAMPLE;
  const parts = text.replace(/\/$/, '').split('/');
  // ['', 'subscriptions', sub, 'resourceGroups', rg, 'providers', 'Microsoft.ContainerService', 'managedClusters', c, 'agentPools', p]
  const fixed: [index: number, name: string][] = [
    [1, 'subscriptions'],
    [3, 'resourceGroups'],
    [5, 'providers'],
    [6, 'Microsoft.ContainerService'],
    [7, 'managedClusters'],
    [9, 'agentPools'],
  ];
  if (parts[0] !== '' || ![3, 5, 9, 11].includes(parts.length)) return fail(`must be ${forms}`);
  for (const [index, name] of fixed) {
    const part = parts[index];
    if (part !== undefined && part.toLowerCase() !== name.toLowerCase()) {
      return fail(`has "${part}" where "${name}" belongs; it must be ${forms}`);
    }
  }
  const [, , sub = '', , rg, , , , cluster, , pool] = parts;
  if (!GUID.test(sub)) return fail(`must name a subscription by its GUID; got "${sub}"`);
  if (rg !== undefined && (!RESOURCE_GROUP.test(rg) || rg.endsWith('.'))) {
    return fail(
      `has a resource group name "${rg}" that ARM does not allow (1-90 letters, digits, _ ( ) - ., not ending in .)`,
    );
  }
  if (cluster !== undefined && !CLUSTER.test(cluster)) {
    return fail(
      `has a cluster name "${cluster}" that AKS does not allow (1-63 letters, digits, _ -, starting and ending with a letter or digit)`,
    );
  }
  if (pool !== undefined && !POOL.test(pool)) {
    return fail(
      `has an agent pool name "${pool}" that AKS does not allow (a letter, then up to 11 letters or digits)`,
    );
  }
  const subscriptionId = sub.toLowerCase();
  let scope = `/subscriptions/${subscriptionId}`;
  let level: ScopeLevel = 'subscription';
  if (rg !== undefined) {
    scope += `/resourceGroups/${rg}`;
    level = 'resourceGroup';
  }
  if (cluster !== undefined) {
    scope += `/providers/Microsoft.ContainerService/managedClusters/${cluster}`;
    level = 'cluster';
  }
  if (pool !== undefined) {
    scope += `/agentPools/${pool}`;
    level = 'pool';
  }
  return { ok: true, value: { level, scope, subscriptionId } };
}

function calendarDateIsReal(y: string, m: string, d: string): boolean {
  const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
  return (
    date.getUTCFullYear() === Number(y) &&
    date.getUTCMonth() === Number(m) - 1 &&
    date.getUTCDate() === Number(d)
  );
}

/**
 * Reads an expiry: `YYYY-MM-DD` means the end of that day in UTC (the waiver holds through the day named);
 * a date-time needs an offset (`Z` or `±hh:mm`). Returns null for anything else, including 2026-02-30.
 */
export function parseExpiresOn(text: string): Date | null {
  const dateOnly = DATE_ONLY.exec(text);
  if (dateOnly) {
    const [, y, m, d] = dateOnly as unknown as [string, string, string, string];
    if (!calendarDateIsReal(y, m, d)) return null;
    return new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)) + DAY_IN_MS - 1);
  }
  const dateTime = DATE_TIME.exec(text);
  if (!dateTime) return null;
  const [, y, m, d] = dateTime as unknown as [string, string, string, string];
  if (!calendarDateIsReal(y, m, d)) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms);
}

/** The latest expiry allowed at `now`: the end of the UTC day `maxDays` days ahead, so a date typed as "today + N" passes. */
export function latestExpiry(now: Date, maxDays: number): Date {
  const ahead = new Date(now.getTime() + maxDays * DAY_IN_MS);
  return new Date(Date.UTC(ahead.getUTCFullYear(), ahead.getUTCMonth(), ahead.getUTCDate()) + DAY_IN_MS - 1);
}

function textProblem(value: string, limit: number, multiline: boolean): string | null {
  if (value.trim() === '') return 'must not be blank';
  if (value.length > limit) return `is ${value.length} characters long; at most ${limit} are allowed`;
  if ((multiline ? CONTROL : CONTROL_OR_NEWLINE).test(value)) {
    return multiline ? 'must not contain control characters' : 'must be one line without control characters';
  }
  if (LONE_SURROGATE.test(value)) return 'contains an invalid character (a lone UTF-16 surrogate)';
  return null;
}

const describe = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;

/**
 * Validates what a caller sends to create or replace an exemption (HTTP body or CLI options), reporting
 * every problem at once. Unknown fields are refused (a typo such as `expiresAt` must not silently drop the
 * expiry); the read-only fields of a GET are accepted and ignored, so a read-modify-write round trip works.
 */
export function validateExemptionInput(
  raw: unknown,
  options: ExemptionRulesOptions,
): Validation<ExemptionInput> {
  const issues: ExemptionIssue[] = [];
  const add = (field: string, detail: string) => issues.push({ field, detail });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, issues: [{ field: 'body', detail: `must be a JSON object; got ${describe(raw)}` }] };
  }
  const body = raw as Record<string, unknown>;
  const known = new Set<string>([...WRITABLE_FIELDS, ...READ_ONLY_FIELDS]);
  for (const key of Object.keys(body)) {
    if (!known.has(key)) add(key, `is not a field of an exemption (fields: ${WRITABLE_FIELDS.join(', ')})`);
  }
  if (options.id !== undefined && body.id !== undefined) {
    if (typeof body.id !== 'string' || body.id.toLowerCase() !== options.id.toLowerCase()) {
      add('id', `must be "${options.id}" (the ID in the URL) or left out`);
    }
  }

  let scope = '';
  if (typeof body.scope !== 'string') add('scope', `is required: ${SCOPE_EXAMPLE}`);
  else {
    const parsed = parseExemptionScope(body.scope.trim());
    if (parsed.ok) scope = parsed.value.scope;
    else issues.push(...parsed.issues);
  }

  let codes: FindingCode[] | null = null;
  if (body.codes !== undefined && body.codes !== null) {
    if (!Array.isArray(body.codes) || body.codes.length === 0) {
      add('codes', 'must be a non-empty array of finding codes, or null (or left out) for every code');
    } else {
      const unknown = body.codes.filter((c) => !(FINDING_CODES as readonly unknown[]).includes(c));
      if (unknown.length) {
        add(
          'codes',
          `has values that are not finding codes: ${unknown.map((c) => JSON.stringify(c).slice(0, 40)).join(', ')} (codes: ${FINDING_CODES.join(', ')})`,
        );
      } else {
        codes = [...new Set(body.codes as FindingCode[])].sort();
      }
    }
  }

  const requiredText = (field: 'reason' | 'owner', limit: number, multiline: boolean): string => {
    const value = body[field];
    if (value === undefined || value === null) {
      add(field, 'is required');
      return '';
    }
    if (typeof value !== 'string') {
      add(field, `must be a string; got ${describe(value)}`);
      return '';
    }
    const problem = textProblem(value, limit, multiline);
    if (problem) add(field, problem);
    return value.trim();
  };
  const reason = requiredText('reason', EXEMPTION_LIMITS.reasonLength, true);
  const owner = requiredText('owner', EXEMPTION_LIMITS.ownerLength, false);

  let ticket: string | null = null;
  if (body.ticket !== undefined && body.ticket !== null) {
    if (typeof body.ticket !== 'string')
      add('ticket', `must be a string or null; got ${describe(body.ticket)}`);
    else {
      const problem = textProblem(body.ticket, EXEMPTION_LIMITS.ticketLength, false);
      if (problem) add('ticket', `${problem} (leave it out or send null when there is no ticket)`);
      else ticket = body.ticket.trim();
    }
  }

  let expiresOn = '';
  const latest = latestExpiry(options.now, options.maxDays);
  if (body.expiresOn === undefined || body.expiresOn === null) {
    add(
      'expiresOn',
      `is required: every exemption expires, at most ${options.maxDays} days ahead (e.g. ${latest.toISOString().slice(0, 10)})`,
    );
  } else if (typeof body.expiresOn !== 'string') {
    add(
      'expiresOn',
      `must be a date (YYYY-MM-DD) or an ISO 8601 date-time with offset; got ${describe(body.expiresOn)}`,
    );
  } else {
    const expiry = parseExpiresOn(body.expiresOn.trim());
    if (!expiry) {
      add(
        'expiresOn',
        `must be a date (YYYY-MM-DD, meaning the end of that day in UTC) or an ISO 8601 date-time with offset; got "${body.expiresOn.slice(0, 40)}"`,
      );
    } else if (expiry.getTime() <= options.now.getTime()) {
      add(
        'expiresOn',
        `must be in the future; ${expiry.toISOString()} is not after ${options.now.toISOString()}`,
      );
    } else if (expiry.getTime() > latest.getTime()) {
      add(
        'expiresOn',
        `is more than ${options.maxDays} days ahead (AUDIT_EXEMPTION_MAX_DAYS); the latest allowed now is ${latest.toISOString().slice(0, 10)}`,
      );
    } else {
      expiresOn = expiry.toISOString();
    }
  }

  if (issues.length) return { ok: false, issues };
  return { ok: true, value: { scope, codes, reason, ticket, owner, expiresOn } };
}

export type ExemptionState = 'active' | 'expired' | 'pending';

// ---- schemas for the API description ----
// The rules above are what validates; these zod schemas describe the same rules for the OpenAPI document
// (built from the same constants; test/unit/openApi.test.ts checks the two agree on sample inputs).

/** Where an exemption stands now, as GET returns it. */
export const exemptionStateSchema = z.enum(['active', 'expired', 'pending'] satisfies ExemptionState[]).meta({
  description:
    'active: in force now; expired: `expiresOn` has passed; pending: created after the time it is judged at (clock skew).',
});

/** An exemption ID, as exemptionIdProblem accepts it. */
export const exemptionIdSchema = z
  .string()
  .min(1)
  .max(EXEMPTION_LIMITS.idLength)
  .regex(ID)
  .meta({
    description: `The exemption ID: 1-${EXEMPTION_LIMITS.idLength} letters, digits, ".", "_" and "-", starting with a letter or digit; compared case-insensitively.`,
    examples: ['win19-rebuild'],
  });

/** `expiresOn` as parseExpiresOn reads it: a date, or a date-time with an offset (T and Z in either case). */
const EXPIRES_ON_PATTERN =
  /^\d{4}-\d{2}-\d{2}(?:[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:\d{2}))?$/;

const readOnlyField = (description: string) => z.unknown().optional().meta({ readOnly: true, description });

/**
 * The body of PUT /api/exemptions/{id}, as validateExemptionInput accepts it. What a schema cannot say:
 * texts are trimmed and must not be blank, one-line fields take no line breaks, no field takes other
 * control characters, and `expiresOn` must be a real date after now and at most AUDIT_EXEMPTION_MAX_DAYS ahead.
 */
export const exemptionInputSchema = z
  .object({
    scope: z
      .string()
      .min(1)
      .max(EXEMPTION_LIMITS.scopeLength)
      .meta({
        description:
          'The ARM ID of the subscription, resource group, managed cluster or agent pool the exemption covers (segment names compare case-insensitively).',
        examples: [SCOPE_EXAMPLE],
      }),
    codes: z
      .array(z.enum(FINDING_CODES))
      .min(1)
      .nullable()
      .optional()
      .meta({ description: 'Only these finding codes; null or absent: every code.' }),
    reason: z
      .string()
      .min(1)
      .max(EXEMPTION_LIMITS.reasonLength)
      .meta({ description: 'Why the pool may stay as it is; may span lines.' }),
    ticket: z
      .string()
      .min(1)
      .max(EXEMPTION_LIMITS.ticketLength)
      .nullable()
      .optional()
      .meta({ description: 'A change or risk ticket, one line; null or absent when there is none.' }),
    owner: z
      .string()
      .min(1)
      .max(EXEMPTION_LIMITS.ownerLength)
      .meta({ description: 'Who answers for the exemption, one line.' }),
    expiresOn: z
      .string()
      .regex(EXPIRES_ON_PATTERN)
      .meta({
        description: `Mandatory expiry: YYYY-MM-DD (the end of that day in UTC) or an ISO 8601 date-time with an offset; after now and at most AUDIT_EXEMPTION_MAX_DAYS (default ${DEFAULT_EXEMPTION_MAX_DAYS}) days ahead.`,
        examples: ['2026-12-31', '2026-12-31T17:00:00+01:00'],
      }),
    id: readOnlyField(
      'Read-only: may be sent back from a GET, and must then equal the ID in the URL (case-insensitively).',
    ),
    ...Object.fromEntries(
      READ_ONLY_FIELDS.filter((field) => field !== 'id').map((field) => [
        field,
        readOnlyField('Read-only: may be sent back from a GET or PUT response; its value is ignored.'),
      ]),
    ),
  })
  .strict()
  .meta({
    description:
      'Unknown fields are refused (400), so a misspelt field never silently drops a value; every bad field is reported at once.',
  });

/** Where an exemption stands at `asOf`: `pending` only when it was created after `asOf` (clock skew, a replayed run). */
export function exemptionState(exemption: Exemption, asOf: Date): ExemptionState {
  if (isActive(exemption, asOf)) return 'active';
  return asOf.getTime() >= Date.parse(exemption.expiresOn) ? 'expired' : 'pending';
}

/** Active at `asOf` and lapsing within `days` days of it. */
export function expiresWithin(exemption: Exemption, asOf: Date, days: number): boolean {
  return isActive(exemption, asOf) && Date.parse(exemption.expiresOn) <= asOf.getTime() + days * DAY_IN_MS;
}
