// Recomputes the chain of runs from storage and names the first stored entity that no longer matches its seal.

import { isCompleted } from '../core/run';
import { runRowKey } from '../store/runStore';
import {
  type ChainLink,
  contentDigestOf,
  linkDigestOf,
  type LinkSignatureVerifier,
  linkText,
  sha256Hex,
  type StoredGroup,
} from './chainLink';
import { type EntityRef, type EvidenceStore, MalformedLinkError } from './evidenceStore';
import { type DigestLine, DigestListBuilder, parseDigestList, runGroups } from './runContent';
import type { RawEntity } from './storedEntity';

export type ProblemKind =
  /** A stored entity's content differs from what was sealed. */
  | 'edited'
  /** A sealed entity is gone. */
  | 'missing'
  /** An entity was added to a sealed run after its seal. */
  | 'unexpected'
  /** A stored digest list no longer hashes to its group's digest, or is gone. */
  | 'listEdited'
  /** A chain link (or its index) no longer hashes to its own digest. */
  | 'linkEdited'
  /** A link does not point at the link before it, or a link is missing. */
  | 'chainBroken'
  /** A signature does not verify with its key. */
  | 'signatureInvalid'
  /** A link after a signed link has no signature. */
  | 'signatureMissing'
  /** A completed run is not in the chain. */
  | 'unsealed';

export interface VerificationProblem {
  runId: string;
  kind: ProblemKind;
  entity: EntityRef;
  detail: string;
}

export interface RunVerification {
  runId: string;
  /** `intact`: every digest matches; `mismatch`: see `problem`; `unsealed`: the run has no seal to check. */
  status: 'intact' | 'mismatch' | 'unsealed';
  seq: number | null;
  digest: string | null;
  /** Whether the link's signature was checked with its key's public part. */
  signature: 'valid' | 'none' | 'unchecked' | null;
  entities: number | null;
  problem: VerificationProblem | null;
}

export interface ChainVerification {
  status: 'intact' | 'mismatch';
  /** Links checked (all of them when intact). */
  links: number;
  head: { seq: number; runId: string; digest: string } | null;
  /** Completed runs from before the chain began (never sealed; nothing to check). */
  unsealedBeforeChain: number;
  problem: VerificationProblem | null;
}

export interface VerifyOptions {
  /** Checks signatures; without one a signed link is reported `unchecked`. */
  verifier?: LinkSignatureVerifier | null;
  /** Groups whose entities are checked here (all by default); the evidence bundle checks the findings as it reads them. */
  groups?: (group: StoredGroup) => boolean;
  /** Groups read at once; 4 by default. */
  concurrency?: number;
}

/** A stored run that no longer matches its seal; `problem` names the run and the entity. */
export class EvidenceMismatchError extends Error {
  override readonly name = 'EvidenceMismatchError';
  constructor(readonly problem: VerificationProblem) {
    super(describeProblem(problem));
  }
}

function describeRef(ref: EntityRef): string {
  return `${ref.table} PartitionKey=${ref.partitionKey} RowKey=${ref.rowKey}`;
}

/** One line for a person: which run, which entity, what is wrong. */
export function describeProblem(problem: VerificationProblem): string {
  return `Run ${problem.runId}: ${describeRef(problem.entity)}: ${problem.detail}`;
}

/** Checks the link against itself and its index: its digest, its content digest, its groups. */
async function checkLinkItself(store: EvidenceStore, link: ChainLink): Promise<void> {
  const ref = store.linkRef(link.seq);
  const fail = (detail: string, entity: EntityRef = ref) => {
    throw new EvidenceMismatchError({ runId: link.runId, kind: 'linkEdited', entity, detail });
  };
  if (linkDigestOf(link) !== link.digest) fail('the chain link no longer hashes to its digest');
  if (contentDigestOf(link.groups) !== link.contentDigest)
    fail("the link's groups no longer hash to its content digest");
  const matrix = link.groups.find((g) => g.table === 'evidence')?.rowKey ?? null;
  const expected = runGroups(link.runId, matrix).map((g) => `${g.table}/${g.partitionKey}/${g.rowKey ?? ''}`);
  const actual = link.groups.map((g) => `${g.table}/${g.partitionKey}/${g.rowKey ?? ''}`);
  if (expected.join('\n') !== actual.join('\n')) fail("the link's groups are not the run's stored content");
  const index = await store.getRunIndex(link.runId);
  if (!index || index.seq !== link.seq || index.digest !== link.digest) {
    fail('the run index entry no longer matches its chain link', store.runIndexRef(link.runId));
  }
}

