// Local Azure for the demo, the tests and the benchmark: Azurite, managed identity and ARM emulators, wired up.

import { ArmEmulator } from './armEmulator';
import { startAzurite } from './azurite';
import { generateEstate } from './estateGenerator';
import { ManagedIdentityEmulator } from './managedIdentityEmulator';
import { trustCertificate } from './tls';

/**
 * The demo's sample estate: a few hundred pools over several subscriptions, every FIPS trap included, named as a
 * real estate is. Hostile names (HOSTILE_SUBSCRIPTION_NAME, `hostileNames`) belong in tests, not in a newcomer's
 * first look at the tool.
 */
export const SAMPLE_ESTATE = {
  seed: 2026,
  pools: 360,
  subscriptions: 6,
  hostileNames: false,
  namesFollowSubscription: true,
} as const;

/** Variables that would send DefaultAzureCredential to a real login server instead of the emulator. */
export const REAL_IDENTITY_VARIABLES = [
  'AZURE_CLIENT_SECRET',
  'AZURE_CLIENT_CERTIFICATE_PATH',
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_ID',
  'AZURE_FEDERATED_TOKEN_FILE',
  'AZURE_USERNAME',
  'MSI_ENDPOINT',
  'IDENTITY_SERVER_THUMBPRINT',
];

export interface LocalAzure {
  env: Record<string, string>;
  arm: ArmEmulator;
  identity: ManagedIdentityEmulator;
  stop(): Promise<void>;
}

/**
 * Starts Azurite, the managed identity endpoint and the ARM emulator, trusts the emulator's
 * certificate in this process, and points the identity variables at the emulator. Returns the
 * settings an operator would set in Azure, with local values.
 */
export async function startLocalAzure(
  estate = generateEstate(SAMPLE_ESTATE),
  options: { audience?: string; latencyInMs?: number; queue?: boolean } = {},
): Promise<LocalAzure> {
  const azurite = await startAzurite({ queue: options.queue ?? false });
  const identity = await ManagedIdentityEmulator.start();
  const arm = await ArmEmulator.start({
    estate,
    identity,
    audience: options.audience ?? 'https://management.azure.com/',
    ...(options.latencyInMs !== undefined ? { latencyInMs: options.latencyInMs } : {}),
  });
  trustCertificate(arm.certificatePem);
  for (const name of REAL_IDENTITY_VARIABLES) delete process.env[name];
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.identityHeader;
  process.env.AZURE_TOKEN_CREDENTIALS = 'ManagedIdentityCredential';
  return {
    env: {
      AZURE_CLOUD: 'AzureCloud',
      AUDIT_ARM_ENDPOINT: arm.endpoint,
      AUDIT_TABLES_CONNECTION_STRING: azurite.connectionString,
      AUDIT_TABLE_PREFIX: 'fipsaudit',
      EMAIL_MODE: 'off',
      // The Function App's pipeline queue, when Azurite's queue service runs (the CLI queues in-process).
      ...(options.queue ? { AUDIT_QUEUE: azurite.connectionString } : {}),
    },
    arm,
    identity,
    stop: async () => {
      await arm.close();
      await identity.close();
      await azurite.stop();
    },
  };
}
