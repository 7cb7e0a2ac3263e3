// The KQL the ARM emulator understands: the audit's queries, projected as Resource Graph would; the rest refused.

import {
  parseGraphQuery,
  projectRow,
  projectsId,
  QueryNotUnderstoodError,
} from '../../emulators/resourceGraphQuery';
import {
  CLUSTER_PROPERTY_COLUMNS,
  CLUSTERS_QUERY,
  SUBSCRIPTIONS_QUERY,
} from '../../src/azure/resourceGraphQueries';

const row = {
  id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c',
  name: 'c',
  type: 'microsoft.containerservice/managedclusters',
  subscriptionId: 's',
  resourceGroup: 'rg',
  location: 'eastus',
  tags: { 'team.name': 'x' },
  sku: { name: 'Base' },
  properties: {
    kubernetesVersion: '1.33',
    agentPoolProfiles: [{ name: 'p', nodeLabels: { a: 'b' } }],
    networkProfile: { networkPlugin: 'azure' },
  },
};

describe('parseGraphQuery', () => {
  it('reads the audit’s cluster query and projects only the columns it names', () => {
    const query = parseGraphQuery(CLUSTERS_QUERY);
    expect(query).toMatchObject({ table: 'resources', type: 'microsoft.containerservice/managedclusters' });
    const projected = projectRow(query, row);
    expect(Object.keys(projected)).toEqual([
      'id',
      'name',
      'subscriptionId',
      'resourceGroup',
      'location',
      'tags',
      ...CLUSTER_PROPERTY_COLUMNS,
    ]);
    expect(projected.kubernetesVersion).toBe('1.33');
    expect(projected.agentPoolProfiles).toEqual(row.properties.agentPoolProfiles);
    // Missing paths are null, as in Kusto; what is not projected is not sent.
    expect(projected.currentKubernetesVersion).toBeNull();
    expect(JSON.stringify(projected)).not.toContain('networkPlugin');
    expect(projectsId(query)).toBe(true);
  });

  it('reads the audit’s subscription query', () => {
    expect(parseGraphQuery(SUBSCRIPTIONS_QUERY)).toMatchObject({
      table: 'resourcecontainers',
      type: 'microsoft.resources/subscriptions',
      project: [
        { name: 'id', path: ['id'] },
        { name: 'subscriptionId', path: ['subscriptionId'] },
        { name: 'name', path: ['name'] },
      ],
    });
  });

  it.each<[string, string, Record<string, unknown>]>([
    [
      'a bare path, named as Kusto names it',
      "resources | where type =~ 'x' | project properties.kubernetesVersion",
      { properties_kubernetesVersion: '1.33' },
    ],
    ['a bracketed key', 'resources | where type == "x" | project t = tags[\'team.name\']', { t: 'x' }],
    ['no projection: the whole row', "resources | where type =~ 'x'", row],
  ])('projects %s', (_title, text, expected) => {
    expect(projectRow(parseGraphQuery(text), row)).toEqual(expected);
  });

  it.each([
    ['another table', "securityresources | where type =~ 'x'"],
    ['an operator it does not implement', "resources | where type =~ 'x' | order by id asc"],
    ['mv-expand', "resources | where type =~ 'x' | mv-expand p = properties.agentPoolProfiles"],
    ['a function in project', "resources | where type =~ 'x' | project id, p = pack('a', name)"],
    ['an unknown column', "resources | where type =~ 'x' | project id, foo"],
    ['a where on anything but type', "resources | where name =~ 'x'"],
    ['no where at all', 'resources | project id'],
    ['a column projected twice', "resources | where type =~ 'x' | project id, id"],
  ])('refuses %s loudly', (_title, text) => {
    expect(() => parseGraphQuery(text)).toThrow(QueryNotUnderstoodError);
  });

  it('tells whether the output keeps id (Resource Graph pages only then)', () => {
    expect(projectsId(parseGraphQuery("resources | where type =~ 'x' | project name, properties"))).toBe(
      false,
    );
  });
});
