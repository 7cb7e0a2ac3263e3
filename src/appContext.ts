// The Functions app's single AuditService, built from validated settings when the app starts.

import { AuditService } from './auditService';
import { loadConfig } from './config';

let service: AuditService | undefined;

/** Validates every setting on first use (module load of any function): a bad setting stops the host. */
export function appService(): AuditService {
  service ??= new AuditService(loadConfig(process.env));
  return service;
}
