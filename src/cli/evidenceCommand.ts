// `aks-fips-auditor evidence`: writes the assessor's bundle of a stored run as a zip file.

import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';

import type { AuditService } from '../auditService';
import { runIdPattern } from '../azure/tableKeys';
import { InputError, NotFoundError } from '../errors';
import { createEvidenceStore } from '../evidence/createEvidenceStore';
import { createLinkVerifier } from '../evidence/createLinkVerifier';
import { openEvidenceBundle, RunNotCompletedError } from '../evidence/evidenceBundle';
import { EvidenceMismatchError } from '../evidence/verifyChain';
import type { CliIo } from './main';
import { EXIT_EVIDENCE_MISMATCH } from './verifyCommand';

export const EVIDENCE_USAGE = `           --out FILE.zip  where to write the bundle (required)
           --run ID        the run (default: the latest completed run)`;

export const EVIDENCE_HELP = `Usage: aks-fips-auditor evidence --out FILE.zip [--run ID]

Writes the assessor's bundle of a completed run: report.json, pools.csv, report.html, fips-matrix.json,
oscal-assessment-results.json and manifest.json (SHA-256 of every other file, the run's chain digest and
signature). The run is verified against its seal first; a run that no longer matches gets no bundle.
${EVIDENCE_USAGE}

Exit status: 0 written; 5 the run no longer matches its seal (the entity is named); 1 no such completed run,
or storage failed; 2 bad usage or settings.`;

export async function evidenceCommand(
  args: string[],
  io: CliIo,
  service: () => AuditService,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      run: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(`${EVIDENCE_HELP}\n`);
    return 0;
  }
  if (values.out === undefined || values.out.trim() === '')
    throw new InputError('--out FILE.zip is required.');
  if (values.run !== undefined && !runIdPattern.test(values.run)) {
    throw new InputError(`--run must be a run ID like 20261129T060000Z-3f9a1c; got "${values.run}"`);
  }
  const svc = service();
  const store = createEvidenceStore(svc.config, () => svc.credential);
  const runId = values.run ?? (await store.runs.getLatestRun({ statuses: ['succeeded', 'partial'] }))?.id;
  if (!runId) {
    io.stderr.write('No completed run is stored yet.\n');
    return 1;
  }
  const out = resolve(values.out);
  const partial = `${out}.partial`;
  try {
    const bundle = await openEvidenceBundle(store, runId, { verifier: createLinkVerifier(svc.credential) });
    await pipeline(bundle.zip, createWriteStream(partial));
    const manifest = await bundle.manifest;
    await rename(partial, out);
    const chain = manifest.chain
      ? `chain link ${manifest.chain.seq}, digest ${manifest.chain.digest}${manifest.chain.signature ? ', signed' : ''}`
      : 'not sealed (no chain digest)';
    io.stdout.write(`Wrote the evidence of run ${runId} to ${out} (${chain}).\n`);
    return 0;
  } catch (error) {
    await rm(partial, { force: true });
    if (error instanceof EvidenceMismatchError) {
      io.stderr.write(`No bundle written: ${error.message}\n`);
      return EXIT_EVIDENCE_MISMATCH;
    }
    if (error instanceof RunNotCompletedError || error instanceof NotFoundError) {
      io.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
