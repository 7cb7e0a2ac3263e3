// A queue inside this process for the CLI and `serve`: the same messages, retries and poison path as the Functions host.

import { randomUUID } from 'node:crypto';

import { ensureError } from '../errors';
import type { PipelineMessage } from './pipelineMessage';
import type { PipelineQueue, SendOptions } from './pipelineQueue';

/** One delivery of a message, as the Functions queue trigger describes it. */
export interface Delivery {
  /** The same on every redelivery of one message. */
  messageId: string;
  /** 1 on the first delivery. */
  dequeueCount: number;
}

export interface QueueConsumer {
  handle(message: PipelineMessage, delivery: Delivery): Promise<void>;
  /** A message that failed on every delivery, with the last failure. */
  poison(message: PipelineMessage, reason: string, delivery: Delivery): Promise<void>;
}

export interface InProcessQueueOptions {
  /**
   * Messages handled at once: 1 by default, as host.json sets the Function App's queue trigger (batchSize 1,
   * newBatchThreshold 0), so a process audits one shard at a time and its memory is one shard's.
   */
  concurrency?: number;
  /** Deliveries before a message goes to poison (the host's maxDequeueCount, 5). */
  maxDeliveries?: number;
  /** How long a failed message stays invisible before its next delivery (the host's visibilityTimeout). */
  retryDelayInMs?: number;
  log?: (message: string) => void;
}

interface Entry {
  message: PipelineMessage;
  messageId: string;
  dequeueCount: number;
  visibleAt: number;
}

/**
 * Holds messages in memory and hands them to a consumer with the Functions host's semantics: at most
 * `concurrency` at once, a failed delivery retried after `retryDelayInMs`, and after `maxDeliveries` the poison
 * handler. `drain` resolves once nothing is queued or in flight, delayed messages included.
 */
export class InProcessQueue implements PipelineQueue {
  private readonly entries: Entry[] = [];
  private inFlight = 0;
  private consumer: QueueConsumer | undefined;
  private wake: (() => void) | undefined;
  private idle: { promise: Promise<void>; resolve: () => void } | undefined;
  private failure: unknown;
  private stopped = false;
  private readonly concurrency: number;
  private readonly maxDeliveries: number;
  private readonly retryDelayInMs: number;
  private readonly log: (message: string) => void;

  constructor(options: InProcessQueueOptions = {}) {
    this.concurrency = options.concurrency ?? 1;
    this.maxDeliveries = options.maxDeliveries ?? 5;
    this.retryDelayInMs = options.retryDelayInMs ?? 5_000;
    this.log = options.log ?? (() => undefined);
  }

  send(message: PipelineMessage, options: SendOptions = {}): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('The in-process queue is stopped'));
    this.entries.push({
      message,
      messageId: randomUUID(),
      dequeueCount: 0,
      visibleAt: Date.now() + (options.delayInSeconds ?? 0) * 1000,
    });
    this.wake?.();
    return Promise.resolve();
  }

  /** Messages waiting (delayed ones included) and being handled. */
  get pending(): number {
    return this.entries.length + this.inFlight;
  }

  /** Starts handing messages to `consumer` in the background until `stop`. */
  start(consumer: QueueConsumer): void {
    if (this.consumer) throw new Error('The in-process queue already has a consumer');
    this.consumer = consumer;
    void this.loop();
  }

  /** Resolves once no message is queued or in flight; rejects if the consumer's poison handler failed. */
  async drain(): Promise<void> {
    while (this.pending > 0) {
      this.idle ??= (() => {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        return { promise, resolve };
      })();
      await this.idle.promise;
    }
    if (this.failure !== undefined) throw ensureError(this.failure);
  }

  /** Stops taking messages; what is in flight finishes. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const now = Date.now();
      const index = this.inFlight < this.concurrency ? this.entries.findIndex((e) => e.visibleAt <= now) : -1;
      if (index >= 0) {
        const [entry] = this.entries.splice(index, 1) as [Entry];
        this.inFlight += 1;
        void this.deliver(entry).finally(() => {
          this.inFlight -= 1;
          this.settle();
        });
        continue;
      }
      const next = this.entries.reduce((t, e) => Math.min(t, e.visibleAt), Number.POSITIVE_INFINITY);
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(next) ? setTimeout(resolve, Math.max(1, next - now)) : undefined;
        this.wake = () => {
          if (timer) clearTimeout(timer);
          this.wake = undefined;
          resolve();
        };
      });
    }
  }

  private settle(): void {
    this.wake?.();
    if (this.pending === 0 && this.idle) {
      this.idle.resolve();
      this.idle = undefined;
    }
  }

  private async deliver(entry: Entry): Promise<void> {
    const consumer = this.consumer as QueueConsumer;
    entry.dequeueCount += 1;
    const delivery = { messageId: entry.messageId, dequeueCount: entry.dequeueCount };
    try {
      await consumer.handle(entry.message, delivery);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (entry.dequeueCount < this.maxDeliveries) {
        this.log(`Delivery ${entry.dequeueCount} failed; retrying in ${this.retryDelayInMs} ms: ${reason}`);
        entry.visibleAt = Date.now() + this.retryDelayInMs;
        this.entries.push(entry);
        return;
      }
      try {
        await consumer.poison(entry.message, reason, delivery);
      } catch (poisonError) {
        // The host would drop it too; here the caller waiting in drain() must hear of it.
        this.failure ??= poisonError;
      }
    }
  }
}
