// `aks-fips-auditor email`: sends (or writes as .eml) the digest of a stored run, to test a mail setup.

import { randomUUID } from 'node:crypto';
import { basename, dirname, extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { z } from 'zod';

import type { AuditService } from '../auditService';
import { FileEmailSender } from '../azure/emailSender';
import type { RunRecord } from '../azure/runStore';
import { runIdPattern } from '../azure/tableKeys';
import { ConfigError, describeError, InputError, NotFoundError } from '../errors';
import { buildRunDigest, createNotifier, createNotifyDependencies, type NotifyOutcome } from '../notify';
import type { CliIo } from './main';

export const EMAIL_USAGE = `           --run ID        the run (default: the latest completed run)
           --to ADDRESS    a recipient instead of EMAIL_TO, one EMAIL_TO or EMAIL_ALLOWED_RECIPIENTS allows; repeatable
           --out FILE      write FILE (.eml) and its .html instead of sending (no email settings needed)`;

const address = z.email();
const PLACEHOLDER_SENDER = 'aks-fips-auditor@localhost.invalid';

async function runToEmail(service: AuditService, runId: string | undefined): Promise<RunRecord> {
  if (runId !== undefined && !runIdPattern.test(runId)) {
    throw new InputError(`--run must be a run ID like 20261129T060000Z-3f9a1c; got "${runId}"`);
  }
  const run = runId
    ? await service.store.getRun(runId)
    : await service.store.getLatestRun({ statuses: ['succeeded', 'partial'] });
  if (!run) throw new NotFoundError(runId ? `No stored run ${runId}.` : 'No completed run is stored yet.');
  return run;
}

/** Writes a run's digest as `<file>.eml` plus `<file>.html`; returns both paths. No email settings needed. */
export async function writeDigestFiles(
  service: AuditService,
  run: RunRecord,
  emlPath: string,
  to: readonly string[],
): Promise<{ eml: string; html: string; subject: string }> {
  const { config } = service;
  const deps = createNotifyDependencies(service, { sender: null });
  const built = await buildRunDigest(deps, run, { from: config.email.sender ?? PLACEHOLDER_SENDER, to });
  const file = resolve(emlPath);
  const sender = new FileEmailSender({
    directory: dirname(file),
    baseName: () => basename(file, extname(file)),
  });
  await sender.send(built.message, { operationId: randomUUID() });
  const written = sender.written[0]!;
  return { ...written, subject: built.message.subject };
}

function describeOutcome(outcome: NotifyOutcome): string {
  if ('reason' in outcome) return outcome.reason;
  const r = outcome.record;
  return outcome.status === 'sent' || outcome.status === 'alreadySent'
    ? `sent to ${r.recipients.join(', ')} via ${r.provider ?? '?'} (${r.messageId ?? ''}, ${r.attempts} attempt(s))`
    : `${outcome.status}: ${r.reason ?? ''}`;
}

export async function emailCommand(args: string[], io: CliIo, service: AuditService): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { run: { type: 'string' }, to: { type: 'string', multiple: true }, out: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const bad = (values.to ?? []).filter((a) => !address.safeParse(a).success);
  if (bad.length) throw new InputError(`--to must be an email address; bad: ${bad.join(', ')}`);
  let run: RunRecord;
  try {
    run = await runToEmail(service, values.run);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    io.stderr.write(`${error.message}\n`);
    return 1;
  }
  const to = values.to?.length ? values.to : service.config.email.to;

  if (values.out !== undefined) {
    const written = await writeDigestFiles(service, run, values.out, to);
    io.stdout.write(`${written.subject}\nWrote ${written.eml} and ${written.html}\n`);
    return 0;
  }
  if (to.length === 0) throw new InputError('Name a recipient with --to, or set EMAIL_TO.');
  const deps = createNotifyDependencies(service, { log: (m) => io.stderr.write(`${m}\n`) });
  if (!deps.sender) {
    throw new ConfigError(
      'Invalid settings:\n  - set EMAIL_ENDPOINT or EMAIL_CONNECTION_STRING (ACS) or SMTP_HOST (SMTP) to send, or use --out FILE',
    );
  }
  // Each command is its own request: a fresh idempotency key, recorded like POST /api/runs/{runId}/email.
  const outcome = await createNotifier(deps)(run.id, { idempotencyKey: `cli-${randomUUID()}`, to });
  io.stdout.write(`Digest of run ${run.id}: ${describeOutcome(outcome)}\n`);
  return outcome.status === 'sent' ? 0 : 1;
}

/**
 * After `aks-fips-auditor audit` (stored, without --no-email): the run's digest per EMAIL_MODE, like the timer.
 * Says nothing when email is not configured; a failed email is reported on stderr and never changes the exit code.
 */
export async function emailAfterAudit(service: AuditService, runId: string, io: CliIo): Promise<void> {
  if (!service.config.emailProvider || service.config.email.mode === 'off') return;
  try {
    const outcome = await createNotifier(createNotifyDependencies(service))(runId);
    io.stderr.write(`Digest of run ${runId}: ${describeOutcome(outcome)}\n`);
  } catch (error) {
    io.stderr.write(`Digest of run ${runId} could not be completed: ${describeError(error)}\n`);
  }
}
