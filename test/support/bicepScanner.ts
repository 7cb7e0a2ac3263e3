// A small Bicep scanner (strings, comments, brackets, declarations) for structural checks: no Bicep compiler runs here.

/** Patterns of key material: reading keys, SAS, or building key-based connection strings, none of which the Bicep may do. */
export const KEY_MATERIAL_PATTERNS: readonly RegExp[] = [
  /listKeys\s*\(/i,
  /listConnectionStrings\s*\(/i,
  /listAccountSas\s*\(/i,
  /listServiceSas\s*\(/i,
  /\baccountKey\b/i,
  /AccountKey=/i,
  /SharedAccessKey/i,
  /DefaultEndpointsProtocol=/i,
  /accesskey=/i,
  /primaryKey|secondaryKey/,
  /allowSharedKeyAccess\s*:\s*true/,
];

/** Blanks out comments (keeping newlines) so that brackets and keywords in them are not read as code. */
export function stripComments(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    if (src.startsWith("'''", i)) {
      const end = src.indexOf("'''", i + 3);
      const stop = end < 0 ? src.length : end + 3;
      out += src.slice(i, stop);
      i = stop;
    } else if (src[i] === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== "'") j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
    } else if (src.startsWith('//', i)) {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      out += ' '.repeat(stop - i);
      i = stop;
    } else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else {
      out += src[i];
      i += 1;
    }
  }
  return out;
}

/** Replaces the content of every string literal with `_` so that only code is left to match against. */
export function maskStrings(src: string): string {
  return src.replace(
    /'''[\s\S]*?'''|'(?:\\.|[^'\\])*'/g,
    (s) => `'${'_'.repeat(Math.max(0, s.length - 2))}'`,
  );
}

export interface Declaration {
  keyword: string;
  name: string;
  decorators: string[];
  /** The whole declaration, comments blanked. */
  text: string;
  line: number;
}

/**
 * Top-level declarations of a Bicep file. A declaration starts at column 0 outside any bracket and runs until
 * the next line that does; the decorators (`@...`) right before it are attached to it.
 */
export function declarations(source: string): Declaration[] {
  const src = stripComments(source);
  const masked = maskStrings(src);
  const lines = src.split('\n');
  const maskedLines = masked.split('\n');
  const result: Declaration[] = [];
  let depth = 0;
  let decorators: string[] = [];
  let current: { start: number; decorators: string[] } | null = null;
  let decoratorStart = -1;
  const close = (end: number) => {
    if (!current) return;
    const text = lines.slice(current.start, end).join('\n');
    const header = /^(\w+)\s+([\w]+)?/.exec(text);
    result.push({
      keyword: header?.[1] ?? '',
      name: header?.[2] ?? '',
      decorators: current.decorators,
      text,
      line: current.start + 1,
    });
    current = null;
  };
  maskedLines.forEach((masked, n) => {
    const startsTopLevel = depth === 0 && /^\S/.test(masked);
    if (startsTopLevel) {
      if (masked.startsWith('@')) {
        close(n);
        if (decoratorStart < 0) decoratorStart = n;
      } else {
        close(n);
        if (decoratorStart >= 0) {
          decorators = decorators.concat(splitDecorators(lines.slice(decoratorStart, n).join('\n')));
          decoratorStart = -1;
        }
        current = { start: n, decorators };
        decorators = [];
      }
    }
    for (const ch of masked) {
      if ('([{'.includes(ch)) depth += 1;
      else if (')]}'.includes(ch)) depth -= 1;
    }
  });
  close(lines.length);
  return result;
}

/** Splits a run of decorator lines into one string per decorator. */
export function splitDecorators(text: string): string[] {
  const masked = maskStrings(text);
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  for (let i = 0; i < masked.length; i += 1) {
    const ch = masked[i]!;
    if (ch === '@' && depth === 0) {
      if (start >= 0) out.push(text.slice(start, i).trim());
      start = i;
    }
    if ('([{'.includes(ch)) depth += 1;
    else if (')]}'.includes(ch)) depth -= 1;
  }
  if (start >= 0) out.push(text.slice(start).trim());
  return out;
}

