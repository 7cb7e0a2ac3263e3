// Evaluates Azure Policy rules by the documented condition semantics, so tests can hold generated definitions
// against the audit's own verdicts.
//
// Semantics implemented, as the Azure Policy docs state them (learn.microsoft.com/azure/governance/policy/, in
// MicrosoftDocs/azure-docs: concepts/definition-structure-policy-rule.md, how-to/author-policies-for-arrays.md,
// concepts/definition-structure-alias.md):
// - `not`, `allOf`, `anyOf`: logical not, and, or.
// - Conditions compare strings case-insensitively (InvariantCultureIgnoreCase), except `match`/`notMatch`;
//   `like` takes one `*` wildcard; `match` takes `#` (digit), `?` (letter), `.` (any character). `less`,
//   `lessOrEquals`, `greater`, `greaterOrEquals` throw when the types differ.
// - A `field` condition on a `[*]` alias has an implicit "all of": it is true when every selected value meets
//   it. A missing array selects an empty collection.
// - `count` over a field enumerates the array's members and evaluates `where` for each "as if it were the only
//   member of the array", against the entire request otherwise; without `where` it counts the members. A
//   `value` count enumerates an array, naming the current item for `current()`.
// - `field()` of the counted alias inside `where` returns an array with the one member; `current(alias)` its
//   value, or the value of a property of it.
// - `utcNow()` returns `yyyy-MM-ddTHH:mm:ss.fffffffZ`.
// Where the docs say nothing, this evaluator makes a stated choice:
// - `exists: true` means at least one value is selected and it is not null; `exists: false` the opposite. That
//   is how Azure/azure-policy#142 (a maintainer: "exists only checks to see if the property exists in the
//   resource") and the built-in AKS definitions (`exists: false` on a member property inside `where`) use it.
// - A property that one counted member lacks: `missingMemberProperty` chooses whether it selects nothing
//   ('emptyCollection': other conditions then hold vacuously, by "all of") or one missing value ('nullValue').
// - A missing value never equals, is never in, never matches, never contains and never compares; the negated
//   conditions (`notEquals`, `notIn`, …) are true of it.
// - Two date-time strings (`YYYY-MM-DD[Thh:mm…]`) compare as instants (the docs list `dateValue` operands);
//   other strings ordinally, ignoring case.

export interface PolicyEvaluationOptions {
  /** Alias → its default path in the request (`properties.osSKU`). An alias not here throws. */
  aliases: Readonly<Record<string, string>>;
  now: Date;
  missingMemberProperty?: 'emptyCollection' | 'nullValue';
}

/** A resource as a request or a GET carries it: `id`, `name`, `type`, `properties`, … */
export type PolicyResource = Record<string, unknown> & { id: string; type: string };

type Json = unknown;
type Node = Record<string, Json>;

const OPERATORS = [
  'equals',
  'notEquals',
  'like',
  'notLike',
  'match',
  'matchInsensitively',
  'notMatch',
  'notMatchInsensitively',
  'contains',
  'notContains',
  'in',
  'notIn',
  'containsKey',
  'notContainsKey',
  'less',
  'lessOrEquals',
  'greater',
  'greaterOrEquals',
  'exists',
] as const;
type Operator = (typeof OPERATORS)[number];

const TOP_LEVEL_FIELDS = ['name', 'type', 'id', 'location', 'kind', 'fullName'];

interface FieldBinding {
  kind: 'field';
  /** The counted alias (`…/agentPoolProfiles[*]`) and its path (`properties.agentPoolProfiles[*]`). */
  alias: string;
  path: string;
  member: Json;
}
interface ValueBinding {
  kind: 'value';
  name: string;
  item: Json;
}
type Binding = FieldBinding | ValueBinding;

interface Context {
  resource: PolicyResource;
  parameters: Record<string, Json>;
  options: PolicyEvaluationOptions;
  bindings: Binding[];
}

export class PolicyEvaluationError extends Error {
  override readonly name = 'PolicyEvaluationError';
}

const isObject = (v: Json): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);
const isMissing = (v: Json) => v === undefined || v === null;

