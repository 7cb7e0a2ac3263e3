// The report as CSV for Excel: one row per pool with its findings, RFC 4180, UTF-8 with BOM, formula-safe.

import type { PoolResult, Report } from '../core/types';

/** Excel reads a UTF-8 file as UTF-8 only when it starts with a byte order mark. */
export const UTF8_BOM = '\uFEFF';
/** RFC 4180 line breaks between records. */
const CRLF = '\r\n';
/** Several findings in one cell are one per line (Excel shows the line breaks inside the cell). */
export const CELL_LIST_SEPARATOR = '\n';

/** What an exemption with `codes: null` (every finding code) shows in the exemptionCodes cell. */
export const ALL_CODES = 'all codes';

/** The codes an exemption covers, one per line; ALL_CODES when it covers every code; empty without an exemption. */
function exemptionCodes(pool: PoolResult): string {
  if (!pool.exemption) return '';
  return pool.exemption.codes === null ? ALL_CODES : pool.exemption.codes.join(CELL_LIST_SEPARATOR);
}

/** The columns, in order, with how each is read from a pool; the header row uses these names. */
export const CSV_COLUMNS: readonly { name: string; value: (pool: PoolResult, report: Report) => string }[] = [
  { name: 'subscriptionName', value: (p) => p.subscriptionName ?? '' },
  { name: 'subscriptionId', value: (p) => p.subscriptionId },
  { name: 'resourceGroup', value: (p) => p.resourceGroup },
  { name: 'cluster', value: (p) => p.cluster },
  { name: 'pool', value: (p) => p.pool },
  { name: 'status', value: (p) => p.status },
  { name: 'codes', value: (p) => p.findings.map((f) => f.code).join(CELL_LIST_SEPARATOR) },
  { name: 'severities', value: (p) => p.findings.map((f) => f.severity).join(CELL_LIST_SEPARATOR) },
  { name: 'messages', value: (p) => p.findings.map((f) => f.message).join(CELL_LIST_SEPARATOR) },
  { name: 'remediations', value: (p) => p.findings.map((f) => f.remediation).join(CELL_LIST_SEPARATOR) },
  { name: 'exemptionId', value: (p) => p.exemption?.id ?? '' },
  { name: 'exemptionReason', value: (p) => p.exemption?.reason ?? '' },
  { name: 'exemptionTicket', value: (p) => p.exemption?.ticket ?? '' },
  { name: 'exemptionOwner', value: (p) => p.exemption?.owner ?? '' },
  { name: 'exemptionExpiresOn', value: (p) => p.exemption?.expiresOn ?? '' },
  { name: 'location', value: (p) => p.location },
  { name: 'osType', value: (p) => p.osType ?? '' },
  { name: 'osSku', value: (p) => p.osSku ?? '' },
  { name: 'kubernetesVersion', value: (p) => p.kubernetesVersion ?? '' },
  { name: 'nodeImageVersion', value: (p) => p.nodeImageVersion ?? '' },
  { name: 'enableFips', value: (p) => (p.enableFips === null ? '' : String(p.enableFips)) },
  { name: 'id', value: (p) => p.id },
  { name: 'runId', value: (_p, r) => r.run.id },
  { name: 'runStartedAt', value: (_p, r) => r.run.startedAt },
  // Appended, so the positions of the columns above never move for a sheet that reads them by position.
  { name: 'exemptionScope', value: (p) => p.exemption?.scope ?? '' },
  { name: 'exemptionCodes', value: (p) => exemptionCodes(p) },
  { name: 'exemptionCreatedBy', value: (p) => p.exemption?.createdBy ?? '' },
  { name: 'exemptionCreatedAt', value: (p) => p.exemption?.createdAt ?? '' },
  // The cluster's AUDIT_OWNER_TAG value; empty when the setting is off or the cluster has no such tag.
  { name: 'owner', value: (p) => p.owner ?? '' },
];

/**
 * A cell a spreadsheet would read as a formula (or a DDE payload) starts with `=`, `+`, `-`, `@`, a tab
 * or a carriage return: such a cell gets a leading single quote, which Excel and LibreOffice show as text.
 */
export function neutraliseFormula(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/** RFC 4180: a field with a comma, a double quote, CR or LF is quoted, its quotes doubled. */
export function csvField(value: string): string {
  const safe = neutraliseFormula(value);
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** What every CSV of a report starts with: the byte order mark and the header record. */
export function csvHead(): string {
  return UTF8_BOM + CSV_COLUMNS.map((c) => csvField(c.name)).join(',') + CRLF;
}

/** One pool's record, CRLF-terminated; `report` gives the run's columns (ID, start time). */
export function csvRecord(pool: PoolResult, report: Report): string {
  return CSV_COLUMNS.map((c) => csvField(c.value(pool, report))).join(',') + CRLF;
}

/** The pools given (the whole run, or a filtered selection of it) as CSV text, BOM first, CRLF line ends. */
export function renderReportCsv(report: Report, pools: readonly PoolResult[] = report.pools): string {
  let text = csvHead();
  for (const pool of pools) text += csvRecord(pool, report);
  return text;
}
