// The Azure Policy JSON shapes the generator writes, and the finding codes a policy can judge.

import type { FindingCode } from '../core/types';

/** The findings an Azure Policy can see in a create or update request, each with its own definitions. */
export const POLICY_CODES = [
  'FIPS_DISABLED',
  'OS_NOT_FIPS_CAPABLE',
  'OS_RETIRED',
  'OS_SKU_UNRECOGNIZED',
] as const satisfies readonly FindingCode[];
export type PolicyCode = (typeof POLICY_CODES)[number];

export function isPolicyCode(code: string): code is PolicyCode {
  return (POLICY_CODES as readonly string[]).includes(code);
}

/** The effects the definitions accept, as the built-in Kubernetes definitions spell them. */
export const POLICY_EFFECTS = ['Audit', 'Deny', 'Disabled'] as const;
export type PolicyEffect = (typeof POLICY_EFFECTS)[number];

/** A condition of a policy rule, as the policy definition schema describes it (2020-10-01). */
export type PolicyCondition =
  | { allOf: PolicyCondition[] }
  | { anyOf: PolicyCondition[] }
  | { not: PolicyCondition }
  | FieldCondition
  | ValueCondition
  | CountCondition;

export type ConditionOperator =
  | 'equals'
  | 'notEquals'
  | 'like'
  | 'notLike'
  | 'match'
  | 'matchInsensitively'
  | 'notMatch'
  | 'notMatchInsensitively'
  | 'contains'
  | 'notContains'
  | 'in'
  | 'notIn'
  | 'containsKey'
  | 'notContainsKey'
  | 'less'
  | 'lessOrEquals'
  | 'greater'
  | 'greaterOrEquals'
  | 'exists';

export type ConditionValue = string | number | boolean | readonly (string | number | boolean)[];

export type FieldCondition = { field: string } & Partial<Record<ConditionOperator, ConditionValue>>;
export type ValueCondition = { value: unknown } & Partial<Record<ConditionOperator, ConditionValue>>;
export type CountCondition = {
  count:
    { field: string; where?: PolicyCondition } | { value: unknown; name?: string; where?: PolicyCondition };
} & Partial<Record<ConditionOperator, ConditionValue>>;

export interface PolicyParameterDefinition {
  type: 'String' | 'Array' | 'Object' | 'Boolean' | 'Integer' | 'Float' | 'DateTime';
  defaultValue?: unknown;
  allowedValues?: readonly unknown[];
  metadata: { displayName: string; description: string; portalReview?: boolean };
}

/** A `Microsoft.Authorization/policyDefinitions` resource as the REST API and Bicep take it. */
export interface PolicyDefinition {
  name: string;
  properties: {
    displayName: string;
    description: string;
    mode: 'All' | 'Indexed';
    metadata: {
      version: string;
      category: string;
      aksFipsAuditor: { findingCode: PolicyCode; target: PolicyTarget; matrixVersion: string };
    };
    parameters: Record<string, PolicyParameterDefinition>;
    policyRule: { if: PolicyCondition; then: { effect: string } };
  };
}

/** Which resource a definition judges: the cluster (every pool in `agentPoolProfiles`) or one agent pool. */
export type PolicyTarget = 'clusters' | 'agentPools';

export interface PolicyDefinitionReference {
  policyDefinitionReferenceId: string;
  /** `{definitionScope}/providers/Microsoft.Authorization/policyDefinitions/<name>`: the deployment fills the scope. */
  policyDefinitionId: string;
  parameters: Record<string, { value: unknown }>;
  groupNames: string[];
}

/** A `Microsoft.Authorization/policySetDefinitions` resource (an initiative). */
export interface PolicySetDefinition {
  name: string;
  properties: {
    displayName: string;
    description: string;
    metadata: {
      version: string;
      category: string;
      aksFipsAuditor: { matrixVersion: string };
    };
    parameters: Record<string, PolicyParameterDefinition>;
    policyDefinitionGroups: { name: string; displayName: string; description: string }[];
    policyDefinitions: PolicyDefinitionReference[];
  };
}

/** The token a deployment replaces with the management group or subscription the definitions live in. */
export const DEFINITION_SCOPE_TOKEN = '{definitionScope}';
/** The token a deployment replaces with the ID of the initiative's assignment. */
export const ASSIGNMENT_ID_TOKEN = '{policyAssignmentId}';
