// The auditor's exemptions become policy exemptions on the scope they waive, for the findings they waive, until
// they expire; a pool-level waiver also keeps the pool from making its cluster noncompliant, and only until then.

import type { AgentPoolProfileRow, ClusterRow } from '../../emulators/estateGenerator';
import { generateEstate } from '../../emulators/estateGenerator';
import { builtInMatrix } from '../../src/core/fipsMatrix';
import type { Exemption } from '../../src/core/types';
import { generatePolicy } from '../../src/policy/generatePolicy';
import { USED_ALIASES } from '../../src/policy/policyAliases';
import {
  exemptionResourceName,
  MAX_POOL_WAIVERS_PER_CODE,
  policyDateTime,
  policyExemptions,
} from '../../src/policy/policyExemptions';
import { definitionReferenceId } from '../../src/policy/policyNames';
import { POLICY_CODES } from '../../src/policy/policyTypes';
import { evaluateInitiative } from '../support/azurePolicyEvaluator';

const SUB = '00000000-0000-0000-0000-0000000000a1';
const CLUSTER = `/subscriptions/${SUB}/resourceGroups/rg-Pay/providers/Microsoft.ContainerService/managedClusters/aks-pay`;
const asOf = new Date('2026-12-01T12:00:00Z');

const exemption = (over: Partial<Exemption>): Exemption => ({
  id: 'ex-1',
  scope: `${CLUSTER}/agentPools/w19`,
  codes: null,
  reason: 'Rebuilt on Windows 2022 in sprint 48',
  ticket: 'CHG0012345',
  owner: 'platform-team',
  createdBy: 'cli:alice',
  createdAt: '2026-11-01T00:00:00.000Z',
  expiresOn: '2027-01-31T23:59:59.999Z',
  ...over,
});

const plan = (list: Exemption[]) => policyExemptions(list, { asOf, present: POLICY_CODES });

describe('which exemptions become which policy exemptions', () => {
  it.each<[string, Partial<Exemption>, string[]]>([
    [
      'a pool waiver of every finding exempts only the agent-pool definitions, on the pool',
      {},
      [
        'fips-disabled-agentpools',
        'os-without-fips-agentpools',
        'os-retired-agentpools',
        'os-sku-unrecognized-agentpools',
      ],
    ],
    [
      'a cluster waiver of one finding exempts both definitions of that finding',
      { scope: CLUSTER, codes: ['OS_RETIRED'] },
      ['os-retired-clusters', 'os-retired-agentpools'],
    ],
    [
      'a subscription waiver of every finding leaves OS_SKU_UNRECOGNIZED out (the audit waives unknown pools only one by one)',
      { scope: `/subscriptions/${SUB}` },
      [
        'fips-disabled-clusters',
        'fips-disabled-agentpools',
        'os-without-fips-clusters',
        'os-without-fips-agentpools',
        'os-retired-clusters',
        'os-retired-agentpools',
      ],
    ],
    [
      'a waiver of a finding a policy does not judge is left out, the rest kept',
      {
        scope: `/subscriptions/${SUB}/resourceGroups/rg-Pay`,
        codes: ['NODE_IMAGE_OUTDATED', 'FIPS_DISABLED'],
      },
      ['fips-disabled-clusters', 'fips-disabled-agentpools'],
    ],
  ])('%s', (_title, over, references) => {
    const { exemptions, notDeployed } = plan([exemption(over)]);
    expect(notDeployed).toEqual([]);
    expect(exemptions).toHaveLength(1);
    expect(exemptions[0]!.properties.policyDefinitionReferenceIds.sort()).toEqual(references.sort());
    expect(exemptions[0]!.scope.toLowerCase()).toBe(
      (over.scope ?? `${CLUSTER}/agentPools/w19`).toLowerCase(),
    );
  });

  it.each<[string, Partial<Exemption>, RegExp]>([
    ['an expired one', { expiresOn: '2026-11-30T23:59:59.999Z' }, /^expired on 2026-11-30/],
    [
      'one created after the moment of generation',
      { createdAt: '2026-12-02T00:00:00.000Z' },
      /^not active yet/,
    ],
    [
      'one of findings no policy judges',
      { codes: ['NODE_IMAGE_OUTDATED', 'FIPS_140_2_MODULE'] },
      /findings a policy does not judge/,
    ],
    [
      'an OS_SKU_UNRECOGNIZED waiver above pool level',
      { scope: CLUSTER, codes: ['OS_SKU_UNRECOGNIZED'] },
      /only on the very pool/,
    ],
  ])('leaves out %s, and says why', (_title, over, reason) => {
    const { exemptions, notDeployed } = plan([exemption(over)]);
    expect(exemptions).toEqual([]);
    expect(notDeployed).toEqual([{ exemptionId: 'ex-1', reason: expect.stringMatching(reason) as string }]);
  });

  it('leaves out a waiver of a finding the matrix gives the policy no definition of', () => {
    const result = policyExemptions([exemption({ codes: ['OS_RETIRED'] })], {
      asOf,
      present: ['FIPS_DISABLED'],
    });
    expect(result.notDeployed).toEqual([
      { exemptionId: 'ex-1', reason: 'the policy has no definition of OS_RETIRED with this matrix' },
    ]);
    expect(Object.keys(result.assignmentParameters)).toEqual(['waivedPoolsFipsDisabled']);
  });

  it('names the scope parts a deployment needs, and the waiver of the exemption', () => {
    const [entry] = plan([exemption({ ticket: null })]).exemptions;
    expect(entry).toMatchObject({
      name: 'fips-ex-1',
      level: 'pool',
      subscriptionId: SUB,
      resourceGroup: 'rg-Pay',
      cluster: 'aks-pay',
      pool: 'w19',
      properties: {
        exemptionCategory: 'Waiver',
        expiresOn: '2027-01-31T23:59:59.9990000Z',
        policyAssignmentId: '{policyAssignmentId}',
        displayName: 'AKS FIPS waiver ex-1',
        metadata: { owner: 'platform-team', ticket: null, exemptionId: 'ex-1', codes: 'all' },
      },
    });
    expect(entry!.properties.description).toBe(
      'Waiver from aks-fips-auditor exemption ex-1. Owner: platform-team. Ticket: none. Reason: Rebuilt on Windows 2022 in sprint 48',
    );
  });

  it('keeps a long reason within the 512 characters of a description, whole in the metadata up to 1024', () => {
    const [entry] = plan([exemption({ reason: 'x'.repeat(900) })]).exemptions;
    expect(entry!.properties.description).toHaveLength(512);
    expect(entry!.properties.description.endsWith('…')).toBe(true);
    expect(entry!.properties.metadata.reason).toBe('x'.repeat(900));
  });

  it('writes expiresOn with seven fractional digits, the format of the docs and of utcNow()', () => {
    expect(policyDateTime('2026-12-31T17:00:00+01:00')).toBe('2026-12-31T16:00:00.0000000Z');
  });

  it.each([
    ['ex-1', 'fips-ex-1'],
    ['a.b', expect.stringMatching(/^fips-a-b-[0-9a-f]{8}$/) as string],
    ['x'.repeat(64), expect.stringMatching(/^fips-x{50}-[0-9a-f]{8}$/) as string],
  ])('names the exemption resource for %s', (id, name) => {
    expect(exemptionResourceName(id)).toEqual(name);
  });

  it('refuses more pool waivers of one finding than a policy rule may iterate', () => {
    const many = Array.from({ length: MAX_POOL_WAIVERS_PER_CODE + 1 }, (_, i) =>
      exemption({ id: `ex-${i}`, scope: `${CLUSTER}/agentPools/p${i}`, codes: ['FIPS_DISABLED'] }),
    );
    expect(() => plan(many)).toThrow(/at most 100/);
  });
});

