// Builds the credential and the real Azure SDK clients from the configuration, for any cloud.

import { ContainerServiceClient } from '@azure/arm-containerservice';
import { ResourceGraphClient } from '@azure/arm-resourcegraph';
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';

import type { Config } from '../config';
import type { AccessContext } from './accessFailureMessages';
import type { LatestImageFetcher } from './nodeImageLookup';
import { ARM_REQUEST_TIMEOUT_IN_MS, requestTimeoutPolicy } from './requestTimeoutPolicy';

/**
 * Managed identity in Azure (user-assigned when AZURE_CLIENT_ID names one); on a laptop the
 * DefaultAzureCredential chain finds `az login`. The authority host follows the cloud.
 */
export function createCredential(config: Config): TokenCredential {
  if (config.clientId) return new ManagedIdentityCredential({ clientId: config.clientId });
  return new DefaultAzureCredential({ authorityHost: config.cloud.authorityHost });
}

/** What the fix-it messages of the audit's access errors need to know of the configuration. */
export function accessContextOf(config: Config): AccessContext {
  return {
    cloud: config.cloud.name,
    armEndpoint: config.cloud.armEndpoint,
    tokenScope: config.cloud.armScope,
    clientId: config.clientId,
  };
}

export interface ArmClientOptions {
  /** Bound on each call, token included (default ARM_REQUEST_TIMEOUT_IN_MS); tests shorten it. */
  timeoutInMs?: number;
}

/**
 * The modular clients take `endpoint` for where requests go but never derive the token audience
 * from it, so the scope is set explicitly: otherwise Azure Government gets public-cloud tokens.
 * Retries are ours (see ResourceGraphSource and NodeImageLookup), so the pipeline's own are off,
 * and the timeout bounds the whole call.
 */
function clientOptions(config: Config, options: ArmClientOptions) {
  return {
    endpoint: config.cloud.armEndpoint,
    credentials: { scopes: [config.cloud.armScope] },
    retryOptions: { maxRetries: 0 },
    userAgentOptions: { userAgentPrefix: 'aks-fips-auditor' },
    additionalPolicies: [
      {
        policy: requestTimeoutPolicy(options.timeoutInMs ?? ARM_REQUEST_TIMEOUT_IN_MS),
        position: 'perCall' as const,
      },
    ],
  };
}

export function createResourceGraphClient(
  config: Config,
  credential: TokenCredential,
  options: ArmClientOptions = {},
): ResourceGraphClient {
  return new ResourceGraphClient(credential, clientOptions(config, options));
}

/**
 * Reads `latestNodeImageVersion` from a pool's upgrade profile; null for a pool that is gone (404). Other errors
 * are the caller's to classify (NodeImageLookup: 401 stops the run, 403 turns the basis off, 5xx is retried).
 */
export function createLatestImageFetcher(
  config: Config,
  credential: TokenCredential,
  options: ArmClientOptions = {},
): LatestImageFetcher {
  const clients = new Map<string, ContainerServiceClient>();
  return async (subscriptionId, resourceGroup, cluster, pool, callOptions = {}) => {
    let client = clients.get(subscriptionId);
    if (!client) {
      client = new ContainerServiceClient(credential, subscriptionId, clientOptions(config, options));
      clients.set(subscriptionId, client);
    }
    try {
      const profile = await client.agentPools.getUpgradeProfile(resourceGroup, cluster, pool, {
        ...(callOptions.abortSignal ? { abortSignal: callOptions.abortSignal } : {}),
      });
      return profile.latestNodeImageVersion ?? null;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return null;
      throw error;
    }
  };
}
