// `aks-fips-auditor verify`: recomputes the chain of runs from storage and names what no longer matches its seal.

import { parseArgs } from 'node:util';

import type { AuditService } from '../auditService';
import { runIdPattern } from '../azure/tableKeys';
import { InputError } from '../errors';
import { createEvidenceStore } from '../evidence/createEvidenceStore';
import { createLinkVerifier } from '../evidence/createLinkVerifier';
import { describeProblem, verifyChain, verifyRun } from '../evidence/verifyChain';
import type { CliIo } from './main';

export const VERIFY_USAGE = `           --run ID        one run: its seal, its place in the chain, its signature, every entity stored for it
           --all           every link of the chain, oldest first, and every completed run since it began (default)
           --json          print the verification as JSON on stdout`;

export const VERIFY_HELP = `Usage: aks-fips-auditor verify [--run ID | --all] [--json]

Recomputes the digests of stored runs (docs/evidence.md) and compares them with their seals.
${VERIFY_USAGE}

Exit status: 0 intact; 5 a stored entity, link or signature no longer matches its seal, or a completed run
is not sealed (the first such run and entity are named); 1 storage could not be read; 2 bad usage or settings.`;

/** Exit status when verification finds a mismatch. */
export const EXIT_EVIDENCE_MISMATCH = 5;

export async function verifyCommand(args: string[], io: CliIo, service: () => AuditService): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      run: { type: 'string' },
      all: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(`${VERIFY_HELP}\n`);
    return 0;
  }
  if (values.run !== undefined && values.all) throw new InputError('Give --run ID or --all, not both.');
  if (values.run !== undefined && !runIdPattern.test(values.run)) {
    throw new InputError(`--run must be a run ID like 20261129T060000Z-3f9a1c; got "${values.run}"`);
  }
  const svc = service();
  const store = createEvidenceStore(svc.config, () => svc.credential);
  const verifier = createLinkVerifier(svc.credential);
  if (values.run !== undefined) {
    const result = await verifyRun(store, values.run, { verifier });
    if (!result) {
      io.stderr.write(`No stored run ${values.run}.\n`);
      return 1;
    }
    if (values.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (result.status === 'intact') {
      if (!values.json) {
        io.stdout.write(
          `Run ${result.runId} is intact: link ${result.seq} of the chain, digest ${result.digest}, ` +
            `${result.entities} stored entities match their seal; signature ${result.signature}.\n`,
        );
      }
      return 0;
    }
    io.stderr.write(
      `${result.status === 'unsealed' ? 'Not sealed' : 'Mismatch'}: ${describeProblem(result.problem!)}\n`,
    );
    return EXIT_EVIDENCE_MISMATCH;
  }
  const result = await verifyChain(store, { verifier });
  if (values.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (result.status === 'intact') {
    if (!values.json) {
      const head = result.head
        ? `; head: link ${result.head.seq}, run ${result.head.runId}, ${result.head.digest}`
        : '';
      const legacy = result.unsealedBeforeChain
        ? `; ${result.unsealedBeforeChain} completed run(s) from before the chain began are not sealed`
        : '';
      io.stdout.write(`The chain is intact: ${result.links} link(s) verified${head}${legacy}.\n`);
    }
    return 0;
  }
  io.stderr.write(`Mismatch after ${result.links} intact link(s): ${describeProblem(result.problem!)}\n`);
  return EXIT_EVIDENCE_MISMATCH;
}
