// `aks-fips-auditor serve [--port N] [--host H] [--key K]`: the HTTP API on this machine, with the CLI's settings.

import { parseArgs } from 'node:util';

import { AuditService } from '../auditService';
import type { CliIo } from '../cli/main';
import { loadConfig, requireStorage, serveKeyProblem } from '../config';
import { InputError } from '../errors';
import { exemptionApiHandlers, exemptionsDependencies } from '../handlers/exemptionsHandler';
import { guardUnhandledRejections } from './guardUnhandledRejections';
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

/**
 * Serves the API for `service` and prints where; used by `serve` and `demo --keep`. Without a key it serves only on
 * a loopback address (serveHttp refuses anything else); with one, every route but health requires it.
 */
export async function serveService(
  service: AuditService,
  opts: { port: number; host: string; key?: string | null },
  io: Pick<CliIo, 'stdout' | 'stderr'>,
): Promise<RunningServer> {
  const log = (line: string) => io.stderr.write(`${line}\n`);
  const server = await serveHttp({
    handlers: createApiHandlers(service, exemptionApiHandlers(exemptionsDependencies(service))),
    port: opts.port,
    host: opts.host,
    key: opts.key ?? null,
    log,
  });
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

export async function serveCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: String(DEFAULT_PORT) },
      host: { type: 'string', default: DEFAULT_HOST },
      // Prefer AUDIT_SERVE_KEY: a key on the command line shows in the process list.
      key: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const port = parsePort(values.port);
  const keyIssue = values.key === undefined ? null : serveKeyProblem(values.key);
  if (keyIssue) throw new InputError(`--key ${keyIssue}`);
  const config = loadConfig(io.env);
  requireStorage(config);
  if (config.appServiceAuthEnabled) {
    // Only the platform's authentication may vouch for x-ms-client-principal; in front of serve there is none.
    throw new InputError(
      'WEBSITE_AUTH_ENABLED=True is set, but no App Service Authentication stands in front of serve: the x-ms-client-principal header would be whatever the client sends. Unset it for serve, and use AUDIT_SERVE_KEY (or --key) to restrict access.',
    );
  }
  const key = values.key ?? config.serveKey;
  const server = await serveService(new AuditService(config), { port, host: values.host, key }, io);
  const signal = await untilShutdownSignal();
  io.stderr.write(`${signal}: stopping.\n`);
  await server.close();
  return 0;
}
