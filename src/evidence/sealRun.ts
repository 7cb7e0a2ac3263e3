// Seals a completed run into the chain of runs: digests of everything stored for it, chained to the run before.

import type { FipsMatrix } from '../core/fipsMatrix';
import { matrixRefOf } from '../core/matrixSources';
import { runIdTime } from '../core/runId';
import { runRowKey } from '../store/runStore';
import { forEachLimited } from '../store/tableTransactions';
import { canonicalJson } from './canonicalJson';
import {
  chainCopyOf,
  type ChainLink,
  contentDigestOf,
  linkDigestOf,
  type LinkSigner,
  SEAL_FORMAT,
  sha256Hex,
  type StoredGroup,
} from './chainLink';
import type { EvidenceStore } from './evidenceStore';
import { DigestListBuilder, type GroupSpec, runGroups } from './runContent';

export interface SealOptions {
  /** The matrix this process judges with: recorded as the run's when its version and sources are the run's. */
  matrix?: FipsMatrix;
  /** Signs each link digest (AUDIT_SIGNING_KEY_ID). */
  signer?: LinkSigner | null;
  now?: () => Date;
  /** Groups hashed at once; 4 by default. */
  concurrency?: number;
  log?: (message: string) => void;
}

export type SealOutcome =
  | {
      state: 'sealed';
      link: ChainLink;
      alreadySealed: boolean;
      /** Earlier completed runs that had no seal and were sealed first (oldest first). */
      backlog: string[];
    }
  | { state: 'notSealable'; reason: string };

/** Completed runs are sealed; a failed run has no results to attest to (and its ID may be retried). */
const SEALABLE = new Set(['succeeded', 'partial']);
const LINK_ATTEMPTS = 10;
/** Earlier unsealed runs sealed before this one (a seal that failed, then caught up by the next run). */
const BACKLOG_LIMIT = 20;

/** The matrix to record for the run: this process's when it is the run's, else one stored earlier under its version. */
async function matrixForRun(
  store: EvidenceStore,
  run: { matrix: { version: string; sources: string[] } },
  matrix: FipsMatrix | undefined,
): Promise<string | null> {
  // The run records its matrix as a reference (version, source URLs): compare the same reference of this matrix.
  if (
    matrix &&
    matrix.version === run.matrix.version &&
    JSON.stringify(matrixRefOf(matrix).sources) === JSON.stringify(run.matrix.sources)
  ) {
    const json = canonicalJson(matrix);
    return store.putMatrix(sha256Hex(json), matrix.version, json);
  }
  // Another process judged it (a deploy between shards, an older version): a matrix of that version stored by
  // an earlier run is the run's only if it is the one matrix of that version ever stored.
  const stored = await store.findMatrices(run.matrix.version);
  return stored.length === 1 ? (stored[0] as string) : null;
}

/** Hashes one group as it streams from storage and stores its digest list. */
async function sealGroup(store: EvidenceStore, runId: string, spec: GroupSpec): Promise<StoredGroup> {
  const builder = new DigestListBuilder(spec.exclude);
  for await (const entity of store.listRawEntities(spec)) builder.add(entity);
  const { list, digest, entities } = builder.finish();
  const chunks = await store.writeGroupList(runId, spec, list);
  return {
    table: spec.table,
    partitionKey: spec.partitionKey,
    ...(spec.rowKey === undefined ? {} : { rowKey: spec.rowKey }),
    entities,
    digest,
    chunks,
  };
}

/**
 * Seals one completed run: hashes every entity stored for it (runGroups) into per-group digest lists, then
 * appends a link to the chain whose digest covers those lists, the run before it and the time, optionally
 * signed. The append is a conditional insert of the next sequence number, so two runs completing at once
 * are ordered by whichever inserts first; the other re-reads the head and chains onto it. Sealing a run
 * that is sealed already returns its link unchanged (a retried completion), and runs completed after the
 * head but never sealed (a seal that failed) are sealed first, oldest first.
 */