// ------------------------------------------------------------------------------------------------ aliases

function aliasPath(alias: string, options: PolicyEvaluationOptions): string {
  const key = Object.keys(options.aliases).find((a) => a.toLowerCase() === alias.toLowerCase());
  if (key === undefined) throw new PolicyEvaluationError(`unknown alias ${alias}`);
  return options.aliases[key]!;
}

function getProperty(node: Json, name: string): Json {
  if (!isObject(node)) return undefined;
  if (name in node) return node[name];
  const key = Object.keys(node).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : node[key];
}

interface Selection {
  values: Json[];
  collection: boolean;
}

/** Walks `segments` from `node`; `[*]` segments fan out over array members. */
function walk(node: Json, segments: string[], ctx: Context): Selection {
  let current: { value: Json; present: boolean }[] = [{ value: node, present: true }];
  let collection = false;
  for (const segment of segments) {
    const star = segment.endsWith('[*]');
    const name = star ? segment.slice(0, -3) : segment;
    const next: { value: Json; present: boolean }[] = [];
    for (const { value } of current) {
      const child = name === '' ? value : getProperty(value, name);
      if (star) {
        collection = true;
        if (Array.isArray(child)) for (const member of child) next.push({ value: member, present: true });
      } else {
        next.push({ value: child, present: child !== undefined });
      }
    }
    current = next;
  }
  if (collection && ctx.options.missingMemberProperty !== 'nullValue') {
    current = current.filter((c) => c.present);
  }
  return { values: current.map((c) => c.value), collection };
}

/** The values a field (a top-level field or an alias) selects, honouring the members bound by `count`. */
function selectField(field: string, ctx: Context): Selection {
  if (TOP_LEVEL_FIELDS.includes(field)) {
    return { values: [getProperty(ctx.resource, field)], collection: false };
  }
  const tag = /^tags(?:\.(.+)|\['(.+)'\])$/.exec(field);
  if (tag)
    return { values: [getProperty(getProperty(ctx.resource, 'tags'), tag[1] ?? tag[2]!)], collection: false };
  const path = aliasPath(field, ctx.options);
  for (let i = ctx.bindings.length - 1; i >= 0; i--) {
    const binding = ctx.bindings[i]!;
    if (binding.kind !== 'field') continue;
    if (path.toLowerCase() === binding.path.toLowerCase())
      return { values: [binding.member], collection: true };
    if (path.toLowerCase().startsWith(`${binding.path.toLowerCase()}.`)) {
      const rest = path.slice(binding.path.length + 1).split('.');
      const { values } = walk(binding.member, rest, ctx);
      // The member's property is still selected through a [*] alias: a collection of at most one value.
      const kept =
        ctx.options.missingMemberProperty === 'nullValue' ? values : values.filter((v) => v !== undefined);
      return { values: kept, collection: true };
    }
  }
  return walk(ctx.resource, path.split('.'), ctx);
}

// ------------------------------------------------------------------------------------------------ comparisons

const DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?$/i;

function scalarText(v: Json): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new PolicyEvaluationError(`cannot compare ${JSON.stringify(v)} as a string`);
}

function equalsValue(actual: Json, expected: Json): boolean {
  if (isMissing(actual)) return false;
  if (typeof actual === 'number' && typeof expected === 'number') return actual === expected;
  const structured = (v: Json) => isObject(v) || Array.isArray(v);
  // The arrays article: "a" compared with ["a"] is simply false.
  if (structured(actual) || structured(expected)) return JSON.stringify(actual) === JSON.stringify(expected);
  return scalarText(actual).toLowerCase() === scalarText(expected).toLowerCase();
}

function likeValue(actual: Json, pattern: Json): boolean {
  if (typeof actual !== 'string') return false;
  const text = scalarText(pattern);
  if ((text.match(/\*/g) ?? []).length > 1)
    throw new PolicyEvaluationError(`like takes one wildcard: ${text}`);
  const re = new RegExp(
    `^${text
      .split('*')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    'is',
  );
  return re.test(actual);
}

function matchValue(actual: Json, pattern: Json, insensitive: boolean): boolean {
  if (typeof actual !== 'string') return false;
  const source = [...scalarText(pattern)]
    .map((c) =>
      c === '#' ? '\\d' : c === '?' ? '\\p{L}' : c === '.' ? '.' : c.replace(/[*+^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${source}$`, insensitive ? 'iu' : 'u').test(actual);
}

