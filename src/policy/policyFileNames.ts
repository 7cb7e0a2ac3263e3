// The names of the files `aks-fips-auditor policy` writes: stable, so deployments and reviews can rely on them.

export const POLICY_FILE_NAMES = {
  definitions: 'fips-policy-definitions.json',
  initiative: 'fips-policy-initiative.json',
  exemptions: 'fips-policy-exemptions.json',
  managementGroupBicep: 'fips-policy-management-group.bicep',
  subscriptionBicep: 'fips-policy-subscription.bicep',
  resourceGroupExemptionModule: 'fips-policy-exemption-resource-group.bicep',
  subscriptionExemptionModule: 'fips-policy-exemption-subscription.bicep',
} as const;

export type PolicyFileName = (typeof POLICY_FILE_NAMES)[keyof typeof POLICY_FILE_NAMES];
