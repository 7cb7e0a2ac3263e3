// Registers the shard workers of sharded audits (AUDIT_SHARDING): one per queue message, plus the poison queue.

import { app } from '@azure/functions';

import { appService } from '../appContext';
import { poisonQueueName } from '../azure/shardQueue';
import { auditShardHandler, auditShardPoisonHandler } from '../handlers/auditShardHandler';
import { createNotifier, createNotifyDependencies } from '../notify';
import { createShardedAuditDependencies, type ShardedAuditDependencies } from '../shardedAudit';

const service = appService();
const { sharding } = service.config;

// Off by default: without AUDIT_QUEUE settings the trigger's connection could not even be resolved.
if (sharding.mode !== 'off') {
  let deps: ShardedAuditDependencies | undefined;
  const dependencies = (): ShardedAuditDependencies => {
    deps ??= createShardedAuditDependencies(service, {
      // The digest of a sharded run goes out once, from the delivery that completed it (failures are logged).
      onCompleted: async (run) => {
        await createNotifier(createNotifyDependencies(service))(run.id);
      },
    });
    return deps;
  };
  // `connection: 'AUDIT_QUEUE'`: the host reads AUDIT_QUEUE__queueServiceUri (managed identity) or AUDIT_QUEUE.
  app.storageQueue('auditShard', {
    queueName: sharding.queueName,
    connection: 'AUDIT_QUEUE',
    handler: auditShardHandler(dependencies),
  });
  app.storageQueue('auditShardPoison', {
    queueName: poisonQueueName(sharding.queueName),
    connection: 'AUDIT_QUEUE',
    handler: auditShardPoisonHandler(dependencies),
  });
}
