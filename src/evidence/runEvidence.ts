// The evidence step of completing a run: seal it into the chain, then retain its bundle. Never fails the run.

import type { FipsMatrix } from '../core/fipsMatrix';
import { describeError } from '../errors';
import type { LinkSigner } from './chainLink';
import type { EvidenceStore } from './evidenceStore';
import { type SealOutcome, sealRun } from './sealRun';

/** Writes a completed run's bundle somewhere it cannot be changed (AUDIT_EVIDENCE_CONTAINER). */
export interface BundleRetention {
  retain(runId: string): Promise<void>;
}

export interface RunEvidenceDependencies {
  store: EvidenceStore;
  matrix: FipsMatrix;
  signer: LinkSigner | null;
  retention: BundleRetention | null;
  log?: (message: string) => void;
  warn?: (message: string) => void;
}

export interface RunEvidence {
  /**
   * Called once a run's record says it completed (succeeded or partial): seals it, then retains its bundle.
   * Never throws: a run that completed stays completed. A seal that fails is logged, shows in /api/health
   * (the chain is behind) and is caught up by the next run's seal; a bundle that could not be retained is
   * recorded (evidence table, run record), logged, and shows in /api/health.
   */
  onRunCompleted(runId: string, log?: (message: string) => void): Promise<SealOutcome | null>;
}

export function runEvidence(deps: RunEvidenceDependencies): RunEvidence {
  return {
    async onRunCompleted(runId, runLog) {
      const log = runLog ?? deps.log ?? (() => undefined);
      // Failures always reach a log: the run's own, else the host's (console output is collected by Functions).
      const warn = runLog ?? deps.warn ?? ((m: string) => console.warn(m));
      let outcome: SealOutcome | null = null;
      try {
        await deps.store.ensureTables();
        outcome = await sealRun(deps.store, runId, { matrix: deps.matrix, signer: deps.signer, log });
        if (outcome.state === 'notSealable') log(`Run ${runId} was not sealed: ${outcome.reason}`);
      } catch (error) {
        warn(`Run ${runId} could not be sealed (the next run's seal catches it up): ${describeError(error)}`);
      }
      // Only sealed runs: a retained bundle cannot be replaced, so it must carry the run's chain digest.
      const sealed = outcome?.state === 'sealed' ? [...outcome.backlog, runId] : [];
      for (const id of deps.retention ? sealed : []) {
        try {
          await deps.retention?.retain(id);
        } catch (error) {
          // The retention step records its own failures; this is only a failure to record one.
          warn(`The evidence bundle of run ${id} could not be retained: ${describeError(error)}`);
        }
      }
      return outcome;
    },
  };
}
