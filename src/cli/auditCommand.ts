// `aks-fips-auditor audit`: one audit with the environment's settings, its report in any format, a trustworthy exit.

import { Option } from 'commander';

import { App } from '../app';
import { loadConfig } from '../config';
import { InputError } from '../errors';
import type { CliCommand } from './cliCommand';
import type { CliIo } from './cliIo';
import { auditExitCode, auditExitReason, collectFailOn, EXIT_STATUS_HELP, type FailOn } from './exitCodes';
import { type FramedReport, openFramedReport } from './framedReport';
import { createProgressDisplay } from './progress';
import { readExports } from './readExport';
import { checkWritable, formatOption, type ReportFormat, resolveFormat, storedHistory } from './reportOutput';
import { writeReport, writeReportToFile } from './reportWriter';

export interface AuditCommandOptions {
  format?: ReportFormat;
  json?: boolean;
  out?: string;
  input?: string[];
  /** False with --no-store. */
  store: boolean;
  /** False with --no-email. */
  email: boolean;
  failOn?: FailOn[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export async function runAuditCommand(options: AuditCommandOptions, io: CliIo): Promise<number> {
  if (options.json && options.format && options.format !== 'json') {
    throw new InputError(`--json is --format json; it cannot be combined with --format ${options.format}`);
  }
  const format = resolveFormat(options.json ? 'json' : options.format, options.out, 'text');
  if (options.out !== undefined) await checkWritable(options.out);
  const failOn = options.failOn ?? [];
  const config = loadConfig(io.env);
  const input = options.input?.length ? await readExports(options.input) : undefined;
  const progress = createProgressDisplay(io.stderr);
  // The same pipeline the Function App runs, its queue in this process; the digest goes out (per EMAIL_MODE)
  // from the completion hook, as after a scheduled run, unless --no-email or --no-store.
  const app = new App(config, {
    store: options.store,
    email: options.email,
    log: (m) => progress.log(m),
    onProgress: (_runId, p) => progress.update(p),
    ...(input ? { input } : {}),
  });
  let report: FramedReport;
  try {
    const run = await app.runAudit({ trigger: 'cli' });
    progress.log(requestsLine(app, options.store));
    const stored = await openFramedReport(app.stores.reports, run.id);
    if (!stored) throw new Error(`Run ${run.id} has no report`);
    report = stored;
  } finally {
    progress.done();
    app.close();
  }

  const history =
    format === 'html' && options.store
      ? await storedHistory(app.stores.reports, report.head.run.id)
      : undefined;
  if (options.out !== undefined) {
    const path = await writeReportToFile(options.out, format, report, history);
    // The report is in the file, so stdout is free for the person at the terminal.
    await writeReport(io.stdout, 'text', report);
    io.stdout.write(`Report (${format}): ${path}\n`);
  } else {
    // Written as it is read: a 100,000-pool report is never in memory whole (HTML aside).
    await writeReport(io.stdout, format, report, history);
  }
  const outcome = { status: report.head.run.status, summary: report.head.summary };
  const reason = auditExitReason(outcome, failOn);
  if (reason) io.stderr.write(`${reason}\n`);
  return auditExitCode(outcome, failOn);
}

const count = (n: number) => n.toLocaleString('en-US');

/** What the audit asked of Azure, for whoever watches its cost or its throttling (stderr, after the run). */
function requestsLine(app: App, stored: boolean): string {
  const { graph, images } = app.readerStats();
  const parts = [
    `Resource Graph ${count(graph.requests)} (${count(graph.throttled)} throttled)`,
    `node image look-ups ${count(images.requests)}`,
  ];
  if (stored) {
    const tables = app.tables.stats;
    parts.push(
      `Table Storage ${count(tables.requests)} (${count(tables.transactions)} transactions, ${count(tables.entitiesWritten)} entities written, ${count(tables.throttled)} throttled)`,
    );
  }
  return `Requests: ${parts.join('; ')}`;
}

export const auditCommand: CliCommand = {
  name: 'audit',
  summary: 'Run one audit with the settings in the environment, and store it like the timer does.',
  failure: 'Audit failed',
  configure(command, { io, exit }) {
    command
      .addOption(
        formatOption(
          'the report as the API serves it, or the terminal summary (text); default text, or what --out ends in',
        ),
      )
      .option('--json', 'the report JSON on stdout: the same as --format json')
      .option('--out <file>', 'write the report to FILE (the summary goes to stdout)')
      .option(
        '--input <file>',
        'audit an export instead of Resource Graph (az aks list -o json, az graph query -o json); repeatable',
        collect,
      )
      .option('--no-store', 'do not write the run to Table Storage')
      .option('--no-email', 'do not send the digest (EMAIL_MODE decides otherwise)')
      .addOption(
        new Option(
          '--fail-on <statuses>',
          'exit 3 when a succeeded run has pools of these statuses: noncompliant, unknown (comma-separated or repeated)',
        ).argParser(collectFailOn),
      )
      .addHelpText(
        'after',
        `
Progress and logs go to stderr; stdout holds only the report (or the summary).

${EXIT_STATUS_HELP}

Examples:
  aks-fips-auditor audit --fail-on noncompliant,unknown
  aks-fips-auditor audit --format html --out report.html
  aks-fips-auditor audit --input clusters.json --no-store --json > report.json`,
      )
      .action(async (options: AuditCommandOptions) => exit(await runAuditCommand(options, io)));
  },
};
