// `aks-fips-auditor email`: sends (or writes as .eml) the digest of a stored run, to test a mail setup.

import { randomUUID } from 'node:crypto';
import { basename, dirname, extname, resolve } from 'node:path';

import { z } from 'zod';

import { App } from '../app';
import { FileEmailSender } from '../azure/emailSender';
import { loadConfig } from '../config';
import { COMPLETED_STATUSES, type RunRecord } from '../core/run';
import { runIdPattern } from '../core/runId';
import { ConfigError, InputError, NotFoundError } from '../errors';
import { describeOutcome } from '../notify/notifyRun';
import { buildRunDigest } from '../notify/runDigest';
import type { CliCommand } from './cliCommand';
import type { CliIo } from './cliIo';

export interface EmailCommandOptions {
  run?: string;
  to?: string[];
  out?: string;
}

const address = z.email();
const PLACEHOLDER_SENDER = 'aks-fips-auditor@localhost.invalid';

async function runToEmail(app: App, runId: string | undefined): Promise<RunRecord> {
  if (runId !== undefined && !runIdPattern.test(runId)) {
    throw new InputError(`--run must be a run ID like 20261129T060000Z-3f9a1c; got "${runId}"`);
  }
  const run = runId
    ? await app.stores.reports.getRun(runId)
    : await app.stores.reports.getLatestRun({ statuses: COMPLETED_STATUSES });
  if (!run) throw new NotFoundError(runId ? `No stored run ${runId}.` : 'No completed run is stored yet.');
  return run;
}

/** Writes a run's digest as `<file>.eml` plus `<file>.html`; returns both paths. No email settings needed. */
export async function writeDigestFiles(
  app: App,
  run: RunRecord,
  emlPath: string,
  to: readonly string[],
): Promise<{ eml: string; html: string; subject: string }> {
  const built = await buildRunDigest(app.digestSources(), run, {
    from: app.config.email.sender ?? PLACEHOLDER_SENDER,
    to,
  });
  const file = resolve(emlPath);
  const sender = new FileEmailSender({
    directory: dirname(file),
    baseName: () => basename(file, extname(file)),
  });
  await sender.send(built.message, { operationId: randomUUID() });
  const written = sender.written[0]!;
  return { ...written, subject: built.message.subject };
}

export async function runEmailCommand(values: EmailCommandOptions, io: CliIo, app: App): Promise<number> {
  const bad = (values.to ?? []).filter((a) => !address.safeParse(a).success);
  if (bad.length) throw new InputError(`--to must be an email address; bad: ${bad.join(', ')}`);
  let run: RunRecord;
  try {
    run = await runToEmail(app, values.run);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    io.stderr.write(`${error.message}\n`);
    return 1;
  }
  const to = values.to?.length ? values.to : app.config.email.to;

  if (values.out !== undefined) {
    const written = await writeDigestFiles(app, run, values.out, to);
    io.stdout.write(`${written.subject}\nWrote ${written.eml} and ${written.html}\n`);
    return 0;
  }
  if (to.length === 0) throw new InputError('Name a recipient with --to, or set EMAIL_TO.');
  if (!app.config.emailProvider) {
    throw new ConfigError(
      'Invalid settings:\n  - set EMAIL_ENDPOINT or EMAIL_CONNECTION_STRING (ACS) or SMTP_HOST (SMTP) to send, or use --out FILE',
    );
  }
  // Each command is its own request: a fresh idempotency key, recorded like POST /api/runs/{runId}/email.
  const outcome = await app.notify(run.id, { idempotencyKey: `cli-${randomUUID()}`, to });
  io.stdout.write(`Digest of run ${run.id}: ${describeOutcome(outcome)}\n`);
  return outcome.status === 'sent' ? 0 : 1;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export const emailCommand: CliCommand = {
  name: 'email',
  summary: 'Send the digest of a stored run (to test a mail setup), or write it as an .eml file.',
  failure: 'Email failed',
  configure(command, { io, exit }) {
    command
      .option('--run <id>', 'the run (default: the latest completed run)')
      .option(
        '--to <address>',
        'a recipient instead of EMAIL_TO, one EMAIL_TO or EMAIL_ALLOWED_RECIPIENTS allows; repeatable',
        collect,
      )
      .option('--out <file>', 'write FILE (.eml) and its .html instead of sending (no email settings needed)')
      .addHelpText(
        'after',
        `
Sending uses EMAIL_ENDPOINT or EMAIL_CONNECTION_STRING (ACS) or SMTP_HOST, with EMAIL_SENDER; see README.md.`,
      )
      .action(async (options: EmailCommandOptions) =>
        exit(
          await runEmailCommand(
            options,
            io,
            new App(loadConfig(io.env), { log: (m) => io.stderr.write(`${m}\n`) }),
          ),
        ),
      );
  },
};
