// Same rules, two engines, one truth: the generated Azure Policy judged by the documented policy semantics
// (test/support/azurePolicyEvaluator.ts) against the audit's own verdicts (src/core/evaluatePool.ts), over the
// emulator's estates as clusters and as agent pools.
//
// What a policy can know of a pool is its osSKU, osType, enableFIPS and the date. The oracle: a finding must be
// flagged exactly when the audit finds it on that pool whatever its Kubernetes version and without its node
// image or VM features (which a request does not show); a pool the audit finds noncompliant for a finding a
// policy could see, that the policy does not flag, must be one `policyLimits` names.

import {
  type AgentPoolProfileRow,
  ARCHETYPE_COUNT,
  type ClusterRow,
  GENERATED_OS_SKUS,
  generateEstate,
} from '../../emulators/estateGenerator';
import { evaluatePool } from '../../src/core/evaluatePool';
import { builtInMatrix, type FipsMatrix, fipsMatrixSchema, resolveOs } from '../../src/core/fipsMatrix';
import { parseKubernetesVersion } from '../../src/core/kubernetesVersion';
import { normalizeCluster } from '../../src/core/normalizeCluster';
import type { ClusterRecord, PoolRecord, PoolResult } from '../../src/core/types';
import { type TimeWindow } from '../../src/policy/fipsPolicyClauses';
import { type GeneratedPolicy, generatePolicy } from '../../src/policy/generatePolicy';
import { USED_ALIASES } from '../../src/policy/policyAliases';
import { type PolicyLimit, policyLimits } from '../../src/policy/policyLimits';
import { definitionReferenceId } from '../../src/policy/policyNames';
import { POLICY_CODES, type PolicyCode } from '../../src/policy/policyTypes';
import { evaluateInitiative, type PolicyResource } from '../support/azurePolicyEvaluator';

const ALIASES = Object.fromEntries(USED_ALIASES.map((a) => [a.alias, a.defaultPath]));
const MODES = ['emptyCollection', 'nullValue'] as const;
/** Every minor version the matrix's ranges could tell apart, and more. */
const VERSIONS = Array.from({ length: 50 }, (_, i) => `1.${i + 10}.0`);
const TIMES = ['2026-05-01T12:00:00Z', '2026-12-01T12:00:00Z', '2027-07-01T12:00:00Z'].map(
  (t) => new Date(t),
);

// ------------------------------------------------------------------------------------------------ the estates

/** Pools a request can carry that the generator does not emit: odd casing, empty or missing fields. */
function handWrittenCluster(): ClusterRow {
  const pool = (p: Partial<AgentPoolProfileRow> & { name: string }) => p as AgentPoolProfileRow;
  const base = generateEstate({ seed: 3, pools: 1 }).clusters[0]!;
  return {
    ...base,
    id: `${base.id.replace(/managedClusters\/.*/, 'managedClusters')}/aks-hand-written`,
    name: 'aks-hand-written',
    properties: {
      ...base.properties,
      kubernetesVersion: '1.33.2',
      currentKubernetesVersion: '1.33.2',
      agentPoolProfiles: [
        pool({ name: 'lower2404', osType: 'Linux', osSKU: 'ubuntu2404', orchestratorVersion: '1.34.1' }),
        pool({
          name: 'emptysku',
          osType: 'Linux',
          osSKU: '',
          enableFIPS: false,
          orchestratorVersion: '1.33.1',
        }),
        pool({ name: 'notype', osSKU: 'Flatcar', orchestratorVersion: '1.33.1' }),
        pool({ name: 'w22nofips', osType: 'Windows', osSKU: 'Windows2022', orchestratorVersion: '1.33.1' }),
        pool({ name: 'wdefault', osType: 'Windows', enableFIPS: false, orchestratorVersion: '1.30.2' }),
        pool({ name: 'wold', osType: 'Windows', enableFIPS: false, orchestratorVersion: '1.24.9' }),
        pool({
          name: 'annual',
          osType: 'Windows',
          osSKU: 'WindowsAnnual',
          enableFIPS: true,
          orchestratorVersion: '1.30.1',
        }),
        pool({ name: 'osguard', osType: 'Linux', osSKU: 'AzureLinuxOSGuard', orchestratorVersion: '1.35.0' }),
        pool({
          name: 'az3',
          osType: 'Linux',
          osSKU: 'azurelinux3',
          enableFIPS: true,
          orchestratorVersion: '1.33.0',
        }),
        pool({
          name: 'maroff',
          osType: 'Linux',
          osSKU: 'Mariner',
          enableFIPS: false,
          orchestratorVersion: '1.29.0',
        }),
      ],
    },
  };
}

