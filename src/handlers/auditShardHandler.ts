// The shard queue's handlers: audit one shard of a sharded run, or record a poison shard as failed.

import type { InvocationContext } from '@azure/functions';

import { type ShardMessage, shardMessageSchema } from '../azure/shardQueue';
import { describeError } from '../errors';
import { auditShard, failShard, type ShardedAuditDependencies } from '../shardedAudit';

type DependenciesSource = ShardedAuditDependencies | (() => ShardedAuditDependencies);

function resolve(source: DependenciesSource, context: InvocationContext): ShardedAuditDependencies {
  const deps = typeof source === 'function' ? source() : source;
  return { ...deps, log: (message) => context.log(message) };
}

/** The host hands over the decoded message: JSON arrives parsed, anything else as text. */
function parseMessage(entry: unknown): ShardMessage | null {
  let value = entry;
  if (typeof entry === 'string') {
    try {
      value = JSON.parse(entry);
    } catch {
      return null;
    }
  }
  const parsed = shardMessageSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** The queue message's ID: the same on every redelivery of one message (see completeIfFinished). */
function deliveryOf(context: InvocationContext): { messageId?: string } {
  const id = context.triggerMetadata?.id;
  return typeof id === 'string' ? { messageId: id } : {};
}

function dequeueCountOf(context: InvocationContext): number {
  const count = context.triggerMetadata?.dequeueCount;
  return typeof count === 'number' ? count : Number(count ?? 1);
}

/**
 * Audits the shard named by the message. Throws on failure, so the host redelivers it (up to
 * maxDequeueCount, then it goes to the poison queue); a malformed message is logged and dropped, since no
 * redelivery can fix it.
 */
export function auditShardHandler(source: DependenciesSource) {
  return async (entry: unknown, context: InvocationContext): Promise<void> => {
    const message = parseMessage(entry);
    if (!message) {
      context.error(`Dropped a shard message that is not one: ${describeError(JSON.stringify(entry))}`);
      return;
    }
    const deps = resolve(source, context);
    try {
      const result = await auditShard(deps, message, deliveryOf(context));
      context.log(`Shard ${message.shard + 1}/${message.shards} of run ${message.runId}: ${result}`);
    } catch (error) {
      context.error(
        `Shard ${message.shard + 1}/${message.shards} of run ${message.runId} failed (delivery ${dequeueCountOf(context)}): ${describeError(error)}`,
      );
      throw error;
    }
  };
}

/** The poison queue: the shard failed on every delivery; its scope is recorded as failed and the run goes partial. */
export function auditShardPoisonHandler(source: DependenciesSource) {
  return async (entry: unknown, context: InvocationContext): Promise<void> => {
    const message = parseMessage(entry);
    if (!message) {
      context.error(
        `Dropped a poison shard message that is not one: ${describeError(JSON.stringify(entry))}`,
      );
      return;
    }
    await failShard(
      resolve(source, context),
      message,
      'the shard could not be audited (the queue moved its message to the poison queue after its last retry; see the logs of auditShard)',
      deliveryOf(context),
    );
  };
}
