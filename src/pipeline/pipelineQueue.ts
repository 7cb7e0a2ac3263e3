// Where the pipeline's messages go: an Azure Storage queue (the Functions trigger) or one in this process.

import type { TokenCredential } from '@azure/core-auth';
import { ManagedIdentityCredential } from '@azure/identity';
import { QueueClient } from '@azure/storage-queue';

import type { QueueConnection } from '../config';
import type { PipelineMessage } from './pipelineMessage';

export interface SendOptions {
  /** Keep the message invisible this long (a deferred retry). */
  delayInSeconds?: number;
}

/** What the pipeline needs of a queue. */
export interface PipelineQueue {
  send(message: PipelineMessage, options?: SendOptions): Promise<void>;
}

/** The poison queue the Functions host moves a message to after its last failed delivery. */
export const poisonQueueName = (queueName: string) => `${queueName}-poison`;

/**
 * The Functions queue trigger decodes messages as base64 by default (host.json `messageEncoding`), so the
 * JSON is base64-encoded here; a plain-text message would fail to decode and go straight to poison.
 */
export function encodeQueueMessage(message: PipelineMessage): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}

/**
 * The app's client of the pipeline queue. With AUDIT_QUEUE__credential=managedidentity it uses the identity the
 * Functions queue trigger uses for the same connection (AUDIT_QUEUE__clientId, else the system-assigned one),
 * so the app and the trigger never disagree about who reads the queue; otherwise the app's own credential.
 */
export function createQueueClient(
  settings: QueueConnection,
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

/** An Azure Storage queue read by the `auditPipeline` Function's queue trigger. */
export class StorageQueue implements PipelineQueue {
  sent = 0;
  private ready: Promise<void> | undefined;

  constructor(private readonly client: QueueClient) {}

  async send(message: PipelineMessage, options: SendOptions = {}): Promise<void> {
    this.ready ??= this.client.createIfNotExists().then(
      () => undefined,
      (error: unknown) => {
        this.ready = undefined;
        throw error;
      },
    );
    await this.ready;
    await this.client.sendMessage(encodeQueueMessage(message), {
      ...(options.delayInSeconds ? { visibilityTimeout: Math.ceil(options.delayInSeconds) } : {}),
    });
    this.sent += 1;
  }
}