const ESTATE_CLUSTERS: ClusterRow[] = [
  ...[
    { seed: 1, pools: ARCHETYPE_COUNT },
    { seed: 7, pools: 240 },
    { seed: 42, pools: 600, subscriptions: 4 },
  ].flatMap((options) => generateEstate(options).clusters),
  handWrittenCluster(),
];

// ------------------------------------------------------------------------------------------------ the audit side

const DAY = (t: Date) => t.toISOString().slice(0, 10);
const windowHolds = (w: TimeWindow | null, t: Date) =>
  !!w && (!w.from || DAY(t) >= w.from) && (!w.before || DAY(t) < w.before);

function audit(cluster: ClusterRecord, pool: PoolRecord, matrix: FipsMatrix, asOf: Date): PoolResult {
  return evaluatePool(cluster, pool, { matrix, asOf, nodeImageMaxAgeInDays: 30 });
}

const codesOf = (result: PoolResult) => new Set(result.findings.map((f) => f.code));

/** The pool without the VM features a pool request's osSKU/osType/enableFIPS do not decide. */
const featureless = (pool: PoolRecord): PoolRecord => ({
  ...pool,
  vmSize: 'Standard_D4s_v5',
  workloadRuntime: null,
  trustedLaunch: false,
});

/** Findings the audit reports on the pool whatever its Kubernetes version, without a node image. */
function certainCodes(
  cluster: ClusterRecord,
  pool: PoolRecord,
  matrix: FipsMatrix,
  asOf: Date,
): Set<PolicyCode> {
  const perVersion = VERSIONS.map((v) =>
    codesOf(
      audit(
        { ...cluster, kubernetesVersion: v, currentKubernetesVersion: v },
        {
          ...featureless(pool),
          nodeImageVersion: null,
          orchestratorVersion: v,
          currentOrchestratorVersion: v,
        },
        matrix,
        asOf,
      ),
    ),
  );
  return new Set(POLICY_CODES.filter((code) => perVersion.every((codes) => codes.has(code))));
}

function effectiveVersion(cluster: ClusterRecord, pool: PoolRecord): string | null {
  return (
    pool.currentOrchestratorVersion ??
    pool.orchestratorVersion ??
    cluster.currentKubernetesVersion ??
    cluster.kubernetesVersion
  );
}

/** How `policyLimits` names the pool's selector. */
function selectorLabel(pool: PoolRecord, matrix: FipsMatrix): string {
  const sku = pool.osSku?.trim();
  if (!sku) return `no osSKU (${(pool.osType ?? 'Linux').toLowerCase() === 'windows' ? 'Windows' : 'Linux'})`;
  const key = Object.keys(matrix.osSkus).find((k) => k.toLowerCase() === sku.toLowerCase());
  return key ? `osSKU ${key}` : 'unrecognized';
}

/** The limit that says the policy cannot judge `code` on this pool at `asOf`, if any. */
function explainingLimit(
  limits: readonly PolicyLimit[],
  cluster: ClusterRecord,
  pool: PoolRecord,
  code: PolicyCode,
  matrix: FipsMatrix,
  asOf: Date,
): PolicyLimit | undefined {
  const resolved = resolveOs(matrix, pool, parseKubernetesVersion(effectiveVersion(cluster, pool)));
  return limits.find(
    (l) =>
      l.selector === selectorLabel(pool, matrix) &&
      l.code === code &&
      !windowHolds(l.flaggedWindow, asOf) &&
      (code !== 'FIPS_DISABLED' || pool.enableFips !== true) &&
      l.releases.some((r) => r.osKey === resolved?.osKey && windowHolds(r.window, asOf)),
  );
}

// ------------------------------------------------------------------------------------------------ the policy side

const CLUSTER_TYPE = 'Microsoft.ContainerService/managedClusters';

function asAgentPoolResource(row: ClusterRow, profile: AgentPoolProfileRow): PolicyResource {
  const { name, ...properties } = profile;
  return { id: `${row.id}/agentPools/${name}`, name, type: `${CLUSTER_TYPE}/agentPools`, properties };
}

