// Policy definitions on agent pools created or updated on their own (az aks nodepool add|update, agentPools PUT).
//
// `mode` is All: an agent pool takes neither tags nor a location, and Indexed mode evaluates only resource
// types that do (definition-structure-basics, "Resource Manager modes").

import type { FipsMatrix } from '../core/fipsMatrix';
import { clip, definitionDescription, DISPLAY_NAME_LIMIT } from './definitionText';
import { fipsPolicyClauses } from './fipsPolicyClauses';
import { AGENT_POOL_ALIASES } from './policyAliases';
import { CODE_TITLES, definitionName, effectParameter } from './policyNames';
import type { PolicyDefinition, PolicyEffect } from './policyTypes';
import { poolCondition } from './poolCondition';

export function agentPoolPolicyDefinitions(matrix: FipsMatrix, effect: PolicyEffect): PolicyDefinition[] {
  return fipsPolicyClauses(matrix).map((entry) => ({
    name: definitionName(entry.code, 'agentPools'),
    properties: {
      displayName: clip(`AKS agent pools: ${CODE_TITLES[entry.code]}`, DISPLAY_NAME_LIMIT),
      description: definitionDescription(
        entry,
        'Judges an agent pool created or updated on its own; pool-level waivers are policy exemptions on the pool.',
        matrix.version,
      ),
      mode: 'All',
      metadata: {
        version: '1.0.0',
        category: 'Kubernetes',
        aksFipsAuditor: { findingCode: entry.code, target: 'agentPools', matrixVersion: matrix.version },
      },
      parameters: { effect: effectParameter(effect) },
      policyRule: {
        if: {
          allOf: [
            { field: 'type', equals: AGENT_POOL_ALIASES.resourceType },
            poolCondition(entry.clauses, AGENT_POOL_ALIASES),
          ],
        },
        then: { effect: "[parameters('effect')]" },
      },
    },
  }));
}
