// The aks-fips-auditor command: parses argv, runs a command, maps errors to exit codes.

import { parseArgs } from 'node:util';

import { AuditService } from '../auditService';
import { newRunId, runIdPattern } from '../azure/tableKeys';
import { type Config, loadConfig } from '../config';
import { AuditInProgressError, ConfigError, describeError, InputError } from '../errors';
import { summaryText } from '../render/summaryText';
import { serveCommand } from '../serve/serveCommand';
import { EMAIL_USAGE, emailAfterAudit, emailCommand } from './emailCommand';
import { EVIDENCE_USAGE, evidenceCommand } from './evidenceCommand';
import { EXEMPTIONS_USAGE, exemptionsCommand } from './exemptionsCommand';
import { createProgressDisplay } from './progress';
import { readExports } from './readExport';
import { EXIT_EVIDENCE_MISMATCH, VERIFY_USAGE, verifyCommand } from './verifyCommand';

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  noncompliant: 3,
  evidenceMismatch: EXIT_EVIDENCE_MISMATCH,
} as const;

export interface CliIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

const USAGE = `Usage: aks-fips-auditor <command> [options]

Commands:
  audit    Run one audit with the settings in the environment and store it like the timer does.
           --json                 print the report JSON on stdout (logs stay on stderr)
           --input FILE           audit an export (az aks list / az graph query -o json); repeatable
           --no-store             do not write to Table Storage
           --no-email             do not send email
           --fail-on noncompliant exit 3 when the completed audit found noncompliant pools
  report   Print a stored run.   --run ID (default: latest)  --format json|text
  email    Send the digest of a stored run (to test a mail setup), or write it as .eml:
${EMAIL_USAGE}
  demo     Run the whole app locally on a built-in sample estate (no Azure account needed).
  exemptions  List, add or remove time-boxed waivers (stored in Table Storage, as the API does):
${EXEMPTIONS_USAGE}
  serve    Serve the HTTP API on this machine with these settings.  --port N (default 7071)  --host H (default 127.0.0.1)
  evidence Write the assessor's bundle of a stored run (report, CSV, HTML, matrix, OSCAL, manifest) as a zip:
${EVIDENCE_USAGE}
  verify   Recompute the chain of runs from storage; name the first stored entity that no longer matches its seal:
${VERIFY_USAGE}

Exit status: 0 completed, 1 failed, 2 bad usage or settings, 3 noncompliant with --fail-on,
5 verify (or evidence) found a stored run that no longer matches its seal.
Settings are environment variables: see README.md.`;

async function auditCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean', default: false },
      input: { type: 'string', multiple: true },
      'no-store': { type: 'boolean', default: false },
      'no-email': { type: 'boolean', default: false },
      'fail-on': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values['fail-on'] !== undefined && values['fail-on'] !== 'noncompliant') {
    throw new InputError(`--fail-on takes "noncompliant"; got "${values['fail-on']}"`);
  }
  const config = loadConfig(io.env);
  const input = values.input?.length ? await readExports(values.input) : undefined;
  const service = new AuditService(config);
  const progress = createProgressDisplay(io.stderr);
  const report = await service
    .audit({
      trigger: 'cli',
      runId: newRunId(new Date()),
      store: !values['no-store'],
      log: (m) => progress.log(m),
      onProgress: (p) => progress.update(p),
      ...(input ? { input } : {}),
    })
    .finally(() => progress.done());
  if (values.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else io.stdout.write(`${summaryText(report)}\n`);
  if (!values['no-email'] && !values['no-store']) await emailAfterAudit(service, report.run.id, io);
  if (values['fail-on'] === 'noncompliant' && report.summary.noncompliant > 0) return EXIT.noncompliant;
  return EXIT.ok;
}

async function reportCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { run: { type: 'string' }, format: { type: 'string', default: 'json' } },
    strict: true,
  });
  if (values.run !== undefined && !runIdPattern.test(values.run)) {
    throw new InputError(`--run must be a run ID like 20261129T060000Z-3f9a1c; got "${values.run}"`);
  }
  if (!['json', 'text'].includes(values.format)) throw new InputError(`--format must be json or text`);
  const config: Config = loadConfig(io.env);
  const store = new AuditService(config).store;
  const runId = values.run ?? (await store.getLatestRun({ statuses: ['succeeded', 'partial'] }))?.id;
  const report = runId ? await store.getReport(runId) : undefined;
  if (!report) {
    io.stderr.write(values.run ? `No stored run ${values.run}.\n` : 'No completed run is stored yet.\n');
    return EXIT.failed;
  }
  io.stdout.write(
    values.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : `${summaryText(report)}\n`,
  );
  return EXIT.ok;
}

export async function main(
  argv: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'audit':
        return await auditCommand(args, io);
      case 'report':
        return await reportCommand(args, io);
      case 'exemptions':
        return await exemptionsCommand(args, io);
      case 'email':
        return await emailCommand(args, io, new AuditService(loadConfig(io.env)));
      case 'serve':
        return await serveCommand(args, io);
      case 'evidence':
        return await evidenceCommand(args, io, () => new AuditService(loadConfig(io.env)));
      case 'verify':
        return await verifyCommand(args, io, () => new AuditService(loadConfig(io.env)));
      case 'demo': {
        // Loaded on demand: the demo needs the emulators and Azurite, which are dev dependencies.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const demo = require('./demoCommand') as typeof import('./demoCommand');
        return await demo.demoCommand(args, io);
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(`${USAGE}\n`);
        return command === undefined ? EXIT.usage : EXIT.ok;
      default:
        io.stderr.write(`Unknown command "${command}".\n\n${USAGE}\n`);
        return EXIT.usage;
    }
  } catch (error) {
    if (error instanceof ConfigError || error instanceof InputError) {
      io.stderr.write(`${error.message}\n`);
      return EXIT.usage;
    }
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
      return EXIT.usage;
    }
    if (error instanceof AuditInProgressError) {
      io.stderr.write(`${error.message}\n`);
      return EXIT.failed;
    }
    io.stderr.write(`Audit failed: ${describeError(error)}\n`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