/**
 * Checks one group's live entities against its sealed digest list as they stream by: `prepare` reads the list
 * and checks it against the group's digest (so a mismatch below is the entity's, not the list's), `check`
 * takes each entity in key order, `finish` reports sealed entities that never came.
 */
export class GroupChecker {
  private sealed: DigestLine[] = [];
  private index = 0;
  private readonly builder: DigestListBuilder;
  private readonly table: string;

  constructor(
    private readonly store: EvidenceStore,
    private readonly runId: string,
    private readonly group: StoredGroup,
  ) {
    const spec = runGroups(runId, group.table === 'evidence' ? (group.rowKey ?? null) : null).find(
      (g) => g.table === group.table && g.partitionKey === group.partitionKey,
    );
    this.builder = new DigestListBuilder(spec?.exclude);
    this.table = store.tableName(group.table);
  }

  async prepare(): Promise<void> {
    const { store, runId, group } = this;
    const read = await store.readGroupList(runId, group);
    if ('missing' in read) {
      throw new EvidenceMismatchError({
        runId,
        kind: 'listEdited',
        entity: read.missing,
        detail: read.detail,
      });
    }
    if (sha256Hex(read.list) !== group.digest) {
      throw new EvidenceMismatchError({
        runId,
        kind: 'listEdited',
        entity: store.listChunkRef(runId, group, 0),
        detail: `the stored digest list of ${store.tableName(group.table)} ${group.partitionKey} no longer hashes to the digest its seal records`,
      });
    }
    this.sealed = parseDigestList(read.list);
  }

  private ref(rowKey: string): EntityRef {
    return { table: this.table, partitionKey: this.group.partitionKey, rowKey };
  }

  check(entity: RawEntity): void {
    const { runId } = this;
    const live = this.builder.add(entity);
    const expected = this.sealed[this.index];
    if (expected && expected.rowKey < live.rowKey) {
      throw new EvidenceMismatchError({
        runId,
        kind: 'missing',
        entity: this.ref(expected.rowKey),
        detail: 'this entity was sealed with the run and has been deleted',
      });
    }
    if (!expected || expected.rowKey > live.rowKey) {
      throw new EvidenceMismatchError({
        runId,
        kind: 'unexpected',
        entity: this.ref(live.rowKey),
        detail: 'this entity was added after the run was sealed',
      });
    }
    if (expected.digest !== live.digest) {
      throw new EvidenceMismatchError({
        runId,
        kind: 'edited',
        entity: this.ref(live.rowKey),
        detail: `this entity was changed after the run was sealed (sealed SHA-256 ${expected.digest}, now ${live.digest})`,
      });
    }
    this.index += 1;
  }

  finish(): number {
    const left = this.sealed[this.index];
    if (left) {
      throw new EvidenceMismatchError({
        runId: this.runId,
        kind: 'missing',
        entity: this.ref(left.rowKey),
        detail: 'this entity was sealed with the run and has been deleted',
      });
    }
    return this.index;
  }
}

async function checkGroup(store: EvidenceStore, runId: string, group: StoredGroup): Promise<number> {
  const checker = new GroupChecker(store, runId, group);
  await checker.prepare();
  for await (const entity of store.listRawEntities(group)) checker.check(entity);
  return checker.finish();
}