function compare(actual: Json, expected: Json): number | null {
  if (isMissing(actual)) return null;
  if (typeof actual === 'number' && typeof expected === 'number') return actual - expected;
  if (typeof actual === 'string' && typeof expected === 'string') {
    if (DATE.test(actual) && DATE.test(expected)) return Date.parse(actual) - Date.parse(expected);
    const a = actual.toLowerCase();
    const b = expected.toLowerCase();
    return a < b ? -1 : a > b ? 1 : 0;
  }
  throw new PolicyEvaluationError(
    `cannot compare ${JSON.stringify(actual)} with ${JSON.stringify(expected)}: the types differ`,
  );
}

function existsWanted(expected: Json): boolean {
  if (typeof expected === 'boolean') return expected;
  if (typeof expected === 'string' && /^(true|false)$/i.test(expected))
    return expected.toLowerCase() === 'true';
  throw new PolicyEvaluationError(`exists takes true or false; got ${JSON.stringify(expected)}`);
}

/** One operator applied to one value. */
function applyOperator(operator: Operator, actual: Json, expected: Json): boolean {
  switch (operator) {
    case 'equals':
      return equalsValue(actual, expected);
    case 'notEquals':
      return !equalsValue(actual, expected);
    case 'in':
    case 'notIn': {
      if (!Array.isArray(expected)) throw new PolicyEvaluationError(`${operator} takes an array`);
      const found = expected.some((e) => equalsValue(actual, e));
      return operator === 'in' ? found : !found;
    }
    case 'like':
      return likeValue(actual, expected);
    case 'notLike':
      return !likeValue(actual, expected);
    case 'match':
      return matchValue(actual, expected, false);
    case 'notMatch':
      return !matchValue(actual, expected, false);
    case 'matchInsensitively':
      return matchValue(actual, expected, true);
    case 'notMatchInsensitively':
      return !matchValue(actual, expected, true);
    case 'contains':
    case 'notContains': {
      const text = scalarText(expected);
      if (text.includes('*')) throw new PolicyEvaluationError('contains takes no wildcard');
      const found = Array.isArray(actual)
        ? actual.some((a) => equalsValue(a, expected))
        : typeof actual === 'string' && actual.toLowerCase().includes(text.toLowerCase());
      return operator === 'contains' ? found : !found;
    }
    case 'containsKey':
    case 'notContainsKey': {
      const found = isObject(actual) && getProperty(actual, scalarText(expected)) !== undefined;
      return operator === 'containsKey' ? found : !found;
    }
    case 'less':
    case 'lessOrEquals':
    case 'greater':
    case 'greaterOrEquals': {
      const c = compare(actual, expected);
      if (c === null) return false;
      return operator === 'less'
        ? c < 0
        : operator === 'lessOrEquals'
          ? c <= 0
          : operator === 'greater'
            ? c > 0
            : c >= 0;
    }
    case 'exists':
      return existsWanted(expected) === !isMissing(actual);
  }
}

function operatorOf(condition: Node): Operator {
  const found = OPERATORS.filter((op) => op in condition);
  if (found.length !== 1) {
    throw new PolicyEvaluationError(
      `a condition needs exactly one operator; got ${JSON.stringify(condition)}`,
    );
  }
  return found[0]!;
}

// ------------------------------------------------------------------------------------------------ expressions

