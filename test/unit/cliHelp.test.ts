// Every command answers --help and -h with exit 0; --version, typo suggestions and usage errors speak plainly.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';

import type { Command } from 'commander';

import { argvCommand, type CliCommand } from '../../src/cli/cliCommand';
import { CLI_COMMANDS } from '../../src/cli/cliCommands';
import { buildProgram, type CliIo, EXIT, formatUsageError, main } from '../../src/cli/main';
import { ConfigError, InputError, NotFoundError } from '../../src/errors';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

async function run(args: string[], commands?: readonly CliCommand[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const io = { stdout, stderr, env: {} } as unknown as CliIo;
  const code = await main(args, io, commands);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Every command path of the CLI: `audit`, `exemptions`, `exemptions add`, … */
function commandPaths(): string[][] {
  const io = { stdout: new Capture(), stderr: new Capture(), env: {} } as unknown as CliIo;
  const walk = (command: Command, path: string[]): string[][] =>
    command.commands.flatMap((sub) => [[...path, sub.name()], ...walk(sub, [...path, sub.name()])]);
  return walk(
    buildProgram(
      io,
      CLI_COMMANDS,
      () => undefined,
      () => undefined,
    ),
    [],
  );
}

const paths = commandPaths();
const version = (
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }
).version;

it('has every command of the contract, and the exemptions actions', () => {
  expect(paths.map((p) => p.join(' '))).toEqual(
    expect.arrayContaining([
      'audit',
      'report',
      'email',
      'demo',
      'serve',
      'exemptions',
      'exemptions list',
      'exemptions add',
      'exemptions remove',
    ]),
  );
});

describe.each(paths.map((path) => [path.join(' '), path] as const))('%s', (_name, path) => {
  it.each(['--help', '-h'])('answers %s on stdout with exit 0', async (flag) => {
    const result = await run([...path, flag]);
    expect(result).toMatchObject({ code: EXIT.ok, stderr: '' });
    expect(result.stdout).toMatch(new RegExp(`^Usage: aks-fips-auditor ${path.join(' ')}\\b`));
    expect(result.stdout).toMatch(/-h, --help/);
  });

  it('answers `help` with the same text', async () => {
    const flag = await run([...path, '--help']);
    // `help audit`; a subcommand's is its parent's: `exemptions help add`.
    const help = await run([...path.slice(0, -1), 'help', ...path.slice(-1)]);
    expect(help).toMatchObject({ code: EXIT.ok, stdout: flag.stdout });
  });
});

it.each<[string, RegExp[]]>([
  [
    'audit',
    [/--format <format>/, /--out <file>/, /--fail-on <statuses>/, /Exit status:\n {2}0 /, /\n {2}4 /],
  ],
  ['report', [/--format <format>/, /--out <file>/, /--run <id>/]],
  ['demo', [/--port <n>/, /--out <dir>/, /--keep/, /\(default: 7071\)/]],
  ['serve', [/--port <n>/, /--host <host>/, /\(default: 7071\)/]],
  ['email', [/--to <address>/, /--out <file>/]],
  ['exemptions', [/list \[options\]/, /add \[options\]/, /remove \[options\]/]],
])("documents %s's options in its help", async (command, patterns) => {
  const { stdout } = await run([command, '--help']);
  for (const pattern of patterns) expect(stdout).toMatch(pattern);
});

it('lists every command and the exit codes in the top-level help', async () => {
  const result = await run(['--help']);
  expect(result.code).toBe(EXIT.ok);
  for (const command of CLI_COMMANDS) expect(result.stdout).toContain(`\n  ${command.name} `);
  expect(result.stdout).toContain('A failed or incomplete audit never exits 0 or 3.');
});

it.each(['--version', '-V'])('prints the package version for %s', async (flag) => {
  expect(await run([flag])).toEqual({ code: EXIT.ok, stdout: `${version}\n`, stderr: '' });
});

it('shows the help on stderr and exits 2 when no command is given', async () => {
  const result = await run([]);
  expect(result.code).toBe(EXIT.usage);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^Usage: aks-fips-auditor <command> \[options\]/);
});

it.each<[string[], string]>([
  [['audti'], "Unknown command 'audti'. Did you mean 'audit'?\nRun 'aks-fips-auditor --help' for usage.\n"],
  [['serv'], "Unknown command 'serv'. Did you mean 'serve'?\nRun 'aks-fips-auditor --help' for usage.\n"],
  [
    ['audit', '--jsn'],
    "Unknown option '--jsn'. Did you mean '--json'?\nRun 'aks-fips-auditor audit --help' for usage.\n",
  ],
  [
    ['demo', '--prot', '1'],
    "Unknown option '--prot'. Did you mean '--port'?\nRun 'aks-fips-auditor demo --help' for usage.\n",
  ],
  [
    ['exemptions', 'lst'],
    "Unknown command 'lst'. Did you mean 'list'?\nRun 'aks-fips-auditor exemptions --help' for usage.\n",
  ],
  [
    ['exemptions', 'add', '--expire', '2030-01-01'],
    "Unknown option '--expire'. Did you mean '--expires'?\nRun 'aks-fips-auditor exemptions add --help' for usage.\n",
  ],
  [['serve', '--port', 'http'], 'aks-fips-auditor serve --help'],
  [
    ['audit', '--input'],
    "Option '--input <file>' argument missing.\nRun 'aks-fips-auditor audit --help' for usage.\n",
  ],
])('refuses %j with exit 2, a suggestion and where to read the usage', async (args, message) => {
  const result = await run(args);
  expect(result.code).toBe(EXIT.usage);
  expect(result.stdout).toBe('');
  expect(result.stderr).toContain(message);
});

