// The built-in FIPS matrix against docs/fips-matrix.md, operator overrides, and OS SKU resolution.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import builtInMatrixJson from '../../data/fips-matrix.json';
import { evaluatePool } from '../../src/core/evaluatePool';
import {
  applyMatrixOverride,
  builtInMatrix,
  type FipsMatrix,
  fipsMatrixSchema,
  MatrixError,
  resolveOs,
} from '../../src/core/fipsMatrix';
import { parseKubernetesVersion } from '../../src/core/kubernetesVersion';
import type { ClusterRecord, PoolRecord } from '../../src/core/types';

const ASOF = new Date('2026-11-29T06:00:00Z');

// The osSKU column of docs/fips-matrix.md, with the OS type and how FIPS works on each.
const DOC_SKUS: [osSku: string, osType: 'Linux' | 'Windows', floating: boolean][] = [
  ['Ubuntu', 'Linux', true],
  ['Ubuntu2204', 'Linux', false],
  ['Ubuntu2404', 'Linux', false],
  ['Ubuntu2604', 'Linux', false],
  ['AzureLinux', 'Linux', true],
  ['AzureLinux3', 'Linux', false],
  ['CBLMariner', 'Linux', false],
  ['Mariner', 'Linux', false],
  ['AzureLinuxOSGuard', 'Linux', false],
  ['AzureLinux3OSGuard', 'Linux', false],
  ['AzureContainerLinux', 'Linux', false],
  ['Flatcar', 'Linux', false],
  ['Windows2019', 'Windows', false],
  ['Windows2022', 'Windows', false],
  ['Windows2025', 'Windows', false],
  ['WindowsAnnual', 'Windows', false],
];

function resolve(
  osSku: string | null,
  version: string | null,
  nodeImageVersion: string | null = null,
  osType: string | null = 'Linux',
  matrix: FipsMatrix = builtInMatrix,
) {
  return resolveOs(matrix, { osType, osSku, nodeImageVersion }, parseKubernetesVersion(version));
}

