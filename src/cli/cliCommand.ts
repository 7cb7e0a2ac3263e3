// One command of aks-fips-auditor as data: name, one-line summary, failure wording, and how to declare it.

import type { Command } from 'commander';

import type { CliIo } from './cliIo';

export interface CommandContext {
  io: CliIo;
  /** Records the command's exit code; actions call it once, with what the work returned. */
  exit: (code: number) => void;
}

/**
 * A command of the CLI. main.ts builds the parser from the list in cliCommands.ts, so adding a command is one
 * object here and one line there: help, `--help`/`-h`, typo suggestions and error wording come with it.
 */
export interface CliCommand {
  /** The word after `aks-fips-auditor`. */
  name: string;
  /** One line in `aks-fips-auditor --help`, and the first line of the command's own help. */
  summary: string;
  /** Starts the message of an unexpected failure: "Audit failed", "Cannot serve the API". */
  failure: string;
  /** Declares options, arguments, help text and subcommands on `command`, and its action. */
  configure(command: Command, context: CommandContext): void;
}

export interface ArgvCommandSpec {
  name: string;
  summary: string;
  failure: string;
  /** The options, as shown under the command's `--help`. */
  usage: string;
  /** Runs with the arguments after the command's name, as given; parses them itself (node:util parseArgs). */
  run(args: string[], io: CliIo): Promise<number>;
}

/**
 * A command that parses its own arguments (`(args, io) => exit code`, as every command did before the command
 * table): `--help`/`-h` prints its summary and `usage`; everything else is passed through untouched.
 */
export function argvCommand(spec: ArgvCommandSpec): CliCommand {
  return {
    name: spec.name,
    summary: spec.summary,
    failure: spec.failure,
    configure(command, { io, exit }) {
      command
        .usage('[options]')
        .addHelpText('after', `\n${spec.usage}`)
        .allowUnknownOption()
        .allowExcessArguments()
        .action(async (_options: unknown, self: Command) => exit(await spec.run(self.args, io)));
    },
  };
}
