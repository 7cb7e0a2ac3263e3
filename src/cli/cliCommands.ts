// The commands of aks-fips-auditor, in the order `--help` lists them. Adding a command is one line here.

import { auditCommand } from './auditCommand';
import type { CliCommand } from './cliCommand';
import { demoCommand } from './demoCommand';
import { emailCommand } from './emailCommand';
import { evidenceCommand } from './evidenceCommand';
import { exemptionsCommand } from './exemptionsCommand';
import { policyCliCommand } from './policyCommand';
import { reportCommand } from './reportCommand';
import { serveCommand } from './serveCommand';
import { verifyCommand } from './verifyCommand';

export const CLI_COMMANDS: readonly CliCommand[] = [
  auditCommand,
  reportCommand,
  emailCommand,
  exemptionsCommand,
  evidenceCommand,
  verifyCommand,
  policyCliCommand,
  serveCommand,
  demoCommand,
];
