// The Resource Graph queries parse and analyse cleanly in the Kusto language service, and the check can fail.

import * as queries from '../../src/azure/resourceGraphQueries';
import { kqlDiagnostics, kqlSyntaxDiagnostics, RESOURCE_GRAPH_TABLES } from '../support/kusto';

// Every exported query, so a new one is checked without touching this file.
const QUERIES = Object.entries(queries).filter(
  (entry): entry is [string, string] => typeof entry[1] === 'string',
);

describe('Resource Graph KQL', () => {
  it('finds the queries the audit sends', () => {
    expect(QUERIES.map(([name]) => name)).toEqual(
      expect.arrayContaining(['CLUSTERS_QUERY', 'SUBSCRIPTIONS_QUERY']),
    );
  });

  it.each(QUERIES)('parses %s with zero syntax errors', (_name, query) => {
    expect(kqlSyntaxDiagnostics(query)).toEqual([]);
  });

  it.each(QUERIES)(
    'analyses %s with zero errors against the resources and resourcecontainers schema',
    (_name, query) => {
      expect(kqlDiagnostics(query)).toEqual([]);
    },
  );

  it('reads clusters from resources and subscriptions from resourcecontainers', () => {
    expect(queries.CLUSTERS_QUERY).toMatch(/^resources\b/);
    expect(queries.CLUSTERS_QUERY).toContain("type =~ 'microsoft.containerservice/managedclusters'");
    expect(queries.SUBSCRIPTIONS_QUERY).toMatch(/^resourcecontainers\b/);
    expect(queries.SUBSCRIPTIONS_QUERY).toContain("type =~ 'microsoft.resources/subscriptions'");
  });

  // Resource Graph only pages (returns $skipToken) when `id` is projected and there is no limit/take.
  it.each(QUERIES)('lets Resource Graph page %s: projects id, no limit or take', (_name, query) => {
    expect(query).toMatch(/\|\s*project\s+id\b/);
    expect(query).not.toMatch(/\|\s*(limit|take)\b/i);
  });
});

describe('the KQL check itself', () => {
  it.each<[string, string]>([
    ['a misspelt operator', "resources | wher type == 'x'"],
    ['a missing pipe', "resources where type == 'x'"],
    ['an unclosed string', "resources | where type == 'x"],
    ['a dangling pipe', 'resources | project id |'],
  ])('reports syntax errors for %s', (_title, query) => {
    const diagnostics = kqlSyntaxDiagnostics(query);
    expect(diagnostics.length).toBeGreaterThan(0);
    expect(diagnostics.every((d) => d.severity === 'Error')).toBe(true);
  });

  it('points at the broken operator', () => {
    const [first] = kqlSyntaxDiagnostics("resources | wher type == 'x'");
    expect(first).toMatchObject({ message: 'Query operator expected.' });
    expect(first!.start).toBe("resources | wher type == 'x'".indexOf('wher'));
  });

  it.each<[string, string, string]>([
    ['a misspelt column', 'resources | project id, subscriptionID', 'subscriptionID'],
    ['a column the tables do not have', 'resources | project id, sku', 'sku'],
    ['an unknown function', "resources | where bag_pak('a', 1) == 1 | project id", 'bag_pak'],
    ['an unknown table', 'resource | project id', 'resource'],
  ])('reports semantic errors for %s, which pass the syntax check', (_title, query, culprit) => {
    expect(kqlSyntaxDiagnostics(query)).toEqual([]);
    const diagnostics = kqlDiagnostics(query);
    expect(diagnostics.map((d) => d.text)).toContain(culprit);
    expect(diagnostics.every((d) => d.severity === 'Error')).toBe(true);
  });

  it('reads nested properties of dynamic columns without complaint', () => {
    const query = [
      'resources',
      "| where type =~ 'microsoft.containerservice/managedclusters'",
      '| mv-expand pool = properties.agentPoolProfiles',
      '| extend fips = tobool(pool.enableFIPS), env = tostring(tags.env)',
      '| project id, name, fips, env',
    ].join('\n');
    expect(kqlDiagnostics(query)).toEqual([]);
  });

  it('knows only the tables it is given', () => {
    expect(Object.keys(RESOURCE_GRAPH_TABLES).sort()).toEqual(['resourcecontainers', 'resources']);
    expect(
      kqlDiagnostics('resources | project id', {
        resourcecontainers: RESOURCE_GRAPH_TABLES.resourcecontainers!,
      }),
    ).not.toEqual([]);
  });
});