function asClusterResource(row: ClusterRow, profiles: AgentPoolProfileRow[]): PolicyResource {
  return { ...row, type: CLUSTER_TYPE, properties: { ...row.properties, agentPoolProfiles: profiles } };
}

function flaggedCodes(
  policy: GeneratedPolicy,
  resource: PolicyResource,
  target: 'clusters' | 'agentPools',
  asOf: Date,
  mode: (typeof MODES)[number],
  parameters: Record<string, unknown> = {},
): Set<PolicyCode> {
  const verdicts = evaluateInitiative(policy.initiative, policy.definitions, resource, {
    aliases: ALIASES,
    now: asOf,
    missingMemberProperty: mode,
    parameters,
  });
  return new Set(
    POLICY_CODES.filter((code) => verdicts.get(definitionReferenceId(code, target))?.flagged === true),
  );
}

// ------------------------------------------------------------------------------------------------ judging the estate

interface Judged {
  where: string;
  cluster: ClusterRecord;
  pool: PoolRecord;
  audit: PoolResult;
  certain: Set<PolicyCode>;
  /** Per missing-member semantics: what the agent-pool and the single-pool cluster definitions flag. */
  agentPool: Record<(typeof MODES)[number], Set<PolicyCode>>;
  inCluster: Record<(typeof MODES)[number], Set<PolicyCode>>;
}

function judgeEstate(matrix: FipsMatrix, asOf: Date, rows: readonly ClusterRow[]) {
  const policy = generatePolicy(matrix, { effect: 'Deny', asOf, exemptions: null });
  const certainCache = new Map<string, Set<PolicyCode>>();
  const pools: Judged[] = [];
  const clusters: { row: ClusterRow; flagged: Set<PolicyCode>; anyPool: Set<PolicyCode> }[] = [];
  for (const row of rows) {
    const cluster = normalizeCluster(row);
    const anyPool = new Set<PolicyCode>();
    row.properties.agentPoolProfiles.forEach((profile, i) => {
      const pool = cluster.pools[i]!;
      const key = JSON.stringify([pool.osType, pool.osSku, pool.enableFips]);
      let certain = certainCache.get(key);
      if (!certain) {
        certain = certainCodes(cluster, pool, matrix, asOf);
        certainCache.set(key, certain);
      }
      const judge = (target: 'clusters' | 'agentPools', mode: (typeof MODES)[number]) =>
        flaggedCodes(
          policy,
          target === 'agentPools' ? asAgentPoolResource(row, profile) : asClusterResource(row, [profile]),
          target,
          asOf,
          mode,
        );
      const judged: Judged = {
        where: `${cluster.name}/${pool.name} (${pool.osType ?? '-'} ${pool.osSku ?? 'no osSKU'}, enableFIPS ${String(pool.enableFips)}, ${effectiveVersion(cluster, pool) ?? '?'}, ${pool.nodeImageVersion ?? 'no image'})`,
        cluster,
        pool,
        audit: audit(cluster, pool, matrix, asOf),
        certain,
        agentPool: {
          emptyCollection: judge('agentPools', 'emptyCollection'),
          nullValue: judge('agentPools', 'nullValue'),
        },
        inCluster: {
          emptyCollection: judge('clusters', 'emptyCollection'),
          nullValue: judge('clusters', 'nullValue'),
        },
      };
      for (const code of judged.inCluster.emptyCollection) anyPool.add(code);
      pools.push(judged);
    });
    clusters.push({
      row,
      anyPool,
      flagged: flaggedCodes(
        policy,
        asClusterResource(row, row.properties.agentPoolProfiles),
        'clusters',
        asOf,
        'emptyCollection',
      ),
    });
  }
  return { policy, pools, clusters };
}

const sorted = (set: Set<string>) => [...set].sort();

/** Findings the audit reports that a policy could see: by SKU, FIPS flag or date, not by VM features alone. */
function visibleCodes(j: Judged, matrix: FipsMatrix, asOf: Date): PolicyCode[] {
  const codes = codesOf(j.audit);
  const bySku = codesOf(audit(j.cluster, featureless(j.pool), matrix, asOf));
  return POLICY_CODES.filter(
    (code) => codes.has(code) && (code !== 'OS_NOT_FIPS_CAPABLE' || bySku.has(code)),
  );
}

