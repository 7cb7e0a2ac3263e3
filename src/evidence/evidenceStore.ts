// Table Storage of the evidence: the chain of run seals, each run's digest lists, the matrices used, retention.

import { promisify } from 'node:util';
import { deflateRaw, inflateRaw } from 'node:zlib';

import { odata, type TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';

import { runIdTime } from '../core/runId';
import { FINDINGS_TABLE, REPORTS_TABLE } from '../store/resultStore';
import { RUNS_TABLE, RunStore } from '../store/runStore';
import type { TableClientFactory } from '../store/tableClientFactory';
import { isEntityExists, isNotFound } from '../store/tableErrors';
import { invertedTimeKey, KEY_SEPARATOR, KEY_SEPARATOR_END } from '../store/tableKeys';
import type { ChainLink, LinkSignature, SealedTable, StoredGroup } from './chainLink';
import type { RawEntity } from './storedEntity';

const deflate = promisify(deflateRaw);
const inflate = promisify(inflateRaw);

/** The table of the chain, the digest lists, the matrices and the retention records (`{p}evidence`). */
export const EVIDENCE_TABLE = 'evidence';

/** A stored entity named as an operator finds it in Storage Explorer. */
export interface EntityRef {
  /** The table's full name, prefix included. */
  table: string;
  partitionKey: string;
  rowKey: string;
}

/** What the retention step recorded for one run. */
export interface RetentionRecord {
  runId: string;
  state: 'retained' | 'failed';
  at: string;
  /** The blob's URL (without any query) once written. */
  blobUrl: string | null;
  /** SHA-256 (hex) of the zip as uploaded. */
  sha256: string | null;
  bytes: number | null;
  reason: string | null;
}

const CHAIN_PARTITION = 'chain';
const LINK_PREFIX = `link${KEY_SEPARATOR}`;
const RUN_INDEX_PREFIX = `run${KEY_SEPARATOR}`;
const MATRIX_PARTITION = 'matrix';
const RETENTION_PARTITION = 'retention';
const MAX_SEQ = 9_999_999_999;
/** Ten binary properties of 64 KiB: inside the 1 MiB entity limit even where binary counts as base64. */
const CHUNK_PART_BYTES = 64 * 1024;
const CHUNK_PARTS = 10;
const CHUNK_BYTES = CHUNK_PART_BYTES * CHUNK_PARTS;
const MAX_STRING_CHARS = 32_000;

/** Link row keys sort newest first: the head of the chain is the first row of the partition. */
export function linkRowKey(seq: number): string {
  if (!Number.isInteger(seq) || seq < 1 || seq > MAX_SEQ)
    throw new RangeError(`Not a chain sequence number: ${seq}`);
  return `${LINK_PREFIX}${String(MAX_SEQ - seq).padStart(10, '0')}`;
}

function runIndexRowKey(runId: string): string {
  return `${RUN_INDEX_PREFIX}${runId}`;
}

function listPartition(runId: string): string {
  return `run${KEY_SEPARATOR}${runId}`;
}

function listRowKey(group: Pick<StoredGroup, 'table' | 'partitionKey'>, index: number): string {
  return [group.table, group.partitionKey, String(index).padStart(5, '0')].join(KEY_SEPARATOR);
}

function retentionRowKey(runId: string): string {
  return `${invertedTimeKey(runIdTime(runId))}${KEY_SEPARATOR}${runId}`;
}

function text(entity: Record<string, unknown>, name: string): string {
  const value = entity[name];
  if (typeof value !== 'string') throw new Error(`Stored entity has no text property ${name}`);
  return value;
}

function optionalText(entity: Record<string, unknown>, name: string): string | null {
  const value = entity[name];
  return typeof value === 'string' ? value : null;
}

/** A chain link entity that does not parse: reported by verification as an edited link, never trusted. */
export class MalformedLinkError extends Error {
  override readonly name = 'MalformedLinkError';
  constructor(
    readonly entity: EntityRef,
    detail: string,
  ) {
    super(`${entity.table} ${entity.partitionKey}/${entity.rowKey} is not a valid chain link: ${detail}`);
  }
}

/**
 * Table layout (`{p}evidence`):
 * - PK `chain`, RK `link|<9999999999 - seq>`: one link per sealed run, newest first; RK `run|<runId>`: the
 *   run's sequence number and digest. Both are inserted in one transaction, so a link never exists without
 *   its index, and of two runs racing for the same sequence number exactly one wins.
 * - PK `run|<runId>`, RK `<table>|<partitionKey>|NNNNN`: the run's digest lists, deflated, per group.
 * - PK `matrix`, RK `<sha256 of the matrix>`: each FIPS matrix a run was judged with, by content.
 * - PK `retention`, RK `<inverted run time>|<runId>`: where each run's bundle was retained, or why not.
 */
export class EvidenceStore {
  /** Typed access to the runs the evidence is about. */
  readonly runs: RunStore;
  private readonly clients: Record<SealedTable, TableClient>;
  private readonly prefix: string;
  private tablesReady: Promise<void> | undefined;

  constructor(private readonly tables: TableClientFactory) {
    this.runs = new RunStore(tables);
    this.prefix = tables.tablePrefix;
    this.clients = {
      runs: tables.client(RUNS_TABLE),
      findings: tables.client(FINDINGS_TABLE),
      reports: tables.client(REPORTS_TABLE),
      evidence: tables.client(EVIDENCE_TABLE),
    };
  }

  /** The stored name of a logical table. */
  tableName(table: SealedTable): string {
    return `${this.prefix}${table}`;
  }

  /** Creates the evidence table (and the run tables, through the run store) when missing; once per store. */
  ensureTables(): Promise<void> {
    this.tablesReady ??= this.tables
      .ensureTables([RUNS_TABLE, FINDINGS_TABLE, REPORTS_TABLE, EVIDENCE_TABLE])
      .catch((error: unknown) => {
        this.tablesReady = undefined;
        throw error;
      });
    return this.tablesReady;
  }

  // ---- stored entities, as stored ----

  /** The group's entities in key order, every property typed as stored; a missing table reads as empty. */
  async *listRawEntities(group: {
    table: SealedTable;
    partitionKey: string;
    rowKey?: string;
  }): AsyncIterableIterator<RawEntity> {
    const client = this.clients[group.table];
    if (group.rowKey !== undefined) {
      try {
        yield await client.getEntity<Record<string, unknown>>(group.partitionKey, group.rowKey, {
          disableTypeConversion: true,
        });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      return;
    }
    const entities = client.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${group.partitionKey}` },
      disableTypeConversion: true,
    });
    try {
      for await (const entity of entities) yield entity;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Writes properties onto the run's record without touching the others (a Merge). */
  async annotateRun(runRowKey: string, properties: Record<string, unknown>): Promise<void> {
    const entity: TableEntity<Record<string, string>> = { partitionKey: 'run', rowKey: runRowKey };
    for (const [name, value] of Object.entries(properties)) {
      const json = JSON.stringify(value);
      if (json.length > MAX_STRING_CHARS) throw new RangeError(`Run annotation ${name} is too long`);
      entity[name] = json;
    }
    await this.clients.runs.updateEntity(entity, 'Merge');
  }

  // ---- the chain ----

  /** The newest link, or undefined while the chain is empty; `abortSignal` cancels the read. */
  async getHeadLink(options: { abortSignal?: AbortSignal } = {}): Promise<ChainLink | undefined> {
    const filter = odata`PartitionKey eq ${CHAIN_PARTITION} and RowKey ge ${LINK_PREFIX} and RowKey lt ${`link${KEY_SEPARATOR_END}`}`;
    const pages = this.clients.evidence
      .listEntities({ queryOptions: { filter }, ...options })
      .byPage({ maxPageSize: 1 });
    try {
      for await (const page of pages) {
        const first = page[0];
        return first ? this.toLink(first) : undefined;
      }
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    return undefined;
  }

  async getLink(seq: number): Promise<ChainLink | undefined> {
    try {
      return this.toLink(await this.clients.evidence.getEntity(CHAIN_PARTITION, linkRowKey(seq)));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** The run's index entry (sequence number and digest), or undefined when it was never sealed. */
  async getRunIndex(
    runId: string,
    options: { abortSignal?: AbortSignal } = {},
  ): Promise<{ seq: number; digest: string } | undefined> {
    try {
      const entity = await this.clients.evidence.getEntity(CHAIN_PARTITION, runIndexRowKey(runId), options);
      return { seq: Number(entity.seq), digest: text(entity, 'digest') };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Every link, oldest first (a few hundred a year: one partition read). */
  async listLinks(): Promise<ChainLink[]> {
    const filter = odata`PartitionKey eq ${CHAIN_PARTITION} and RowKey ge ${LINK_PREFIX} and RowKey lt ${`link${KEY_SEPARATOR_END}`}`;
    const links: ChainLink[] = [];
    try {
      for await (const entity of this.clients.evidence.listEntities({ queryOptions: { filter } })) {
        links.push(this.toLink(entity));
      }
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    return links.reverse();
  }

  /** Every sealed run ID with its sequence number. */
  async listSealedRuns(): Promise<Map<string, number>> {
    const filter = odata`PartitionKey eq ${CHAIN_PARTITION} and RowKey ge ${RUN_INDEX_PREFIX} and RowKey lt ${`run${KEY_SEPARATOR_END}`}`;
    const runs = new Map<string, number>();
    try {
      for await (const entity of this.clients.evidence.listEntities({ queryOptions: { filter } })) {
        runs.set((entity.rowKey as string).slice(RUN_INDEX_PREFIX.length), Number(entity.seq));
      }
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    return runs;
  }

  /**
   * Appends the link and its run index in one transaction. False when either already exists: another run took
   * this sequence number first, or this run was sealed meanwhile (the caller tells which by reading the index).
   */
  async insertLink(link: ChainLink): Promise<boolean> {
    const entity: TableEntity<Record<string, unknown>> = {
      partitionKey: CHAIN_PARTITION,
      rowKey: linkRowKey(link.seq),
      format: link.format,
      seq: link.seq,
      runId: link.runId,
      contentDigest: link.contentDigest,
      digest: link.digest,
      sealedAt: link.sealedAt,
      groups: JSON.stringify(link.groups),
    };
    if (link.previousRunId !== null) entity.previousRunId = link.previousRunId;
    if (link.previousDigest !== null) entity.previousDigest = link.previousDigest;
    if (link.signature) entity.signature = JSON.stringify(link.signature);
    const index = {
      partitionKey: CHAIN_PARTITION,
      rowKey: runIndexRowKey(link.runId),
      seq: link.seq,
      digest: link.digest,
    };
    const actions: TransactionAction[] = [
      ['create', entity],
      ['create', index],
    ];
    try {
      await this.clients.evidence.submitTransaction(actions);
      return true;
    } catch (error) {
      if (isEntityExists(error)) return false;
      throw error;
    }
  }

  /** The link entity's name, for reports. */
  linkRef(seq: number): EntityRef {
    return { table: this.tableName('evidence'), partitionKey: CHAIN_PARTITION, rowKey: linkRowKey(seq) };
  }

  runIndexRef(runId: string): EntityRef {
    return {
      table: this.tableName('evidence'),
      partitionKey: CHAIN_PARTITION,
      rowKey: runIndexRowKey(runId),
    };
  }

  private toLink(entity: Record<string, unknown>): ChainLink {
    const ref: EntityRef = {
      table: this.tableName('evidence'),
      partitionKey: String(entity.partitionKey),
      rowKey: String(entity.rowKey),
    };
    try {
      const signature = optionalText(entity, 'signature');
      const seq = Number(entity.seq);
      if (!Number.isInteger(seq) || linkRowKey(seq) !== ref.rowKey)
        throw new Error('its seq does not match its row key');
      const format = text(entity, 'format');
      if (format !== 'aks-fips-auditor/run-seal/v1') throw new Error(`unknown format ${format}`);
      return {
        format,
        seq,
        runId: text(entity, 'runId'),
        previousRunId: optionalText(entity, 'previousRunId'),
        previousDigest: optionalText(entity, 'previousDigest'),
        contentDigest: text(entity, 'contentDigest'),
        digest: text(entity, 'digest'),
        sealedAt: text(entity, 'sealedAt'),
        groups: JSON.parse(text(entity, 'groups')) as StoredGroup[],
        signature: signature === null ? null : (JSON.parse(signature) as LinkSignature),
      };
    } catch (error) {
      throw new MalformedLinkError(ref, error instanceof Error ? error.message : String(error));
    }
  }

  // ---- digest lists ----

  /** Stores a group's digest list, deflated, in chunks; returns how many chunk entities hold it. */
  async writeGroupList(
    runId: string,
    group: Pick<StoredGroup, 'table' | 'partitionKey'>,
    list: Buffer,
  ): Promise<number> {
    const bytes = await deflate(list);
    let chunks = 0;
    for (let at = 0; at === 0 || at < bytes.length; at += CHUNK_BYTES) {
      const slice = bytes.subarray(at, Math.min(at + CHUNK_BYTES, bytes.length));
      const entity: TableEntity<Record<string, unknown>> = {
        partitionKey: listPartition(runId),
        rowKey: listRowKey(group, chunks),
        parts: 0,
      };
      let parts = 0;
      for (let p = 0; p < slice.length || parts === 0; p += CHUNK_PART_BYTES) {
        entity[`bin_${parts++}`] = new Uint8Array(
          slice.subarray(p, Math.min(p + CHUNK_PART_BYTES, slice.length)),
        );
        if (slice.length === 0) break;
      }
      entity.parts = parts;
      await this.clients.evidence.upsertEntity(entity, 'Replace');
      chunks += 1;
    }
    return chunks;
  }

  /**
   * The group's digest list as sealed, or `missing` naming the first chunk entity that is gone or damaged (then
   * the list itself was tampered with).
   */
  async readGroupList(
    runId: string,
    group: StoredGroup,
  ): Promise<{ list: Buffer } | { missing: EntityRef; detail: string }> {
    const parts: Buffer[] = [];
    for (let i = 0; i < group.chunks; i++) {
      const ref = this.listChunkRef(runId, group, i);
      let entity: Record<string, unknown>;
      try {
        entity = await this.clients.evidence.getEntity(ref.partitionKey, ref.rowKey);
      } catch (error) {
        if (isNotFound(error)) return { missing: ref, detail: 'the digest list chunk is missing' };
        throw error;
      }
      const count = Number(entity.parts);
      for (let p = 0; p < count; p++) {
        const part = entity[`bin_${p}`];
        if (!(part instanceof Uint8Array))
          return { missing: ref, detail: `the digest list chunk has no part ${p}` };
        parts.push(Buffer.from(part));
      }
    }
    try {
      return { list: await inflate(Buffer.concat(parts)) };
    } catch {
      return { missing: this.listChunkRef(runId, group, 0), detail: 'the digest list does not inflate' };
    }
  }

  listChunkRef(runId: string, group: Pick<StoredGroup, 'table' | 'partitionKey'>, index: number): EntityRef {
    return {
      table: this.tableName('evidence'),
      partitionKey: listPartition(runId),
      rowKey: listRowKey(group, index),
    };
  }

  // ---- matrices ----

  /** Stores a matrix under its digest unless it is there already; returns the row key. */
  async putMatrix(digest: string, version: string, json: string): Promise<string> {
    const entity: TableEntity<Record<string, unknown>> = {
      partitionKey: MATRIX_PARTITION,
      rowKey: digest,
      version,
    };
    const parts: string[] = [];
    for (let at = 0; at < json.length; at += MAX_STRING_CHARS)
      parts.push(json.slice(at, at + MAX_STRING_CHARS));
    entity.parts = parts.length;
    parts.forEach((part, i) => (entity[`json_${i}`] = part));
    try {
      await this.clients.evidence.createEntity(entity);
    } catch (error) {
      // Content-addressed: an entity under this key holds this very matrix (verification checks it if not).
      if (!isEntityExists(error)) throw error;
    }
    return digest;
  }

  /** The stored matrix JSON under `digest`, or undefined. */
  async getMatrix(digest: string): Promise<{ version: string; json: string } | undefined> {
    try {
      const entity = await this.clients.evidence.getEntity(MATRIX_PARTITION, digest);
      let json = '';
      for (let i = 0; i < Number(entity.parts); i++) json += text(entity, `json_${i}`);
      return { version: text(entity, 'version'), json };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Digests of the stored matrices of `version`. */
  async findMatrices(version: string): Promise<string[]> {
    const filter = odata`PartitionKey eq ${MATRIX_PARTITION} and version eq ${version}`;
    const keys: string[] = [];
    try {
      for await (const entity of this.clients.evidence.listEntities({
        queryOptions: { filter, select: ['RowKey'] },
      })) {
        keys.push(entity.rowKey as string);
      }
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    return keys;
  }

  matrixGroup(digest: string): { table: SealedTable; partitionKey: string; rowKey: string } {
    return { table: 'evidence', partitionKey: MATRIX_PARTITION, rowKey: digest };
  }

  // ---- retention ----

  async recordRetention(record: RetentionRecord): Promise<void> {
    await this.clients.evidence.upsertEntity(
      {
        partitionKey: RETENTION_PARTITION,
        rowKey: retentionRowKey(record.runId),
        runId: record.runId,
        state: record.state,
        at: record.at,
        ...(record.blobUrl === null ? {} : { blobUrl: record.blobUrl }),
        ...(record.sha256 === null ? {} : { sha256: record.sha256 }),
        ...(record.bytes === null ? {} : { bytes: record.bytes }),
        ...(record.reason === null ? {} : { reason: record.reason.slice(0, MAX_STRING_CHARS) }),
      },
      'Replace',
    );
  }

  /** Retention outcomes, newest run first. */
  async *listRetention(
    opts: { top?: number; abortSignal?: AbortSignal } = {},
  ): AsyncIterableIterator<RetentionRecord> {
    let left = opts.top ?? Number.POSITIVE_INFINITY;
    if (left <= 0) return;
    const entities = this.clients.evidence.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${RETENTION_PARTITION}` },
      ...(opts.abortSignal ? { abortSignal: opts.abortSignal } : {}),
    });
    try {
      for await (const entity of entities) {
        const bytes = entity.bytes;
        yield {
          runId: text(entity, 'runId'),
          state: text(entity, 'state') as RetentionRecord['state'],
          at: text(entity, 'at'),
          blobUrl: optionalText(entity, 'blobUrl'),
          sha256: optionalText(entity, 'sha256'),
          bytes: typeof bytes === 'number' ? bytes : null,
          reason: optionalText(entity, 'reason'),
        };
        if (--left <= 0) return;
      }
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
