// A report as the file the API serves (JSON, CSV, HTML) or the terminal summary, written to stdout or a file.

import { constants } from 'node:fs';
import { access, writeFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';

import { Option } from 'commander';

import type { Report, RunStatus, RunTrigger } from '../core/types';
import { InputError } from '../errors';
import { renderReportCsv } from '../render/reportCsv';
import { renderReportHtml, type TrendPoint } from '../render/reportHtml';
import { summaryText } from '../render/summaryText';

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

/** A stored run as a point of the HTML page's trend chart (completed runs only, as the API draws them). */
export interface TrendRun {
  id: string;
  status: RunStatus;
  trigger: RunTrigger;
  startedAt: string;
  summary: { compliant: number; noncompliant: number; unknown: number };
}

export function trendPoints(runs: Iterable<TrendRun>): TrendPoint[] {
  const points: TrendPoint[] = [];
  for (const run of runs) {
    if (run.status !== 'succeeded' && run.status !== 'partial') continue;
    const { compliant, noncompliant, unknown } = run.summary;
    points.push({
      runId: run.id,
      startedAt: run.startedAt,
      status: run.status,
      compliant,
      noncompliant,
      unknown,
    });
  }
  return points;
}

/** The report in `format`, exactly as `GET /api/report?format=…` renders the whole run (text: the CLI summary). */
export function renderReport(
  format: ReportFormat,
  report: Report,
  trend: readonly TrendPoint[] = [],
): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'csv':
      return renderReportCsv(report);
    case 'html':
      return renderReportHtml(report, { trend }).html;
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

/** Writes the rendered report to `out` and returns its absolute path. */
export async function writeReportFile(out: string, text: string): Promise<string> {
  const path = resolve(out);
  try {
    await writeFile(path, text);
  } catch (error) {
    throw new InputError(`--out ${out} cannot be written: ${(error as Error).message}`);
  }
  return path;
}
