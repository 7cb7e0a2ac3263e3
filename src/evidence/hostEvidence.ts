// The evidence side of one host (the Functions app, the serve adapter): its store, verifier and health, built on first use.

import type { LinkSignatureVerifier } from './chainLink';
import { createLinkVerifier } from './createLinkVerifier';
import type { EvidenceHost } from './createRunEvidence';
import { type EvidenceHealth, getEvidenceHealth } from './evidenceHealth';
import { EvidenceStore } from './evidenceStore';

export interface HostEvidence {
  /** Built on first read: a missing storage setting then fails that request (503), not the host's start. */
  readonly evidenceStore: EvidenceStore;
  readonly linkVerifier: LinkSignatureVerifier;
  health(options: { now: Date; abortSignal?: AbortSignal }): Promise<EvidenceHealth>;
}

export function hostEvidence(host: EvidenceHost): HostEvidence {
  let store: EvidenceStore | undefined;
  let verifier: LinkSignatureVerifier | undefined;
  const evidence: HostEvidence = {
    get evidenceStore() {
      store ??= new EvidenceStore(host.tables);
      return store;
    },
    get linkVerifier() {
      verifier ??= createLinkVerifier(host.credential);
      return verifier;
    },
    health: (options) => getEvidenceHealth(evidence.evidenceStore, host.config, options),
  };
  return evidence;
}
