// Builds the evidence step of completing a run from the app's settings.

import type { TokenCredential } from '@azure/core-auth';

import type { Config } from '../config';
import { BlobBundleRetention } from './BlobBundleRetention';
import { createEvidenceStore } from './createEvidenceStore';
import { createLinkVerifier } from './createLinkVerifier';
import { KeyVaultLinkSigner } from './keyVaultLinkSigning';
import { type RunEvidence, runEvidence } from './RunEvidence';

/** What the evidence step needs from the composition root; AuditService has it. */
export interface EvidenceHost {
  readonly config: Config;
  readonly credential: TokenCredential;
}

export function createRunEvidence(host: EvidenceHost): RunEvidence {
  const { config } = host;
  const store = createEvidenceStore(config, () => host.credential);
  return runEvidence({
    store,
    matrix: config.matrix,
    signer: config.evidence.signingKeyId
      ? new KeyVaultLinkSigner(config.evidence.signingKeyId, host.credential)
      : null,
    retention: config.evidence.container
      ? new BlobBundleRetention({
          store,
          containerUrl: config.evidence.container,
          credential: host.credential,
          verifier: createLinkVerifier(host.credential),
        })
      : null,
  });
}
