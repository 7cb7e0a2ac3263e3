// A report as the file the API serves (JSON, CSV, HTML) or the terminal summary, written to stdout or a file.

import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';

import { Option } from 'commander';

import type { RunRecord } from '../core/run';
import type { Report } from '../core/types';
import { InputError } from '../errors';
import { renderReportCsv } from '../render/reportCsv';
import { type ReportHistory, reportHistory, TREND_RUNS } from '../render/reportHistory';
import { renderReportHtml } from '../render/reportHtml';
import { summaryText } from '../render/summaryText';
import type { RunReader } from '../store/runReports';

export const REPORT_FORMATS = ['json', 'csv', 'html', 'text'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** `--format`, with the allowed values in its help and in commander's error for any other. */
export function formatOption(description: string): Option {
  return new Option('--format <format>', description).choices(REPORT_FORMATS);
}

const FORMAT_OF_EXTENSION: Record<string, ReportFormat> = {
  '.json': 'json',
  '.csv': 'csv',
  '.html': 'html',
  '.htm': 'html',
  '.txt': 'text',
};

/**
 * The format asked for: `--format`, else what `--out`'s extension says, else `fallback`. An extension that says
 * nothing (`--out report`) needs `--format`, so nobody gets JSON in a file they meant to open in a browser.
 */
export function resolveFormat(
  format: ReportFormat | undefined,
  out: string | undefined,
  fallback: ReportFormat,
): ReportFormat {
  if (format) return format;
  if (out === undefined) return fallback;
  const byExtension = FORMAT_OF_EXTENSION[extname(out).toLowerCase()];
  if (!byExtension) {
    throw new InputError(
      `--out ${out}: say which format with --format ${REPORT_FORMATS.join('|')}, or end the file name in .json, .csv, .html or .txt`,
    );
  }
  return byExtension;
}

/**
 * The stored history the HTML report draws beside run `runId` (its trend, its previous good run of the same
 * scope), read as `GET /api/report?format=html` reads it. Empty when the run is not stored (`--no-store`).
 */
export async function storedHistory(reader: RunReader, runId: string): Promise<ReportHistory> {
  const runs: RunRecord[] = [];
  for await (const run of reader.listRuns({ top: TREND_RUNS })) runs.push(run);
  const current = runs.find((r) => r.id === runId) ?? (await reader.getRun(runId));
  return current ? reportHistory(runs, current) : { trend: [], previous: null };
}

/** The report in `format`, exactly as `GET /api/report?format=…` renders the whole run (text: the CLI summary). */
export function renderReport(
  format: ReportFormat,
  report: Report,
  history: ReportHistory = { trend: [], previous: null },
): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'csv':
      return renderReportCsv(report);
    case 'html':
      return renderReportHtml(report, history).html;
    case 'text':
      return `${summaryText(report)}\n`;
  }
}

/** Fails before any work when `--out`'s folder is missing or read-only: an audit is too long to lose to a typo. */
export async function checkWritable(out: string): Promise<void> {
  const folder = dirname(resolve(out));
  try {
    await access(folder, constants.W_OK);
  } catch {
    throw new InputError(`--out ${out}: the folder ${folder} does not exist or cannot be written`);
  }
}
