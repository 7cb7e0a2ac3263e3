// `aks-fips-auditor serve [--port N] [--host H]`: the HTTP API on this machine, with the CLI's settings.

import { parseArgs } from 'node:util';

import { AuditService } from '../auditService';
import type { CliIo } from '../cli/main';
import { loadConfig, requireStorage } from '../config';
import { InputError } from '../errors';
import { exemptionApiHandlers, exemptionsDependencies } from '../handlers/exemptionsHandler';
import { createApiHandlers, DEFAULT_HOST, DEFAULT_PORT, type RunningServer, serveHttp } from './serveHttp';

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

/** Serves the API for `service` and prints where; used by `serve` and `demo --keep`. */
export async function serveService(
  service: AuditService,
  opts: { port: number; host: string },
  io: Pick<CliIo, 'stdout' | 'stderr'>,
): Promise<RunningServer> {
  const server = await serveHttp({
    handlers: createApiHandlers(service, exemptionApiHandlers(exemptionsDependencies(service))),
    port: opts.port,
    host: opts.host,
    log: (line) => io.stderr.write(`${line}\n`),
  });
  if (opts.host !== DEFAULT_HOST && opts.host !== 'localhost' && opts.host !== '::1') {
    io.stderr.write(
      `Warning: listening on ${opts.host}. This adapter checks no function keys: anyone who can reach it can read reports and start audits.\n`,
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
  return server;
}

export async function serveCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: String(DEFAULT_PORT) },
      host: { type: 'string', default: DEFAULT_HOST },
    },
    strict: true,
    allowPositionals: false,
  });
  const port = parsePort(values.port);
  const config = loadConfig(io.env);
  requireStorage(config);
  const server = await serveService(new AuditService(config), { port, host: values.host }, io);
  const signal = await untilShutdownSignal();
  io.stderr.write(`${signal}: stopping.\n`);
  await server.close();
  return 0;
}
