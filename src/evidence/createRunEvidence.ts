// Builds the evidence step of completing a run from the app's settings.

import type { TokenCredential } from '@azure/core-auth';

import type { Config } from '../config';
import type { TableClientFactory } from '../store/tableClientFactory';
import { BlobBundleRetention } from './blobBundleRetention';
import { createLinkVerifier } from './createLinkVerifier';
import { EvidenceStore } from './evidenceStore';
import { KeyVaultLinkSigner } from './keyVaultLinkSigning';
import { type RunEvidence, runEvidence } from './runEvidence';

/** What the evidence step needs from the composition root; App has it. */
export interface EvidenceHost {
  readonly config: Config;
  readonly credential: TokenCredential;
  /** Throws ConfigError when no storage is configured: read only when evidence is used. */
  readonly tables: TableClientFactory;
}

export function createRunEvidence(host: EvidenceHost): RunEvidence {
  const { config } = host;
  const store = new EvidenceStore(host.tables);
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
