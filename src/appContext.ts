// The Functions app's single AuditService, built from validated settings when the app starts.

import { AuditService } from './auditService';
import { loadConfig } from './config';
import { type HostEmail, hostEmail } from './notify';

let service: AuditService | undefined;
let email: HostEmail | undefined;

/** Validates every setting on first use (module load of any function): a bad setting stops the host. */
export function appService(): AuditService {
  service ??= new AuditService(loadConfig(process.env));
  return service;
}

/** The app's email (sends and health), shared by its functions; built on first use, so storage is read then. */
export function appEmail(): HostEmail {
  email ??= hostEmail(appService());
  return email;
}
