// Stores exemptions and their append-only history in Table Storage, with ETags for safe concurrent edits.

import { createHash } from 'node:crypto';

import { odata, type TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';

import { scopeCovers } from '../core/applyExemptions';
import type { ExemptionInput } from '../core/exemptionRules';
import type { Exemption, FindingCode, PoolStatus, RunStatus } from '../core/types';
import { describeError } from '../errors';
import type { TableClientFactory } from './tableClientFactory';
import { isConditionFailed, isEntityExists, isNotFound } from './tableErrors';
import { encodeKey, KEY_SEPARATOR, KEY_SEPARATOR_END } from './tableKeys';

/** An exemption as stored: the report's fields plus who changed it last and when. */
export interface ExemptionRecord extends Exemption {
  updatedBy: string;
  updatedAt: string;
}

/** An exemption with its ETag (opaque, strong, quoted: `"…"`), as GET returns it and If-Match expects it. */
export interface StoredExemption {
  exemption: ExemptionRecord;
  etag: string;
}

export type ExemptionChange = 'created' | 'replaced' | 'deleted';

/** One change of an exemption; `before` is null for a creation, `after` null for a deletion. */
export interface ExemptionHistoryEntry {
  /** 1, 2, 3, … per exemption ID, across deletions and re-creations. */
  seq: number;
  action: ExemptionChange;
  who: string;
  at: string;
  before: ExemptionRecord | null;
  after: ExemptionRecord | null;
}

/** Preconditions of a write, from the HTTP headers (or the CLI). */
export interface ExemptionWriteConditions {
  /** `If-Match`: `*` or the ETags the caller last read; the write happens only if the stored one is among them. */
  ifMatch?: readonly string[] | '*';
  /** `If-None-Match: *`: create only, never replace. */
  ifNoneMatch?: '*';
}

export interface ExemptionWriteOptions extends ExemptionWriteConditions {
  /** Who makes the change (a principal's name, `function-key`, `cli:<user>`), for `createdBy`/`updatedBy` and history. */
  who: string;
  at: Date;
}

/** A precondition of a write failed: 412 (stale or unexpected ETag) or 428 (an update without If-Match). */
export class ExemptionPreconditionError extends Error {
  override readonly name = 'ExemptionPreconditionError';
  constructor(
    message: string,
    readonly status: 412 | 428,
  ) {
    super(message);
  }
}

export const EXEMPTIONS_TABLE = 'exemptions';

/** What the scope check needs of the run store: the latest run and the pools it saw. */
export interface PoolCatalog {
  getLatestRun(opts?: { statuses?: RunStatus[] }): Promise<{ id: string; status: RunStatus } | undefined>;
  listPoolStates(opts?: {
    subscriptionId?: string;
  }): AsyncIterable<{ id: string; lastRunId: string; status: PoolStatus }>;
}

const CURRENT_ROW = 'exemption';
const HISTORY_PREFIX = `h${KEY_SEPARATOR}`;
// 10 digits: a billion changes per exemption ID.
const SEQ_DIGITS = 10;
const MAX_SEQ = 10 ** SEQ_DIGITS - 1;

type Entity = TableEntity<Record<string, unknown>>;
type StoredEntity = Record<string, unknown> & { partitionKey?: string; rowKey?: string; etag?: string };

/** The partition of one exemption and its history: IDs compare case-insensitively. */
function partitionOf(id: string): string {
  return encodeKey(id.toLowerCase());
}

function historyRowKey(seq: number): string {
  if (!Number.isInteger(seq) || seq < 1 || seq > MAX_SEQ)
    throw new RangeError(`history seq out of range: ${seq}`);
  // Inverted, so the newest change comes first and one row read finds the latest sequence number.
  return HISTORY_PREFIX + String(MAX_SEQ - seq).padStart(SEQ_DIGITS, '0');
}

/**
 * The HTTP ETag of a stored exemption: a strong validator derived from the table entity's ETag, so it
 * changes with every write, reveals nothing of the storage, and compares byte for byte.
 */
export function exemptionEtag(tableEtag: string): string {
  return `"${createHash('sha256').update(tableEtag).digest('base64url').slice(0, 27)}"`;
}

function requireString(entity: StoredEntity, name: string): string {
  const value = entity[name];
  if (typeof value !== 'string') {
    throw new Error(
      `Stored exemption ${entity.partitionKey}/${entity.rowKey} has no string property ${name}`,
    );
  }
  return value;
}

function toRecord(entity: StoredEntity): ExemptionRecord {
  const codes = entity.codes;
  return {
    id: requireString(entity, 'id'),
    scope: requireString(entity, 'scope'),
    codes: typeof codes === 'string' ? (JSON.parse(codes) as FindingCode[]) : null,
    reason: requireString(entity, 'reason'),
    ticket: typeof entity.ticket === 'string' ? entity.ticket : null,
    owner: requireString(entity, 'owner'),
    createdBy: requireString(entity, 'createdBy'),
    createdAt: requireString(entity, 'createdAt'),
    expiresOn: requireString(entity, 'expiresOn'),
    updatedBy: requireString(entity, 'updatedBy'),
    updatedAt: requireString(entity, 'updatedAt'),
  };
}

function toEntity(record: ExemptionRecord, version: number): Entity {
  const entity: Entity = {
    partitionKey: partitionOf(record.id),
    rowKey: CURRENT_ROW,
    kind: 'exemption',
    id: record.id,
    scope: record.scope,
    // Lowercased copy, for filters: ARM IDs compare case-insensitively and OData compares exactly.
    scopeKey: record.scope.toLowerCase(),
    reason: record.reason,
    owner: record.owner,
    createdBy: record.createdBy,
    createdAt: record.createdAt,
    expiresOn: record.expiresOn,
    updatedBy: record.updatedBy,
    updatedAt: record.updatedAt,
    version,
  };
  if (record.codes !== null) entity.codes = JSON.stringify(record.codes);
  if (record.ticket !== null) entity.ticket = record.ticket;
  return entity;
}

function historyEntity(id: string, entry: ExemptionHistoryEntry): Entity {
  return {
    partitionKey: partitionOf(id),
    rowKey: historyRowKey(entry.seq),
    kind: 'history',
    id,
    seq: entry.seq,
    action: entry.action,
    who: entry.who,
    at: entry.at,
    // Each side is one exemption (≤ ~5 KB of JSON), far below a string property's 64 KiB.
    before: JSON.stringify(entry.before),
    after: JSON.stringify(entry.after),
  };
}

function toHistoryEntry(entity: StoredEntity): ExemptionHistoryEntry {
  const seq = entity.seq;
  if (typeof seq !== 'number')
    throw new Error(`Stored history ${entity.partitionKey}/${entity.rowKey} has no seq`);
  return {
    seq,
    action: requireString(entity, 'action') as ExemptionChange,
    who: requireString(entity, 'who'),
    at: requireString(entity, 'at'),
    before: JSON.parse(requireString(entity, 'before')) as ExemptionRecord | null,
    after: JSON.parse(requireString(entity, 'after')) as ExemptionRecord | null,
  };
}

function matches(conditions: readonly string[] | '*', etag: string): boolean {
  return conditions === '*' || conditions.includes(etag);
}

interface Current {
  record: ExemptionRecord;
  version: number;
  tableEtag: string;
}

/**
 * Table layout: one table `<prefix>exemptions`, one partition per exemption ID (lowercased, encoded).
 * RK `exemption` holds the exemption; RK `h|<inverted seq>` holds its history, newest first. The history
 * shares the exemption's table and partition because an entity group transaction spans neither tables
 * nor partitions: each change writes the exemption (conditionally, on its ETag) and appends its history
 * row (insert-only) in one transaction, so a change is never without its history entry, nor the reverse.
 * A deletion removes the exemption and keeps the partition's history.
 */
export class ExemptionStore {
  private readonly table: TableClient;

  constructor(private readonly tables: TableClientFactory) {
    this.table = tables.client(EXEMPTIONS_TABLE);
  }

  /** Creates the table if it is missing; safe to call on every start. */
  ensureTable(): Promise<void> {
    return this.tables.ensureTables([EXEMPTIONS_TABLE]);
  }

  /** The exemption with that ID (case-insensitive), or undefined. */
  async get(id: string): Promise<StoredExemption | undefined> {
    const current = await this.readCurrent(id);
    return current && { exemption: current.record, etag: exemptionEtag(current.tableEtag) };
  }

  /** Every stored exemption, active or not, in ID order (lowercased). A missing table reads as empty. */
  async *list(): AsyncIterableIterator<StoredExemption> {
    const entities = this.table.listEntities({ queryOptions: { filter: odata`RowKey eq ${CURRENT_ROW}` } });
    try {
      for await (const entity of entities) {
        yield { exemption: toRecord(entity), etag: exemptionEtag(entity.etag) };
      }
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
  }

  /** The exemptions as the audit applies them (report fields only). */
  async listExemptions(): Promise<Exemption[]> {
    const all: Exemption[] = [];
    for await (const { exemption } of this.list()) {
      const { updatedBy: _by, updatedAt: _at, ...plain } = exemption;
      all.push(plain);
    }
    return all;
  }

  /**
   * Creates or replaces an exemption, appending its history entry in the same transaction. Replacing
   * needs `ifMatch` (428 without it, 412 when stale) and keeps `createdBy`/`createdAt`; `ifMatch` on a
   * missing exemption and `ifNoneMatch: '*'` on an existing one are 412. A concurrent writer that slips
   * in between the read and the write makes the transaction fail: 412, never a lost update.
   */
  async put(
    id: string,
    input: ExemptionInput,
    options: ExemptionWriteOptions,
  ): Promise<{ stored: StoredExemption; created: boolean }> {
    const current = await this.readCurrent(id);
    const at = options.at.toISOString();
    if (current) {
      const etag = exemptionEtag(current.tableEtag);
      if (options.ifNoneMatch === '*') {
        throw new ExemptionPreconditionError(`Exemption ${current.record.id} already exists.`, 412);
      }
      if (options.ifMatch === undefined) {
        throw new ExemptionPreconditionError(
          `Exemption ${current.record.id} exists: to replace it, send If-Match with the ETag of your last read (GET it for the current one).`,
          428,
        );
      }
      if (!matches(options.ifMatch, etag)) {
        throw new ExemptionPreconditionError(
          `Exemption ${current.record.id} changed since you read it (its ETag is now ${etag}). GET it again, reapply your change and retry.`,
          412,
        );
      }
    } else if (options.ifMatch !== undefined) {
      throw new ExemptionPreconditionError(
        `Exemption ${id} does not exist (any more), so If-Match cannot hold. Leave If-Match out to create it.`,
        412,
      );
    }

    const record: ExemptionRecord = {
      id: current?.record.id ?? id,
      scope: input.scope,
      codes: input.codes,
      reason: input.reason,
      ticket: input.ticket,
      owner: input.owner,
      createdBy: current?.record.createdBy ?? options.who,
      createdAt: current?.record.createdAt ?? at,
      expiresOn: input.expiresOn,
      updatedBy: options.who,
      updatedAt: at,
    };
    const seq = current ? current.version + 1 : (await this.latestSeq(id)) + 1;
    const entity = toEntity(record, seq);
    const history = historyEntity(record.id, {
      seq,
      action: current ? 'replaced' : 'created',
      who: options.who,
      at,
      before: current?.record ?? null,
      after: record,
    });
    const actions: TransactionAction[] = [
      current ? ['update', entity, 'Replace', { etag: current.tableEtag }] : ['create', entity],
      ['create', history],
    ];
    await this.commit(actions, record.id);
    // Read back for the new ETag: a transaction's sub-responses do not reliably carry it.
    const stored = await this.get(record.id);
    if (!stored) {
      throw new ExemptionPreconditionError(`Exemption ${record.id} was deleted right after this write.`, 412);
    }
    return { stored, created: !current };
  }

  /**
   * Deletes an exemption and appends a `deleted` history entry in the same transaction. False when there
   * is no such exemption; 412 when `ifMatch` is given and stale.
   */
  async delete(id: string, options: ExemptionWriteOptions): Promise<boolean> {
    const current = await this.readCurrent(id);
    if (!current) return false;
    if (options.ifMatch !== undefined && !matches(options.ifMatch, exemptionEtag(current.tableEtag))) {
      throw new ExemptionPreconditionError(
        `Exemption ${current.record.id} changed since you read it (its ETag is now ${exemptionEtag(current.tableEtag)}). GET it again and decide.`,
        412,
      );
    }
    const seq = current.version + 1;
    const history = historyEntity(current.record.id, {
      seq,
      action: 'deleted',
      who: options.who,
      at: options.at.toISOString(),
      before: current.record,
      after: null,
    });
    // A transaction's delete carries no ETag of its own; an update with If-Match first would, but the
    // same entity may appear only once. So the delete is guarded by the history insert instead: a
    // concurrent change takes seq first and this insert fails with 409, failing the whole transaction.
    await this.commit(
      [
        ['delete', { partitionKey: partitionOf(id), rowKey: CURRENT_ROW }],
        ['create', history],
      ],
      current.record.id,
    );
    return true;
  }

  /** The exemption's changes, newest first; also after it was deleted. Empty for an ID never used. */
  async history(id: string): Promise<ExemptionHistoryEntry[]> {
    const partitionKey = partitionOf(id);
    const filter = odata`PartitionKey eq ${partitionKey} and RowKey ge ${HISTORY_PREFIX} and RowKey lt ${`h${KEY_SEPARATOR_END}`}`;
    const entries: ExemptionHistoryEntry[] = [];
    try {
      for await (const entity of this.table.listEntities({ queryOptions: { filter } })) {
        entries.push(toHistoryEntry(entity));
      }
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    return entries;
  }

  private async readCurrent(id: string): Promise<Current | undefined> {
    try {
      const entity = await this.table.getEntity(partitionOf(id), CURRENT_ROW);
      const version = entity.version;
      if (typeof version !== 'number') throw new Error(`Stored exemption ${id} has no version`);
      return { record: toRecord(entity), version, tableEtag: entity.etag };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** The newest history entry's seq (0 when there is none): a re-created ID continues its sequence. */
  private async latestSeq(id: string): Promise<number> {
    const partitionKey = partitionOf(id);
    const filter = odata`PartitionKey eq ${partitionKey} and RowKey ge ${HISTORY_PREFIX} and RowKey lt ${`h${KEY_SEPARATOR_END}`}`;
    const pages = this.table
      .listEntities({ queryOptions: { filter, select: ['seq'] } })
      .byPage({ maxPageSize: 1 });
    for await (const page of pages) {
      const seq = page[0]?.seq;
      if (typeof seq === 'number') return seq;
      if (page.length > 0) break;
    }
    return 0;
  }

  private async commit(actions: TransactionAction[], id: string): Promise<void> {
    try {
      await this.table.submitTransaction(actions);
    } catch (error) {
      // 412: the exemption changed after we read it. 409: it was created, or its history advanced, by a
      // concurrent writer. 404: it was deleted meanwhile. In each case the caller's view is stale.
      if (isConditionFailed(error) || isEntityExists(error) || isNotFound(error)) {
        throw new ExemptionPreconditionError(
          `Exemption ${id} was changed by someone else at the same time. GET it again, reapply your change and retry.`,
          412,
        );
      }
      throw error;
    }
  }
}

/**
 * Warnings for a scope no pool of the latest completed run falls under: accepted (the pool may be created
 * later) but worth telling the approver, who may have mistyped it. `catalog` is the run store.
 */
export async function unknownScopeWarnings(catalog: PoolCatalog, scope: string): Promise<string[]> {
  const notChecked = `No audit has completed yet, so the scope ${scope} could not be checked against the estate.`;
  let latest: { id: string; status: RunStatus } | undefined;
  try {
    latest = await catalog.getLatestRun({ statuses: ['succeeded', 'partial'] });
    if (!latest) return [notChecked];
    const subscriptionId = /^\/subscriptions\/([^/]+)/i.exec(scope)?.[1];
    if (subscriptionId) {
      for await (const state of catalog.listPoolStates({ subscriptionId })) {
        if (!scopeCovers(scope, state.id)) continue;
        // A partial run keeps the last state of pools it could not read; it reports them (unknown), so they count.
        if (state.lastRunId === latest.id || latest.status === 'partial') return [];
      }
    }
  } catch (error) {
    // Advisory only, and asked after the write: a failure here must not turn a stored change into an error.
    if (isNotFound(error)) return [notChecked];
    return [
      `The scope ${scope} could not be checked against the latest audit run (${describeError(error)}).`,
    ];
  }
  return [
    `No pool under ${scope} was seen in the latest audit run (${latest.id}). The exemption is stored and will apply if such a pool appears; check the scope for a typo.`,
  ];
}
