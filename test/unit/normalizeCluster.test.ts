// Reading clusters in every casing the sources print, node image facts, run summaries and secret scrubbing.

import { nodeImageBuildDate, nodeImageFamily } from '../../src/core/nodeImage';
import { ClusterShapeError, normalizeCluster } from '../../src/core/normalizeCluster';
import { summarizeRun } from '../../src/core/summarizeRun';
import type { ClusterResult, PoolRecord, PoolResult, PoolStatus } from '../../src/core/types';
import { describeError, sanitize } from '../../src/errors';

const SUB = '0b1f6471-1bf0-4dda-aec3-111122223333';
const CLUSTER_ID = `/subscriptions/${SUB.toUpperCase()}/resourceGroups/rg-Payments/providers/Microsoft.ContainerService/managedClusters/aks-pay`;

// A row as Resource Graph (and `az graph query`) returns it: REST casing under `properties`.
const graphRow = {
  id: CLUSTER_ID,
  name: 'aks-pay',
  type: 'microsoft.containerservice/managedclusters',
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  location: 'eastus',
  resourceGroup: 'rg-payments',
  subscriptionId: SUB,
  tags: { env: 'prod', costCenter: 42 },
  properties: {
    kubernetesVersion: '1.33',
    currentKubernetesVersion: '1.33.2',
    provisioningState: 'Succeeded',
    powerState: { code: 'Running' },
    nodeProvisioningProfile: { mode: 'Auto' },
    agentPoolProfiles: [
      {
        name: 'system',
        mode: 'System',
        osType: 'Linux',
        osSKU: 'Ubuntu',
        enableFIPS: true,
        orchestratorVersion: '1.33.2',
        currentOrchestratorVersion: '1.33.2',
        nodeImageVersion: 'AKSUbuntu-2004gen2fipscontainerd-202511.20.0',
        vmSize: 'Standard_D4s_v5',
        count: 3,
        workloadRuntime: 'OCIContainer',
        securityProfile: { enableSecureBoot: true, enableVTPM: true },
        provisioningState: 'Succeeded',
        powerState: { code: 'Running' },
      },
      {
        name: 'user',
        mode: 'User',
        osType: 'Linux',
        osSKU: 'Ubuntu2204',
        vmSize: 'Standard_D8s_v5',
        count: 2,
        provisioningState: 'Succeeded',
        powerState: { code: 'Stopped' },
      },
    ],
  },
};

// A cluster as `az aks list -o json` prints it: flattened, CLI casing, no subscriptionId.
const cliCluster = {
  id: CLUSTER_ID,
  name: 'aks-pay',
  location: 'eastus',
  resourceGroup: 'rg-Payments',
  tags: null,
  kubernetesVersion: '1.31.5',
  currentKubernetesVersion: '1.31.5',
  provisioningState: 'Succeeded',
  powerState: { code: 'Stopped' },
  nodeProvisioningProfile: { mode: 'Manual' },
  agentPoolProfiles: [
    {
      name: 'win',
      mode: 'User',
      osType: 'Windows',
      osSku: 'Windows2022',
      enableFips: false,
      orchestratorVersion: '1.31.5',
      currentOrchestratorVersion: '1.31.5',
      nodeImageVersion: 'AKSWindows-2022-containerd-20348.2966.250101',
      vmSize: 'Standard_D4s_v5',
      count: 1,
      securityProfile: { enableSecureBoot: false, enableVtpm: true },
      powerState: { code: 'Running' },
    },
  ],
};

