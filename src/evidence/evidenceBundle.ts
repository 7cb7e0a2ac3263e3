// The assessor's bundle of one run as a streamed zip: report, CSV, page, matrix, OSCAL, and a manifest of hashes.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

import { ZipFile } from 'yazl';

import { isCompleted, runInfoOf, type RunRecord } from '../core/run';
import type { PoolResult, Report } from '../core/types';
import { NotFoundError } from '../errors';
import { csvHead, csvRecord } from '../render/reportCsv';
import { reportHtmlFrame, reportHtmlRow, showsOwner } from '../render/reportHtml';
import { type ChainLink, type LinkSignatureVerifier, linkText } from './chainLink';
import type { EvidenceStore } from './evidenceStore';
import { jsonChunks, LazyArray } from './jsonStream';
import { oscalAssessmentResults } from './oscalAssessmentResults';
import { readRunResults, type RunResults } from './readRunResults';
import { TOOL } from './toolInfo';
import { EvidenceMismatchError, verifyRun } from './verifyChain';

export const MANIFEST_FORMAT = 'aks-fips-auditor/evidence-bundle/v1';

export interface BundleManifest {
  format: typeof MANIFEST_FORMAT;
  runId: string;
  tool: { name: string; version: string };
  run: { status: string; startedAt: string; finishedAt: string | null; matrixVersion: string };
  /** Every other file of the bundle with its SHA-256 (hex) and size, in the zip's order. */
  files: { name: string; sha256: string; bytes: number }[];
  /** The run's seal: its link fields, digest and signature; null for a run that was never sealed. */
  chain: {
    seq: number;
    digest: string;
    /** The RFC 8785 text whose SHA-256 is `digest` and which `signature` signs. */
    link: string;
    previousRunId: string | null;
    previousDigest: string | null;
    contentDigest: string;
    sealedAt: string;
    signature: ChainLink['signature'];
  } | null;
  /** `intact`: built from stored content that matched the seal entity by entity; `unsealed`: nothing to check. */
  verification: 'intact' | 'unsealed';
}

/** A run that has not completed has no bundle: its results are not final (running) or not there (failed). */
export class RunNotCompletedError extends Error {
  override readonly name = 'RunNotCompletedError';
}

export interface EvidenceBundle {
  runId: string;
  fileName: string;
  /** The zip, produced as it is read. */
  zip: Readable;
  /** Resolves with the manifest once the zip has been read to its end. */
  manifest: Promise<BundleManifest>;
}

export interface OpenBundleOptions {
  verifier?: LinkSignatureVerifier | null;
}

/** Chunks of about 64 KiB instead of one per value: each chunk costs a trip through the zip's deflater. */
async function* batched(chunks: AsyncIterable<string> | Iterable<string>): AsyncGenerator<Buffer> {
  let pending: string[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    pending.push(chunk);
    size += chunk.length;
    if (size >= 64 * 1024) {
      yield Buffer.from(pending.join(''), 'utf8');
      pending = [];
      size = 0;
    }
  }
  if (pending.length) yield Buffer.from(pending.join(''), 'utf8');
}

async function* csvChunks(report: Report, pools: AsyncIterable<PoolResult>): AsyncGenerator<string> {
  yield csvHead();
  for await (const pool of pools) yield csvRecord(pool, report);
}

async function* htmlChunks(report: Report, results: RunResults): AsyncGenerator<string> {
  // A fixed nonce: the page is a file here, and the bundle must be the same each time it is built.
  const nonce = createHash('sha256').update(`nonce\n${report.run.id}`).digest('base64url').slice(0, 24);
  const page = { ...report, clusters: results.clusterFindings };
  const showOwner = showsOwner(report.summary);
  const { before, after } = reportHtmlFrame(
    page,
    { trend: [], nonce },
    { listed: results.pools.count, showOwner },
  );
  yield before;
  let first = true;
  for await (const pool of results.pools.values()) {
    yield `${first ? '' : '\n'}${reportHtmlRow(pool, showOwner)}`;
    first = false;
  }
  yield after;
}

async function matrixJson(store: EvidenceStore, run: RunRecord, link: ChainLink | null): Promise<string> {
  const digest = link?.groups.find((g) => g.table === 'evidence')?.rowKey;
  const stored = digest ? await store.getMatrix(digest) : undefined;
  if (stored) return stored.json;
  return JSON.stringify({
    $comment:
      'Only the version and sources of the matrix this run was judged with are known: the matrix itself was not recorded (the run was stored before the evidence step existed, or by an instance whose matrix differed).',
    version: run.matrix.version,
    sources: run.matrix.sources,
  });
}

function chainOf(link: ChainLink | null): BundleManifest['chain'] {
  if (!link) return null;
  return {
    seq: link.seq,
    digest: link.digest,
    link: linkText(link),
    previousRunId: link.previousRunId,
    previousDigest: link.previousDigest,
    contentDigest: link.contentDigest,
    sealedAt: link.sealedAt,
    signature: link.signature,
  };
}

/** The stored run whose bundle is asked for; throws when there is none, or when it has none (not completed). */
async function completedRun(store: EvidenceStore, runId: string): Promise<RunRecord> {
  const run = await store.runs.getRun(runId);
  if (!run) throw new NotFoundError(`No run ${runId} is stored.`);
  if (!isCompleted(run.status)) {
    throw new RunNotCompletedError(
      `Run ${runId} is ${run.status}: only a completed (succeeded or partial) run has an evidence bundle.`,
    );
  }
  return run;
}

