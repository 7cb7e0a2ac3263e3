// The commands of aks-fips-auditor, in the order `--help` lists them. Adding a command is one line here.

import { auditCommand } from './auditCommand';
import type { CliCommand } from './cliCommand';
import { demoCommand } from './demoCommand';
import { emailCommand } from './emailCommand';
import { exemptionsCommand } from './exemptionsCommand';
import { policyCliCommand } from './policyCommand';
import { reportCommand } from './reportCommand';
import { serveCommand } from './serveCommand';

export const CLI_COMMANDS: readonly CliCommand[] = [
  auditCommand,
  reportCommand,
  emailCommand,
  exemptionsCommand,
  policyCliCommand,
  serveCommand,
  demoCommand,
];
