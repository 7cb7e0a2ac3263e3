// `aks-fips-auditor evidence`: writes the assessor's bundle of a stored run as a zip file.

import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';

import { App } from '../app';
import { loadConfig } from '../config';
import { COMPLETED_STATUSES } from '../core/run';
import { runIdPattern } from '../core/runId';
import { InputError, NotFoundError } from '../errors';
import { openEvidenceBundle, RunNotCompletedError } from '../evidence/evidenceBundle';
import { EvidenceMismatchError } from '../evidence/verifyChain';
import type { CliCommand } from './cliCommand';
import type { CliIo } from './cliIo';
import { EXIT } from './exitCodes';

export interface EvidenceCommandOptions {
  run?: string;
  out: string;
}

export async function runEvidenceCommand(options: EvidenceCommandOptions, io: CliIo): Promise<number> {
  const values = options;
  if (values.out.trim() === '') throw new InputError('--out FILE.zip is required.');
  if (values.run !== undefined && !runIdPattern.test(values.run)) {
    throw new InputError(`--run must be a run ID like 20261129T060000Z-3f9a1c; got "${values.run}"`);
  }
  const { evidenceStore: store, linkVerifier } = new App(loadConfig(io.env)).hostEvidence;
  const runId = values.run ?? (await store.runs.getLatestRun({ statuses: COMPLETED_STATUSES }))?.id;
  if (!runId) {
    io.stderr.write('No completed run is stored yet.\n');
    return EXIT.failed;
  }
  const out = resolve(values.out);
  const partial = `${out}.partial`;
  try {
    const bundle = await openEvidenceBundle(store, runId, { verifier: linkVerifier });
    await pipeline(bundle.zip, createWriteStream(partial));
    const manifest = await bundle.manifest;
    await rename(partial, out);
    const chain = manifest.chain
      ? `chain link ${manifest.chain.seq}, digest ${manifest.chain.digest}${manifest.chain.signature ? ', signed' : ''}`
      : 'not sealed (no chain digest)';
    io.stdout.write(`Wrote the evidence of run ${runId} to ${out} (${chain}).\n`);
    return EXIT.ok;
  } catch (error) {
    await rm(partial, { force: true });
    if (error instanceof EvidenceMismatchError) {
      io.stderr.write(`No bundle written: ${error.message}\n`);
      return EXIT.evidenceMismatch;
    }
    if (error instanceof RunNotCompletedError || error instanceof NotFoundError) {
      io.stderr.write(`${error.message}\n`);
      return EXIT.failed;
    }
    throw error;
  }
}

export const evidenceCommand: CliCommand = {
  name: 'evidence',
  summary:
    "Write the assessor's bundle of a stored run (report, CSV, page, matrix, OSCAL, manifest) as a zip",
  failure: 'Evidence failed',
  configure(command, { io, exit }) {
    command
      .requiredOption('--out <file>', 'where to write the bundle (a .zip file)')
      .option('--run <id>', 'the run (default: the latest completed run)')
      .addHelpText(
        'after',
        `
Writes report.json, pools.csv, report.html, fips-matrix.json, oscal-assessment-results.json and manifest.json
(SHA-256 of every other file, the run's chain digest and signature). The run is verified against its seal first;
a run that no longer matches gets no bundle.

Exit status: 0 written; 5 the run no longer matches its seal (the entity is named); 1 no such completed run, or
storage failed; 2 bad usage or settings.

Example:
  aks-fips-auditor evidence --run 20261129T060000Z-3f9a1c --out evidence.zip`,
      )
      .action(async (options: EvidenceCommandOptions) => exit(await runEvidenceCommand(options, io)));
  },
};
