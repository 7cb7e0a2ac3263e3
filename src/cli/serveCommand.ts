// `aks-fips-auditor serve [--port N] [--host H]`: the HTTP API on this machine, with the CLI's settings.

import { InvalidArgumentError } from 'commander';

import { App } from '../app';
import { loadConfig, requireStorage, serveKeyProblem } from '../config';
import { InputError } from '../errors';
import { DEFAULT_HOST, DEFAULT_PORT, type RunningServer, serveHttp } from '../http/serveHttp';
import type { CliCommand } from './cliCommand';
import type { CliIo } from './cliIo';
import { guardUnhandledRejections } from './guardUnhandledRejections';
import { ListenError } from './listenError';

/** Resolves on the first Ctrl-C (SIGINT) or SIGTERM, and stops listening for them. */
export function untilShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

export function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new InputError(`--port must be a port number from 0 to 65535 (0 picks a free one); got "${text}"`);
  }
  return Number(text);
}

/** Commander's parser for `--port`: a usage error (exit 2) for anything but 0-65535. */
export function portArgument(text: string): number {
  try {
    return parsePort(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/**
 * Serves the API of `app` and prints where; used by `serve` and `demo --keep`. The app's in-process queue runs the
 * audits that POST /api/audits queues, as the Functions host's queue trigger would. Without a key it serves only
 * on a loopback address (serveHttp refuses anything else); with one, every route but health requires it.
 */
export async function serveApp(
  app: App,
  opts: { port: number; host: string; key?: string | null },
  io: Pick<CliIo, 'stdout' | 'stderr'>,
): Promise<RunningServer> {
  const log = (line: string) => io.stderr.write(`${line}\n`);
  let server: RunningServer;
  try {
    server = await serveHttp({
      handlers: app.httpHandlers(),
      port: opts.port,
      host: opts.host,
      key: opts.key ?? null,
      log,
    });
  } catch (error) {
    throw ListenError.from(error, opts) ?? error;
  }
  const unguard = guardUnhandledRejections(log);
  if (server.keyRequired) {
    io.stderr.write(
      `Every route but /api/health requires the key (AUDIT_SERVE_KEY or --key) in the x-functions-key header or as ?code=.\n`,
    );
  }
  io.stdout.write(
    [
      `Serving the aks-fips-auditor API at ${server.url}/api (Ctrl-C to stop)`,
      `  report page:  ${server.url}/api/report?format=html`,
      `  report JSON:  ${server.url}/api/report`,
      `  runs:         ${server.url}/api/runs`,
      `  health:       ${server.url}/api/health`,
      `  OpenAPI:      ${server.url}/api/openapi.json`,
    ].join('\n') + '\n',
  );
  return {
    ...server,
    close: async () => {
      await server.close();
      unguard();
    },
  };
}

export interface ServeCommandOptions {
  port: number;
  host: string;
  key?: string;
}

export async function runServeCommand(options: ServeCommandOptions, io: CliIo): Promise<number> {
  const keyIssue = options.key === undefined ? null : serveKeyProblem(options.key);
  if (keyIssue) throw new InputError(`--key ${keyIssue}`);
  const config = loadConfig(io.env);
  requireStorage(config);
  if (config.appServiceAuthEnabled) {
    // Only the platform's authentication may vouch for x-ms-client-principal; in front of serve there is none.
    throw new InputError(
      'WEBSITE_AUTH_ENABLED=True is set, but no App Service Authentication stands in front of serve: the x-ms-client-principal header would be whatever the client sends. Unset it for serve, and use AUDIT_SERVE_KEY (or --key) to restrict access.',
    );
  }
  const app = new App(config, { log: (line) => io.stderr.write(`${line}\n`) });
  const server = await serveApp(app, { ...options, key: options.key ?? config.serveKey }, io);
  const signal = await untilShutdownSignal();
  io.stderr.write(`${signal}: stopping.\n`);
  await server.close();
  app.close();
  return 0;
}

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'Serve the HTTP API on this machine with these settings (no Azure Functions Core Tools needed).',
  failure: 'Cannot serve the API',
  configure(command, { io, exit }) {
    command
      .option('--port <n>', 'the port (0 picks a free one)', portArgument, DEFAULT_PORT)
      .option('--host <host>', 'the address to bind; anything but loopback needs a key', DEFAULT_HOST)
      .option(
        '--key <key>',
        'require KEY like a function key (x-functions-key or ?code=); required off loopback. Prefer the AUDIT_SERVE_KEY setting: a key on the command line shows in the process list',
      )
      .action(async (options: ServeCommandOptions) => exit(await runServeCommand(options, io)));
  },
};