/** Catches the error a function throws, failing the test when it throws none. */
function thrownBy(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('the built-in matrix', () => {
  it('validates against the schema', () => {
    const parsed = fipsMatrixSchema.safeParse(builtInMatrixJson);
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
  });

  it('carries a dated version and its sources', () => {
    expect(builtInMatrix.version).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(builtInMatrix.sources.length).toBeGreaterThanOrEqual(3);
    const urls = builtInMatrix.sources.map((s) => s.url).join('\n');
    expect(urls).toContain('enable-fips-nodes');
    expect(urls).toContain('CHANGELOG');
  });

  it.each(builtInMatrix.sources.map((s) => [s.title, s] as const))(
    'gives source "%s" an https URL alone, a title and the date it was read',
    (_title, source) => {
      expect(source.url).not.toBeNull();
      const url = new URL(source.url!);
      expect(url.protocol).toBe('https:');
      expect(url.href.replace(/\/$/, '')).toBe(source.url!.replace(/\/$/, ''));
      expect(source.url).not.toMatch(/\s/);
      expect(source.title.trim().length).toBeGreaterThan(5);
      expect(source.retrieved).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(source.retrieved! <= builtInMatrix.version.slice(0, 10)).toBe(true);
    },
  );

  it('cites a listed source, with a date, for every piece of evidence; and says where a row has no primary source', () => {
    const urls = new Set(builtInMatrix.sources.map((s) => s.url));
    const rows = [
      ...Object.entries(builtInMatrix.osSkus).map(([k, v]) => [`osSkus.${k}`, v] as const),
      ...Object.entries(builtInMatrix.operatingSystems).map(
        ([k, v]) => [`operatingSystems.${k}`, v] as const,
      ),
    ];
    const evidence = [
      ...(builtInMatrix.defaultOsSkuEvidence ?? []),
      ...rows.flatMap(([, row]) => row.evidence ?? []),
    ];
    expect(evidence.length).toBeGreaterThan(15);
    expect(evidence.filter((e) => !urls.has(e.source))).toEqual([]);
    expect(
      evidence.filter((e) => !/^\d{4}-\d{2}-\d{2}$/.test(e.date) || e.date > builtInMatrix.version),
    ).toEqual([]);
    // The rows docs/fips-matrix.md names as having no primary source say so in the data too.
    const unsourced = rows.filter(([, row]) => row.noPrimarySource).map(([path]) => path);
    expect(unsourced).toEqual(
      expect.arrayContaining([
        'osSkus.Mariner',
        'operatingSystems.ubuntu2604',
        'operatingSystems.azurelinux3',
        'operatingSystems.azurecontainerlinux',
      ]),
    );
  });

  it('is described by docs/fips-matrix.md: its version, every source URL, every row without a primary source', () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'fips-matrix.md'), 'utf8');
    expect(doc).toContain(`Matrix version \`${builtInMatrix.version}\``);
    expect(builtInMatrix.sources.filter((s) => !doc.includes(`](${s.url})`))).toEqual([]);
    const unsourced = [
      ...Object.entries(builtInMatrix.osSkus).filter(([, row]) => row.noPrimarySource),
      ...Object.entries(builtInMatrix.operatingSystems).filter(([, row]) => row.noPrimarySource),
    ].map(([key]) => key);
    const section = doc.slice(
      doc.indexOf('### Rows with no primary source'),
      doc.indexOf('### Where the sources disagree'),
    );
    const named: Record<string, string> = {
      Mariner: '`Mariner`',
      ubuntu2604: '`Ubuntu2604`',
      azurelinux3: 'Azure Linux 3.0',
      azurelinuxosguard3: 'OS Guard',
      azurecontainerlinux: 'azurecontainerlinux.fipsSince',
    };
    expect(unsourced.filter((key) => !section.includes(named[key] ?? `\u0000${key}`))).toEqual([]);
  });

  it('states the cross-SKU facts of the doc: FIPS from Kubernetes 1.19, 140-2 Historical since 2026-09-21', () => {
    expect(builtInMatrix.minKubernetesVersion).toBe('1.19');
    expect(builtInMatrix.fips1402HistoricalSince).toBe('2026-09-21');
  });

  it('knows exactly the osSKUs of fips-matrix.md', () => {
    expect(Object.keys(builtInMatrix.osSkus).sort()).toEqual(DOC_SKUS.map(([s]) => s).sort());
  });

  it.each(DOC_SKUS)('has %s as a %s SKU (floating: %s)', (osSku, osType, floating) => {
    const entry = builtInMatrix.osSkus[osSku];
    expect(entry).toBeDefined();
    expect(entry!.osType).toBe(osType);
    expect(entry!.releases.length > 1).toBe(floating);
  });

  it.each(Object.entries(builtInMatrix.osSkus))(
    'has %s releases that name defined operating systems',
    (_sku, entry) => {
      for (const release of entry.releases) expect(builtInMatrix.operatingSystems[release.os]).toBeDefined();
    },
  );

  it.each<[string, string, string | null]>([
    ['Azure Linux 2.0', 'azurelinux2', '2025-11-30'],
    ['Windows Server 2019', 'windows2019', '2026-03-01'],
    ['the Windows annual channel', 'windowsannual', '2026-05-15'],
    ['Ubuntu 20.04', 'ubuntu2004', '2027-03-17'],
    ['Ubuntu 22.04', 'ubuntu2204', '2027-06-30'],
    ['Ubuntu 18.04', 'ubuntu1804', '2025-06-17'],
    ['Flatcar', 'flatcar', '2026-06-08'],
    ['Azure Linux 3.0 OS Guard', 'azurelinuxosguard3', '2026-12-10'],
    ['Azure Linux 3.0', 'azurelinux3', null],
    ['Azure Container Linux', 'azurecontainerlinux', null],
    ['Windows Server 2022', 'windows2022', '2028-06-30'],
    ['Windows Server 2025', 'windows2025', null],
  ])('retires %s (%s) on %s', (_name, key, retiredOn) => {
    expect(builtInMatrix.operatingSystems[key]?.retiredOn).toBe(retiredOn);
  });

  it.each<[string, string, string | undefined]>([
    ['Ubuntu', 'opt-in', undefined],
    ['Ubuntu2204', 'opt-in', '140-3'],
    ['Ubuntu2404', 'none', undefined],
    ['Ubuntu2604', 'none', undefined],
    ['AzureLinux3', 'opt-in', '140-3'],
    ['CBLMariner', 'opt-in', undefined],
    ['Mariner', 'opt-in', undefined],
    ['AzureLinuxOSGuard', 'always', '140-3'],
    ['AzureLinux3OSGuard', 'always', '140-3'],
    ['AzureContainerLinux', 'opt-in', undefined],
    ['Flatcar', 'none', undefined],
    ['Windows2019', 'opt-in', undefined],
    ['Windows2022', 'platform-default', undefined],
    ['Windows2025', 'always', undefined],
    ['WindowsAnnual', 'none', undefined],
  ])('gives %s FIPS mode %s', (osSku, fips, fipsModule) => {
    const entry = builtInMatrix.osSkus[osSku]!;
    for (const release of entry.releases) {
      const os = builtInMatrix.operatingSystems[release.os]!;
      expect(os.fips).toBe(fips);
      if (fipsModule) expect(os.fipsModule).toBe(fipsModule);
    }
  });

  it.each<[string, string]>([
    ['ubuntu1804', '140-2'],
    ['ubuntu2004', '140-2'],
    ['ubuntu2204', '140-3'],
    ['azurelinux3', '140-3'],
  ])('gives %s FIPS %s modules', (key, module) => {
    expect(builtInMatrix.operatingSystems[key]?.fipsModule).toBe(module);
  });

  it.each<[string, string]>([
    ['ubuntu2204', '2026-05-29'],
    ['azurecontainerlinux', '2026-05-29'],
  ])('gives %s a FIPS image only since %s', (key, since) => {
    expect(builtInMatrix.operatingSystems[key]?.fipsSince).toBe(since);
  });

  it.each<[string, { from?: string; below?: string }]>([
    ['windows2019', { below: '1.33' }],
    ['windows2022', { from: '1.23', below: '1.37' }],
    ['windows2025', { from: '1.32' }],
  ])('limits %s to Kubernetes %o', (key, range) => {
    expect(builtInMatrix.operatingSystems[key]?.kubernetes).toEqual(range);
  });

  // AKS FIPS doc: Arm64 FIPS only with Azure Linux 3.0+; node images page (2026-07-14): an ACL image with FIPS,
  // Trusted Launch and ARM64 (ACL itself from Kubernetes 1.34).
  it('allows Arm64 FIPS on Azure Linux 3.0 from Kubernetes 1.31 and on Azure Container Linux from 1.34', () => {
    const arm = Object.entries(builtInMatrix.operatingSystems).filter(([, os]) => os.arm64);
    expect(arm.map(([k, os]) => [k, os.arm64])).toEqual([
      ['azurelinux3', { fromKubernetes: '1.31' }],
      ['azurecontainerlinux', { fromKubernetes: '1.34' }],
    ]);
  });

  // The doc's rule (Ubuntu 22.04 Gen2 only) is the FIPS doc table's; OS Guard and Azure Container Linux are not in
  // that table and exist only with Trusted Launch, so their FIPS images are Trusted Launch images.
  it('combines Trusted Launch and FIPS only on Ubuntu 22.04 and the Trusted-Launch-only OSes', () => {
    const tl = Object.entries(builtInMatrix.operatingSystems).filter(([, os]) => os.trustedLaunchWithFips);
    expect(tl.map(([k]) => k).sort()).toEqual(['azurecontainerlinux', 'azurelinuxosguard3', 'ubuntu2204']);
  });
});

