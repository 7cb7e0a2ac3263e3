// Delivery records of digests in Table Storage: one per run (and per idempotency key), claimed before the send.

import { odata, type TableClient, type TableEntity } from '@azure/data-tables';

import type { EmailProviderName } from '../azure/emailSender';
import { isRunId, runIdTime } from '../core/runId';
import type { TableClientFactory } from './tableClientFactory';
import { encodeKey, invertedTimeKey, KEY_SEPARATOR, KEY_SEPARATOR_END } from './tableKeys';

/**
 * `sending`: claimed, a send may be under way (until `claimedUntil`); `sent` and `failed` are final;
 * `skipped`: EMAIL_MODE said no, with the reason.
 */
export type EmailState = 'sending' | 'sent' | 'failed' | 'skipped';
/** `digest`: the one digest of a run (timer, CLI audit, `"email": true`); `request`: POST /api/runs/{runId}/email. */
export type EmailKind = 'digest' | 'request';

export interface EmailKey {
  runId: string;
  kind: EmailKind;
  /** Only for `request`: the client's Idempotency-Key. */
  idempotencyKey?: string;
}

export interface EmailRecord {
  runId: string;
  kind: EmailKind;
  idempotencyKey: string | null;
  state: EmailState;
  provider: EmailProviderName | null;
  /** Minted when the record is created and never changed: every attempt and every takeover sends with it. */
  operationId: string;
  /** Sends tried so far, over every instance that held the claim. */
  attempts: number;
  /**
   * An attempt started and has not been seen to fail: if its instance died, the message may have been delivered.
   * A takeover resends only over a path that cannot deliver twice (ACS with the same Operation-Id).
   */
  attemptInFlight: boolean;
  recipients: string[];
  /** For `request`: a hash of what was asked, so a reused key with another body is refused. */
  requestHash: string | null;
  subject: string | null;
  messageId: string | null;
  /** Why it failed or was skipped (sanitized). */
  reason: string | null;
  createdAt: string;
  updatedAt: string;
  sentAt: string | null;
  claimedUntil: string | null;
  /** The entity's ETag: updates are conditional on it. */
  etag: string;
}

export type NewEmailRecord = Omit<EmailRecord, 'etag'>;

export type ClaimResult =
  { claimed: true; record: EmailRecord; takenOver: boolean } | { claimed: false; record: EmailRecord };

export const EMAILS_TABLE = 'emails';

/** Another instance changed the record since it was read (it took over an expired claim, or finished first). */
export class EmailRecordConflictError extends Error {
  override readonly name = 'EmailRecordConflictError';
}

type StoredEntity = Record<string, unknown> & { partitionKey?: string; rowKey?: string; etag?: string };

function statusOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null
    ? (error as { statusCode?: number }).statusCode
    : undefined;
}