/** The first string literal in `text`, unquoted. */
export function firstString(text: string): string | undefined {
  const match = /'''([\s\S]*?)'''|'((?:\\.|[^'\\])*)'/.exec(text);
  if (!match) return undefined;
  return match[1] ?? match[2]?.replace(/\\'/g, "'");
}

/** Index of the bracket closing the one at `open`, skipping strings. */
export function matchingBracket(text: string, open: number): number {
  const masked = maskStrings(text);
  let depth = 0;
  for (let i = open; i < masked.length; i += 1) {
    const ch = masked[i]!;
    if ('([{'.includes(ch)) depth += 1;
    else if (')]}'.includes(ch)) {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  throw new Error(`unbalanced bracket at ${open} in: ${text.slice(open, open + 80)}`);
}

/** Entries of the object literal starting at `text[open] === '{'`: key → raw value text. */
export function objectEntries(text: string, open: number): Map<string, string> {
  const end = matchingBracket(text, open);
  const body = text.slice(open + 1, end);
  const masked = maskStrings(body);
  const entries = new Map<string, string>();
  // Entries are separated by newlines (Bicep's multi-line objects) or commas (single-line objects) at depth 0.
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < masked.length; i += 1) {
    const ch = masked[i]!;
    if ('([{'.includes(ch)) depth += 1;
    else if (')]}'.includes(ch)) depth -= 1;
    else if ((ch === '\n' || ch === ',') && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(body.slice(start));
  let pending: { key: string; value: string } | null = null;
  for (const part of parts) {
    const entry = /^\s*('(?:[^'\\]|\\.)*'|[A-Za-z_$][\w$]*)\s*:\s*([\s\S]*)$/.exec(part);
    if (entry) {
      if (pending) entries.set(pending.key, pending.value.trim());
      pending = { key: entry[1]!.replace(/^'|'$/g, ''), value: entry[2]! };
    } else if (pending && part.trim() !== '') {
      // A value that goes on over several lines (a multi-line ternary, a function call).
      pending.value += `\n${part}`;
    }
  }
  if (pending) entries.set(pending.key, pending.value.trim());
  return entries;
}

/** Keys of every object literal that is (part of) an expression, e.g. `cond ? { A: 1 } : { B: 2 }`. */
export function objectKeysInExpression(expression: string): string[] {
  const masked = maskStrings(expression);
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < masked.length; i += 1) {
    const ch = masked[i]!;
    if (ch === '{' && depth === 0) {
      keys.push(...objectEntries(expression, i).keys());
      i = matchingBracket(expression, i);
      continue;
    }
    if ('([{'.includes(ch)) depth += 1;
    else if (')]}'.includes(ch)) depth -= 1;
  }
  return keys;
}

/** The object a `resource` declaration assigns: its body, also inside `[for ...: {...}]` and `if (...) {...}`. */
export function resourceBody(declaration: Declaration): Map<string, string> {
  const masked = maskStrings(declaration.text);
  const equals = masked.indexOf('=');
  let parens = 0;
  for (let i = equals; i < masked.length; i += 1) {
    const ch = masked[i]!;
    if (ch === '(') parens += 1;
    else if (ch === ')') parens -= 1;
    else if (ch === '{' && parens === 0) return objectEntries(declaration.text, i);
  }
  throw new Error(`no body in resource ${declaration.name} (line ${declaration.line})`);
}

/** The object literal that is the value of `key` in an entry map, parsed. */
export function nested(entries: Map<string, string>, key: string): Map<string, string> {
  const value = entries.get(key);
  if (value === undefined) return new Map<string, string>();
  const open = maskStrings(value).indexOf('{');
  return open < 0 ? new Map<string, string>() : objectEntries(value, open);
}

/** Top-level arguments of the call starting at `text` (e.g. `guid(a, b, c)`). */
export function callArguments(text: string): string[] {
  const open = text.indexOf('(');
  const end = matchingBracket(text, open);
  const inner = text.slice(open + 1, end);
  const masked = maskStrings(inner);
  const args: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < masked.length; i += 1) {
    const ch = masked[i]!;
    if ('([{'.includes(ch)) depth += 1;
    else if (')]}'.includes(ch)) depth -= 1;
    else if (ch === ',' && depth === 0) {
      args.push(inner.slice(start, i).trim());
      start = i + 1;
    }
  }
  args.push(inner.slice(start).trim());
  return args;
}