describe.each(TIMES)('the generated policy and the audit over the estate at %s', (asOf) => {
  const matrix = builtInMatrix;
  const limits = policyLimits(matrix);
  let pools: Judged[] = [];
  let clusters: ReturnType<typeof judgeEstate>['clusters'] = [];
  beforeAll(() => {
    ({ pools, clusters } = judgeEstate(matrix, asOf, ESTATE_CLUSTERS));
  });

  it('covers every OS SKU the estate generator emits and pools without osSKU of both OS types', () => {
    const skus = new Set(
      pools.map(
        (p) => p.pool.osSku?.trim().toLowerCase() || `none-${(p.pool.osType ?? 'linux').toLowerCase()}`,
      ),
    );
    expect(
      [...GENERATED_OS_SKUS.map((s) => s.toLowerCase()), 'none-linux', 'none-windows'].filter(
        (s) => !skus.has(s),
      ),
    ).toEqual([]);
    expect(pools.length).toBeGreaterThan(800);
  });

  it('flags, as agent pools and as clusters, exactly the findings that hold whatever the version and image', () => {
    const disagreements = pools.flatMap((j) =>
      MODES.flatMap((mode) =>
        (
          [
            ['agentPools', j.agentPool[mode]],
            ['clusters', j.inCluster[mode]],
          ] as const
        ).flatMap(([target, flagged]) =>
          sorted(flagged).join() === sorted(j.certain).join()
            ? []
            : [
                `${j.where} as ${target} (${mode}): policy ${sorted(flagged).join(',') || 'nothing'}, certain ${sorted(j.certain).join(',') || 'nothing'}`,
              ],
        ),
      ),
    );
    expect(disagreements).toEqual([]);
  });

  it('flags a finding only when the audit finds it on that pool, so never a pool the audit finds compliant', () => {
    const wrong = pools.flatMap((j) => {
      const found = codesOf(j.audit);
      const flagged = new Set([...j.agentPool.emptyCollection, ...j.inCluster.emptyCollection]);
      return [...flagged]
        .filter((code) => !found.has(code) || j.audit.status === 'compliant')
        .map(
          (code) => `${j.where}: flagged ${code}, audit ${j.audit.status} with ${sorted(found).join(',')}`,
        );
    });
    expect(wrong).toEqual([]);
    expect(pools.filter((j) => j.audit.status === 'compliant').length).toBeGreaterThan(100);
  });

  it('flags every pool the audit finds noncompliant for a reason a policy can see, except those policyLimits names', () => {
    const missed = pools.flatMap((j) =>
      visibleCodes(j, matrix, asOf)
        .filter((code) => !j.agentPool.emptyCollection.has(code) || !j.inCluster.emptyCollection.has(code))
        .filter((code) => !explainingLimit(limits, j.cluster, j.pool, code, matrix, asOf))
        .map((code) => `${j.where}: ${code} found by the audit, not flagged, and no limit explains it`),
    );
    expect(missed).toEqual([]);
    const flaggedNoncompliant = pools.filter(
      (j) => j.audit.status === 'noncompliant' && j.agentPool.emptyCollection.size > 0,
    );
    expect(flaggedNoncompliant.length).toBeGreaterThan(100);
  });

  it('names only limits that hold: every pool a limit predicts is one the policy does not flag', () => {
    const overPredicted = pools.flatMap((j) =>
      POLICY_CODES.filter((code) => explainingLimit(limits, j.cluster, j.pool, code, matrix, asOf))
        .filter((code) => j.agentPool.emptyCollection.has(code) || !codesOf(j.audit).has(code))
        .map(
          (code) =>
            `${j.where}: a limit names ${code}, but the policy flags it or the audit does not find it`,
        ),
    );
    expect(overPredicted).toEqual([]);
  });

  it('judges a cluster by all its pools: a definition flags the cluster when it flags any of its pools', () => {
    const wrong = clusters
      .filter((c) => sorted(c.flagged).join() !== sorted(c.anyPool).join())
      .map((c) => `${c.row.name}: ${sorted(c.flagged).join(',')} vs pools ${sorted(c.anyPool).join(',')}`);
    expect(wrong).toEqual([]);
  });
});

