// Registers the audit pipeline's workers: one invocation per queue message (plan, shard, deferred schedule),
// plus the poison queue, which ends the run of a message that failed on every delivery.

import { app } from '@azure/functions';

import { auditPipelineHandler, auditPipelinePoisonHandler } from '../handlers/auditPipelineHandler';
import { poisonQueueName } from '../pipeline/pipelineQueue';
import { functionsApp } from './functionsApp';

const fips = functionsApp();
const deps = {
  handle: (...args: Parameters<typeof fips.pipeline.handle>) => fips.pipeline.handle(...args),
  poison: (...args: Parameters<typeof fips.pipeline.poison>) => fips.pipeline.poison(...args),
};

// `connection: 'AUDIT_QUEUE'`: the host reads AUDIT_QUEUE__queueServiceUri (managed identity) or AUDIT_QUEUE.
app.storageQueue('auditPipeline', {
  queueName: fips.config.queue.name,
  connection: 'AUDIT_QUEUE',
  handler: auditPipelineHandler(deps),
});

app.storageQueue('auditPipelinePoison', {
  queueName: poisonQueueName(fips.config.queue.name),
  connection: 'AUDIT_QUEUE',
  handler: auditPipelinePoisonHandler(deps),
});
