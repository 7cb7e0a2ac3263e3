// The pipeline queue's handlers: run the stage a message names, or end the run of a message that always failed.

import type { InvocationContext } from '@azure/functions';

import { describeError } from '../errors';
import type { Delivery } from '../pipeline/inProcessQueue';
import { describeMessage, parsePipelineMessage, type PipelineMessage } from '../pipeline/pipelineMessage';

export interface PipelineHandlerDependencies {
  handle(message: PipelineMessage, delivery: Delivery, log: (message: string) => void): Promise<void>;
  poison(
    message: PipelineMessage,
    reason: string,
    delivery: Delivery,
    log: (message: string) => void,
  ): Promise<void>;
}

/** The queue message's ID (the same on every redelivery of one message) and how often it was delivered. */
function deliveryOf(context: InvocationContext): Delivery {
  const id = context.triggerMetadata?.id;
  const count = context.triggerMetadata?.dequeueCount;
  return {
    messageId: typeof id === 'string' ? id : context.invocationId,
    dequeueCount: typeof count === 'number' ? count : Number(count ?? 1) || 1,
  };
}

/**
 * Runs the stage the message names. Throws on failure, so the host delivers it again (up to maxDequeueCount,
 * then it goes to the poison queue); a message that is not one of ours is logged and dropped, since no
 * redelivery can fix it.
 */
export function auditPipelineHandler(deps: PipelineHandlerDependencies) {
  return async (entry: unknown, context: InvocationContext): Promise<void> => {
    const message = parsePipelineMessage(entry);
    if (!message) {
      context.error(
        `Dropped a queue message that is not a pipeline message: ${describeError(JSON.stringify(entry))}`,
      );
      return;
    }
    const delivery = deliveryOf(context);
    try {
      await deps.handle(message, delivery, (m) => context.log(m));
    } catch (error) {
      context.error(
        `The ${describeMessage(message)} failed (delivery ${delivery.dequeueCount}): ${describeError(error)}`,
      );
      throw error;
    }
  };
}

/** The poison queue: the message failed on every delivery; its run is failed or partial, never left running. */
export function auditPipelinePoisonHandler(deps: PipelineHandlerDependencies) {
  return async (entry: unknown, context: InvocationContext): Promise<void> => {
    const message = parsePipelineMessage(entry);
    if (!message) {
      context.error(
        `Dropped a poison message that is not a pipeline message: ${describeError(JSON.stringify(entry))}`,
      );
      return;
    }
    await deps.poison(
      message,
      'the queue moved its message to the poison queue after its last failed delivery (see the logs of auditPipeline)',
      deliveryOf(context),
      (m) => context.log(m),
    );
  };
}