describe('the pools the policy cannot judge (built-in matrix, 2026-12-01)', () => {
  const asOf = TIMES[1]!;
  let pools: Judged[] = [];
  beforeAll(() => {
    ({ pools } = judgeEstate(builtInMatrix, asOf, ESTATE_CLUSTERS));
  });

  it('are exactly the floating-SKU and default-SKU pools whose finding depends on the release, as policyLimits says', () => {
    const limits = policyLimits(builtInMatrix);
    const unjudged = new Set<string>();
    const predicted = new Set<string>();
    for (const j of pools) {
      const resolved = resolveOs(
        builtInMatrix,
        j.pool,
        parseKubernetesVersion(effectiveVersion(j.cluster, j.pool)),
      );
      for (const code of POLICY_CODES) {
        const label = `${selectorLabel(j.pool, builtInMatrix)}: ${code} on ${resolved?.osKey ?? '?'}`;
        if (visibleCodes(j, builtInMatrix, asOf).includes(code) && !j.agentPool.emptyCollection.has(code))
          unjudged.add(label);
        if (explainingLimit(limits, j.cluster, j.pool, code, builtInMatrix, asOf)) predicted.add(label);
      }
    }
    expect(sorted(unjudged)).toEqual(sorted(predicted));
    // The ones the data holds today; a matrix change may add more (all of them named by policyLimits).
    expect(sorted(unjudged)).toEqual(
      expect.arrayContaining([
        'osSKU AzureLinux: OS_RETIRED on azurelinux2',
        'no osSKU (Windows): OS_RETIRED on windows2019',
        'no osSKU (Windows): FIPS_DISABLED on windows2019',
      ]),
    );
  });
});

describe('named traps, one pool each (built-in matrix, 2026-12-01)', () => {
  const asOf = TIMES[1]!;
  const policy = generatePolicy(builtInMatrix, { effect: 'Deny', asOf, exemptions: null });
  const row = ESTATE_CLUSTERS[0]!;
  const profile = (p: Partial<AgentPoolProfileRow>) =>
    ({ name: 'trap', orchestratorVersion: '1.33.2', ...p }) as AgentPoolProfileRow;

  it.each<[string, Partial<AgentPoolProfileRow>, PolicyCode[]]>([
    ['Windows2022 without enableFIPS (FIPS on by default)', { osType: 'Windows', osSKU: 'Windows2022' }, []],
    ['Windows2025 (FIPS always on)', { osType: 'Windows', osSKU: 'Windows2025', enableFIPS: false }, []],
    [
      'Windows without osSKU on 1.25+ (default Windows2022)',
      { osType: 'Windows', orchestratorVersion: '1.30.1' },
      [],
    ],
    [
      'Azure Linux OS Guard without enableFIPS (FIPS built in)',
      { osType: 'Linux', osSKU: 'AzureLinuxOSGuard' },
      [],
    ],
    ['Ubuntu 24.04', { osType: 'Linux', osSKU: 'Ubuntu2404', enableFIPS: true }, ['OS_NOT_FIPS_CAPABLE']],
    ['Flatcar', { osType: 'Linux', osSKU: 'Flatcar' }, ['OS_NOT_FIPS_CAPABLE']],
    ['Windows Annual', { osType: 'Windows', osSKU: 'WindowsAnnual' }, ['OS_NOT_FIPS_CAPABLE', 'OS_RETIRED']],
    ['Windows 2019 with FIPS', { osType: 'Windows', osSKU: 'Windows2019', enableFIPS: true }, ['OS_RETIRED']],
    ['floating Ubuntu with FIPS', { osType: 'Linux', osSKU: 'Ubuntu', enableFIPS: true }, []],
    [
      'floating Ubuntu without FIPS',
      { osType: 'Linux', osSKU: 'Ubuntu', enableFIPS: false },
      ['FIPS_DISABLED'],
    ],
    [
      'floating AzureLinux with FIPS (3.0 or retired 2.0: left to the audit)',
      { osType: 'Linux', osSKU: 'AzureLinux', enableFIPS: true },
      [],
    ],
    ['floating AzureLinux without enableFIPS', { osType: 'Linux', osSKU: 'AzureLinux' }, ['FIPS_DISABLED']],
    ['Linux without osSKU and without FIPS', { osType: 'Linux', enableFIPS: false }, ['FIPS_DISABLED']],
    ['CBLMariner without FIPS', { osType: 'Linux', osSKU: 'CBLMariner' }, ['FIPS_DISABLED', 'OS_RETIRED']],
    [
      'an OS SKU the matrix does not know',
      { osType: 'Linux', osSKU: 'FooOS', enableFIPS: true },
      ['OS_SKU_UNRECOGNIZED'],
    ],
    ['lower-case ubuntu2404', { osType: 'Linux', osSKU: 'ubuntu2404' }, ['OS_NOT_FIPS_CAPABLE']],
  ])('%s', (_title, fields, expected) => {
    for (const target of ['agentPools', 'clusters'] as const) {
      const resource =
        target === 'agentPools'
          ? asAgentPoolResource(row, profile(fields))
          : asClusterResource(row, [profile(fields)]);
      const flagged = sorted(flaggedCodes(policy, resource, target, asOf, 'emptyCollection'));
      // Nothing where nothing is due; where something is, at least that (a matrix update may add a retirement).
      expect(flagged).toEqual(expected.length ? expect.arrayContaining(expected) : []);
    }
  });

  it('flags nothing with the effect Disabled', () => {
    const resource = asAgentPoolResource(row, profile({ osType: 'Linux', osSKU: 'Flatcar' }));
    expect(
      flaggedCodes(policy, resource, 'agentPools', asOf, 'emptyCollection', { effect: 'Disabled' }).size,
    ).toBe(0);
  });
});

