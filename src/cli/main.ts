// The aks-fips-auditor command: builds the parser from the command table, runs a command, maps errors to exit codes.

// Commander, not node:util parseArgs: per-command --help and -h, --version, "did you mean" for commands and
// options, repeatable and validated options, and subcommands (exemptions list|add|remove) come from one
// well-kept, dependency-free parser instead of hand-written dispatch, usage strings and checks.
import { Command, CommanderError } from 'commander';

import {
  AuditInProgressError,
  ConfigError,
  describeError,
  InputError,
  NotFoundError,
  sanitize,
} from '../errors';
import type { CliCommand } from './cliCommand';
import { CLI_COMMANDS } from './cliCommands';
import type { CliIo } from './cliIo';
import { EXIT, EXIT_STATUS_HELP } from './exitCodes';
import { ListenError } from './listenError';
import { packageVersion } from './packageVersion';

export type { CliIo } from './cliIo';
export { EXIT } from './exitCodes';

export const PROGRAM_NAME = 'aks-fips-auditor';

/**
 * Commander's usage errors in the CLI's own voice: `error: unknown command 'audti'\n(Did you mean audit?)` becomes
 * `Unknown command 'audti'. Did you mean 'audit'?`, followed by where to read the usage.
 */
export function formatUsageError(text: string, helpCommand: string): string {
  const match = /^(?:error: )?([\s\S]*?)(?:\n\(Did you mean (.+)\?\))?\s*$/.exec(text);
  const message = match?.[1] ?? text.trim();
  const suggestion = match?.[2];
  const sentence = `${message.charAt(0).toUpperCase()}${message.slice(1)}`.replace(/([^.?!])$/, '$1.');
  const hint = suggestion
    ? suggestion.startsWith('one of ')
      ? ` Did you mean ${suggestion}?`
      : ` Did you mean '${suggestion}'?`
    : '';
  return `${sentence}${hint}\nRun '${helpCommand}' for usage.\n`;
}

/** The parser for `io`: every command of the table, help and usage errors written to `io`, no process.exit. */
export function buildProgram(
  io: CliIo,
  commands: readonly CliCommand[],
  onAction: (command: CliCommand) => void,
  exit: (code: number) => void,
): Command {
  const program = new Command(PROGRAM_NAME);
  const output = (helpCommand: string) => ({
    writeOut: (text: string) => io.stdout.write(text),
    writeErr: (text: string) => io.stderr.write(text),
    outputError: (text: string, write: (text: string) => void) => write(formatUsageError(text, helpCommand)),
    getOutHelpWidth: () => io.stdout.columns ?? 100,
    getErrHelpWidth: () => io.stderr.columns ?? 100,
  });
  program
    .description(
      'Audits every AKS node pool of an Azure tenant for FIPS 140 validated crypto, with evidence.\nSettings are environment variables (AZURE_CLOUD, AUDIT_SUBSCRIPTIONS, AUDIT_TABLES_ENDPOINT, …): see README.md.',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .usage('<command> [options]')
    .helpOption('-h, --help', "show this help (`<command> --help` shows a command's)")
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    .configureOutput(output(`${PROGRAM_NAME} --help`))
    .showSuggestionAfterError(true)
    .addHelpText('after', `\n${EXIT_STATUS_HELP}`);
  for (const definition of commands) {
    const command = program
      .command(definition.name)
      .description(definition.summary)
      .configureOutput(output(`${PROGRAM_NAME} ${definition.name} --help`))
      .helpOption('-h, --help', 'show this help')
      .hook('preAction', () => onAction(definition));
    definition.configure(command, { io, exit });
    // Subcommands (exemptions add) name their own help in their errors.
    for (const sub of command.commands) {
      sub
        .configureOutput(output(`${PROGRAM_NAME} ${definition.name} ${sub.name()} --help`))
        .helpOption('-h, --help', 'show this help');
    }
  }
  return program;
}

/** The exit code for an error a command threw, with its message on stderr. */
function reportError(error: unknown, command: CliCommand | undefined, io: CliIo): number {
  if (error instanceof CommanderError) {
    // Help and --version "exit" 0; everything else commander throws is a usage error it has already printed.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  // Every message is sanitized on its way out: a setting or argument may quote a key, SAS or password.
  if (error instanceof ConfigError || error instanceof InputError) {
    io.stderr.write(`${sanitize(error.message)}\n`);
    return EXIT.usage;
  }
  // Commands that parse their own arguments with node:util parseArgs (argvCommand).
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    const name = command ? `${PROGRAM_NAME} ${command.name}` : PROGRAM_NAME;
    io.stderr.write(formatUsageError(sanitize((error as Error).message), `${name} --help`));
    return EXIT.usage;
  }
  if (error instanceof AuditInProgressError || error instanceof NotFoundError) {
    io.stderr.write(`${sanitize(error.message)}\n`);
    return EXIT.failed;
  }
  const prefix = command?.failure ?? 'Failed';
  io.stderr.write(
    error instanceof ListenError
      ? `${prefix}: ${sanitize(error.message)}\n`
      : `${prefix}: ${describeError(error)}\n`,
  );
  return EXIT.failed;
}

export async function main(
  argv: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
  commands: readonly CliCommand[] = CLI_COMMANDS,
): Promise<number> {
  let running: CliCommand | undefined;
  let code: number = EXIT.ok;
  const program = buildProgram(
    io,
    commands,
    (command) => (running = command),
    (exitCode) => (code = exitCode),
  );
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    return reportError(error, running, io);
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