async function checkContent(
  store: EvidenceStore,
  link: ChainLink,
  concurrency: number,
  include: (group: StoredGroup) => boolean = () => true,
): Promise<number> {
  const found: (VerificationProblem | undefined)[] = [];
  let entities = 0;
  let next = 0;
  const worker = async () => {
    while (next < link.groups.length) {
      const index = next++;
      if (!include(link.groups[index] as StoredGroup)) continue;
      try {
        const checked = await checkGroup(store, link.runId, link.groups[index] as StoredGroup);
        entities += checked;
      } catch (error) {
        if (!(error instanceof EvidenceMismatchError)) throw error;
        found[index] = error.problem;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, link.groups.length) }, worker));
  // The first problem in the order the run is hashed, whichever group finished first.
  const first = found.find((p) => p !== undefined);
  if (first) throw new EvidenceMismatchError(first);
  return entities;
}

async function checkSignature(
  store: EvidenceStore,
  link: ChainLink,
  previous: ChainLink | undefined,
  verifier: LinkSignatureVerifier | null | undefined,
): Promise<RunVerification['signature']> {
  if (!link.signature) {
    if (previous?.signature) {
      throw new EvidenceMismatchError({
        runId: link.runId,
        kind: 'signatureMissing',
        entity: store.linkRef(link.seq),
        detail: 'the link before this one is signed, but this one carries no signature',
      });
    }
    return 'none';
  }
  if (!verifier) return 'unchecked';
  if (!(await verifier.verify(linkText(link), link.signature))) {
    throw new EvidenceMismatchError({
      runId: link.runId,
      kind: 'signatureInvalid',
      entity: store.linkRef(link.seq),
      detail: `the signature does not verify with key ${link.signature.keyId}`,
    });
  }
  return 'valid';
}

function chainBroken(store: EvidenceStore, link: ChainLink, detail: string): EvidenceMismatchError {
  return new EvidenceMismatchError({
    runId: link.runId,
    kind: 'chainBroken',
    entity: store.linkRef(link.seq),
    detail,
  });
}

/** Everything about one link: itself, its place after `previous`, its signature, its content. */
async function checkLink(
  store: EvidenceStore,
  link: ChainLink,
  previous: ChainLink | undefined,
  options: VerifyOptions,
): Promise<{ signature: RunVerification['signature']; entities: number }> {
  await checkLinkItself(store, link);
  if (link.seq === 1) {
    if (link.previousDigest !== null || link.previousRunId !== null) {
      throw chainBroken(store, link, 'the first link of the chain names a link before it');
    }
  } else if (!previous) {
    throw new EvidenceMismatchError({
      runId: link.runId,
      kind: 'chainBroken',
      entity: store.linkRef(link.seq - 1),
      detail: `link ${link.seq - 1}, which link ${link.seq} chains to, is missing`,
    });
  } else if (link.previousDigest !== previous.digest || link.previousRunId !== previous.runId) {
    throw chainBroken(
      store,
      link,
      `the link does not chain to link ${previous.seq} (run ${previous.runId}) as stored`,
    );
  }
  const signature = await checkSignature(store, link, previous, options.verifier);
  const entities = await checkContent(store, link, options.concurrency ?? 4, options.groups);
  return { signature, entities };
}

async function runVerification(
  runId: string,
  work: () => Promise<Omit<RunVerification, 'runId' | 'status' | 'problem'>>,
): Promise<RunVerification> {
  try {
    return { runId, status: 'intact', problem: null, ...(await work()) };
  } catch (error) {
    const problem =
      error instanceof EvidenceMismatchError
        ? error.problem
        : error instanceof MalformedLinkError
          ? { runId, kind: 'linkEdited' as const, entity: error.entity, detail: error.message }
          : undefined;
    if (!problem) throw error;
    return { runId, status: 'mismatch', seq: null, digest: null, signature: null, entities: null, problem };
  }
}

/**
 * Verifies one run against its seal: the link itself, that it chains to the link before it (and that the link
 * after it, if any, chains to it), its signature, and every stored entity of the run. Undefined when no such run
 * is stored and none was sealed.
 */
