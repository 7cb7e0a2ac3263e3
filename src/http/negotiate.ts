// Content negotiation for the report: `?format=` first, then the Accept header (RFC 9110 media ranges and q-values).

import { NotAcceptableError } from './problem';

export const REPORT_FORMATS = ['json', 'csv', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export const FORMAT_MEDIA_TYPES: Record<ReportFormat, string> = {
  json: 'application/json',
  csv: 'text/csv',
  html: 'text/html',
};

/** At most this many media ranges of an Accept header are read; the rest is ignored. */
const MAX_MEDIA_RANGES = 50;

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of header.split(',').slice(0, MAX_MEDIA_RANGES)) {
    const [mediaType = '', ...params] = part.split(';').map((s) => s.trim());
    const match = /^([a-z0-9!#$&^_.+-]+|\*)\/([a-z0-9!#$&^_.+-]+|\*)$/i.exec(mediaType);
    if (!match) continue;
    let q = 1;
    for (const param of params) {
      const qMatch = /^q\s*=\s*(\S+)$/i.exec(param);
      if (qMatch) q = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(qMatch[1] ?? '') ? Number(qMatch[1]) : Number.NaN;
    }
    if (Number.isNaN(q)) continue; // a malformed weight makes the range unusable, not the request
    ranges.push({ type: match[1]!.toLowerCase(), subtype: match[2]!.toLowerCase(), q });
  }
  return ranges;
}

/** The weight the client gives a media type: that of the most specific range matching it (0 when none does). */
function weightOf(mediaType: string, ranges: MediaRange[]): number {
  const [type, subtype] = mediaType.split('/') as [string, string];
  let best: { specificity: number; q: number } | null = null;
  for (const range of ranges) {
    const specificity =
      range.type === type && range.subtype === subtype
        ? 2
        : range.type === type && range.subtype === '*'
          ? 1
          : range.type === '*' && range.subtype === '*'
            ? 0
            : -1;
    if (specificity < 0) continue;
    if (!best || specificity > best.specificity) best = { specificity, q: range.q };
  }
  return best?.q ?? 0;
}

/**
 * Picks the report format. An explicit `?format=` wins (the query schema has already refused unknown
 * ones with 400). Otherwise the Accept header decides; JSON on a tie or without an Accept header, so
 * `*∕*` clients (dashboards, curl) get JSON and browsers (`text/html` first) get the page. 406 when the
 * client accepts none of the three.
 */
export function negotiateFormat(format: ReportFormat | undefined, accept: string | null): ReportFormat {
  if (format) return format;
  if (accept === null || accept.trim() === '') return 'json';
  const ranges = parseAccept(accept);
  let chosen: ReportFormat | null = null;
  let chosenWeight = 0;
  // Ties go to JSON, then HTML (a `text/*` client is more likely a browser than a spreadsheet).
  for (const candidate of ['json', 'html', 'csv'] as const) {
    const weight = weightOf(FORMAT_MEDIA_TYPES[candidate], ranges);
    if (weight > chosenWeight) {
      chosen = candidate;
      chosenWeight = weight;
    }
  }
  if (!chosen) {
    throw new NotAcceptableError(
      `None of the report's formats is acceptable to this client. Accept one of ${REPORT_FORMATS.map((f) => FORMAT_MEDIA_TYPES[f]).join(', ')}, or ask with ?format=json, csv or html.`,
    );
  }
  return chosen;
}