const CLAIM_ATTEMPTS = 5;
/** Longest accepted Idempotency-Key; it becomes part of a table key (at most 1 KiB once escaped). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** PK `digest` or `request`; RK newest-first by the run's start, then the run ID (and the encoded key). */
export function emailEntityKeys(key: EmailKey): { partitionKey: string; rowKey: string } {
  if (!isRunId(key.runId)) throw new RangeError(`Not a run ID: "${key.runId}"`);
  const base = `${invertedTimeKey(runIdTime(key.runId))}${KEY_SEPARATOR}${key.runId}`;
  if (key.kind === 'digest') return { partitionKey: 'digest', rowKey: base };
  const idem = key.idempotencyKey;
  if (idem === undefined || idem.length === 0 || idem.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new RangeError(
      `A request record needs an idempotency key of 1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
    );
  }
  return { partitionKey: 'request', rowKey: `${base}${KEY_SEPARATOR}${encodeKey(idem)}` };
}

function toEntity(record: NewEmailRecord): TableEntity<Record<string, unknown>> {
  const entity: TableEntity<Record<string, unknown>> = {
    ...emailEntityKeys({
      runId: record.runId,
      kind: record.kind,
      ...(record.idempotencyKey !== null ? { idempotencyKey: record.idempotencyKey } : {}),
    }),
    runId: record.runId,
    kind: record.kind,
    state: record.state,
    operationId: record.operationId,
    attempts: record.attempts,
    attemptInFlight: record.attemptInFlight,
    recipients: JSON.stringify(record.recipients),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
  const optional = {
    idempotencyKey: record.idempotencyKey,
    provider: record.provider,
    requestHash: record.requestHash,
    subject: record.subject,
    messageId: record.messageId,
    reason: record.reason,
    sentAt: record.sentAt,
    claimedUntil: record.claimedUntil,
  };
  for (const [name, value] of Object.entries(optional)) if (value !== null) entity[name] = value;
  return entity;
}

function text(entity: StoredEntity, name: string): string | null {
  const value = entity[name];
  return typeof value === 'string' ? value : null;
}

function toRecord(entity: StoredEntity): EmailRecord {
  const recipients = text(entity, 'recipients');
  return {
    runId: text(entity, 'runId') ?? '',
    kind: (text(entity, 'kind') ?? 'digest') as EmailKind,
    idempotencyKey: text(entity, 'idempotencyKey'),
    state: (text(entity, 'state') ?? 'failed') as EmailState,
    provider: text(entity, 'provider') as EmailProviderName | null,
    operationId: text(entity, 'operationId') ?? '',
    attempts: typeof entity.attempts === 'number' ? entity.attempts : 0,
    attemptInFlight: entity.attemptInFlight === true,
    recipients: recipients ? (JSON.parse(recipients) as string[]) : [],
    requestHash: text(entity, 'requestHash'),
    subject: text(entity, 'subject'),
    messageId: text(entity, 'messageId'),
    reason: text(entity, 'reason'),
    createdAt: text(entity, 'createdAt') ?? '',
    updatedAt: text(entity, 'updatedAt') ?? '',
    sentAt: text(entity, 'sentAt'),
    claimedUntil: text(entity, 'claimedUntil'),
    etag: entity.etag ?? '',
  };
}

/**
 * The `<prefix>emails` table. Exactly-once rests on two Table Storage guarantees: an insert of an existing key
 * fails (409), so of two instances only one creates the record and sends; and an update with If-Match fails (412)
 * once anyone else changed the record, so of two instances taking over an expired claim only one wins.
 */
export class EmailStore {
  private readonly table: TableClient;

  constructor(private readonly tables: TableClientFactory) {
    this.table = tables.client(EMAILS_TABLE);
  }

  ensureTable(): Promise<void> {
    return this.tables.ensureTables([EMAILS_TABLE]);
  }

  async get(key: EmailKey): Promise<EmailRecord | undefined> {
    const { partitionKey, rowKey } = emailEntityKeys(key);
    try {
      return toRecord(await this.table.getEntity<Record<string, unknown>>(partitionKey, rowKey));
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Inserts the record unless one exists under its key; returns the stored record either way. */
  async create(record: NewEmailRecord): Promise<{ created: boolean; record: EmailRecord }> {
    const key = keyOf(record);
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      try {
        const response = await this.table.createEntity(toEntity(record));
        return { created: true, record: { ...record, etag: response.etag ?? '' } };
      } catch (error) {
        if (statusOf(error) !== 409) throw error;
      }
      const existing = await this.get(key);
      if (existing) return { created: false, record: existing };
    }
    throw new Error(`Could not settle the email record of run ${record.runId} in ${CLAIM_ATTEMPTS} attempts`);
  }

  /**
   * Claims the send: creates the record in state `sending`, or takes over an existing `sending` record whose claim
   * expired (or any `sending` record with `takeOver`, for a platform retry whose earlier attempt is known to have
   * ended). The operation ID and attempt count of a taken-over record are kept.
   */
  async claim(
    init: NewEmailRecord,
    opts: { now: Date; claimTtlInMs: number; takeOver: boolean },
  ): Promise<ClaimResult> {
    const claimedUntil = new Date(opts.now.getTime() + opts.claimTtlInMs).toISOString();
    const created = await this.create({ ...init, state: 'sending', claimedUntil });
    if (created.created) return { claimed: true, record: created.record, takenOver: false };
    let current = created.record;
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const expired = current.claimedUntil === null || Date.parse(current.claimedUntil) <= opts.now.getTime();
      if (current.state !== 'sending' || !(expired || opts.takeOver))
        return { claimed: false, record: current };
      try {
        const record = await this.update(current, { claimedUntil, updatedAt: opts.now.toISOString() });
        return { claimed: true, record, takenOver: true };
      } catch (error) {
        if (!(error instanceof EmailRecordConflictError)) throw error;
      }
      const again = await this.get(keyOf(current));
      if (!again)
        throw new Error(`The email record of run ${current.runId} disappeared while it was claimed`);
      current = again;
      // Someone else took it over just now: theirs is fresh, so we back off.
      if (current.state === 'sending' && !opts.takeOver) return { claimed: false, record: current };
    }
    return { claimed: false, record: current };
  }

  /** Replaces the record if nobody changed it since `record` was read; EmailRecordConflictError otherwise. */
  async update(record: EmailRecord, changes: Partial<NewEmailRecord>): Promise<EmailRecord> {
    const next: NewEmailRecord = { ...withoutEtag(record), ...changes };
    try {
      const response = await this.table.updateEntity(toEntity(next), 'Replace', { etag: record.etag });
      return { ...next, etag: response.etag ?? '' };
    } catch (error) {
      const status = statusOf(error);
      if (status === 412 || status === 404) {
        throw new EmailRecordConflictError(
          `The email record of run ${record.runId} was changed by another instance (HTTP ${status})`,
        );
      }
      throw error;
    }
  }

  /** Digest records, newest run first. */
  async *listDigests(
    opts: { top?: number; abortSignal?: AbortSignal } = {},
  ): AsyncIterableIterator<EmailRecord> {
    let left = opts.top ?? Number.POSITIVE_INFINITY;
    if (left <= 0) return;
    const entities = this.table.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${'digest'}` },
      ...(opts.abortSignal ? { abortSignal: opts.abortSignal } : {}),
    });
    try {
      for await (const entity of entities) {
        yield toRecord(entity);
        if (--left <= 0) return;
      }
    } catch (error) {
      // No table yet (no digest was ever recorded): nothing to list.
      if (statusOf(error) !== 404) throw error;
    }
  }

  /** On-demand records of one run. */
  async *listRequests(runId: string): AsyncIterableIterator<EmailRecord> {
    const { rowKey } = emailEntityKeys({ runId, kind: 'digest' });
    const filter = odata`PartitionKey eq ${'request'} and RowKey gt ${rowKey + KEY_SEPARATOR} and RowKey lt ${rowKey + KEY_SEPARATOR_END}`;
    for await (const entity of this.table.listEntities<Record<string, unknown>>({
      queryOptions: { filter },
    })) {
      yield toRecord(entity);
    }
  }
}

function keyOf(record: Pick<EmailRecord, 'runId' | 'kind' | 'idempotencyKey'>): EmailKey {
  return {
    runId: record.runId,
    kind: record.kind,
    ...(record.idempotencyKey !== null ? { idempotencyKey: record.idempotencyKey } : {}),
  };
}

function withoutEtag(record: EmailRecord): NewEmailRecord {
  const { etag: _etag, ...rest } = record;
  return rest;
}