export async function verifyRun(
  store: EvidenceStore,
  runId: string,
  options: VerifyOptions = {},
): Promise<RunVerification | undefined> {
  const index = await store.getRunIndex(runId);
  if (!index) {
    const run = await store.runs.getRun(runId);
    if (!run) return undefined;
    const problem: VerificationProblem = {
      runId,
      kind: 'unsealed',
      entity: { table: store.tableName('runs'), partitionKey: 'run', rowKey: runRowKey(runId) },
      detail: isCompleted(run.status)
        ? 'this completed run has no seal: it completed before the chain began, or its seal failed and no later run has caught up yet'
        : `a ${run.status} run is not sealed: only completed runs are`,
    };
    return { runId, status: 'unsealed', seq: null, digest: null, signature: null, entities: null, problem };
  }
  return runVerification(runId, async () => {
    const link = await store.getLink(index.seq);
    if (!link) {
      throw new EvidenceMismatchError({
        runId,
        kind: 'chainBroken',
        entity: store.linkRef(index.seq),
        detail: `the run's chain link ${index.seq} is missing`,
      });
    }
    const previous = link.seq > 1 ? await store.getLink(link.seq - 1) : undefined;
    const result = await checkLink(store, link, previous, options);
    const following = await store.getLink(link.seq + 1);
    if (following && (following.previousDigest !== link.digest || following.previousRunId !== link.runId)) {
      throw chainBroken(store, following, `the next link does not chain to this run's link ${link.seq}`);
    }
    return { seq: link.seq, digest: link.digest, ...result };
  });
}

/**
 * Verifies the whole chain, oldest link first, and that every completed run since the chain began is in it.
 * Stops at the first problem: the earliest run whose stored content, link or signature no longer matches.
 */
export async function verifyChain(
  store: EvidenceStore,
  options: VerifyOptions = {},
): Promise<ChainVerification> {
  let links: ChainLink[];
  try {
    links = await store.listLinks();
  } catch (error) {
    if (!(error instanceof MalformedLinkError)) throw error;
    const problem: VerificationProblem = {
      runId: '',
      kind: 'linkEdited',
      entity: error.entity,
      detail: error.message,
    };
    return { status: 'mismatch', links: 0, head: null, unsealedBeforeChain: 0, problem };
  }
  const sealed = await store.listSealedRuns();
  const genesis = links[0];
  const unsealed: string[] = [];
  let beforeChain = 0;
  for await (const run of store.runs.listRuns()) {
    if (!isCompleted(run.status) || sealed.has(run.id)) continue;
    if (!genesis || run.id < genesis.runId) beforeChain += 1;
    else unsealed.push(run.id);
  }
  unsealed.sort();
  const head = links[links.length - 1];
  const summary = {
    head: head ? { seq: head.seq, runId: head.runId, digest: head.digest } : null,
    unsealedBeforeChain: beforeChain,
  };
  const unsealedProblem = (runId: string): VerificationProblem => ({
    runId,
    kind: 'unsealed',
    entity: { table: store.tableName('runs'), partitionKey: 'run', rowKey: runRowKey(runId) },
    detail:
      'this run completed after the chain began but is not in it: its seal failed and no later run has caught up yet, or the record was added behind the app',
  });
  let previous: ChainLink | undefined;
  for (const [i, link] of links.entries()) {
    const earlier = unsealed.find((id) => id < link.runId);
    if (earlier) return { status: 'mismatch', links: i, ...summary, problem: unsealedProblem(earlier) };
    try {
      if (link.seq !== i + 1) {
        throw new EvidenceMismatchError({
          runId: link.runId,
          kind: 'chainBroken',
          entity: store.linkRef(i + 1),
          detail: `link ${i + 1} of the chain is missing`,
        });
      }
      await checkLink(store, link, previous, options);
    } catch (error) {
      if (!(error instanceof EvidenceMismatchError)) throw error;
      return { status: 'mismatch', links: i, ...summary, problem: error.problem };
    }
    previous = link;
  }
  const late = unsealed[0];
  if (late) return { status: 'mismatch', links: links.length, ...summary, problem: unsealedProblem(late) };
  return { status: 'intact', links: links.length, ...summary, problem: null };
}