describe('formatUsageError', () => {
  it.each<[string, string]>([
    [
      "error: unknown command 'audti'\n(Did you mean audit?)",
      "Unknown command 'audti'. Did you mean 'audit'?",
    ],
    [
      "error: unknown option '--x'\n(Did you mean one of --a, --b?)",
      "Unknown option '--x'. Did you mean one of --a, --b?",
    ],
    [
      "error: too many arguments for 'audit'. Expected 0 arguments but got 1.",
      "Too many arguments for 'audit'. Expected 0 arguments but got 1.",
    ],
  ])('rewrites %j', (text, first) => {
    expect(formatUsageError(text, 'x --help')).toBe(`${first}\nRun 'x --help' for usage.\n`);
  });
});

describe('a command that parses its own arguments (argvCommand)', () => {
  const seen: string[][] = [];
  const pretend = argvCommand({
    name: 'pretend',
    summary: 'Write Azure Policy definitions from the matrix.',
    failure: 'Policy generation failed',
    usage: 'Options:\n  --effect audit|deny\n  --out DIR',
    run(args) {
      const { values } = parseArgs({
        args,
        options: { effect: { type: 'string' }, out: { type: 'string' } },
        strict: true,
        allowPositionals: false,
      });
      seen.push(args);
      if (values.effect === 'boom') throw new Error('the generator broke');
      return Promise.resolve(EXIT.ok);
    },
  });
  const commands = [...CLI_COMMANDS, pretend];

  it('joins the table with one entry: listed in the help, with its own --help', async () => {
    expect((await run(['--help'], commands)).stdout).toContain('pretend');
    const help = await run(['pretend', '--help'], commands);
    expect(help.code).toBe(EXIT.ok);
    expect(help.stdout).toContain('Write Azure Policy definitions from the matrix.');
    expect(help.stdout).toContain('--effect audit|deny');
  });

  it('gets its arguments untouched', async () => {
    expect((await run(['pretend', '--effect', 'deny', '--out', 'dir'], commands)).code).toBe(EXIT.ok);
    expect(seen.at(-1)).toEqual(['--effect', 'deny', '--out', 'dir']);
  });

  it("maps its parser's errors to exit 2 and its failures to its own prefix", async () => {
    const usage = await run(['pretend', '--efect', 'deny'], commands);
    expect(usage.code).toBe(EXIT.usage);
    expect(usage.stderr).toContain("Unknown option '--efect'");
    expect(usage.stderr).toContain("Run 'aks-fips-auditor pretend --help' for usage.");
    const failed = await run(['pretend', '--effect', 'boom'], commands);
    expect(failed).toMatchObject({
      code: EXIT.failed,
      stderr: 'Policy generation failed: Error: the generator broke\n',
    });
  });
});

it('names each failure after its command, never "Audit failed" for another command', () => {
  const names = new Set<string>();
  for (const command of CLI_COMMANDS) {
    expect(names.has(command.name)).toBe(false);
    names.add(command.name);
    expect(command.summary.length).toBeGreaterThan(10);
    if (command.name !== 'audit') expect(command.failure).not.toMatch(/audit/i);
  }
});

describe('a refused setting or argument that quotes a secret', () => {
  const SECRET = 'c2VjcmV0LXNpZ25hdHVyZS10aGF0LW11c3Qtbm90LWxlYWs%3D';
  const leaky = (error: Error) =>
    argvCommand({
      name: 'leaky',
      summary: 'Throws what it is given.',
      failure: 'Leaky failed',
      usage: '',
      run: () => Promise.reject(error),
    });

  it.each([
    [
      'a settings error',
      new ConfigError(
        `AUDIT_EVIDENCE_CONTAINER=https://a.blob.core.windows.net/c?sv=1&sig=${SECRET} is wrong`,
      ),
    ],
    ['an input error', new InputError(`--out https://u:${SECRET}@host/x is not a file`)],
    ['a not-found error', new NotFoundError(`No run at https://a.table.core.windows.net/?sig=${SECRET}`)],
  ])('shows %s on stderr without the secret', async (_name, error) => {
    const result = await run(['leaky'], [...CLI_COMMANDS, leaky(error)]);
    expect(result.stderr).not.toBe('');
    expect(result.stderr).not.toContain(SECRET);
    expect(result.stderr).toContain('***');
  });
});
