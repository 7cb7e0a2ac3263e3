// The Resource Graph queries the audit sends. Fixed text: no user input is ever spliced into KQL.

/**
 * The cluster properties the auditor reads (normalizeCluster), each projected as a column of its own.
 * normalizeCluster reads them at the top level as it reads `az aks list` output, so a row needs no `properties`.
 */
export const CLUSTER_PROPERTY_COLUMNS = [
  'kubernetesVersion',
  'currentKubernetesVersion',
  'provisioningState',
  'powerState',
  'nodeProvisioningProfile',
  'securityProfile',
  'agentPoolProfiles',
] as const;

/**
 * One row per managed cluster with only what the evaluator reads, so pages stay under Resource Graph's
 * 16,777,216-byte response limit. `id` is projected and there is no `limit`/`take`, so Resource Graph returns
 * `$skipToken` for every page but the last.
 *
 * Only operators Resource Graph documents as supported ("Supported KQL language elements",
 * learn.microsoft.com/azure/governance/resource-graph/concepts/query-language): `where` and `project`, with
 * property paths and renames as its samples use them (`project SubName=name`, `properties.hardwareProfile.vmSize`).
 * The pools are projected whole: trimming inside `agentPoolProfiles` would need `mv-expand` + `summarize`, and
 * Resource Graph pages a `summarize` result "first page only" (same page), or `mv-apply`, which it does not
 * support. Their labels, taints and tags therefore stay, and a page that is still too large is asked again
 * with a smaller `$top` (ResourceGraphSource).
 */
export const CLUSTERS_QUERY = [
  'resources',
  "| where type =~ 'microsoft.containerservice/managedclusters'",
  '| project id, name, subscriptionId, resourceGroup, location, tags,',
  ...CLUSTER_PROPERTY_COLUMNS.map(
    (column, i) =>
      `    ${column} = properties.${column}${i < CLUSTER_PROPERTY_COLUMNS.length - 1 ? ',' : ''}`,
  ),
].join('\n');

/**
 * The subscriptions this identity can read, with their display names: the audit's coverage check (Resource Graph
 * leaves out, without an error, what the caller may not read) and the names in reports.
 */
export const SUBSCRIPTIONS_QUERY = [
  'resourcecontainers',
  "| where type =~ 'microsoft.resources/subscriptions'",
  '| project id, subscriptionId, name',
].join('\n');
