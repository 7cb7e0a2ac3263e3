// The signature verifier verification uses: the public part of the key each signature names, fetched from Key Vault.

import type { TokenCredential } from '@azure/core-auth';

import type { LinkSignatureVerifier } from './chainLink';
import { KeyVaultLinkVerifier } from './keyVaultLinkSigning';

export function createLinkVerifier(credential: TokenCredential): LinkSignatureVerifier {
  return new KeyVaultLinkVerifier(credential);
}
