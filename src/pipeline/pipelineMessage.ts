// The messages the audit pipeline puts on its queue: plan a run, audit one shard, or retry a deferred schedule.

import { z } from 'zod';

import { runIdSchema } from '../core/runId';

/** Split a started run into shards and queue them. */
const planMessageSchema = z.object({
  v: z.literal(2),
  kind: z.literal('plan'),
  runId: runIdSchema,
  generation: z.number().int().positive(),
});

/** Audit one shard of a planned run; the shard's scope is in the shard store. */
const shardMessageSchema = z.object({
  v: z.literal(2),
  kind: z.literal('shard'),
  runId: runIdSchema,
  generation: z.number().int().positive(),
  shard: z.number().int().nonnegative(),
  shards: z.number().int().positive(),
});

/** A scheduled audit found another run holding the lease: try again later the same day. */
const scheduleMessageSchema = z.object({
  v: z.literal(2),
  kind: z.literal('schedule'),
  /** When the timer fired for the audit this retries. */
  scheduledAt: z.iso.datetime(),
});

export const pipelineMessageSchema = z.discriminatedUnion('kind', [
  planMessageSchema,
  shardMessageSchema,
  scheduleMessageSchema,
]);

export type PipelineMessage = z.infer<typeof pipelineMessageSchema>;
export type PlanMessage = z.infer<typeof planMessageSchema>;
export type ShardMessage = z.infer<typeof shardMessageSchema>;
export type ScheduleMessage = z.infer<typeof scheduleMessageSchema>;

/** How a message is named in logs. */
export function describeMessage(message: PipelineMessage): string {
  switch (message.kind) {
    case 'plan':
      return `plan of run ${message.runId}`;
    case 'shard':
      return `shard ${message.shard + 1}/${message.shards} of run ${message.runId}`;
    case 'schedule':
      return `deferred scheduled audit of ${message.scheduledAt}`;
  }
}

/**
 * A message as the queue trigger hands it over (JSON arrives parsed, anything else as text), or null when it is
 * not one of ours: no redelivery can fix that, so it is logged and dropped.
 */
export function parsePipelineMessage(entry: unknown): PipelineMessage | null {
  let value = entry;
  if (typeof entry === 'string') {
    try {
      value = JSON.parse(entry);
    } catch {
      return null;
    }
  }
  const parsed = pipelineMessageSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}