describe('normalizeCluster', () => {
  it('reads a Resource Graph row in REST casing with properties', () => {
    const cluster = normalizeCluster(graphRow);
    expect(cluster).toMatchObject({
      id: CLUSTER_ID,
      name: 'aks-pay',
      subscriptionId: SUB,
      resourceGroup: 'rg-payments',
      location: 'eastus',
      tags: { env: 'prod', costCenter: '42' },
      kubernetesVersion: '1.33',
      currentKubernetesVersion: '1.33.2',
      nodeProvisioningMode: 'Auto',
      provisioningState: 'Succeeded',
      powerState: 'Running',
    });
    expect(cluster.pools[0]).toEqual<PoolRecord>({
      id: `${CLUSTER_ID}/agentPools/system`,
      name: 'system',
      osType: 'Linux',
      osSku: 'Ubuntu',
      enableFips: true,
      orchestratorVersion: '1.33.2',
      currentOrchestratorVersion: '1.33.2',
      nodeImageVersion: 'AKSUbuntu-2004gen2fipscontainerd-202511.20.0',
      vmSize: 'Standard_D4s_v5',
      vmSizes: [],
      mode: 'System',
      count: 3,
      workloadRuntime: 'OCIContainer',
      trustedLaunch: true,
      provisioningState: 'Succeeded',
      powerState: 'Running',
    });
  });

  it('reads `az aks list` output: CLI casing flattened to the top level', () => {
    const cluster = normalizeCluster(cliCluster);
    expect(cluster).toMatchObject({
      subscriptionId: SUB,
      resourceGroup: 'rg-Payments',
      tags: {},
      kubernetesVersion: '1.31.5',
      nodeProvisioningMode: 'Manual',
      powerState: 'Stopped',
    });
    expect(cluster.pools).toHaveLength(1);
    expect(cluster.pools[0]).toMatchObject({
      id: `${CLUSTER_ID}/agentPools/win`,
      osType: 'Windows',
      osSku: 'Windows2022',
      enableFips: false,
      trustedLaunch: true,
      workloadRuntime: null,
      powerState: 'Running',
    });
  });

  it.each<[string, unknown]>([
    [
      'CLI casing inside properties',
      {
        ...graphRow,
        properties: {
          agentPoolProfiles: [
            { name: 'p', osSku: 'AzureLinux3', enableFips: true, orchestratorVersion: '1.33.0' },
          ],
        },
      },
    ],
    [
      'REST casing flattened',
      {
        id: CLUSTER_ID,
        agentPoolProfiles: [
          { name: 'p', osSKU: 'AzureLinux3', enableFIPS: true, orchestratorVersion: '1.33.0' },
        ],
      },
    ],
    [
      'other casings altogether',
      {
        ID: CLUSTER_ID,
        Properties: {
          AgentPoolProfiles: [
            { Name: 'p', OSSKU: 'AzureLinux3', EnableFips: true, OrchestratorVersion: '1.33.0' },
          ],
        },
      },
    ],
  ])('reads mixed casings: %s', (_title, raw) => {
    const [pool] = normalizeCluster(raw).pools;
    expect(pool).toMatchObject({
      id: `${CLUSTER_ID}/agentPools/p`,
      name: 'p',
      osSku: 'AzureLinux3',
      enableFips: true,
      orchestratorVersion: '1.33.0',
    });
  });

  it('reads a file that mixes Resource Graph rows and CLI clusters', () => {
    const clusters = [
      graphRow,
      { ...cliCluster, id: CLUSTER_ID.replace('aks-pay', 'aks-win'), name: 'aks-win' },
    ].map(normalizeCluster);
    expect(
      clusters.map((c) => c.pools.map((p) => [p.id.split('/').slice(-3).join('/'), p.osSku, p.enableFips])),
    ).toEqual([
      [
        ['aks-pay/agentPools/system', 'Ubuntu', true],
        ['aks-pay/agentPools/user', 'Ubuntu2204', null],
      ],
      [['aks-win/agentPools/win', 'Windows2022', false]],
    ]);
  });

  it.each<[string, Record<string, unknown>, string | null, string[]]>([
    ['a VirtualMachineScaleSets pool: vmSize only', { vmSize: 'Standard_D4s_v5' }, 'Standard_D4s_v5', []],
    [
      'a VirtualMachines pool: manual sizes, no vmSize (REST casing)',
      {
        type: 'VirtualMachines',
        virtualMachinesProfile: {
          scale: {
            manual: [
              { size: 'Standard_D4s_v5', count: 2 },
              { size: 'Standard_D4ps_v5', count: 1 },
            ],
          },
        },
      },
      null,
      ['Standard_D4s_v5', 'Standard_D4ps_v5'],
    ],
    [
      'a VirtualMachines pool: autoscale sizes after manual ones, repeats dropped',
      {
        type: 'VirtualMachines',
        vmSize: 'Standard_D8s_v5',
        virtualMachinesProfile: {
          scale: {
            manual: [{ size: 'Standard_D8s_v5', count: 1 }],
            autoscale: [{ size: 'Standard_DC4as_v5', minCount: 0, maxCount: 3 }],
          },
        },
      },
      'Standard_D8s_v5',
      ['Standard_D8s_v5', 'Standard_DC4as_v5'],
    ],
    [
      'an earlier preview shape: manual[].sizes lists',
      {
        virtualMachinesProfile: {
          scale: { manual: [{ sizes: ['Standard_E4s_v3', 'Standard_E4ps_v5'], count: 2 }] },
        },
      },
      null,
      ['Standard_E4s_v3', 'Standard_E4ps_v5'],
    ],
    [
      'CLI casing and junk entries',
      { VirtualMachinesProfile: { Scale: { Manual: [null, 7, { Size: 'Standard_D2s_v5' }, { size: '' }] } } },
      null,
      ['Standard_D2s_v5'],
    ],
    ['a profile without scale', { virtualMachinesProfile: {} }, null, []],
  ])('reads the VM sizes of %s', (_title, fields, vmSize, vmSizes) => {
    const [pool] = normalizeCluster({
      id: CLUSTER_ID,
      properties: { agentPoolProfiles: [{ name: 'p', osType: 'Linux', ...fields }] },
    }).pools;
    expect(pool?.vmSize).toBe(vmSize);
    expect(pool?.vmSizes).toEqual(vmSizes);
  });

  it.each<[string, unknown, string | null]>([
    ['an object', { code: 'Running' }, 'Running'],
    ['a string', 'Stopped', 'Stopped'],
    ['missing', undefined, null],
    ['an object without code', {}, null],
  ])('reads powerState given as %s', (_title, powerState, expected) => {
    const cluster = normalizeCluster({
      id: CLUSTER_ID,
      properties: { powerState, agentPoolProfiles: [{ name: 'p', powerState }] },
    });
    expect(cluster.powerState).toBe(expected);
    expect(cluster.pools[0]!.powerState).toBe(expected);
  });

  it.each<[string, unknown, boolean | null]>([
    ['true', true, true],
    ['false', false, false],
    ['missing', undefined, null],
    ['null', null, null],
    ['the string "true"', 'true', true],
    ['the string "False"', 'False', false],
    ['a number', 1, null],
  ])('reads enableFIPS given as %s', (_title, enableFIPS, expected) => {
    const pool = enableFIPS === undefined ? { name: 'p' } : { name: 'p', enableFIPS };
    expect(
      normalizeCluster({ id: CLUSTER_ID, properties: { agentPoolProfiles: [pool] } }).pools[0]!.enableFips,
    ).toBe(expected);
  });

  it.each<[string, unknown, boolean]>([
    ['secure boot', { enableSecureBoot: true }, true],
    ['vTPM (REST casing)', { enableVTPM: true }, true],
    ['vTPM (CLI casing)', { enableVtpm: true }, true],
    ['both off', { enableSecureBoot: false, enableVTPM: false }, false],
    ['no security profile', undefined, false],
  ])('reads Trusted Launch from %s', (_title, securityProfile, expected) => {
    const pool = { name: 'p', securityProfile };
    expect(
      normalizeCluster({ id: CLUSTER_ID, properties: { agentPoolProfiles: [pool] } }).pools[0]!.trustedLaunch,
    ).toBe(expected);
  });

  it('builds every pool ID as `${clusterId}/agentPools/${name}`', () => {
    const cluster = normalizeCluster(graphRow);
    expect(cluster.pools.map((p) => p.id)).toEqual([
      `${CLUSTER_ID}/agentPools/system`,
      `${CLUSTER_ID}/agentPools/user`,
    ]);
  });

  it("falls back to the cluster's Kubernetes version for a pool without one", () => {
    expect(normalizeCluster(graphRow).pools[1]).toMatchObject({
      orchestratorVersion: '1.33',
      currentOrchestratorVersion: null,
    });
  });

  it('takes names, subscription and resource group from the ID when the row lacks them', () => {
    const cluster = normalizeCluster({ id: CLUSTER_ID, properties: {} });
    expect(cluster).toMatchObject({
      name: 'aks-pay',
      subscriptionId: SUB,
      resourceGroup: 'rg-Payments',
      location: '',
      tags: {},
      pools: [],
    });
  });

  it.each<[string, unknown]>([
    ['no agentPoolProfiles', { id: CLUSTER_ID, properties: {} }],
    ['agentPoolProfiles null', { id: CLUSTER_ID, properties: { agentPoolProfiles: null } }],
  ])('reads a cluster with %s as having no pools', (_title, raw) => {
    expect(normalizeCluster(raw).pools).toEqual([]);
  });

  // A cluster whose pools cannot be read must not pass for one without pools: the row is that cluster's error.
  it.each<[string, unknown, RegExp]>([
    [
      'agentPoolProfiles not an array',
      { id: CLUSTER_ID, properties: { agentPoolProfiles: { name: 'p' } } },
      /agentPoolProfiles is not an array/,
    ],
    [
      'non-object entries',
      { id: CLUSTER_ID, properties: { agentPoolProfiles: [null, 'p', 3] } },
      /not an object with a name/,
    ],
    [
      'a pool without a name',
      { id: CLUSTER_ID, properties: { agentPoolProfiles: [{ osType: 'Linux' }] } },
      /not an object with a name/,
    ],
    [
      'properties that are not an object',
      { id: CLUSTER_ID, properties: 'broken' },
      /properties is not an object/,
    ],
  ])('refuses a cluster with %s, naming the cluster', (_title, raw, message) => {
    expect(() => normalizeCluster(raw)).toThrow(ClusterShapeError);
    expect(() => normalizeCluster(raw)).toThrow(message);
    expect(() => normalizeCluster(raw)).toThrow(CLUSTER_ID);
  });

  it('accepts a lowercased ARM ID (resourcegroups, microsoft.containerservice)', () => {
    const id = CLUSTER_ID.toLowerCase();
    expect(normalizeCluster({ id }).pools).toEqual([]);
    expect(normalizeCluster({ id }).name).toBe('aks-pay');
  });

  it.each<[string, unknown, string]>([
    ['no id', { name: 'aks-pay', properties: {} }, 'got null'],
    ['an empty id', { id: '', name: 'aks-pay' }, 'got null'],
    ['an id that is a name', { id: 'aks-pay' }, 'got "aks-pay"'],
    [
      'the ID of a VM',
      { id: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1` },
      'virtualMachines/vm1',
    ],
    ['the ID of an agent pool', { id: `${CLUSTER_ID}/agentPools/system` }, 'agentPools/system'],
    ['an id that is a number', { id: 42 }, 'got null'],
  ])('rejects a row with %s with a ClusterShapeError that shows the expected ID', (_title, raw, got) => {
    expect(() => normalizeCluster(raw)).toThrow(ClusterShapeError);
    expect(() => normalizeCluster(raw)).toThrow(
      /needs an ARM ID like \/subscriptions\/<guid>\/resourceGroups\/<rg>\/providers\/Microsoft\.ContainerService\/managedClusters\/<name>/,
    );
    expect(() => normalizeCluster(raw)).toThrow(got);
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['an array', [graphRow]],
    ['a string', CLUSTER_ID],
  ])('rejects %s as a cluster', (_title, raw) => {
    expect(() => normalizeCluster(raw)).toThrow(new ClusterShapeError('a cluster must be a JSON object'));
  });
});

describe('nodeImage', () => {
  it.each<[string, string, string | null]>([
    ['AKSUbuntu-2204gen2fipscontainerd-202511.20.0', 'AKSUbuntu-2204gen2fipscontainerd', '2025-11-20'],
    ['AKSUbuntu-2004fipscontainerd-202501.07.0', 'AKSUbuntu-2004fipscontainerd', '2025-01-07'],
    ['AKSAzureLinux-V3gen2fips-202602.28.1', 'AKSAzureLinux-V3gen2fips', '2026-02-28'],
    ['AKSCBLMariner-V2gen2fips-202412.31.12', 'AKSCBLMariner-V2gen2fips', '2024-12-31'],
    ['AKSWindows-2022-containerd-20348.2966.250101', 'AKSWindows-2022-containerd', '2025-01-01'],
    ['AKSWindows-2019-containerd-17763.6659.241231', 'AKSWindows-2019-containerd', '2024-12-31'],
    ['AKSWindows-2025-gen2-26100.3194.260229', 'AKSWindows-2025-gen2', null],
    ['AKSUbuntu-2204gen2fipscontainerd-202513.01.0', 'AKSUbuntu-2204gen2fipscontainerd', null],
    ['AKSUbuntu-2204gen2fipscontainerd-202502.30.0', 'AKSUbuntu-2204gen2fipscontainerd', null],
    ['AKSUbuntu-2204gen2fipscontainerd-202500.10.0', 'AKSUbuntu-2204gen2fipscontainerd', null],
    ['AKSWindows-2022-containerd-20348.2966.251301', 'AKSWindows-2022-containerd', null],
    ['AKSUbuntu-2204gen2fipscontainerd-latest', 'AKSUbuntu-2204gen2fipscontainerd-latest', null],
    ['', '', null],
  ])('reads %s as family %s built %s', (version, family, built) => {
    expect(nodeImageFamily(version)).toBe(family);
    expect(nodeImageBuildDate(version)?.toISOString().slice(0, 10) ?? null).toBe(built);
  });

  it('gives the build date at midnight UTC', () => {
    expect(nodeImageBuildDate('AKSUbuntu-2204gen2fipscontainerd-202501.07.0')?.toISOString()).toBe(
      '2025-01-07T00:00:00.000Z',
    );
  });

  it('accepts 29 February only in a leap year', () => {
    expect(nodeImageBuildDate('AKSAzureLinux-V3gen2fips-202802.29.0')?.toISOString().slice(0, 10)).toBe(
      '2028-02-29',
    );
    expect(nodeImageBuildDate('AKSAzureLinux-V3gen2fips-202702.29.0')).toBeNull();
  });
});

describe('summarizeRun', () => {
  const result = (subscriptionId: string, status: PoolStatus): PoolResult => ({
    id: `/subscriptions/${subscriptionId}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c/agentPools/${status}`,
    subscriptionId,
    resourceGroup: 'rg',
    cluster: 'c',
    pool: status,
    location: 'eastus',
    osType: 'Linux',
    osSku: 'Ubuntu2204',
    kubernetesVersion: '1.33.2',
    nodeImageVersion: null,
    enableFips: true,
    status,
    findings: [],
    exemption: null,
  });
  const clusterOf = (subscriptionId: string, name: string): ClusterResult => ({
    id: `/subscriptions/${subscriptionId}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/${name}`,
    findings: [],
  });
  const A = '0b1f6471-1bf0-4dda-aec3-111122223333';
  const B = '7c2e9c1d-0d5f-4a55-9e1e-444455556666';
  const C = '9d3f0a2e-1e6a-4b66-8f2f-777788889999';

  it.each<[string, PoolResult[], ClusterResult[], object]>([
    [
      'an empty run',
      [],
      [],
      { subscriptions: 0, clusters: 0, pools: 0, compliant: 0, noncompliant: 0, exempt: 0, unknown: 0 },
    ],
    [
      'one pool of each status',
      [result(A, 'compliant'), result(A, 'noncompliant'), result(A, 'exempt'), result(A, 'unknown')],
      [clusterOf(A, 'c')],
      { subscriptions: 1, clusters: 1, pools: 4, compliant: 1, noncompliant: 1, exempt: 1, unknown: 1 },
    ],
    [
      'subscriptions in other casing counted once',
      [result(A, 'compliant'), result(A.toUpperCase(), 'compliant'), result(B, 'noncompliant')],
      [clusterOf(A, 'c'), clusterOf(B, 'd')],
      { subscriptions: 2, clusters: 2, pools: 3, compliant: 2, noncompliant: 1 },
    ],
    [
      'a subscription whose only cluster has no pools',
      [result(A, 'compliant')],
      [clusterOf(A, 'c'), clusterOf(C.toUpperCase(), 'empty')],
      { subscriptions: 2, clusters: 2, pools: 1, compliant: 1 },
    ],
  ])('counts %s', (_title, pools, clusters, expected) => {
    const summary = summarizeRun(pools, clusters);
    expect(summary).toMatchObject(expected);
    expect(summary.compliant + summary.noncompliant + summary.exempt + summary.unknown).toBe(summary.pools);
  });
});

describe('sanitize', () => {
  it.each<[string, string, string, string]>([
    [
      'a storage account key',
      'DefaultEndpointsProtocol=https;AccountName=audit;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net',
      'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq',
      'AccountName=audit;AccountKey=***;EndpointSuffix=core.windows.net',
    ],
    [
      'an ACS access key',
      'endpoint=https://my-acs.communication.azure.com/;accesskey=c2VjcmV0LWtleQ==',
      'c2VjcmV0LWtleQ',
      'accesskey=***',
    ],
    [
      'a SAS signature',
      'GET https://a.table.core.windows.net/runs?sv=2022-11-02&se=2026-12-01&sig=AbC%2Bd%3D&sp=r failed',
      'AbC%2Bd',
      '?sv=2022-11-02&se=2026-12-01&sig=***&sp=r failed',
    ],
    [
      'a function key',
      'https://fips-auditor.azurewebsites.net/api/report?code=Zm5rZXk0NTY3ODk=&format=csv',
      'Zm5rZXk0NTY3ODk',
      '?code=***&format=csv',
    ],
    [
      'a function key after another parameter',
      'https://x.azurewebsites.net/api/report?format=csv&code=Zm5rZXk',
      'Zm5rZXk',
      '&code=***',
    ],
    [
      'a Bearer token',
      'Authorization: Bearer eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2lnbmF0dXJl-_ sent',
      'eyJ0eXAi',
      'Authorization: Bearer *** sent',
    ],
    [
      'URL credentials',
      'connect https://auditor:hunter2@proxy.contoso.com:8080/ failed',
      'hunter2',
      'https://***:***@proxy.contoso.com:8080/ failed',
    ],
    [
      'a token in JSON',
      '{"access_token":"eyJ0eXAiOiJKV1Qi","expires_on":"1764370000"}',
      'eyJ0eXAiOiJKV1Qi',
      '"expires_on":"1764370000"',
    ],
    [
      'a client secret in a query',
      'POST /token?grant_type=client_credentials&client_secret=s3cr3t~value',
      's3cr3t',
      'client_secret=***',
    ],
  ])('removes %s', (_title, text, secret, kept) => {
    const clean = sanitize(text);
    expect(clean).not.toContain(secret);
    expect(clean).toContain(kept);
  });

  it.each([
    'AKSUbuntu-2204gen2fipscontainerd-202511.20.0',
    'FIPS_DISABLED: code RateLimiting, {"code":"AuthorizationFailed","message":"no access"}',
    '/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks',
    'https://management.azure.com/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01',
  ])('leaves text without secrets alone: %s', (text) => {
    expect(sanitize(text)).toBe(text);
  });

  it('is applied by describeError', () => {
    const described = describeError(
      new Error('request to https://a.table.core.windows.net/t?sig=SECRET failed: AccountKey=KEY123'),
    );
    expect(described).toBe(
      'Error: request to https://a.table.core.windows.net/t?sig=*** failed: AccountKey=***',
    );
  });

  it.each<[string, string, string]>([
    [
      'a lowercase bearer token (HTTP auth schemes are case-insensitive)',
      'authorization: bearer eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2ln',
      'eyJ0eXAi',
    ],
    ['URL credentials whose password contains @', 'https://auditor:p@ssw0rd@proxy.contoso.com/', 'ssw0rd'],
    ['URL credentials whose password contains /', 'https://auditor:pa/ss@proxy.contoso.com/', 'pa/ss'],
    ['a function key header', 'headers: {"x-functions-key":"abcDEF123=="}', 'abcDEF123'],
  ])('removes %s', (_title, text, secret) => {
    expect(sanitize(text)).not.toContain(secret);
  });
});
