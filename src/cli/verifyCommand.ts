// `aks-fips-auditor verify`: recomputes the chain of runs from storage and names what no longer matches its seal.

import { App } from '../app';
import { loadConfig } from '../config';
import { runIdPattern } from '../core/runId';
import { InputError } from '../errors';
import { describeProblem, verifyChain, verifyRun } from '../evidence/verifyChain';
import type { CliCommand } from './cliCommand';
import type { CliIo } from './cliIo';
import { EXIT } from './exitCodes';

export interface VerifyCommandOptions {
  run?: string;
  all?: boolean;
  json?: boolean;
}

export async function runVerifyCommand(values: VerifyCommandOptions, io: CliIo): Promise<number> {
  if (values.run !== undefined && values.all) throw new InputError('Give --run ID or --all, not both.');
  if (values.run !== undefined && !runIdPattern.test(values.run)) {
    throw new InputError(`--run must be a run ID like 20261129T060000Z-3f9a1c; got "${values.run}"`);
  }
  const { evidenceStore: store, linkVerifier: verifier } = new App(loadConfig(io.env)).hostEvidence;
  if (values.run !== undefined) {
    const result = await verifyRun(store, values.run, { verifier });
    if (!result) {
      io.stderr.write(`No stored run ${values.run}.\n`);
      return EXIT.failed;
    }
    if (values.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (result.status === 'intact') {
      if (!values.json) {
        io.stdout.write(
          `Run ${result.runId} is intact: link ${result.seq} of the chain, digest ${result.digest}, ` +
            `${result.entities} stored entities match their seal; signature ${result.signature}.\n`,
        );
      }
      return EXIT.ok;
    }
    io.stderr.write(
      `${result.status === 'unsealed' ? 'Not sealed' : 'Mismatch'}: ${describeProblem(result.problem!)}\n`,
    );
    return EXIT.evidenceMismatch;
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
    return EXIT.ok;
  }
  io.stderr.write(`Mismatch after ${result.links} intact link(s): ${describeProblem(result.problem!)}\n`);
  return EXIT.evidenceMismatch;
}

export const verifyCommand: CliCommand = {
  name: 'verify',
  summary:
    'Recompute the chain of runs from storage; name the first stored entity that no longer matches its seal',
  failure: 'Verification failed',
  configure(command, { io, exit }) {
    command
      .option(
        '--run <id>',
        'one run: its seal, its place in the chain, its signature, every entity stored for it',
      )
      .option(
        '--all',
        'every link of the chain, oldest first, and every completed run since it began (default)',
      )
      .option('--json', 'print the verification as JSON on stdout')
      .addHelpText(
        'after',
        `
Recomputes the digests of stored runs (docs/evidence.md) and compares them with their seals.

Exit status: 0 intact; 5 a stored entity, link or signature no longer matches its seal, or a completed run is not
sealed (the first such run and entity are named); 1 storage could not be read; 2 bad usage or settings.`,
      )
      .action(async (options: VerifyCommandOptions) => exit(await runVerifyCommand(options, io)));
  },
};
