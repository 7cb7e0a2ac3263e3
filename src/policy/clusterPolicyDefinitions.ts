// Policy definitions on managed clusters: every pool in `agentPoolProfiles` is judged with `count … where`.
//
// A cluster create or update (az aks create, az aks update, an ARM/Bicep deployment of the cluster) carries all
// its pools, so these are what stop a noncompliant pool created with its cluster. A pool covered by an active
// pool-level waiver (the `waivedPools` parameter) does not count: its exemption lives on the agentPools
// resource, which a cluster request never names, so the waiver must reach the cluster rule as data.

import type { FipsMatrix } from '../core/fipsMatrix';
import { clip, definitionDescription, DISPLAY_NAME_LIMIT } from './definitionText';
import { fipsPolicyClauses } from './fipsPolicyClauses';
import { CLUSTER_POOL_ALIASES } from './policyAliases';
import { CODE_TITLES, definitionName, effectParameter, waivedPoolsParameter } from './policyNames';
import type { PolicyCondition, PolicyDefinition, PolicyEffect } from './policyTypes';
import { poolCondition } from './poolCondition';

/** No active waiver in `waivedPools` names the counted pool (ARM IDs compare case-insensitively, as `equals` does). */
export function notWaivedCondition(): PolicyCondition {
  return {
    count: {
      value: "[parameters('waivedPools')]",
      name: 'waiver',
      where: {
        allOf: [
          {
            value: "[current('waiver').poolId]",
            equals: `[concat(field('id'), '/agentPools/', current('${CLUSTER_POOL_ALIASES.name.alias}'))]`,
          },
          { value: '[utcNow()]', less: "[current('waiver').expiresOn]" },
        ],
      },
    },
    equals: 0,
  };
}

export function clusterPolicyDefinitions(matrix: FipsMatrix, effect: PolicyEffect): PolicyDefinition[] {
  return fipsPolicyClauses(matrix).map((entry) => ({
    name: definitionName(entry.code, 'clusters'),
    properties: {
      displayName: clip(`AKS clusters: ${CODE_TITLES[entry.code]} (every agent pool)`, DISPLAY_NAME_LIMIT),
      description: definitionDescription(
        entry,
        'Judges every pool in a cluster create or update; a pool with an active pool-level waiver does not count.',
        matrix.version,
      ),
      mode: 'All',
      metadata: {
        version: '1.0.0',
        category: 'Kubernetes',
        aksFipsAuditor: { findingCode: entry.code, target: 'clusters', matrixVersion: matrix.version },
      },
      parameters: { effect: effectParameter(effect), waivedPools: waivedPoolsParameter() },
      policyRule: {
        if: {
          allOf: [
            { field: 'type', equals: CLUSTER_POOL_ALIASES.resourceType },
            {
              count: {
                field: CLUSTER_POOL_ALIASES.pools.alias,
                where: {
                  allOf: [poolCondition(entry.clauses, CLUSTER_POOL_ALIASES), notWaivedCondition()],
                },
              },
              greater: 0,
            },
          ],
        },
        then: { effect: "[parameters('effect')]" },
      },
    },
  }));
}
