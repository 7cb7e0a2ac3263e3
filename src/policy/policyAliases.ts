// The Azure Policy aliases the generated definitions read, each checked against Azure's published alias list.
//
// Where each alias is documented or used (checked 2026-12; see README "Keep it compliant"):
// - The alias list Azure publishes (`az provider show --namespace Microsoft.ContainerService --expand
//   "resourceTypes/aliases"`, or `Get-AzPolicyAlias`, as learn.microsoft.com/azure/governance/policy/concepts/
//   definition-structure-alias says), as dumped daily by github.com/maciejporebski/azure-policy-aliases:
//   aliases/Microsoft.ContainerService/managedClusters.md and managedClusters-agentPools.md (snapshot of
//   2026-08-22, commit 92a0371). Every alias below is listed there, with the default path given here, and has
//   been since 2021-06-30 (commit a15b167), so every API version AKS accepts today maps it.
// - Built-in definitions in github.com/Azure/azure-policy (snapshot of 2026-04-29, commit f4a50ba):
//   built-in-policies/policyDefinitions/Kubernetes/AKS_EncryptionAtHost_Deny.json (41425d9f-…) and
//   AKS_DisableSSH_Audit.json (28257686-…) count over `managedClusters/agentPoolProfiles[*]` and test members
//   with `exists: false` inside `where`, as these definitions do. No built-in reads enableFIPS or osSKU: no
//   built-in definition covers AKS FIPS.
// - The property names and casing are the AKS REST API's (`enableFIPS`, `osSKU`, `osType`; docs/azure-wire.md).

/** One alias: its name, the request path it reads, and what in this project relies on it. */
export interface PolicyAlias {
  alias: string;
  /** The alias's default path in the published alias list. */
  defaultPath: string;
}

const CLUSTER = 'Microsoft.ContainerService/managedClusters';
const AGENT_POOL = 'Microsoft.ContainerService/managedClusters/agentPools';

/** The aliases of one pool, in a cluster's `agentPoolProfiles[*]` or as an `agentPools` resource. */
export interface PoolAliases {
  /** The resource type whose requests carry the pool. */
  resourceType: string;
  osSku: PolicyAlias;
  osType: PolicyAlias;
  enableFips: PolicyAlias;
}

/** A pool inside a cluster: read member by member with `count` over `agentPoolProfiles[*]`. */
export const CLUSTER_POOL_ALIASES = {
  resourceType: CLUSTER,
  pools: { alias: `${CLUSTER}/agentPoolProfiles[*]`, defaultPath: 'properties.agentPoolProfiles[*]' },
  name: {
    alias: `${CLUSTER}/agentPoolProfiles[*].name`,
    defaultPath: 'properties.agentPoolProfiles[*].name',
  },
  osSku: {
    alias: `${CLUSTER}/agentPoolProfiles[*].osSKU`,
    defaultPath: 'properties.agentPoolProfiles[*].osSKU',
  },
  osType: {
    alias: `${CLUSTER}/agentPoolProfiles[*].osType`,
    defaultPath: 'properties.agentPoolProfiles[*].osType',
  },
  enableFips: {
    alias: `${CLUSTER}/agentPoolProfiles[*].enableFIPS`,
    defaultPath: 'properties.agentPoolProfiles[*].enableFIPS',
  },
} as const satisfies PoolAliases & Record<string, unknown>;

/** An agent pool created or updated on its own (`az aks nodepool add|update`). */
export const AGENT_POOL_ALIASES = {
  resourceType: AGENT_POOL,
  osSku: { alias: `${AGENT_POOL}/osSKU`, defaultPath: 'properties.osSKU' },
  osType: { alias: `${AGENT_POOL}/osType`, defaultPath: 'properties.osType' },
  enableFips: { alias: `${AGENT_POOL}/enableFIPS`, defaultPath: 'properties.enableFIPS' },
} as const satisfies PoolAliases;

/**
 * Aliases that exist but that the definitions deliberately do not read, and why. The version aliases are
 * there, but Azure Policy compares strings, dates and numbers, never versions ("1.9" sorts after "1.35"), and
 * a request often leaves the version out (AKS picks its default). A node image name is set by AKS, so a
 * create request never carries it. These decide floating SKUs in the audit; see `policyLimits`.
 */
export const UNUSED_ALIASES: readonly (PolicyAlias & { why: string })[] = [
  {
    alias: `${CLUSTER}/kubernetesVersion`,
    defaultPath: 'properties.kubernetesVersion',
    why: 'a version; also read by the built-in ASC_UpgradeVersion_KubernetesService_Audit.json',
  },
  {
    alias: `${CLUSTER}/agentPoolProfiles[*].orchestratorVersion`,
    defaultPath: 'properties.agentPoolProfiles[*].orchestratorVersion',
    why: 'a version',
  },
  {
    alias: `${CLUSTER}/agentPoolProfiles[*].currentOrchestratorVersion`,
    defaultPath: 'properties.agentPoolProfiles[*].currentOrchestratorVersion',
    why: 'a version, set by AKS',
  },
  {
    alias: `${AGENT_POOL}/orchestratorVersion`,
    defaultPath: 'properties.orchestratorVersion',
    why: 'a version',
  },
  {
    alias: `${CLUSTER}/agentPoolProfiles[*].nodeImageVersion`,
    defaultPath: 'properties.agentPoolProfiles[*].nodeImageVersion',
    why: 'set by AKS, absent from create requests',
  },
  {
    alias: `${AGENT_POOL}/nodeImageVersion`,
    defaultPath: 'properties.nodeImageVersion',
    why: 'set by AKS, absent from create requests',
  },
];

/** Every alias the generated definitions read, for checks and documentation. */
export const USED_ALIASES: readonly PolicyAlias[] = [
  CLUSTER_POOL_ALIASES.pools,
  CLUSTER_POOL_ALIASES.name,
  CLUSTER_POOL_ALIASES.osSku,
  CLUSTER_POOL_ALIASES.osType,
  CLUSTER_POOL_ALIASES.enableFips,
  AGENT_POOL_ALIASES.osSku,
  AGENT_POOL_ALIASES.osType,
  AGENT_POOL_ALIASES.enableFips,
];