type Token = { kind: 'ident' | 'string' | 'number' | 'punct'; text: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) i++;
    else if (c === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= source.length) throw new PolicyEvaluationError(`unterminated string in ${source}`);
        if (source[i] === "'" && source[i + 1] === "'") {
          text += "'";
          i += 2;
        } else if (source[i] === "'") {
          i++;
          break;
        } else text += source[i++];
      }
      tokens.push({ kind: 'string', text });
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?\d+(\.\d+)?/.exec(source.slice(i))!;
      tokens.push({ kind: 'number', text: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))!;
      tokens.push({ kind: 'ident', text: m[0] });
      i += m[0].length;
    } else if ('(),.[]'.includes(c)) {
      tokens.push({ kind: 'punct', text: c });
      i++;
    } else throw new PolicyEvaluationError(`unexpected ${c} in ${source}`);
  }
  return tokens;
}

function formatUtcNow(now: Date): string {
  return now.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

function callFunction(name: string, args: Json[], ctx: Context): Json {
  const text = (i: number) => scalarText(args[i]);
  switch (name.toLowerCase()) {
    case 'parameters': {
      const key = Object.keys(ctx.parameters).find((k) => k.toLowerCase() === text(0).toLowerCase());
      if (key === undefined) throw new PolicyEvaluationError(`no parameter ${text(0)}`);
      return ctx.parameters[key];
    }
    case 'field': {
      const selection = selectField(text(0), ctx);
      if (selection.collection) return selection.values;
      return selection.values[0] ?? '';
    }
    case 'current':
      return current(args.length ? text(0) : null, ctx);
    case 'concat':
      if (args.every(Array.isArray)) return (args as Json[][]).flat();
      return args.map((a) => scalarText(a)).join('');
    case 'first':
      return Array.isArray(args[0]) ? args[0][0] : text(0).charAt(0);
    case 'length':
      return Array.isArray(args[0])
        ? args[0].length
        : isObject(args[0])
          ? Object.keys(args[0]).length
          : text(0).length;
    case 'tolower':
      return text(0).toLowerCase();
    case 'toupper':
      return text(0).toUpperCase();
    case 'utcnow':
      if (args.length) throw new PolicyEvaluationError('utcNow(format) is not supported here');
      return formatUtcNow(ctx.options.now);
    default:
      throw new PolicyEvaluationError(`function ${name}() is not supported by this evaluator`);
  }
}

function current(name: string | null, ctx: Context): Json {
  for (let i = ctx.bindings.length - 1; i >= 0; i--) {
    const binding = ctx.bindings[i]!;
    if (name === null) return binding.kind === 'value' ? binding.item : binding.member;
    if (binding.kind === 'value' && binding.name.toLowerCase() === name.toLowerCase()) return binding.item;
    if (binding.kind === 'field') {
      const path = aliasPath(name, ctx.options);
      if (path.toLowerCase() === binding.path.toLowerCase()) return binding.member;
      if (path.toLowerCase().startsWith(`${binding.path.toLowerCase()}.`)) {
        const rest = path.slice(binding.path.length + 1).split('.');
        return rest.reduce<Json>((node, segment) => getProperty(node, segment), binding.member);
      }
    }
  }
  throw new PolicyEvaluationError(`current(${name ?? ''}) outside a count that defines it`);
}

function evaluateExpression(source: string, ctx: Context): Json {
  const tokens = tokenize(source);
  let pos = 0;
  const peek = () => tokens[pos];
  const expect = (text: string) => {
    const t = tokens[pos++];
    if (!t || t.text !== text) throw new PolicyEvaluationError(`expected ${text} in [${source}]`);
  };
  const parse = (): Json => {
    const t = tokens[pos++];
    if (!t) throw new PolicyEvaluationError(`unexpected end of [${source}]`);
    let value: Json;
    if (t.kind === 'string') value = t.text;
    else if (t.kind === 'number') value = Number(t.text);
    else if (t.kind === 'ident' && peek()?.text === '(') {
      pos++;
      const args: Json[] = [];
      if (peek()?.text !== ')') {
        for (;;) {
          args.push(parse());
          if (peek()?.text === ',') pos++;
          else break;
        }
      }
      expect(')');
      value = callFunction(t.text, args, ctx);
    } else if (t.kind === 'ident' && /^(true|false|null)$/i.test(t.text)) {
      value = t.text.toLowerCase() === 'null' ? null : t.text.toLowerCase() === 'true';
    } else throw new PolicyEvaluationError(`unexpected ${t.text} in [${source}]`);
    for (;;) {
      if (peek()?.text === '.') {
        pos++;
        const property = tokens[pos++];
        if (!property || property.kind !== 'ident')
          throw new PolicyEvaluationError(`bad accessor in [${source}]`);
        value = getProperty(value, property.text);
      } else if (peek()?.text === '[') {
        pos++;
        const index = parse();
        expect(']');
        value =
          Array.isArray(value) && typeof index === 'number'
            ? value[index]
            : getProperty(value, scalarText(index));
      } else break;
    }
    return value;
  };
  const result = parse();
  if (pos !== tokens.length) throw new PolicyEvaluationError(`trailing text in [${source}]`);
  return result;
}

/** A literal, or the result of a template expression `[...]` (`[[` escapes a literal bracket). */
function resolve(value: Json, ctx: Context): Json {
  if (typeof value !== 'string' || !value.startsWith('[')) return value;
  if (value.startsWith('[[')) return value.slice(1);
  if (!value.endsWith(']')) return value;
  return evaluateExpression(value.slice(1, -1), ctx);
}

// ------------------------------------------------------------------------------------------------ conditions

function evaluateCondition(condition: Json, ctx: Context): boolean {
  if (!isObject(condition))
    throw new PolicyEvaluationError(`a condition must be an object: ${JSON.stringify(condition)}`);
  if ('allOf' in condition) {
    const list = condition.allOf;
    if (!Array.isArray(list)) throw new PolicyEvaluationError('allOf takes an array');
    return list.every((c) => evaluateCondition(c, ctx));
  }
  if ('anyOf' in condition) {
    const list = condition.anyOf;
    if (!Array.isArray(list)) throw new PolicyEvaluationError('anyOf takes an array');
    return list.some((c) => evaluateCondition(c, ctx));
  }
  if ('not' in condition) return !evaluateCondition(condition.not, ctx);
  const operator = operatorOf(condition);
  const expected = resolve(condition[operator], ctx);
  if ('count' in condition) {
    return applyOperator(operator, countOf(condition.count, ctx), expected);
  }
  if ('field' in condition) {
    const field = resolve(condition.field, ctx);
    if (typeof field !== 'string') throw new PolicyEvaluationError('field must name a field');
    const selection = selectField(field, ctx);
    if (operator === 'exists') {
      return existsWanted(expected) === selection.values.some((v) => !isMissing(v));
    }
    if (!selection.collection) return applyOperator(operator, selection.values[0], expected);
    return selection.values.every((v) => applyOperator(operator, v, expected));
  }
  if ('value' in condition) {
    return applyOperator(operator, resolve(condition.value, ctx), expected);
  }
  throw new PolicyEvaluationError(`a condition needs field, value or count: ${JSON.stringify(condition)}`);
}

function countOf(count: Json, ctx: Context): number {
  if (!isObject(count)) throw new PolicyEvaluationError('count takes an object');
  const where = count.where;
  if ('field' in count) {
    const alias = count.field;
    if (typeof alias !== 'string' || !alias.endsWith('[*]')) {
      throw new PolicyEvaluationError(`count.field must be a [*] alias; got ${JSON.stringify(alias)}`);
    }
    const path = aliasPath(alias, ctx.options);
    const members = walk(ctx.resource, path.split('.'), {
      ...ctx,
      options: { ...ctx.options, missingMemberProperty: 'emptyCollection' },
    }).values;
    if (where === undefined) return members.length;
    return members.filter((member) =>
      evaluateCondition(where, {
        ...ctx,
        bindings: [...ctx.bindings, { kind: 'field', alias, path, member }],
      }),
    ).length;
  }
  if ('value' in count) {
    const items = resolve(count.value, ctx);
    if (!Array.isArray(items)) throw new PolicyEvaluationError('count.value must be an array');
    const name = typeof count.name === 'string' ? count.name : 'default';
    if (where === undefined) return items.length;
    return items.filter((item) =>
      evaluateCondition(where, { ...ctx, bindings: [...ctx.bindings, { kind: 'value', name, item }] }),
    ).length;
  }
  throw new PolicyEvaluationError('count needs field or value');
}

// ------------------------------------------------------------------------------------------------ definitions

/** Evaluates one condition (or logical operator) against a resource. */
export function evaluatePolicyCondition(
  condition: Json,
  resource: PolicyResource,
  options: PolicyEvaluationOptions & { parameters?: Record<string, Json> },
): boolean {
  return evaluateCondition(condition, {
    resource,
    parameters: options.parameters ?? {},
    options,
    bindings: [],
  });
}

export interface DefinitionLike {
  name: string;
  properties: {
    mode: string;
    parameters: Record<string, { defaultValue?: Json; allowedValues?: readonly Json[] }>;
    policyRule: { if: Json; then: { effect: string } };
  };
}

export interface PolicyVerdict {
  /** The `if` condition held. */
  matched: boolean;
  effect: string;
  /** Matched with an effect other than Disabled: the resource is noncompliant (audit) or refused (deny). */
  flagged: boolean;
}

function parameterValues(
  declared: Record<string, { defaultValue?: Json; allowedValues?: readonly Json[] }>,
  given: Record<string, Json>,
  owner: string,
): Record<string, Json> {
  const values: Record<string, Json> = {};
  for (const [name, definition] of Object.entries(declared)) {
    const value = name in given ? given[name] : definition.defaultValue;
    if (value === undefined) throw new PolicyEvaluationError(`${owner}: parameter ${name} has no value`);
    if (definition.allowedValues && !definition.allowedValues.some((a) => equalsValue(value, a))) {
      throw new PolicyEvaluationError(
        `${owner}: ${JSON.stringify(value)} is not an allowed value of ${name}`,
      );
    }
    values[name] = value;
  }
  for (const name of Object.keys(given)) {
    if (!(name in declared)) throw new PolicyEvaluationError(`${owner}: no parameter ${name} is declared`);
  }
  return values;
}

export function evaluateDefinition(
  definition: DefinitionLike,
  resource: PolicyResource,
  options: PolicyEvaluationOptions & { parameters?: Record<string, Json> },
): PolicyVerdict {
  const ctx: Context = {
    resource,
    parameters: parameterValues(definition.properties.parameters, options.parameters ?? {}, definition.name),
    options,
    bindings: [],
  };
  const matched = evaluateCondition(definition.properties.policyRule.if, ctx);
  const effect = scalarText(resolve(definition.properties.policyRule.then.effect, ctx));
  return { matched, effect, flagged: matched && effect.toLowerCase() !== 'disabled' };
}

export interface InitiativeLike {
  properties: {
    parameters: Record<string, { defaultValue?: Json; allowedValues?: readonly Json[] }>;
    policyDefinitions: {
      policyDefinitionReferenceId: string;
      policyDefinitionId: string;
      parameters: Record<string, { value: Json }>;
    }[];
  };
}

/** Evaluates every definition of an initiative, passing the assignment's parameters through the references. */
export function evaluateInitiative(
  initiative: InitiativeLike,
  definitions: readonly DefinitionLike[],
  resource: PolicyResource,
  options: PolicyEvaluationOptions & { parameters?: Record<string, Json> },
): Map<string, PolicyVerdict> {
  const initiativeParameters = parameterValues(
    initiative.properties.parameters,
    options.parameters ?? {},
    'initiative',
  );
  const outer: Context = { resource, parameters: initiativeParameters, options, bindings: [] };
  const verdicts = new Map<string, PolicyVerdict>();
  for (const reference of initiative.properties.policyDefinitions) {
    const name = reference.policyDefinitionId.split('/').pop();
    const definition = definitions.find((d) => d.name === name);
    if (!definition) throw new PolicyEvaluationError(`no definition ${reference.policyDefinitionId}`);
    const parameters = Object.fromEntries(
      Object.entries(reference.parameters).map(([key, { value }]) => [key, resolve(value, outer)]),
    );
    verdicts.set(
      reference.policyDefinitionReferenceId,
      evaluateDefinition(definition, resource, { ...options, parameters }),
    );
  }
  return verdicts;
}
