// Where the pipeline's messages go: an Azure Storage queue (the Functions trigger) or one in this process.

import type { TokenCredential } from '@azure/core-auth';
import { QueueClient } from '@azure/storage-queue';

import type { StorageSettings } from '../config';
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

export function createQueueClient(
  settings: StorageSettings,
  queueName: string,
  credential?: TokenCredential,
): QueueClient {
  if (settings.kind === 'connectionString') {
    return new QueueClient(settings.connectionString, queueName);
  }
  if (!credential) throw new TypeError('A queue endpoint needs a credential (the managed identity)');
  return new QueueClient(`${settings.endpoint}/${queueName}`, credential);
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
