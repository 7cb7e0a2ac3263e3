// Builds the evidence step of completing a run from the app's settings.

import type { TokenCredential } from '@azure/core-auth';

import type { Config } from '../config';
import { createEvidenceStore } from './createEvidenceStore';
import { type RunEvidence, runEvidence } from './RunEvidence';

/** What the evidence step needs from the composition root; AuditService has it. */
export interface EvidenceHost {
  readonly config: Config;
  readonly credential: TokenCredential;
}

export function createRunEvidence(host: EvidenceHost): RunEvidence {
  const { config } = host;
  return runEvidence({
    store: createEvidenceStore(config, () => host.credential),
    matrix: config.matrix,
    signer: null,
    retention: null,
  });
}