/**
 * Whether openEvidenceBundle would open the run's bundle, throwing what it would (HEAD answers with it): the same
 * run checks and the whole seal verified, the findings too (which the bundle checks as it reads them), without
 * reading the results into spools or making the zip.
 */
export async function checkEvidenceBundle(
  store: EvidenceStore,
  runId: string,
  options: OpenBundleOptions = {},
): Promise<void> {
  await completedRun(store, runId);
  const verification = await verifyRun(store, runId, { verifier: options.verifier ?? null });
  if (verification?.status === 'mismatch' && verification.problem)
    throw new EvidenceMismatchError(verification.problem);
}

/**
 * Opens the bundle of a completed run. Everything that can fail on storage happens before this resolves: the
 * run's seal is verified (link, chain, signature, run record, snapshot, matrix), and its results are read once,
 * each entity checked against the seal as it arrives, into deflated spools; a run that no longer matches its
 * seal throws EvidenceMismatchError naming the entity, and no bundle is made of it. The zip is then produced as
 * it is read (memory: the spools, ~10% of the report's JSON, plus one file's compression window), with fixed
 * timestamps and order, so the same run always gives the same files.
 */
export async function openEvidenceBundle(
  store: EvidenceStore,
  runId: string,
  options: OpenBundleOptions = {},
): Promise<EvidenceBundle> {
  const run = await completedRun(store, runId);
  let link: ChainLink | null = null;
  const verification = await verifyRun(store, runId, {
    verifier: options.verifier ?? null,
    groups: (g) => g.table !== 'findings',
  });
  if (verification?.status === 'mismatch' && verification.problem)
    throw new EvidenceMismatchError(verification.problem);
  if (verification?.status === 'intact' && verification.seq !== null)
    link = (await store.getLink(verification.seq)) ?? null;
  const results = await readRunResults(store, runId, link);
  const matrix = await matrixJson(store, run, link);

  const report: Report = {
    schemaVersion: 1,
    run: runInfoOf(run),
    summary: run.summary,
    pools: [],
    clusters: [],
    errors: run.errors,
  };
  const reportDocument = {
    schemaVersion: 1,
    run: report.run,
    summary: report.summary,
    pools: new LazyArray(results.pools.count, () => results.pools.values()),
    clusters: new LazyArray(results.clusters.count, () => results.clusters.values()),
    errors: report.errors,
  };
  const oscal = oscalAssessmentResults({
    tool: TOOL,
    run: report.run,
    summary: run.summary,
    errors: run.errors,
    chain: link ? { seq: link.seq, digest: link.digest } : null,
    counts: { pools: results.pools.count, flagged: results.flagged },
    pools: () => results.pools.values(),
    clusterFindings: results.clusterFindings,
  });

  const files: BundleManifest['files'] = [];
  async function* hashed(
    name: string,
    chunks: AsyncIterable<string> | Iterable<string>,
  ): AsyncGenerator<Buffer> {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const buffer of batched(chunks)) {
      hash.update(buffer);
      bytes += buffer.length;
      yield buffer;
    }
    files.push({ name, sha256: hash.digest('hex'), bytes });
  }
  let resolveManifest: (m: BundleManifest) => void = () => undefined;
  let rejectManifest: (e: unknown) => void = () => undefined;
  const manifest = new Promise<BundleManifest>((resolve, reject) => {
    resolveManifest = resolve;
    rejectManifest = reject;
  });
  manifest.catch(() => undefined);
  function* manifestChunks(): Generator<string> {
    // yazl reads entries one after another, so every file above has been hashed by now.
    const value: BundleManifest = {
      format: MANIFEST_FORMAT,
      runId,
      tool: TOOL,
      run: {
        status: run.status,
        startedAt: run.startedAt,
        finishedAt: run.finishedAt,
        matrixVersion: run.matrix.version,
      },
      files: [...files],
      chain: chainOf(link),
      verification: link ? 'intact' : 'unsealed',
    };
    yield `${JSON.stringify(value, null, 2)}\n`;
    resolveManifest(value);
  }

  const zip = new ZipFile();
  const output = zip.outputStream as Readable;
  const mtime = new Date(run.finishedAt ?? run.startedAt);
  const add = (name: string, chunks: AsyncIterable<Buffer> | Iterable<Buffer>) => {
    const stream = Readable.from(chunks);
    stream.on('error', (error) => {
      rejectManifest(error);
      output.destroy(error);
    });
    zip.addReadStream(stream, name, { mtime, mode: 0o100644, compress: true });
  };
  add('report.json', hashed('report.json', jsonChunks(reportDocument)));
  add('pools.csv', hashed('pools.csv', csvChunks(report, results.pools.values())));
  add('report.html', hashed('report.html', htmlChunks(report, results)));
  add('fips-matrix.json', hashed('fips-matrix.json', [matrix]));
  add('oscal-assessment-results.json', hashed('oscal-assessment-results.json', jsonChunks(oscal)));
  add(
    'manifest.json',
    (function* () {
      for (const chunk of manifestChunks()) yield Buffer.from(chunk, 'utf8');
    })(),
  );
  zip.end();
  return { runId, fileName: `fips-audit-evidence-${runId}.zip`, zip: output, manifest };
}
