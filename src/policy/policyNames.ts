// Stable names, titles and texts of the generated definitions, so exemptions and the initiative agree on them.

import type { PolicyCode, PolicyEffect, PolicyParameterDefinition, PolicyTarget } from './policyTypes';
import { POLICY_EFFECTS } from './policyTypes';

const SLUG: Record<PolicyCode, string> = {
  FIPS_DISABLED: 'fips-disabled',
  OS_NOT_FIPS_CAPABLE: 'os-without-fips',
  OS_RETIRED: 'os-retired',
  OS_SKU_UNRECOGNIZED: 'os-sku-unrecognized',
};

/** What each finding asks of a pool, for display names and groups. */
export const CODE_TITLES: Record<PolicyCode, string> = {
  FIPS_DISABLED: 'FIPS must be enabled where the OS offers it on request',
  OS_NOT_FIPS_CAPABLE: 'the OS SKU must have a FIPS image',
  OS_RETIRED: 'the OS must not be retired',
  OS_SKU_UNRECOGNIZED: 'the OS SKU must be one the FIPS matrix knows',
};

const TARGET_SUFFIX: Record<PolicyTarget, string> = { clusters: 'clusters', agentPools: 'agentpools' };

/** `aks-fips-os-retired-clusters`: the definition's name, stable across regenerations. */
export function definitionName(code: PolicyCode, target: PolicyTarget): string {
  return `aks-fips-${SLUG[code]}-${TARGET_SUFFIX[target]}`;
}

/** `os-retired-clusters`: the definition's reference ID in the initiative, which exemptions name. */
export function definitionReferenceId(code: PolicyCode, target: PolicyTarget): string {
  return `${SLUG[code]}-${TARGET_SUFFIX[target]}`;
}

/** `waivedPoolsOsRetired`: the initiative parameter that carries the pool waivers of one finding. */
export function waiverParameterName(code: PolicyCode): string {
  return `waivedPools${code
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('')}`;
}

export const INITIATIVE_NAME = 'aks-fips';

export function effectParameter(effect: PolicyEffect): PolicyParameterDefinition {
  return {
    type: 'String',
    allowedValues: POLICY_EFFECTS,
    defaultValue: effect,
    metadata: {
      displayName: 'Effect',
      description:
        'Audit reports a flagged pool as noncompliant; Deny refuses the create or update that would add or keep one; Disabled turns the policy off.',
      portalReview: true,
    },
  };
}

export function waivedPoolsParameter(code?: PolicyCode): PolicyParameterDefinition {
  return {
    type: 'Array',
    defaultValue: [],
    metadata: {
      displayName: code ? `Waived pools (${code})` : 'Waived pools',
      description:
        'Active pool-level waivers as {"poolId": "<agent pool ARM ID>", "expiresOn": "<ISO 8601 UTC>"}: a waived pool does not make its cluster noncompliant until expiresOn. Written by `aks-fips-auditor policy` from its exemptions.',
    },
  };
}
