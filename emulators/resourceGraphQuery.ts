// The corner of KQL the ARM emulator understands: `<table> | where type =~ '<type>' [| project <columns>]`.

/**
 * Resource Graph answers any KQL it supports; the emulator answers only the shapes the auditor (and its tests)
 * send, and refuses anything else with 400 InvalidQuery naming what it did not understand, rather than
 * pretending. Understood:
 * - a table, `resources` or `resourcecontainers`;
 * - `| where type =~ '<type>'` (or `==`, single or double quotes), once;
 * - `| project c1, c2, …` where each column is a column name, a property path (`properties.a.b`, `tags['x']`),
 *   or `alias = path`; a bare path is named as Kusto names it (`properties_a_b`). A path that does not exist in
 *   a row gives null, as in Kusto.
 * Any other operator, function call or expression is refused.
 */

export type GraphTable = 'resources' | 'resourcecontainers';

/** The columns both tables have (learn.microsoft.com/azure/governance/resource-graph/reference/supported-tables-resources). */
export const TABLE_COLUMNS: readonly string[] = [
  'id',
  'name',
  'type',
  'tenantId',
  'kind',
  'location',
  'resourceGroup',
  'subscriptionId',
  'managedBy',
  'sku',
  'plan',
  'properties',
  'tags',
  'identity',
  'zones',
  'extendedLocation',
];

export interface ProjectedColumn {
  /** The output column name. */
  name: string;
  /** The property path read from the row: a table column, then nested properties. */
  path: string[];
}

export interface GraphQuery {
  table: GraphTable;
  /** The lowercased resource type of the `where` filter. */
  type: string;
  /** null: every column of the table. */
  project: ProjectedColumn[] | null;
}

export class QueryNotUnderstoodError extends Error {
  override readonly name = 'QueryNotUnderstoodError';
}

/** Splits on `|` outside quotes. */
function splitPipes(text: string): string[] {
  const parts: string[] = [];
  let quote: string | null = null;
  let current = '';
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    } else if (ch === '|') {
      parts.push(current.trim());
      current = '';
      continue;
    }
    current += ch;
  }
  parts.push(current.trim());
  return parts;
}

/** Splits on top-level commas (outside quotes and brackets). */
function splitColumns(list: string): string[] {
  const columns: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let current = '';
  for (const ch of list) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    } else if (ch === '(' || ch === '[' || ch === '{') {
      depth++;
    } else if (ch === ')' || ch === ']' || ch === '}') {
      depth--;
    } else if (ch === ',' && depth === 0) {
      columns.push(current.trim());
      current = '';
      continue;
    }
    current += ch;
  }
  if (current.trim()) columns.push(current.trim());
  return columns;
}

/** `properties.a['b'].c` → ['properties', 'a', 'b', 'c'], or null when it is not a plain property path. */
function parsePath(text: string): string[] | null {
  const path: string[] = [];
  let rest = text.trim();
  const head = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
  if (!head) return null;
  path.push(head[0]);
  rest = rest.slice(head[0].length);
  while (rest.length) {
    const dotted = /^\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)/.exec(rest);
    const bracketed = /^\s*\[\s*(['"])([^'"]*)\1\s*\]/.exec(rest);
    if (dotted) {
      path.push(dotted[1]!);
      rest = rest.slice(dotted[0].length);
    } else if (bracketed) {
      path.push(bracketed[2]!);
      rest = rest.slice(bracketed[0].length);
    } else {
      return null;
    }
  }
  return path;
}

function parseColumn(text: string): ProjectedColumn {
  const equals = /^([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=|~)\s*(.+)$/s.exec(text);
  const alias = equals?.[1];
  const expression = equals ? equals[2]! : text;
  const path = parsePath(expression);
  if (!path) {
    throw new QueryNotUnderstoodError(
      `the emulator understands column names and property paths in 'project', not '${expression.trim()}'`,
    );
  }
  if (!TABLE_COLUMNS.includes(path[0]!)) {
    throw new QueryNotUnderstoodError(`'${path[0]}' is not a column of the table`);
  }
  return { name: alias ?? path.join('_'), path };
}

/** Parses the understood subset, or throws QueryNotUnderstoodError saying what was not understood. */
export function parseGraphQuery(query: string): GraphQuery {
  const [tableText = '', ...operators] = splitPipes(query);
  const table = tableText.toLowerCase();
  if (table !== 'resources' && table !== 'resourcecontainers') {
    throw new QueryNotUnderstoodError(
      `the emulator reads the resources and resourcecontainers tables, not '${tableText}'`,
    );
  }
  let type: string | null = null;
  let project: ProjectedColumn[] | null = null;
  for (const operator of operators) {
    const where = /^where\s+type\s*(=~|==)\s*(['"])([^'"]*)\2$/is.exec(operator);
    const projection = /^project\s+(.+)$/is.exec(operator);
    if (where && type === null && project === null) {
      type = where[3]!.toLowerCase();
    } else if (projection && project === null) {
      const columns = splitColumns(projection[1]!).map(parseColumn);
      const names = new Set<string>();
      for (const column of columns) {
        if (names.has(column.name))
          throw new QueryNotUnderstoodError(`column '${column.name}' is projected twice`);
        names.add(column.name);
      }
      project = columns;
    } else {
      throw new QueryNotUnderstoodError(
        `the emulator does not understand '| ${operator.split(/\s+/).slice(0, 3).join(' ')}'; it answers '<table> | where type =~ '<type>' | project <columns>'`,
      );
    }
  }
  if (type === null) {
    throw new QueryNotUnderstoodError("the emulator needs a `where type =~ '<type>'` filter");
  }
  return { table, type, project };
}

function read(row: Record<string, unknown>, path: readonly string[]): unknown {
  let value: unknown = row;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    value = (value as Record<string, unknown>)[key];
    if (value === undefined) return null;
  }
  return value;
}

/** The row as the query's projection shapes it (the whole row when there is no projection). */
export function projectRow(query: GraphQuery, row: Record<string, unknown>): Record<string, unknown> {
  if (!query.project) return row;
  const out: Record<string, unknown> = {};
  for (const column of query.project) out[column.name] = read(row, column.path);
  return out;
}

/** Whether the output has an `id` column, which Resource Graph needs to return a skip token. */
export function projectsId(query: GraphQuery): boolean {
  return !query.project || query.project.some((column) => column.name === 'id');
}
