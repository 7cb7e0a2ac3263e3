// A report's JSON and CSV text produced a frame of pools at a time: the CLI writes it to stdout or a file, the
// API streams it as the response body. Either way memory holds one frame, never the run.

import { type PoolFrames, selectedPools } from '../core/pagePools';
import type { ClusterResult, PoolResult, PoolStatus, Report } from '../core/types';
import { csvHead, csvRecord } from './reportCsv';

/** The report without its pools and clusters: what every format starts with. */
export type ReportHead = Omit<Report, 'pools' | 'clusters'>;

/** A report whose pools are read a frame at a time, in the report's order. */
export interface FramedReportSource {
  head: ReportHead;
  frames: PoolFrames & { retainFrom?(index: number): void };
  clusters(): Promise<readonly ClusterResult[]>;
}

/** Which pools to write: statuses the frames' counts can answer, and any other test. */
export interface PoolSelection {
  statuses?: readonly PoolStatus[];
  matches?: (pool: PoolResult) => boolean;
}

/** A value as JSON.stringify(…, null, 2) writes it `depth` levels down. */
function nested(value: unknown, depth: number): string {
  return JSON.stringify(value, null, 2).replace(/\n/g, `\n${'  '.repeat(depth)}`);
}

/** One array of the report, a batch at a time: the text JSON.stringify(report, null, 2) has for it. */
async function* prettyArray<T>(batches: AsyncIterable<readonly T[]>): AsyncIterableIterator<string> {
  let first = true;
  for await (const batch of batches) {
    let text = '';
    for (const item of batch) {
      text += `${first ? '[\n    ' : ',\n    '}${nested(item, 2)}`;
      first = false;
    }
    if (text) yield text;
  }
  yield first ? '[]' : '\n  ]';
}

async function* single<T>(items: Promise<readonly T[]>): AsyncIterableIterator<readonly T[]> {
  yield await items;
}

/**
 * The whole report as indented JSON, byte for byte what `JSON.stringify(report, null, 2)` and a newline give:
 * the CLI's `--json` and `report --format json`.
 */
export async function* reportJsonText(report: FramedReportSource): AsyncIterableIterator<string> {
  const { head } = report;
  yield `{\n  "schemaVersion": ${nested(head.schemaVersion, 1)},\n  "run": ${nested(head.run, 1)},\n  "summary": ${nested(head.summary, 1)},\n  "pools": `;
  yield* prettyArray(selectedPools(report.frames));
  yield ',\n  "clusters": ';
  yield* prettyArray(single(report.clusters()));
  yield `,\n  "errors": ${nested(head.errors, 1)}\n}\n`;
}

/**
 * The API's report of every selected pool, compact, as `JSON.stringify` writes a page of the report
 * (render/reportJson.ts): the run's head, the selected pools, every cluster and error, then what the filters
 * matched and the page (one page: the whole selection). `filter` is the canonical filters the selection applies.
 */
export async function* reportPageJsonText(
  report: FramedReportSource,
  selection: PoolSelection,
  filter: object,
): AsyncIterableIterator<string> {
  const { head } = report;
  yield `{"schemaVersion":${JSON.stringify(head.schemaVersion)},"run":${JSON.stringify(head.run)},"summary":${JSON.stringify(head.summary)},"pools":[`;
  let returned = 0;
  for await (const batch of selectedPools(report.frames, selection)) {
    if (batch.length === 0) continue;
    let text = '';
    for (const pool of batch) text += (returned++ === 0 ? '' : ',') + JSON.stringify(pool);
    yield text;
  }
  const page = { offset: 0, top: null, returned, continuationToken: null, nextLink: null };
  yield `],"clusters":${JSON.stringify(await report.clusters())},"errors":${JSON.stringify(head.errors)}`;
  yield `,"filter":${JSON.stringify({ ...filter, matched: returned })},"page":${JSON.stringify(page)}}`;
}

/** The report as CSV (renderReportCsv's text for the same pools), a frame of rows at a time. */
export async function* reportCsvText(
  report: FramedReportSource,
  selection: PoolSelection = {},
): AsyncIterableIterator<string> {
  yield csvHead();
  // The columns read the run's ID and start time from the report; no column reads its pools.
  const context: Report = { ...report.head, pools: [], clusters: [] };
  for await (const frame of selectedPools(report.frames, selection)) {
    let text = '';
    for (const pool of frame) text += csvRecord(pool, context);
    if (text) yield text;
  }
}
