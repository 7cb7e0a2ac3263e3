// Loads the Kusto language service (a Bridge.NET build that defines a global `Kusto`) for tests that check KQL text.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createContext, runInContext } from 'node:vm';

/** One problem the language service found, as plain data. */
export interface KqlDiagnostic {
  code: string;
  severity: string;
  message: string;
  /** Offset in the query text, and the text it points at. */
  start: number;
  text: string;
}

/** A table schema in Kusto's own notation: `(id:string, tags:dynamic, …)`. */
export type TableSchemas = Readonly<Record<string, string>>;

/**
 * The two Resource Graph tables the auditor reads, with the columns it may use. Resource Graph
 * has more, but a query that strays past these reads something the emulator will not serve.
 */
export const RESOURCE_GRAPH_TABLES: TableSchemas = {
  resources:
    '(id:string, name:string, type:string, subscriptionId:string, resourceGroup:string, location:string, tags:dynamic, properties:dynamic, tenantId:string)',
  resourcecontainers:
    '(id:string, name:string, type:string, subscriptionId:string, resourceGroup:string, location:string, tags:dynamic, properties:dynamic, tenantId:string)',
};

// Only the corner of the Bridge.NET API these tests use.
interface BridgeList<T> {
  Count: number;
  getItem(index: number): T;
}
interface BridgeDiagnostic {
  Code: string | null;
  Severity: string | null;
  Message: string | null;
  Start: number;
  Length: number;
}
interface KustoCode {
  GetDiagnostics(): BridgeList<BridgeDiagnostic>;
}
interface GlobalState {
  WithDatabase(database: unknown): GlobalState;
}
interface KustoNamespace {
  Language: {
    KustoCode: {
      Parse(text: string): KustoCode;
      ParseAndAnalyze(text: string, globals: GlobalState): KustoCode;
    };
    GlobalState: { Default: GlobalState };
    Symbols: {
      TableSymbol: { $ctor7: new (name: string, schema: string, description: string | null) => unknown };
      DatabaseSymbol: {
        $ctor2: new (name: string, alternateName: string | null, members: unknown[]) => unknown;
      };
    };
  };
}

let kusto: KustoNamespace | undefined;

/**
 * The `Kusto` namespace, loaded once per test file into a context of its own: the scripts assign
 * globals, and jest's sandbox should not collect them. `bridge.min.js` (the .NET runtime shim)
 * must run before `Kusto.Language.Bridge.min.js`.
 */
export function loadKusto(): KustoNamespace {
  if (kusto) return kusto;
  const packageDir = dirname(require.resolve('@kusto/language-service-next/package.json'));
  const context = createContext({});
  for (const file of ['bridge.min.js', 'Kusto.Language.Bridge.min.js']) {
    runInContext(readFileSync(join(packageDir, file), 'utf8'), context, { filename: file });
  }
  const loaded = (context as { Kusto?: KustoNamespace }).Kusto;
  if (!loaded?.Language?.KustoCode)
    throw new Error('@kusto/language-service-next did not define Kusto.Language.KustoCode');
  kusto = loaded;
  return kusto;
}

function toPlain(query: string, code: KustoCode): KqlDiagnostic[] {
  const list = code.GetDiagnostics();
  const out: KqlDiagnostic[] = [];
  for (let i = 0; i < list.Count; i++) {
    const d = list.getItem(i);
    out.push({
      code: d.Code ?? '',
      severity: d.Severity ?? '',
      message: d.Message ?? '',
      start: d.Start,
      text: query.slice(d.Start, d.Start + d.Length),
    });
  }
  return out;
}

/** Syntax errors only: no schema, so unknown tables and columns pass. */
export function kqlSyntaxDiagnostics(query: string): KqlDiagnostic[] {
  return toPlain(query, loadKusto().Language.KustoCode.Parse(query));
}

/** Syntax and semantic errors against a database holding the given tables (unknown columns, functions, tables). */
export function kqlDiagnostics(query: string, tables: TableSchemas = RESOURCE_GRAPH_TABLES): KqlDiagnostic[] {
  const { Language } = loadKusto();
  const symbols = Object.entries(tables).map(
    ([name, schema]) => new Language.Symbols.TableSymbol.$ctor7(name, schema, null),
  );
  const database = new Language.Symbols.DatabaseSymbol.$ctor2('resourcegraph', null, symbols);
  const globals = Language.GlobalState.Default.WithDatabase(database);
  return toPlain(query, Language.KustoCode.ParseAndAnalyze(query, globals));
}