describe('resolveOs', () => {
  it.each<[string, string | null, string | null, string | null, string, string]>([
    ['Ubuntu', '1.26.6', null, 'ubuntu1804', 'kubernetesVersion', 'floating Ubuntu below 1.27'],
    ['Ubuntu', '1.27.0', null, 'ubuntu2004', 'kubernetesVersion', 'floating Ubuntu from 1.27'],
    ['Ubuntu', '1.34.9', null, 'ubuntu2004', 'kubernetesVersion', 'floating Ubuntu up to 1.34'],
    ['Ubuntu', '1.35.0', null, 'ubuntu2204', 'kubernetesVersion', 'floating Ubuntu from 1.35'],
    [
      'Ubuntu',
      '1.30.1',
      'AKSUbuntu-2204gen2fipscontainerd-202511.20.0',
      'ubuntu2204',
      'nodeImage',
      'floating Ubuntu named by its image',
    ],
    [
      'Ubuntu',
      '1.35.1',
      'AKSUbuntu-2004gen2fipscontainerd-202511.20.0',
      'ubuntu2004',
      'nodeImage',
      'floating Ubuntu named by its image',
    ],
    [
      'Ubuntu',
      '1.35.1',
      'AKSUbuntu-2404gen2containerd-202511.20.0',
      'ubuntu2204',
      'kubernetesVersion',
      'an image of no Ubuntu release',
    ],
    ['AzureLinux', '1.31.9', null, 'azurelinux2', 'kubernetesVersion', 'floating Azure Linux up to 1.31'],
    ['AzureLinux', '1.32.0', null, 'azurelinux3', 'kubernetesVersion', 'floating Azure Linux from 1.32'],
    [
      'AzureLinux',
      '1.31.9',
      'AKSAzureLinux-V3gen2fips-202512.18.0',
      'azurelinux3',
      'nodeImage',
      'floating Azure Linux named by its Azure Linux 3 image',
    ],
    [
      'AzureLinux',
      '1.33.2',
      'AKSAzureLinux-V2gen2fips-202512.18.0',
      'azurelinux2',
      'nodeImage',
      'floating Azure Linux named by its Azure Linux 2 image',
    ],
    [
      'AzureLinux',
      '1.33.2',
      'AKSCBLMariner-V2fips-202512.18.0',
      'azurelinux2',
      'nodeImage',
      'floating Azure Linux named by its CBL-Mariner 2 image',
    ],
    [
      'AzureLinux',
      '1.31.9',
      'AKSAzureLinux-V3gen2arm64fips-202512.18.0',
      'azurelinux3',
      'nodeImage',
      'floating Azure Linux named by its Arm64 FIPS image',
    ],
    [
      'AzureLinux',
      '1.31.9',
      'AKSAzureLinux-V3gen2-202512.18.0',
      'azurelinux2',
      'kubernetesVersion',
      'a non-FIPS image, which does not say which release FIPS pools get',
    ],
    [
      'Ubuntu',
      '1.30.1',
      'AKSUbuntu-2204gen2fipsTLcontainerd-202512.18.0',
      'ubuntu2204',
      'nodeImage',
      'floating Ubuntu named by its Trusted Launch FIPS image',
    ],
    ['AzureLinux3OSGuard', '1.33.0', null, 'azurelinuxosguard3', 'fixed', 'the versioned OS Guard SKU'],
    ['AzureLinux3', '1.30.0', null, 'azurelinux3', 'fixed', 'a fixed SKU'],
    ['ubuntu2204', '1.33.0', null, 'ubuntu2204', 'fixed', 'a SKU in other casing'],
    ['Mariner', null, null, 'azurelinux2', 'fixed', 'a fixed SKU without a version'],
  ])('resolves %s on %s with image %s to %s by %s (%s)', (osSku, version, image, key, basis) => {
    const resolved = resolve(osSku, version, image);
    expect(resolved).toMatchObject({ osKey: key, basis, defaulted: false });
  });

  it.each<[string, string | null, string | null, string]>([
    ['Linux', '1.33.2', null, 'Ubuntu'],
    [null as unknown as string, '1.33.2', null, 'Ubuntu'],
    ['Windows', '1.24.9', null, 'Windows2019'],
    ['Windows', '1.25.0', null, 'Windows2022'],
    ['Windows', '1.33.2', null, 'Windows2022'],
    ['Windows', '1.35.9', null, 'Windows2022'],
    ['Windows', '1.36.0', null, 'Windows2025'],
    ['Windows', '1.37.1', null, 'Windows2025'],
    ['windows', '1.20.0', null, 'Windows2019'],
    ['Windows', null, null, 'Windows2025'],
  ])('gives a %s pool on %s without osSKU the AKS default %s', (osType, version, _image, osSku) => {
    const resolved = resolve(null, version, null, osType);
    expect(resolved).toMatchObject({ osSku, defaulted: true });
  });

  it('keeps the canonical SKU name when matched in other casing', () => {
    expect(resolve('aZuReLiNuX3', '1.33.0')?.osSku).toBe('AzureLinux3');
  });

  it.each<[string | null, string | null]>([
    ['FooOS', '1.33.2'],
    ['Ubuntu24', '1.33.2'],
    ['Ubuntu', null],
    ['AzureLinux', null],
  ])('returns null (never "supported") for %s on %s', (osSku, version) => {
    expect(resolve(osSku, version)).toBeNull();
  });
});

