// A small hand-written estate over two runs, with every kind of change the digest reports, and hostile names.

import { HOSTILE_SUBSCRIPTION_NAME, HOSTILE_TAG_VALUE } from '../../emulators/estateGenerator';
import { matrixRefOf } from '../../src/core/matrixSources';
import { summarizeRun } from '../../src/core/summarizeRun';
import type { Exemption, Finding, PoolResult, Report, RunStatus, ScopeError } from '../../src/core/types';

export const SUB_A = '0b1f6471-1bf0-4dda-aec3-111111111111';
export const SUB_B = '0b1f6471-1bf0-4dda-aec3-222222222222';
export const PREVIOUS_RUN = '20261128T060000Z-aaaaaa';
export const CURRENT_RUN = '20261129T060000Z-bbbbbb';

export const FIPS_DISABLED: Finding = {
  code: 'FIPS_DISABLED',
  severity: 'high',
  message: 'FIPS is off on AzureLinux3 (Azure Linux 3.0): enableFIPS is false.',
  remediation:
    "Enable the FIPS image (Azure CLI 2.64.0+; this reimages the pool's nodes): `az aks nodepool update --resource-group rg-pay --cluster-name aks-pay --name np1 --enable-fips-image`.",
};
export const OS_RETIRED: Finding = {
  code: 'OS_RETIRED',
  severity: 'high',
  message: 'Ubuntu 18.04 was retired on AKS on 2025-03-17 and receives no FIPS patches.',
  remediation:
    'Replace the pool: `az aks nodepool add … --os-sku AzureLinux3 --enable-fips-image`, then delete the old one.',
};
export const OUTDATED: Finding = {
  code: 'NODE_IMAGE_OUTDATED',
  severity: 'medium',
  message: 'Node image AKSAzureLinux-V3gen2fips-202508.01.0 is 92 days behind the latest.',
  remediation: 'Upgrade the node image: `az aks nodepool upgrade … --node-image-only`.',
};
export const UNRECOGNIZED: Finding = {
  code: 'OS_SKU_UNRECOGNIZED',
  severity: 'info',
  message:
    'OS SKU "FlatcarLinux" (Linux, Kubernetes 1.33.2) is not in FIPS matrix 2026-11-29, so this pool cannot be judged.',
  remediation:
    'Check the SKU against the AKS FIPS documentation and, if it is FIPS-capable, add it to a matrix override file named by AUDIT_MATRIX_FILE.',
  undecided: true,
};

export function unreadable(scope: string, lastSeen: string): Finding {
  return {
    code: 'SCOPE_UNREADABLE',
    severity: 'info',
    message: `Scope ${scope} could not be read in this run (AuthorizationFailed); this pool was last seen ${lastSeen}.`,
    remediation:
      'Check that the auditor identity still has Reader on the scope and that Resource Graph is reachable, then run the audit again.',
    undecided: true,
  };
}

