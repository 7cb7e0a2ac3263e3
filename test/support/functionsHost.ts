// Plays the Functions host's queue trigger over a real Azure Storage queue (Azurite) for the pipeline's handlers.

import { InvocationContext } from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';

export type QueueHandler = (entry: unknown, context: InvocationContext) => Promise<void>;

export interface HostedQueue {
  queue: QueueClient;
  poison: QueueClient;
  handler: QueueHandler;
  poisonHandler: QueueHandler;
  /** Deliveries before a message moves to poison (the host's maxDequeueCount; 5 by default). */
  maxDequeueCount: number;
}

export interface DrainOptions {
  /** Instances taking messages at once. */
  workers?: number;
  /** How long a failed delivery stays invisible (the host's visibilityTimeout); 0 by default in tests. */
  retryDelayInSeconds?: number;
  timeoutInMs?: number;
  logs?: string[];
  /** Messages left on the main queue, invisible until later (a deferred scheduled audit's retry): not waited for. */
  leave?: number;
}

function context(name: string, dequeueCount: number, id: string, logs?: string[]): InvocationContext {
  return new InvocationContext({
    functionName: name,
    invocationId: `${name}-${Math.random().toString(36).slice(2)}`,
    triggerMetadata: { dequeueCount, id },
    logHandler: (_level, ...args) => logs?.push(args.map(String).join(' ')),
  });
}

/**
 * Receives, decodes (base64 JSON, as the trigger does), calls the handler and deletes on success; on failure
 * makes the message visible again, and after `maxDequeueCount` deliveries moves it to the poison queue, whose
 * handler runs the same way. A poison message that fails `maxDequeueCount` times is dropped: the host moves it to
 * the poison queue's own poison queue (`…-poison-poison`), which nothing reads. Returns when both queues are empty
 * and no worker holds a message.
 */
export async function drainQueue(host: HostedQueue, options: DrainOptions = {}): Promise<void> {
  await host.queue.createIfNotExists();
  await host.poison.createIfNotExists();
  let busy = 0;
  const deadline = Date.now() + (options.timeoutInMs ?? 90_000);
  const deliver = async (client: QueueClient, name: string, handle: QueueHandler): Promise<boolean> => {
    const { receivedMessageItems } = await client.receiveMessages({
      numberOfMessages: 1,
      visibilityTimeout: 60,
    });
    const item = receivedMessageItems[0];
    if (!item) return false;
    busy += 1;
    try {
      const entry: unknown = JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8'));
      try {
        await handle(entry, context(name, item.dequeueCount, item.messageId, options.logs));
        await client.deleteMessage(item.messageId, item.popReceipt);
      } catch {
        if (item.dequeueCount >= host.maxDequeueCount) {
          if (client === host.queue) await host.poison.sendMessage(item.messageText);
          else
            options.logs?.push(
              `A poison message failed on every delivery and is dropped: ${item.messageText}`,
            );
          await client.deleteMessage(item.messageId, item.popReceipt);
        } else {
          await client.updateMessage(
            item.messageId,
            item.popReceipt,
            item.messageText,
            options.retryDelayInSeconds ?? 0,
          );
        }
      }
    } finally {
      busy -= 1;
    }
    return true;
  };
  const worker = async (): Promise<void> => {
    for (let idle = 0; idle < 3;) {
      if (Date.now() > deadline) throw new Error('the queues did not drain in time');
      const worked =
        (await deliver(host.queue, 'auditPipeline', host.handler)) ||
        (await deliver(host.poison, 'auditPipelinePoison', host.poisonHandler));
      if (worked) {
        idle = 0;
        continue;
      }
      const [main, poison] = await Promise.all([host.queue.getProperties(), host.poison.getProperties()]);
      const waiting =
        Math.max(0, (main.approximateMessagesCount ?? 0) - (options.leave ?? 0)) +
        (poison.approximateMessagesCount ?? 0);
      idle = waiting === 0 && busy === 0 ? idle + 1 : 0;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await Promise.all(Array.from({ length: options.workers ?? 1 }, worker));
}