describe('a matrix of one floating SKU whose old release is retired', () => {
  const matrix = fipsMatrixSchema.parse({
    version: 'test-1',
    sources: ['test'],
    minKubernetesVersion: '1.19',
    fips1402HistoricalSince: '2026-09-21',
    defaultOsSku: { Linux: [{ osSku: 'Distro' }], Windows: [{ osSku: 'Win' }] },
    osSkus: {
      Distro: {
        osType: 'Linux',
        releases: [
          { os: 'old', kubernetes: { below: '1.30' } },
          { os: 'new', kubernetes: { from: '1.30' } },
        ],
      },
      Win: { osType: 'Windows', releases: [{ os: 'win' }] },
    },
    operatingSystems: {
      old: { name: 'Distro 1', fips: 'opt-in', retiredOn: '2026-01-01' },
      new: { name: 'Distro 2', fips: 'opt-in', retiredOn: null },
      win: { name: 'Win', fips: 'platform-default', retiredOn: null },
    },
  });
  const asOf = new Date('2026-06-01T00:00:00Z');

  it('names the one limit: Distro pools that run the retired release', () => {
    expect(policyLimits(matrix).map((l) => [l.selector, l.code, l.flaggedWindow])).toEqual([
      ['osSKU Distro', 'OS_RETIRED', null],
      ['no osSKU (Linux)', 'OS_RETIRED', null],
    ]);
  });

  it('leaves exactly the retirement of Distro 1 pools to the audit, and flags FIPS off on any release', () => {
    const base = ESTATE_CLUSTERS[0]!;
    const row: ClusterRow = {
      ...base,
      properties: {
        ...base.properties,
        agentPoolProfiles: ['1.28.3', '1.31.0'].flatMap((v, i) =>
          [true, false].map(
            (fips, k) =>
              ({
                name: `p${i}${k}`,
                osType: 'Linux',
                osSKU: 'Distro',
                enableFIPS: fips,
                orchestratorVersion: v,
              }) as AgentPoolProfileRow,
          ),
        ),
      },
    };
    const { pools } = judgeEstate(matrix, asOf, [row]);
    const unjudged = pools
      .filter((j) => visibleCodes(j, matrix, asOf).some((code) => !j.agentPool.emptyCollection.has(code)))
      .map((j) => `${j.pool.name} ${j.pool.orchestratorVersion}`);
    // p01 is flagged (FIPS is off), but that Distro 1 is retired is the audit's to say.
    expect(unjudged).toEqual(['p00 1.28.3', 'p01 1.28.3']);
    expect(pools.map((j) => [j.pool.name, sorted(j.agentPool.emptyCollection)])).toEqual([
      ['p00', []],
      ['p01', ['FIPS_DISABLED']],
      ['p10', []],
      ['p11', ['FIPS_DISABLED']],
    ]);
  });
});
