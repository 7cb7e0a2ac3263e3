// `aks-fips-auditor report`: a stored run as the API serves it (JSON, CSV, HTML) or as the terminal summary.

import { App } from '../app';
import { loadConfig } from '../config';
import { COMPLETED_STATUSES } from '../core/run';
import { runIdPattern } from '../core/runId';
import { InputError } from '../errors';
import type { CliCommand } from './cliCommand';
import type { CliIo } from './cliIo';
import { EXIT } from './exitCodes';
import { openFramedReport } from './framedReport';
import { checkWritable, formatOption, type ReportFormat, resolveFormat, storedHistory } from './reportOutput';
import { writeReport, writeReportToFile } from './reportWriter';

export interface ReportCommandOptions {
  run?: string;
  format?: ReportFormat;
  out?: string;
}

export async function runReportCommand(options: ReportCommandOptions, io: CliIo): Promise<number> {
  if (options.run !== undefined && !runIdPattern.test(options.run)) {
    throw new InputError(`--run must be a run ID like 20261129T060000Z-3f9a1c; got "${options.run}"`);
  }
  const format = resolveFormat(options.format, options.out, 'json');
  if (options.out !== undefined) await checkWritable(options.out);
  const store = new App(loadConfig(io.env)).stores.reports;
  const runId = options.run ?? (await store.getLatestRun({ statuses: COMPLETED_STATUSES }))?.id;
  const report = runId ? await openFramedReport(store, runId) : undefined;
  if (!report) {
    io.stderr.write(options.run ? `No stored run ${options.run}.\n` : 'No completed run is stored yet.\n');
    return EXIT.failed;
  }
  const history = format === 'html' ? await storedHistory(store, report.head.run.id) : undefined;
  if (options.out === undefined) {
    // Written as it is read: JSON and CSV hold one frame of pools at a time, never the run.
    await writeReport(io.stdout, format, report, history);
  } else {
    const path = await writeReportToFile(options.out, format, report, history);
    io.stdout.write(`Report of run ${report.head.run.id} (${format}): ${path}\n`);
  }
  return EXIT.ok;
}

export const reportCommand: CliCommand = {
  name: 'report',
  summary: 'Print or write a stored run: the report files the API serves, or the terminal summary.',
  failure: 'Could not read the report',
  configure(command, { io, exit }) {
    command
      .option('--run <id>', 'the run (default: the latest completed run)')
      .addOption(
        formatOption(
          'the report as the API serves it, or the terminal summary (text); default json, or what --out ends in',
        ),
      )
      .option(
        '--out <file>',
        'write the report to FILE instead of stdout (its extension may name the format)',
      )
      .addHelpText(
        'after',
        `
Examples:
  aks-fips-auditor report --format csv --out findings.csv
  aks-fips-auditor report --run 20261129T060000Z-3f9a1c --format html --out report.html`,
      )
      .action(async (options: ReportCommandOptions) => exit(await runReportCommand(options, io)));
  },
};