describe('applyMatrixOverride', () => {
  const contosoLinux = {
    version: '2026-12-01-contoso',
    sources: ['https://contoso.example/fips-review-2026-12'],
    osSkus: { ContosoLinux: { osType: 'Linux', releases: [{ os: 'contosolinux1' }] } },
    operatingSystems: {
      contosolinux1: {
        name: 'Contoso Linux 1',
        fips: 'opt-in',
        fipsModule: '140-3',
        retiredOn: null,
        imagePattern: 'ContosoLinux',
      },
    },
  };
  const retireUbuntu2204Early = {
    version: '2026-11-01-ops',
    operatingSystems: {
      ubuntu2204: { ...builtInMatrix.operatingSystems.ubuntu2204!, retiredOn: '2026-10-01' },
    },
  };

  const cluster: ClusterRecord = {
    id: '/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks',
    name: 'aks',
    subscriptionId: '0b1f6471-1bf0-4dda-aec3-111122223333',
    resourceGroup: 'rg',
    location: 'eastus',
    tags: {},
    kubernetesVersion: '1.33.2',
    currentKubernetesVersion: '1.33.2',
    nodeProvisioningMode: null,
    provisioningState: 'Succeeded',
    powerState: 'Running',
    pools: [],
  };
  const pool = (osSku: string, nodeImageVersion: string): PoolRecord => ({
    id: `${cluster.id}/agentPools/np1`,
    name: 'np1',
    osType: 'Linux',
    osSku,
    enableFips: true,
    orchestratorVersion: '1.33.2',
    currentOrchestratorVersion: '1.33.2',
    nodeImageVersion,
    vmSize: 'Standard_D4s_v5',
    vmSizes: [],
    mode: 'User',
    count: 3,
    workloadRuntime: null,
    trustedLaunch: false,
    provisioningState: 'Succeeded',
    powerState: 'Running',
  });

  it('extends the matrix: a new SKU becomes judgeable', () => {
    const contosoPool = pool('ContosoLinux', 'AKSContosoLinux-gen2fips-202611.20.0');
    expect(
      evaluatePool(cluster, contosoPool, { matrix: builtInMatrix, asOf: ASOF, nodeImageMaxAgeInDays: 30 })
        .status,
    ).toBe('unknown');
    const matrix = applyMatrixOverride(builtInMatrix, contosoLinux, 'contoso.json');
    const result = evaluatePool(cluster, contosoPool, { matrix, asOf: ASOF, nodeImageMaxAgeInDays: 30 });
    expect(result).toMatchObject({ status: 'compliant', findings: [] });
    expect(
      evaluatePool(
        cluster,
        { ...contosoPool, enableFips: false },
        { matrix, asOf: ASOF, nodeImageMaxAgeInDays: 30 },
      ).findings.map((f) => f.code),
    ).toEqual(['FIPS_DISABLED']);
  });

  it('keeps every built-in entry when extending', () => {
    const matrix = applyMatrixOverride(builtInMatrix, contosoLinux, 'contoso.json');
    expect(Object.keys(matrix.osSkus)).toEqual(expect.arrayContaining(Object.keys(builtInMatrix.osSkus)));
    expect(matrix.operatingSystems.ubuntu2204).toEqual(builtInMatrix.operatingSystems.ubuntu2204);
  });

  it('overrides the matrix: an existing OS retired earlier', () => {
    const ubuntuPool = pool('Ubuntu2204', 'AKSUbuntu-2204gen2fipscontainerd-202611.20.0');
    const before = evaluatePool(cluster, ubuntuPool, {
      matrix: builtInMatrix,
      asOf: ASOF,
      nodeImageMaxAgeInDays: 30,
    });
    expect(before.status).toBe('compliant');
    const matrix = applyMatrixOverride(builtInMatrix, retireUbuntu2204Early, 'ops.json');
    expect(matrix.operatingSystems.ubuntu2204?.retiredOn).toBe('2026-10-01');
    const after = evaluatePool(cluster, ubuntuPool, { matrix, asOf: ASOF, nodeImageMaxAgeInDays: 30 });
    expect(after.status).toBe('noncompliant');
    expect(after.findings.map((f) => f.code)).toEqual(['OS_RETIRED']);
    expect(after.findings[0]!.message).toContain('2026-10-01');
  });

  it('overrides the cross-SKU facts', () => {
    const matrix = applyMatrixOverride(
      builtInMatrix,
      { version: 'v2', minKubernetesVersion: '1.21', fips1402HistoricalSince: '2026-10-01' },
      'x.json',
    );
    expect(matrix).toMatchObject({ minKubernetesVersion: '1.21', fips1402HistoricalSince: '2026-10-01' });
  });

  it("carries the override's version and both lists of sources, the override's first", () => {
    const matrix = applyMatrixOverride(
      builtInMatrix,
      {
        ...contosoLinux,
        sources: [
          {
            url: 'https://contoso.example/fips-review-2026-12',
            title: 'Contoso FIPS review',
            retrieved: '2026-12-01',
          },
        ],
      },
      'contoso.json',
    );
    expect(matrix.version).toBe('2026-12-01-contoso');
    expect(matrix.sources).toEqual([
      {
        url: 'https://contoso.example/fips-review-2026-12',
        title: 'Contoso FIPS review',
        retrieved: '2026-12-01',
      },
      ...builtInMatrix.sources,
    ]);
  });

  // Overrides written before sources became objects keep working: the string is converted, never put in an href whole.
  it.each<[string, string, { url: string | null; title: string; retrieved: null }]>([
    [
      'a bare URL',
      'https://contoso.example/fips-review-2026-12',
      {
        url: 'https://contoso.example/fips-review-2026-12',
        title: 'https://contoso.example/fips-review-2026-12',
        retrieved: null,
      },
    ],
    [
      'a URL with its description in parentheses',
      'https://learn.microsoft.com/azure/aks/enable-fips-nodes (MicrosoftDocs/azure-aks-docs, page dated 2026-06-16)',
      {
        url: 'https://learn.microsoft.com/azure/aks/enable-fips-nodes',
        title: 'MicrosoftDocs/azure-aks-docs, page dated 2026-06-16',
        retrieved: null,
      },
    ],
    [
      'text without a URL',
      'Contoso security baseline 2026-12',
      { url: null, title: 'Contoso security baseline 2026-12', retrieved: null },
    ],
    [
      'an http URL, which is not linked',
      'http://intranet.contoso.example/fips',
      { url: null, title: 'http://intranet.contoso.example/fips', retrieved: null },
    ],
  ])('converts a source written the old way as one string: %s', (_title, text, expected) => {
    const matrix = applyMatrixOverride(builtInMatrix, { version: 'v', sources: [text] }, 'old.json');
    expect(matrix.sources[0]).toEqual(expected);
    expect(matrix.sources.slice(1)).toEqual(builtInMatrix.sources);
  });

  it('keeps the built-in sources when the override lists none', () => {
    expect(applyMatrixOverride(builtInMatrix, retireUbuntu2204Early, 'ops.json').sources).toEqual(
      builtInMatrix.sources,
    );
  });

  it('leaves the built-in matrix untouched', () => {
    const before = JSON.stringify(builtInMatrix);
    applyMatrixOverride(builtInMatrix, contosoLinux, 'contoso.json');
    applyMatrixOverride(builtInMatrix, retireUbuntu2204Early, 'ops.json');
    expect(JSON.stringify(builtInMatrix)).toBe(before);
  });

  const ubuntu2204 = builtInMatrix.operatingSystems.ubuntu2204!;
  it.each<[string, unknown, string[]]>([
    [
      'a bad date',
      { version: 'v', operatingSystems: { ubuntu2204: { ...ubuntu2204, retiredOn: '30/06/2027' } } },
      ['operatingSystems.ubuntu2204.retiredOn', 'a date like'],
    ],
    [
      'a bad fipsSince date',
      { version: 'v', operatingSystems: { ubuntu2204: { ...ubuntu2204, fipsSince: '2026-5-29' } } },
      ['operatingSystems.ubuntu2204.fipsSince'],
    ],
    ['a bad Historical date', { version: 'v', fips1402HistoricalSince: 'soon' }, ['fips1402HistoricalSince']],
    [
      'an unknown OS reference',
      { version: 'v', osSkus: { Foo: { osType: 'Linux', releases: [{ os: 'nosuchos' }] } } },
      ['osSkus.Foo.releases.0.os', 'nosuchos'],
    ],
    [
      'a bad regex',
      { version: 'v', operatingSystems: { ubuntu2204: { ...ubuntu2204, imagePattern: 'Ubuntu-(2204' } } },
      ['operatingSystems.ubuntu2204.imagePattern', 'regular expression'],
    ],
    ['a missing version', { sources: ['x'] }, ['version']],
    [
      'a source object whose URL carries its description',
      {
        version: 'v',
        sources: [
          { url: 'https://learn.microsoft.com/azure/aks/ (AKS docs)', title: 'AKS', retrieved: '2026-12-01' },
        ],
      },
      ['sources.0', 'https URL'],
    ],
    [
      'a source object with an http URL',
      { version: 'v', sources: [{ url: 'http://contoso.example/', title: 'C', retrieved: '2026-12-01' }] },
      ['sources.0', 'https URL'],
    ],
    [
      'a source object without its retrieval date',
      { version: 'v', sources: [{ url: 'https://contoso.example/', title: 'C' }] },
      ['sources.0'],
    ],
    [
      'evidence citing a source the matrix does not list',
      {
        version: 'v',
        operatingSystems: {
          ubuntu2204: {
            ...ubuntu2204,
            evidence: [{ source: 'https://nowhere.example/', date: '2026-12-01', says: 'x' }],
          },
        },
      },
      ['operatingSystems.ubuntu2204.evidence.0.source', 'https://nowhere.example/'],
    ],
    ['an empty version', { version: '' }, ['version']],
    ['an extra unknown field at the top', { version: 'v', osSKUs: {} }, ['(root)', 'osSKUs']],
    [
      'an extra unknown field in an OS',
      { version: 'v', operatingSystems: { ubuntu2204: { ...ubuntu2204, retiredOnn: '2027-01-01' } } },
      ['operatingSystems.ubuntu2204', 'retiredOnn'],
    ],
    [
      'an extra unknown field in a SKU',
      {
        version: 'v',
        osSkus: { Ubuntu2204: { osType: 'Linux', releases: [{ os: 'ubuntu2204' }], fips: true } },
      },
      ['osSkus.Ubuntu2204', 'fips'],
    ],
    [
      'an unknown FIPS mode',
      { version: 'v', operatingSystems: { ubuntu2204: { ...ubuntu2204, fips: 'yes' } } },
      ['operatingSystems.ubuntu2204.fips'],
    ],
    [
      'an unknown OS type',
      { version: 'v', osSkus: { Foo: { osType: 'Mac', releases: [{ os: 'ubuntu2204' }] } } },
      ['osSkus.Foo.osType'],
    ],
    [
      'a SKU without releases',
      { version: 'v', osSkus: { Foo: { osType: 'Linux', releases: [] } } },
      ['osSkus.Foo.releases'],
    ],
    [
      'a full version where a minor is expected',
      { version: 'v', minKubernetesVersion: '1.19.0' },
      ['minKubernetesVersion'],
    ],
    [
      'a default SKU the matrix does not define',
      {
        version: 'v',
        defaultOsSku: { Linux: [{ osSku: 'Ubuntu2404x' }], Windows: [{ osSku: 'Windows2022' }] },
      },
      ['defaultOsSku.Linux.0.osSku', 'Ubuntu2404x'],
    ],
    [
      'a default SKU of the wrong OS type',
      {
        version: 'v',
        defaultOsSku: { Linux: [{ osSku: 'Windows2022' }], Windows: [{ osSku: 'Windows2022' }] },
      },
      ['defaultOsSku.Linux.0.osSku', 'Windows2022'],
    ],
  ])('rejects an override with %s, naming the bad path', (_title, override, mentions) => {
    const error = thrownBy(() => applyMatrixOverride(builtInMatrix, override, '/etc/fips-override.json'));
    expect(error).toBeInstanceOf(MatrixError);
    expect(error.message).toContain('/etc/fips-override.json');
    for (const text of mentions) expect(error.message).toContain(text);
    expect((error as MatrixError).problems.length).toBeGreaterThan(0);
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['an array', []],
    ['a string', 'override'],
  ])('rejects %s as an override with a MatrixError', (_title, override) => {
    expect(() => applyMatrixOverride(builtInMatrix, override, 'x.json')).toThrow(MatrixError);
  });

  it('lists every problem of an override, not only the first', () => {
    const error = thrownBy(() =>
      applyMatrixOverride(
        builtInMatrix,
        { fips1402HistoricalSince: 'soon', minKubernetesVersion: 'one' },
        'x.json',
      ),
    ) as MatrixError;
    expect(error.problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('version'),
        expect.stringContaining('fips1402HistoricalSince'),
        expect.stringContaining('minKubernetesVersion'),
      ]),
    );
  });
});