describe('a pool waiver as the cluster definitions see it', () => {
  const base = generateEstate({ seed: 5, pools: 1 }).clusters[0]!;
  const cluster: ClusterRow = {
    ...base,
    id: CLUSTER,
    properties: {
      ...base.properties,
      agentPoolProfiles: [
        { name: 'system', osType: 'Linux', osSKU: 'AzureLinux3', enableFIPS: true },
        { name: 'w19', osType: 'Windows', osSKU: 'Windows2019', enableFIPS: true },
      ] as AgentPoolProfileRow[],
    },
  };
  const aliases = Object.fromEntries(USED_ALIASES.map((a) => [a.alias, a.defaultPath]));
  const retired = (exemptions: Exemption[], now: Date, resource = cluster) => {
    const policy = generatePolicy(builtInMatrix, { effect: 'Deny', asOf, exemptions });
    const verdicts = evaluateInitiative(
      policy.initiative,
      policy.definitions,
      { ...resource, type: 'Microsoft.ContainerService/managedClusters' },
      {
        aliases,
        now,
        parameters: Object.fromEntries(
          Object.entries(policy.exemptions.assignmentParameters).map(([k, v]) => [k, v.value]),
        ),
      },
    );
    return verdicts.get(definitionReferenceId('OS_RETIRED', 'clusters'))!.flagged;
  };

  it('refuses a cluster with a retired pool and no waiver', () => {
    expect(retired([], asOf)).toBe(true);
  });

  it('lets it through while the pool waiver is active, whatever the ID casing', () => {
    expect(retired([exemption({ codes: ['OS_RETIRED'] })], asOf)).toBe(false);
    expect(
      retired(
        [
          exemption({
            scope: `${CLUSTER}/agentPools/w19`.toUpperCase().replace('SUBSCRIPTIONS', 'subscriptions'),
          }),
        ],
        asOf,
      ),
    ).toBe(false);
  });

  it('refuses it again from the moment the waiver expires, with no regeneration', () => {
    expect(retired([exemption({})], new Date('2027-01-31T23:59:59.000Z'))).toBe(false);
    expect(retired([exemption({})], new Date('2027-02-01T00:00:00.000Z'))).toBe(true);
  });

  it('does not let a waiver of another finding, or of another pool, through', () => {
    expect(retired([exemption({ codes: ['FIPS_DISABLED'] })], asOf)).toBe(true);
    expect(retired([exemption({ scope: `${CLUSTER}/agentPools/other` })], asOf)).toBe(true);
    const second = {
      ...cluster,
      properties: {
        ...cluster.properties,
        agentPoolProfiles: [
          ...cluster.properties.agentPoolProfiles,
          { name: 'w19b', osType: 'Windows', osSKU: 'Windows2019' } as AgentPoolProfileRow,
        ],
      },
    };
    expect(retired([exemption({})], asOf, second)).toBe(true);
  });
});