export function pool(
  subscriptionId: string,
  resourceGroup: string,
  cluster: string,
  name: string,
  status: PoolResult['status'],
  findings: Finding[] = [],
  extra: Partial<PoolResult> = {},
): PoolResult {
  return {
    id: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${cluster}/agentPools/${name}`,
    subscriptionId,
    subscriptionName: subscriptionId === SUB_A ? 'payments-prod' : HOSTILE_SUBSCRIPTION_NAME,
    resourceGroup,
    cluster,
    pool: name,
    location: 'usgovvirginia',
    osType: 'Linux',
    osSku: 'AzureLinux3',
    kubernetesVersion: '1.33.2',
    nodeImageVersion: 'AKSAzureLinux-V3gen2fips-202511.20.0',
    enableFips: status !== 'noncompliant',
    status,
    findings,
    exemption: null,
    ...extra,
  };
}

export function exemption(scope: string, expiresOn: string, extra: Partial<Exemption> = {}): Exemption {
  return {
    id: 'ex-1',
    scope,
    codes: null,
    reason: `Vendor appliance certified on this image until the Q1 refresh ${HOSTILE_TAG_VALUE}`,
    ticket: 'CHG-4711',
    owner: 'platform-team@contoso.com"><script>alert(1)</script>',
    createdBy: 'alice@contoso.com',
    createdAt: '2026-10-01T00:00:00.000Z',
    expiresOn,
    ...extra,
  };
}

export function report(
  runId: string,
  startedAt: string,
  pools: PoolResult[],
  status: RunStatus = 'succeeded',
  errors: ScopeError[] = [],
): Report {
  return {
    schemaVersion: 1,
    run: {
      id: runId,
      trigger: 'timer',
      status,
      startedAt,
      finishedAt: new Date(Date.parse(startedAt) + 95_000).toISOString(),
      cloud: 'AzureUSGovernment',
      matrix: matrixRefOf({
        version: '2026-11-29',
        sources: [
          {
            url: 'https://learn.microsoft.com/azure/aks/enable-fips-nodes',
            title: 'Enable FIPS for AKS node pools',
            retrieved: '2026-11-29',
          },
          {
            url: 'https://csrc.nist.gov/projects/cmvp',
            title: 'NIST CMVP <Historical> & "validated" modules',
            retrieved: '2026-11-29',
          },
        ],
      }),
    },
    summary: summarizeRun(pools, []),
    pools,
    clusters: [],
    errors,
  };
}

const np = (sub: string, rg: string, cluster: string, name: string) => ({ sub, rg, cluster, name });
const P = {
  newlyBad: np(SUB_A, 'rg-pay', 'aks-pay', 'np1'),
  resolved: np(SUB_A, 'rg-pay', 'aks-pay', 'np2'),
  still: np(SUB_B, 'rg-<b>bold</b>', 'aks-legacy', 'ubuntu1804'),
  unknown: np(SUB_B, 'rg-edge', 'aks-edge', 'flatcar'),
  expiring: np(SUB_A, 'rg-pay', 'aks-vendor', 'appliance'),
  lapsed: np(SUB_A, 'rg-pay', 'aks-vendor', 'legacy'),
  fine: np(SUB_A, 'rg-pay', 'aks-pay', 'system'),
  removed: np(SUB_B, 'rg-edge', 'aks-gone', 'np1'),
};
const at = (
  p: (typeof P)[keyof typeof P],
  status: PoolResult['status'],
  findings: Finding[] = [],
  extra: Partial<PoolResult> = {},
) => pool(p.sub, p.rg, p.cluster, p.name, status, findings, extra);

/** The pool IDs of the fixture, by role. */
export const IDS = Object.fromEntries(
  Object.entries(P).map(([k, p]) => [k, at(p, 'compliant').id]),
) as Record<keyof typeof P, string>;

/** Two runs a day apart: one of each change. The current run starts 2026-11-29T06:00:00Z. */
export function knownEstate(): { previous: Report; current: Report; noncompliantSince: Map<string, string> } {
  const lapsedExemption = exemption(IDS.lapsed, '2026-11-28T12:00:00.000Z', { id: 'ex-lapsed' });
  const previous = report(PREVIOUS_RUN, '2026-11-28T06:00:00.000Z', [
    at(P.newlyBad, 'compliant'),
    at(P.resolved, 'noncompliant', [FIPS_DISABLED]),
    at(P.still, 'noncompliant', [OS_RETIRED, OUTDATED]),
    at(P.unknown, 'compliant'),
    at(P.expiring, 'exempt', [FIPS_DISABLED], {
      exemption: exemption(IDS.expiring, '2026-12-04T00:00:00.000Z'),
    }),
    at(P.lapsed, 'exempt', [FIPS_DISABLED], { exemption: lapsedExemption }),
    at(P.fine, 'compliant'),
    at(P.removed, 'noncompliant', [FIPS_DISABLED]),
  ]);
  const current = report(CURRENT_RUN, '2026-11-29T06:00:00.000Z', [
    at(P.newlyBad, 'noncompliant', [FIPS_DISABLED, OUTDATED]),
    at(P.resolved, 'compliant'),
    at(P.still, 'noncompliant', [OS_RETIRED, OUTDATED]),
    at(P.unknown, 'unknown', [UNRECOGNIZED], { osSku: 'FlatcarLinux' }),
    at(P.expiring, 'exempt', [FIPS_DISABLED], {
      exemption: exemption(IDS.expiring, '2026-12-04T00:00:00.000Z'),
    }),
    at(P.lapsed, 'noncompliant', [FIPS_DISABLED]),
    at(P.fine, 'compliant', [OUTDATED]),
  ]);
  const noncompliantSince = new Map([
    [IDS.still.toLowerCase(), '2026-11-02T06:00:00.000Z'],
    [IDS.newlyBad.toLowerCase(), '2026-11-29T06:00:00.000Z'],
  ]);
  return { previous, current, noncompliantSince };
}
