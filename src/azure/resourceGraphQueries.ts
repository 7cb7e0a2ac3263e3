// The Resource Graph queries the audit sends. Fixed text: no user input is ever spliced into KQL.

/**
 * One row per managed cluster, with the properties the auditor reads. `id` is projected and there
 * is no `limit`/`take`, so Resource Graph returns `$skipToken` for every page but the last.
 */
export const CLUSTERS_QUERY = [
  'resources',
  "| where type =~ 'microsoft.containerservice/managedclusters'",
  // Whole `properties`: trimming it server-side with bag_pack() is not on Resource Graph's documented
  // list of supported functions, and a query that fails in production is worse than larger pages.
  '| project id, name, type, subscriptionId, resourceGroup, location, tags, properties',
].join('\n');

/** Subscription display names, for reports. */
export const SUBSCRIPTIONS_QUERY = [
  'resourcecontainers',
  "| where type =~ 'microsoft.resources/subscriptions'",
  '| project id, subscriptionId, name',
].join('\n');
