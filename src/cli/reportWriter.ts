// Writes a stored report to stdout or a file as it is read: JSON, CSV and HTML a frame of pools at a time, with backpressure.

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';

import { selectedPools } from '../core/pagePools';
import type { Report } from '../core/types';
import { InputError } from '../errors';
import type { ReportHistory } from '../render/reportHistory';
import { renderReportHtml, reportHtmlFrame, reportHtmlRow, showsOwner } from '../render/reportHtml';
import { reportCsvText, reportJsonText } from '../render/reportText';
import { summaryText } from '../render/summaryText';
import { attentionOf, type FramedReport } from './framedReport';
import type { ReportFormat } from './reportOutput';

/** Pools the text summary lists by name. */
const LISTED_POOLS = 20;

/** Waits when the stream's buffer is full: a slow reader of stdout slows the reading of storage, not memory. */
async function put(sink: NodeJS.WritableStream, text: string): Promise<void> {
  if (text && !sink.write(text)) await once(sink, 'drain');
}

async function putAll(sink: NodeJS.WritableStream, texts: AsyncIterable<string>): Promise<void> {
  for await (const text of texts) await put(sink, text);
}

/**
 * The report as JSON, byte for byte what `JSON.stringify(report, null, 2)` and a newline give, written as it is
 * read: the pools one frame at a time.
 */
export function writeReportJson(sink: NodeJS.WritableStream, report: FramedReport): Promise<void> {
  return putAll(sink, reportJsonText(report));
}

/** The report as CSV (renderReportCsv's text), a frame of rows at a time. */
export function writeReportCsv(sink: NodeJS.WritableStream, report: FramedReport): Promise<void> {
  return putAll(sink, reportCsvText(report));
}

/**
 * The HTML page of every pool, as renderReportHtml writes it from the whole report: its rows a frame at a time
 * between the page's head and foot. Needs the run's breakdowns (showsOwner reads byOwner instead of the pools).
 */
async function* reportHtmlText(report: FramedReport, history: ReportHistory): AsyncIterableIterator<string> {
  const page: Report = { ...report.head, pools: [], clusters: await report.clusters() };
  const showOwner = showsOwner(page.summary);
  const listed = report.frames.frames.reduce((sum, frame) => sum + frame.pools, 0);
  const { before, after } = reportHtmlFrame(page, history, { listed, showOwner });
  yield before;
  let first = true;
  for await (const frame of selectedPools(report.frames)) {
    let text = '';
    for (const pool of frame) {
      text += `${first ? '' : '\n'}${reportHtmlRow(pool, showOwner)}`;
      first = false;
    }
    yield text;
  }
  yield after;
}

/** The terminal summary: the head, and only the first pools that need attention. */
export async function reportSummaryText(report: FramedReport): Promise<string> {
  // A run stored before breakdowns were counted has them counted from its pools: read whole then.
  if (!report.head.summary.byCode || !report.head.summary.bySubscription) {
    return `${summaryText(await report.whole())}\n`;
  }
  const attention = await attentionOf(report, LISTED_POOLS);
  return `${summaryText({ ...report.head, pools: [], clusters: [] }, undefined, attention)}\n`;
}

/** Writes the report in `format` to `sink`, a frame of pools at a time (a run stored before breakdowns: HTML whole). */
export async function writeReport(
  sink: NodeJS.WritableStream,
  format: ReportFormat,
  report: FramedReport,
  history: ReportHistory = { trend: [], previous: null },
): Promise<void> {
  switch (format) {
    case 'json':
      return writeReportJson(sink, report);
    case 'csv':
      return writeReportCsv(sink, report);
    case 'html':
      // A run stored before breakdowns were counted: whether the page has an Owner column depends on its pools.
      if (!report.head.summary.byCode || !report.head.summary.bySubscription)
        return put(sink, renderReportHtml(await report.whole(), history).html);
      return putAll(sink, reportHtmlText(report, history));
    case 'text':
      return put(sink, await reportSummaryText(report));
  }
}

/** Writes the report to file `out` as it is read; returns the file's absolute path. */
export async function writeReportToFile(
  out: string,
  format: ReportFormat,
  report: FramedReport,
  history?: ReportHistory,
): Promise<string> {
  const path = resolve(out);
  const file = createWriteStream(path);
  let fileError: Error | null = null;
  file.on('error', (error) => (fileError ??= error));
  try {
    await writeReport(file, format, report, history);
    file.end();
    await once(file, 'finish');
  } catch (error) {
    const cause = fileError as Error | null;
    if (cause) throw new InputError(`--out ${out} cannot be written: ${cause.message}`);
    throw error;
  } finally {
    file.destroy();
  }
  return path;
}
