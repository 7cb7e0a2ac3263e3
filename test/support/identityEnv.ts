// Points the credential chain of this test process at the managed identity emulator, and puts the variables back.

import type { ManagedIdentityEmulator } from '../../emulators/managedIdentityEmulator';

/** Variables that would send the chain elsewhere than the emulator (or to a real login server). */
export const IDENTITY_VARIABLES = [
  'AZURE_CLIENT_SECRET',
  'AZURE_TENANT_ID',
  'AZURE_FEDERATED_TOKEN_FILE',
  'AZURE_CLIENT_ID',
  'AZURE_CLIENT_CERTIFICATE_PATH',
  'AZURE_USERNAME',
  'AZURE_PASSWORD',
  'AZURE_TOKEN_CREDENTIALS',
  'IDENTITY_ENDPOINT',
  'IDENTITY_HEADER',
  'MSI_ENDPOINT',
  'MSI_SECRET',
  'IDENTITY_SERVER_THUMBPRINT',
  'IMDS_ENDPOINT',
  'PATH',
] as const;

/** Saves and clears every identity variable; the returned function restores them. */
export function isolateIdentityEnv(): () => void {
  const saved = Object.fromEntries(IDENTITY_VARIABLES.map((name) => [name, process.env[name]]));
  for (const name of IDENTITY_VARIABLES) if (name !== 'PATH') delete process.env[name];
  return () => {
    for (const name of IDENTITY_VARIABLES) {
      const value = saved[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** The chain pinned to the emulated App Service managed identity endpoint. */
export function useManagedIdentity(identity: ManagedIdentityEmulator): void {
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.identityHeader;
  process.env.AZURE_TOKEN_CREDENTIALS = 'ManagedIdentityCredential';
}
