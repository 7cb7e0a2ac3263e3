// Builds the credential and the real Azure SDK clients from the configuration, for any cloud.

import { ContainerServiceClient } from '@azure/arm-containerservice';
import { ResourceGraphClient } from '@azure/arm-resourcegraph';
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';

import type { Config } from '../config';
import type { LatestImageFetcher } from './nodeImageLookup';

/**
 * Managed identity in Azure (user-assigned when AZURE_CLIENT_ID names one); on a laptop the
 * DefaultAzureCredential chain finds `az login`. The authority host follows the cloud.
 */
export function createCredential(config: Config): TokenCredential {
  if (config.clientId) return new ManagedIdentityCredential({ clientId: config.clientId });
  return new DefaultAzureCredential({ authorityHost: config.cloud.authorityHost });
}

/**
 * The modular clients take `endpoint` for where requests go but never derive the token audience
 * from it, so the scope is set explicitly: otherwise Azure Government gets public-cloud tokens.
 * Retries are ours (see ResourceGraphSource), so the pipeline's own are off.
 */
function clientOptions(config: Config) {
  return {
    endpoint: config.cloud.armEndpoint,
    credentials: { scopes: [config.cloud.armScope] },
    retryOptions: { maxRetries: 0 },
    userAgentOptions: { userAgentPrefix: 'aks-fips-auditor' },
  };
}

export function createResourceGraphClient(config: Config, credential: TokenCredential): ResourceGraphClient {
  return new ResourceGraphClient(credential, clientOptions(config));
}

/** Reads `latestNodeImageVersion` from a pool's upgrade profile; null for a pool that is gone. */
export function createLatestImageFetcher(config: Config, credential: TokenCredential): LatestImageFetcher {
  const clients = new Map<string, ContainerServiceClient>();
  return async (subscriptionId, resourceGroup, cluster, pool) => {
    let client = clients.get(subscriptionId);
    if (!client) {
      client = new ContainerServiceClient(credential, subscriptionId, clientOptions(config));
      clients.set(subscriptionId, client);
    }
    try {
      const profile = await client.agentPools.getUpgradeProfile(resourceGroup, cluster, pool);
      return profile.latestNodeImageVersion ?? null;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return null;
      throw error;
    }
  };
}
