// Puts the shards of a sharded audit on an Azure Storage queue, in the encoding the Functions queue trigger reads.

import type { TokenCredential } from '@azure/core-auth';
import { ManagedIdentityCredential } from '@azure/identity';
import { QueueClient } from '@azure/storage-queue';
import { z } from 'zod';

import type { QueueSettings } from '../config';
import { runIdSchema } from './tableKeys';

/** One shard to audit: the run it belongs to and its index; the shard's subscriptions are in the shard store. */
export const shardMessageSchema = z.object({
  v: z.literal(1),
  runId: runIdSchema,
  shard: z.number().int().nonnegative(),
  shards: z.number().int().positive(),
});
export type ShardMessage = z.infer<typeof shardMessageSchema>;

/** The poison queue the Functions host moves a message to after its last failed delivery. */
export const poisonQueueName = (queueName: string) => `${queueName}-poison`;

/**
 * The Functions queue trigger decodes messages as base64 by default (host.json `messageEncoding`), so the
 * JSON is base64-encoded here; a plain-text message would fail to decode and go straight to poison.
 */
export function encodeShardMessage(message: ShardMessage): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}

export function decodeShardMessage(text: string): ShardMessage {
  return shardMessageSchema.parse(JSON.parse(Buffer.from(text, 'base64').toString('utf8')));
}

/**
 * The app's client of the shard queue. With AUDIT_QUEUE__credential=managedidentity it uses the identity the
 * Functions queue trigger uses for the same connection (AUDIT_QUEUE__clientId, else the system-assigned one),
 * so the app and the trigger never disagree about who reads the queue; otherwise the app's own credential.
 */
export function createQueueClient(
  settings: QueueSettings,
  queueName: string,
  credential?: TokenCredential,
): QueueClient {
  if (settings.kind === 'connectionString') {
    return new QueueClient(settings.connectionString, queueName);
  }
  const identity = settings.identity;
  const queueCredential = identity
    ? new ManagedIdentityCredential(identity.clientId ? { clientId: identity.clientId } : {})
    : credential;
  if (!queueCredential) throw new TypeError('A queue endpoint needs a credential (the managed identity)');
  return new QueueClient(`${settings.endpoint}/${queueName}`, queueCredential);
}

export class ShardQueue {
  sent = 0;

  constructor(private readonly client: QueueClient) {}

  async ensureQueue(): Promise<void> {
    await this.client.createIfNotExists();
  }

  async send(message: ShardMessage): Promise<void> {
    await this.client.sendMessage(encodeShardMessage(message));
    this.sent += 1;
  }
}
