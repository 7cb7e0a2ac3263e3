// `aks-fips-auditor demo`: its options and help; the demo itself (runDemo.ts) is loaded only when it runs.

import type { CliCommand } from './cliCommand';
import { portArgument } from './serveCommand';

export interface DemoCommandOptions {
  keep?: boolean;
  port: number;
  out: string;
}

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'Run the whole app locally on a sample estate with 14 days of history (no Azure account needed).',
  failure: 'Demo failed',
  configure(command, { io, exit }) {
    command
      .option('--out <dir>', 'the folder the demo writes its report and digest preview to', 'demo-output')
      .option('--keep', 'keep serving the HTTP API on the demo data afterwards, until Ctrl-C')
      .option(
        '--port <n>',
        'the port of the API with --keep (0 picks a free one); the digest preview links to it',
        portArgument,
        7071,
      )
      .addHelpText(
        'after',
        `
It starts Azurite, a managed identity endpoint and an ARM / Resource Graph emulator on loopback ports, audits a
sample estate once a day over 14 simulated days (pools fixed, new clusters, an exemption added and one lapsing, a
subscription unreadable for a day), then writes today's report and a preview of today's digest email to --out.
Nothing is sent and nothing leaves this machine. It needs the dev dependencies (npm install), so run it from a
clone: npm run demo, or npm run demo -- --keep.`,
      )
      .action(async (options: DemoCommandOptions) => {
        // Loaded on demand: the demo needs the emulators and Azurite, which are dev dependencies.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const demo = require('./runDemo') as typeof import('./runDemo');
        exit(await demo.runDemo(options, io));
      });
  },
};