export async function sealRun(
  store: EvidenceStore,
  runId: string,
  options: SealOptions = {},
): Promise<SealOutcome> {
  await store.ensureTables();
  const existing = await sealedLink(store, runId);
  const run = await store.runs.getRun(runId);
  if (existing) {
    // A retried completion: the link stands; only a copy on the record that a stale writer dropped is restored.
    if (run && run.chain === undefined)
      await store.annotateRun(runRowKey(runId), { chain: chainCopyOf(existing) });
    return { state: 'sealed', link: existing, alreadySealed: true, backlog: [] };
  }
  if (!run) return { state: 'notSealable', reason: `run ${runId} is not stored` };
  if (!SEALABLE.has(run.status)) return { state: 'notSealable', reason: `run ${runId} is ${run.status}` };
  const backlog = await sealBacklog(store, runId, options);
  return { ...(await sealOne(store, run, options)), backlog };
}

async function sealedLink(store: EvidenceStore, runId: string): Promise<ChainLink | undefined> {
  const index = await store.getRunIndex(runId);
  return index ? store.getLink(index.seq) : undefined;
}

async function sealBacklog(store: EvidenceStore, runId: string, options: SealOptions): Promise<string[]> {
  const head = await store.getHeadLink();
  if (!head || head.runId >= runId) return [];
  const sealed = await store.listSealedRuns();
  const backlog = [];
  // Run IDs sort by start time: the runs between the head's and this one, newest first.
  for await (const run of store.runs.listRuns({ since: runIdTime(head.runId) })) {
    if (run.id <= head.runId) break;
    if (run.id >= runId || !SEALABLE.has(run.status) || sealed.has(run.id)) continue;
    backlog.push(run);
    if (backlog.length >= BACKLOG_LIMIT) break;
  }
  const ids: string[] = [];
  for (const run of backlog.reverse()) {
    options.log?.(`Sealing run ${run.id}, completed earlier but not sealed, before ${runId}`);
    await sealOne(store, run, options);
    ids.push(run.id);
  }
  return ids;
}

async function sealOne(
  store: EvidenceStore,
  run: { id: string; matrix: { version: string; sources: string[] } },
  options: SealOptions,
): Promise<{ state: 'sealed'; link: ChainLink; alreadySealed: boolean }> {
  const now = options.now ?? (() => new Date());
  const matrixDigest = await matrixForRun(store, run, options.matrix);
  const specs = runGroups(run.id, matrixDigest);
  const groups: StoredGroup[] = new Array<StoredGroup>(specs.length);
  await forEachLimited(specs, options.concurrency ?? 4, async (spec, i) => {
    groups[i] = await sealGroup(store, run.id, spec);
  });
  const contentDigest = contentDigestOf(groups);

  for (let attempt = 0; attempt < LINK_ATTEMPTS; attempt++) {
    const head = await store.getHeadLink();
    const fields = {
      format: SEAL_FORMAT,
      seq: (head?.seq ?? 0) + 1,
      runId: run.id,
      previousRunId: head?.runId ?? null,
      previousDigest: head?.digest ?? null,
      contentDigest,
      sealedAt: now().toISOString(),
    } as const;
    const digest = linkDigestOf(fields);
    const signature = options.signer ? await options.signer.sign(digest) : null;
    const link: ChainLink = { ...fields, digest, groups, signature };
    if (await store.insertLink(link)) {
      await store.annotateRun(runRowKey(run.id), { chain: chainCopyOf(link) });
      options.log?.(`Run ${run.id} sealed as link ${link.seq} of the chain: ${digest}`);
      return { state: 'sealed', link, alreadySealed: false };
    }
    // Lost the race: either this run was sealed meanwhile (a duplicate completion), or another run took the number.
    const sealed = await sealedLink(store, run.id);
    if (sealed) return { state: 'sealed', link: sealed, alreadySealed: true };
  }
  throw new Error(`Could not append run ${run.id} to the chain in ${LINK_ATTEMPTS} attempts`);
}
