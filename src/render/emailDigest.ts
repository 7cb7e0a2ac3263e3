// The email digest of one run: subject, Outlook-safe inline-styled HTML and plain text, from a run and its diff.

import { compliancePercentCell, compliancePercentText } from '../core/compliancePercent';
import type { RunDiff } from '../core/diffRuns';
import { fixFirst, fixFirstCount, type FixFirstItem } from '../core/fixFirst';
import type {
  Finding,
  PoolResult,
  Report,
  RunStatus,
  ScopeError,
  StatusCounts,
  Summary,
} from '../core/types';
import { unreadableScopes } from '../core/unreadableScopes';
import { codeSpans } from './codeSpans';
import { escapeHtml, safeHref } from './escapeHtml';
import { matrixSourceLinkHtml } from './matrixSourceLinks';
import { summaryWithBreakdowns } from './summaryWithBreakdowns';

/** Rows shown per list of pools at most; the rest are counted and linked (the CSV attachment has every pool). */
export const DIGEST_MAX_ROWS = 20;
/**
 * The HTML the per-pool lists may fill, with everything above them: Gmail clips a message body past about 102 KB,
 * so rows stop before that and the rest are counted and linked.
 */
export const DIGEST_HTML_BUDGET_BYTES = 90_000;
/** The widest the message gets (Outlook's reading pane and most clients show 600-700 px); fluid below it. */
export const DIGEST_WIDTH_PX = 680;
/** Fix-first items, and subscription and owner rows, shown; the report has them all. */
export const DIGEST_BREAKDOWN_ROWS = 10;
/** Runs drawn in the trend. */
export const DIGEST_TREND_RUNS = 14;

/** One stored run for the trend; `summary` is null for a run that failed. */
export interface DigestTrendPoint {
  runId: string;
  startedAt: string;
  status: RunStatus;
  summary: Summary | null;
}

/** A digest of an earlier run that could not be sent, mentioned so its news is not lost. */
export interface EarlierFailure {
  runId: string;
  at: string;
  reason: string;
}

/** What is attached: every pool, only the pools that need attention (too big otherwise), or nothing. */
export type DigestAttachment =
  { kind: 'full' | 'attention'; name: string; pools: number } | { kind: 'none'; reason: string };

export interface DigestInput {
  report: Report;
  diff: RunDiff;
  /** Stored runs, any order; the newest DIGEST_TREND_RUNS up to this run are drawn. */
  trend?: readonly DigestTrendPoint[];
  /** REPORT_BASE_URL; without it the digest has no links and says where the full list is. */
  reportBaseUrl: string | null;
  earlierFailures?: readonly EarlierFailure[];
  attachment?: DigestAttachment;
  maxRows?: number;
}

export interface RenderedDigest {
  subject: string;
  html: string;
  text: string;
}

const DAY_IN_MS = 86_400_000;
const COLORS = {
  text: '#1f2328',
  muted: '#57606a',
  line: '#d0d7de',
  bad: '#cf222e',
  ok: '#1a7f37',
  unknown: '#6e7781',
  exempt: '#8250df',
  warnBg: '#fff8c5',
  warnLine: '#d4a72c',
  badBg: '#ffebe9',
  head: '#f6f8fa',
} as const;
const FONT = "font-family:'Segoe UI',Arial,Helvetica,sans-serif;";

const count = (n: number): string => n.toLocaleString('en-US');
const plural = (n: number, one: string, many = `${one}s`): string => `${count(n)} ${n === 1 ? one : many}`;

/** Control characters (a newline in a hostile name could forge lines of the text part) become spaces. */
function plain(value: string | null | undefined): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this replaces
  return (value ?? '').replace(/[\u0000-\u001F\u007F\u2028\u2029]+/g, ' ');
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

function minute(iso: string | null): string {
  return iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : '—';
}

/** Unreadable scopes named at the top of a partial run's digest, so it reads as the alert it doubles as. */
export const DIGEST_TOP_SCOPES = 5;

/** The scopes a partial run's digest names first, with how to fix each (the full list is further down). */
function unreadableAtTop(report: Report): ScopeError[] {
  return unreadableScopes(report.errors).slice(0, DIGEST_TOP_SCOPES);
}

function percentText(summary: Summary): string {
  return compliancePercentText(summary);
}

function signed(n: number): string {
  return n > 0 ? `+${count(n)}` : n < 0 ? `−${count(-n)}` : '±0';
}

/** The subject tells the state at a glance and carries no value from Azure (names stay in the body). */
export function digestSubject(report: Report, diff: RunDiff): string {
  const { summary } = report;
  const changes: string[] = [];
  if (diff.newNoncompliant.length) {
    changes.push(`${plural(diff.newNoncompliant.length, 'new noncompliant node pool')}`);
  }
  if (diff.resolved.length) changes.push(`${count(diff.resolved.length)} resolved`);
  if (diff.newlyUnknown.length) changes.push(`${count(diff.newlyUnknown.length)} newly unknown`);
  if (diff.lapsedExemptions.length)
    changes.push(plural(diff.lapsedExemptions.length, 'exemption') + ' lapsed');
  if (diff.expiringExemptions.length) {
    changes.push(`${plural(diff.expiringExemptions.length, 'exemption')} expiring`);
  }
  let lead: string;
  if (diff.previousRunId === null) {
    lead = `First audit: ${plural(summary.noncompliant, 'noncompliant node pool')}`;
  } else if (changes.length) {
    lead = changes.join(', ');
  } else {
    lead = summary.noncompliant
      ? `No change: ${plural(summary.noncompliant, 'noncompliant node pool')}`
      : `No change: no noncompliant node pools`;
  }
  // An incomplete run says so first: its figures leave out what could not be read.
  if (report.run.status === 'partial') {
    return `[FIPS audit] Audit incomplete: ${plural(report.errors.length, 'scope')} could not be read — ${lead} — ${percentText(summary)}`;
  }
  return `[FIPS audit] ${lead} — ${percentText(summary)}`;
}

function reportLink(base: string | null, runId: string, filter = ''): string | null {
  if (!base) return null;
  return `${base.replace(/\/+$/, '')}/api/report?runId=${encodeURIComponent(runId)}&format=html${filter}`;
}

/** What to fix first, from the summary's counts by code. */
function fixFirstOf(report: Report): FixFirstItem[] {
  return fixFirst(summaryWithBreakdowns(report).byCode ?? []);
}

/** Noncompliant pools per subscription in the previous good run, when it counted them. */
function previousBySubscription(diff: RunDiff): Map<string, number> | null {
  const rows = diff.previousSummary?.bySubscription;
  return rows ? new Map(rows.map((r) => [r.subscriptionId.toLowerCase(), r.noncompliant])) : null;
}

function changeText(now: number, before: number | undefined): string {
  return before === undefined ? 'new' : signed(now - before);
}

// ---- HTML pieces: every value from Azure goes through escapeHtml (or safeHref for links) ----

const CODE_STYLE = `font-family:Consolas,'Courier New',monospace;font-size:12px;background-color:#f6f8fa;overflow-wrap:anywhere;`;
/** Long IDs and commands wrap anywhere rather than widen the message on a phone. */
const WRAP = 'word-break:break-word;overflow-wrap:anywhere;';

/** Escaped text with `backtick` spans (the commands in remediations) set as code. */
function richHtml(value: string): string {
  return codeSpans(value)
    .map((span) =>
      span.code ? `<code style="${CODE_STYLE}">${escapeHtml(span.text)}</code>` : escapeHtml(span.text),
    )
    .join('');
}

function subscriptionLabel(pool: PoolResult): string {
  return pool.subscriptionName ? `${pool.subscriptionName} (${pool.subscriptionId})` : pool.subscriptionId;
}

function poolCell(pool: PoolResult): string {
  const os = [pool.osSku ?? pool.osType, pool.kubernetesVersion && `Kubernetes ${pool.kubernetesVersion}`]
    .filter(Boolean)
    .join(' · ');
  return (
    `<b>${escapeHtml(pool.cluster)} / ${escapeHtml(pool.pool)}</b><br>` +
    `<span style="color:${COLORS.muted};font-size:12px;">${escapeHtml(subscriptionLabel(pool))}<br>` +
    `resource group ${escapeHtml(pool.resourceGroup)} · ${escapeHtml(pool.location)}${os ? ` · ${escapeHtml(os)}` : ''}` +
    `${pool.owner ? ` · owner ${escapeHtml(pool.owner)}` : ''}</span>`
  );
}

/** The findings that decide the status, each with its fix; lesser findings as codes. */
function blocking(pool: PoolResult): Finding[] {
  const main = pool.findings.filter((f) => f.severity === 'high' || f.undecided);
  return main.length ? main : pool.findings.slice(0, 1);
}

function findingsHtml(pool: PoolResult): string {
  const main = blocking(pool);
  const others = pool.findings.filter((f) => !main.includes(f));
  const items = main.map(
    (f) =>
      `<b style="color:${COLORS.bad};">${escapeHtml(f.code)}</b> ${escapeHtml(f.message)}<br>` +
      `<span style="color:${COLORS.muted};">Fix:</span> ${richHtml(f.remediation)}`,
  );
  if (others.length) {
    items.push(
      `<span style="color:${COLORS.muted};font-size:12px;">Also: ${others.map((f) => `${escapeHtml(f.code)} (${escapeHtml(f.severity)})`).join(', ')}</span>`,
    );
  }
  return items.join('<br>');
}

const TD = `style="${FONT}font-size:13px;line-height:18px;padding:8px;border-top:1px solid ${COLORS.line};vertical-align:top;text-align:left;${WRAP}"`;
const TH = `style="${FONT}font-size:11px;line-height:15px;padding:6px 4px;background-color:${COLORS.head};color:${COLORS.muted};text-align:left;font-weight:bold;"`;
const THN = TH.replace('text-align:left', 'text-align:right');
const TDN = `style="${FONT}font-size:13px;line-height:18px;padding:6px 4px;border-top:1px solid ${COLORS.line};vertical-align:top;text-align:right;white-space:nowrap;"`;
const SECTION_TD = `style="padding:20px 16px 0 16px;${FONT}"`;
const H2 = `style="${FONT}font-size:17px;line-height:22px;margin:0 0 6px 0;color:${COLORS.text};"`;
const INTRO = `style="margin:0 0 8px 0;color:${COLORS.muted};font-size:13px;line-height:18px;"`;
const LINK = 'style="color:#0969da;"';

/** A list of pools: each row one cell (the pool, then what matters about it), so it reflows on a phone. */
interface Section<T> {
  title: string;
  intro?: string;
  rows: readonly T[];
  cell: (row: T) => string;
  /** Filter appended to the report link for "and N more". */
  filter: string;
}

/** Bytes left for rows: sections take rows from it in order, so the message stays under the clipping size. */
interface Budget {
  bytes: number;
}

function moreHtml(rest: number, input: DigestInput, filter: string): string {
  const link = reportLink(input.reportBaseUrl, input.report.run.id, filter);
  const href = link ? safeHref(link) : null;
  return `<tr><td ${TD}><b>…and ${count(rest)} more.</b> ${
    href
      ? `<a href="${href}" ${LINK}>See them all in the report</a>${input.attachment?.kind === 'none' ? '' : ' or the attached CSV'}.`
      : input.attachment?.kind === 'none'
        ? 'See them all with <code>aks-fips-auditor report</code>.'
        : 'See them all in the attached CSV.'
  }</td></tr>`;
}

function sectionHtml<T>(section: Section<T>, input: DigestInput, maxRows: number, budget: Budget): string {
  if (section.rows.length === 0) return '';
  // The heading, the table and the "…and N more" row are paid for before any row.
  budget.bytes -= 800 + Buffer.byteLength(section.title) + Buffer.byteLength(section.intro ?? '');
  const rows: string[] = [];
  for (const row of section.rows.slice(0, maxRows)) {
    const html = `<tr><td ${TD}>${section.cell(row)}</td></tr>`;
    const bytes = Buffer.byteLength(html);
    if (bytes > budget.bytes) break;
    budget.bytes -= bytes;
    rows.push(html);
  }
  const rest = section.rows.length - rows.length;
  return (
    `<tr><td ${SECTION_TD}>` +
    `<h2 ${H2}>${escapeHtml(section.title)} (${count(section.rows.length)})</h2>` +
    (section.intro ? `<p ${INTRO}>${section.intro}</p>` : '') +
    `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;border:1px solid ${COLORS.line};">` +
    rows.join('') +
    (rest ? moreHtml(rest, input, section.filter) : '') +
    `</table></td></tr>`
  );
}

function cardHtml(label: string, value: number, delta: number | null, color: string): string {
  return (
    `<td width="25%" align="center" style="${FONT}padding:8px 2px;border:1px solid ${COLORS.line};">` +
    `<div style="font-size:22px;line-height:28px;font-weight:bold;color:${color};">${count(value)}</div>` +
    `<div style="font-size:11px;line-height:15px;color:${COLORS.muted};">${label}${delta === null ? '' : `<br>${signed(delta)}`}</div></td>`
  );
}

/** Fix first: what to do, how many pools it touches, how many it makes compliant; the command as code. */
function fixFirstHtml(input: DigestInput): string {
  const items = fixFirstOf(input.report);
  if (items.length === 0) return '';
  const shown = items.slice(0, DIGEST_BREAKDOWN_ROWS);
  const rows = shown.map((item, i) => {
    const link = reportLink(input.reportBaseUrl, input.report.run.id, `&code=${item.code}`);
    const href = item.unit === 'pool' && link ? safeHref(link) : null;
    return (
      `<tr><td width="22" style="${FONT}font-size:14px;line-height:20px;padding:6px 4px 6px 0;vertical-align:top;color:${COLORS.muted};">${i + 1}.</td>` +
      `<td style="${FONT}font-size:14px;line-height:20px;padding:6px 0;vertical-align:top;${WRAP}">` +
      `<b>${escapeHtml(fixFirstCount(item))}</b>: ${richHtml(item.fix)} ` +
      `<span style="color:${COLORS.muted};font-size:12px;">(${escapeHtml(item.code)}, ${escapeHtml(item.severity)})</span>` +
      (item.resolves
        ? `<br><span style="color:${COLORS.ok};font-size:13px;">${count(item.resolves)} ${item.resolves === 1 ? 'becomes' : 'become'} compliant with this fix alone.</span>`
        : '') +
      (href ? ` <a href="${href}" ${LINK}>Show them</a>` : '') +
      `</td></tr>`
    );
  });
  const more =
    items.length > shown.length
      ? `<p ${INTRO}>${plural(items.length - shown.length, 'more finding code')} in the report.</p>`
      : '';
  return (
    `<tr><td ${SECTION_TD}><h2 ${H2}>Fix first</h2>` +
    `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">${rows.join('')}</table>${more}</td></tr>`
  );
}

function breakdownTableHtml(
  title: string,
  rows: readonly (StatusCounts & { label: string; change?: string })[],
  total: number,
  note: string,
): string {
  if (rows.length === 0) return '';
  const hasChange = rows.some((r) => r.change !== undefined);
  const body = rows
    .map(
      (r) =>
        `<tr><td ${TD}>${r.label}<br><span style="color:${COLORS.muted};font-size:12px;">${plural(r.pools, 'pool')}</span></td>` +
        `<td ${TDN}>${count(r.noncompliant)}${hasChange ? `<br><span style="color:${COLORS.muted};font-size:12px;">${escapeHtml(r.change ?? '')}</span>` : ''}</td>` +
        `<td ${TDN}>${count(r.unknown)}</td><td ${TDN}>${escapeHtml(compliancePercentCell(r))}</td></tr>`,
    )
    .join('');
  return (
    `<tr><td ${SECTION_TD}><h2 ${H2}>${escapeHtml(title)}</h2>` +
    `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;border:1px solid ${COLORS.line};">` +
    `<tr><th ${TH}>${title === 'By owner' ? 'Owner' : 'Subscription'}</th><th ${THN}>Noncompliant${hasChange ? '<br>change' : ''}</th><th ${THN}>Unknown</th><th ${THN}>Compliant</th></tr>` +
    body +
    `</table>` +
    (rows.length < total
      ? `<p ${INTRO}>${count(rows.length)} of ${count(total)}, most noncompliant first; ${note}</p>`
      : '') +
    `</td></tr>`
  );
}

function subscriptionsHtml(input: DigestInput): string {
  const rows = summaryWithBreakdowns(input.report).bySubscription ?? [];
  // One subscription says nothing the headline did not.
  if (rows.length < 2) return '';
  const before = previousBySubscription(input.diff);
  return breakdownTableHtml(
    'By subscription',
    rows.slice(0, DIGEST_BREAKDOWN_ROWS).map((r) => ({
      ...r,
      label: r.other
        ? 'all other subscriptions'
        : escapeHtml(r.subscriptionName ? `${r.subscriptionName} (${r.subscriptionId})` : r.subscriptionId),
      ...(before && !r.other ? { change: changeText(r.noncompliant, before.get(r.subscriptionId)) } : {}),
    })),
    rows.length,
    'the report lists them all.',
  );
}

function ownersHtml(input: DigestInput): string {
  const rows = summaryWithBreakdowns(input.report).byOwner ?? [];
  if (rows.length === 0) return '';
  return breakdownTableHtml(
    'By owner',
    rows.slice(0, DIGEST_BREAKDOWN_ROWS).map((r) => ({
      ...r,
      label: r.other ? 'all other owners' : r.owner === null ? '<i>no owner tag</i>' : escapeHtml(r.owner),
    })),
    rows.length,
    'the report lists them all.',
  );
}

function trendPoints(input: DigestInput): DigestTrendPoint[] {
  const current: DigestTrendPoint = {
    runId: input.report.run.id,
    startedAt: input.report.run.startedAt,
    status: input.report.run.status,
    summary: input.report.summary,
  };
  const byId = new Map((input.trend ?? []).map((p) => [p.runId, p]));
  byId.set(current.runId, current);
  const until = Date.parse(current.startedAt);
  return [...byId.values()]
    .filter((p) => Date.parse(p.startedAt) <= until && p.status !== 'running')
    .sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt) || b.runId.localeCompare(a.runId))
    .slice(0, DIGEST_TREND_RUNS);
}

/** A bar cell; widths in percent of the row, so the bar reflows with the message. */
function barCell(percent: number, color: string | null): string {
  if (percent <= 0) return '';
  return color
    ? `<td width="${percent}%" height="10" bgcolor="${color}" style="width:${percent}%;height:10px;background-color:${color};font-size:1px;line-height:1px;">&nbsp;</td>`
    : `<td width="${percent}%" height="10" style="width:${percent}%;height:10px;font-size:1px;line-height:1px;">&nbsp;</td>`;
}

/** The trend as table cells with background colours: Outlook draws these, and no image is fetched. */
function trendHtml(points: DigestTrendPoint[]): string {
  if (points.length < 2) return '';
  const worst = Math.max(
    0,
    ...points.map((p) => (p.summary ? p.summary.noncompliant + p.summary.unknown : 0)),
  );
  const rows = points.map((p) => {
    const s = p.summary;
    let bar = '';
    let label: string;
    if (!s || p.status === 'failed') {
      label = `<span style="color:${COLORS.bad};">failed: no results</span>`;
    } else {
      const bad = worst ? Math.round((s.noncompliant / worst) * 100) : 0;
      const unknown = worst ? Math.min(100 - bad, Math.round((s.unknown / worst) * 100)) : 0;
      if (bad + unknown > 0) {
        bar =
          `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"><tr>` +
          barCell(bad, COLORS.bad) +
          barCell(unknown, COLORS.unknown) +
          barCell(100 - bad - unknown, null) +
          `</tr></table>`;
      }
      label =
        `${escapeHtml(percentText(s))} · ${count(s.noncompliant)} noncompliant · ${count(s.unknown)} unknown` +
        (p.status === 'partial' ? ' · <i>partial</i>' : '');
    }
    return (
      `<tr><td style="${FONT}font-size:12px;line-height:16px;padding:4px 0 2px 0;"><span style="color:${COLORS.muted};">${escapeHtml(minute(p.startedAt))}</span> ${label}</td></tr>` +
      (bar ? `<tr><td style="padding:0 0 4px 0;">${bar}</td></tr>` : '')
    );
  });
  return (
    `<tr><td ${SECTION_TD}>` +
    `<h2 ${H2}>Trend, last ${points.length} runs</h2>` +
    `<p ${INTRO}>Pools that need attention: <span style="color:${COLORS.bad};">■</span> noncompliant, <span style="color:${COLORS.unknown};">■</span> unknown. Newest first.</p>` +
    `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">${rows.join('')}</table></td></tr>`
  );
}

function daysBetween(fromIso: string, to: number): number {
  return Math.max(0, Math.floor((to - Date.parse(fromIso)) / DAY_IN_MS));
}

function sinceText(since: string | null, asOf: number): string {
  return since ? `${day(since)} (${plural(daysBetween(since, asOf), 'day')})` : 'unknown';
}

const RESOLVED_HOW: Record<'compliant' | 'exempt' | 'removed', string> = {
  compliant: 'now compliant',
  exempt: 'now exempt',
  removed: 'pool no longer exists',
};

const NEW_TAG = `<b style="color:${COLORS.bad};font-size:12px;">NEW</b> `;
const muted = (text: string) => `<span style="color:${COLORS.muted};">${text}</span>`;

function sections(input: DigestInput) {
  const { diff } = input;
  const asOf = Date.parse(input.report.run.startedAt);
  const partialNote =
    input.report.run.status === 'partial'
      ? ' Pools of scopes this run could not read are never counted as resolved.'
      : '';
  return {
    newNoncompliant: {
      title: 'New noncompliant node pools',
      intro: 'Noncompliant now and not in the previous run. Each finding says how to fix it.',
      rows: diff.newNoncompliant,
      cell: (p: PoolResult) => `${poolCell(p)}<br>${findingsHtml(p)}`,
      filter: '&status=noncompliant',
    } satisfies Section<PoolResult>,
    resolved: {
      title: 'Resolved',
      intro: `Noncompliant in the previous run and not now.${partialNote}`,
      rows: diff.resolved,
      cell: (r: RunDiff['resolved'][number]) =>
        `${poolCell(r.current ?? r.previous)}<br>${muted('Was:')} ${blocking(r.previous)
          .map((f) => escapeHtml(f.code))
          .join(', ')} · <span style="color:${COLORS.ok};">${RESOLVED_HOW[r.how]}</span>`,
      filter: '&status=compliant&status=exempt',
    } satisfies Section<RunDiff['resolved'][number]>,
    still: {
      title: 'Still noncompliant',
      intro: 'Longest-standing first.',
      rows: diff.stillNoncompliant,
      cell: (s: RunDiff['stillNoncompliant'][number]) =>
        `${poolCell(s.pool)}<br>${muted('Noncompliant since')} ${escapeHtml(sinceText(s.noncompliantSince, asOf))}<br>${findingsHtml(s.pool)}`,
      filter: '&status=noncompliant',
    } satisfies Section<RunDiff['stillNoncompliant'][number]>,
    unknown: {
      title: 'Unknown node pools',
      intro: 'Pools this audit could not judge. They are never counted as compliant.',
      rows: [
        ...diff.newlyUnknown.map((p) => ({ p, isNew: true })),
        ...diff.stillUnknown.map((p) => ({ p, isNew: false })),
      ],
      cell: (u: { p: PoolResult; isNew: boolean }) =>
        `${u.isNew ? NEW_TAG : ''}${poolCell(u.p)}<br>${findingsHtml(u.p)}`,
      filter: '&status=unknown',
    } satisfies Section<{ p: PoolResult; isNew: boolean }>,
    unreadable: {
      title: 'Scopes that could not be read',
      intro: 'Check that the auditor identity still has Reader on each scope, then run the audit again.',
      rows: diff.unreadableScopes,
      cell: (s: RunDiff['unreadableScopes'][number]) =>
        `${s.isNew ? NEW_TAG : ''}<code style="${CODE_STYLE}">${escapeHtml(s.scope)}</code><br>` +
        `<b>${escapeHtml(s.code)}</b> ${escapeHtml(s.message)}<br>${muted(`${plural(s.pools, 'pool')} reported unknown`)}`,
      filter: '&status=unknown&code=SCOPE_UNREADABLE',
    } satisfies Section<RunDiff['unreadableScopes'][number]>,
    expiring: {
      title: 'Exemptions expiring within 14 days',
      intro: 'Renew the exemption or fix the pool before it expires, or the pool turns noncompliant.',
      rows: diff.expiringExemptions,
      cell: (e: RunDiff['expiringExemptions'][number]) =>
        `${poolCell(e.pool)}<br>${muted('Expires')} ${escapeHtml(day(e.exemption.expiresOn))} · ${muted('owner')} ${escapeHtml(e.exemption.owner)}` +
        `${e.exemption.ticket ? ` · ${muted('ticket')} ${escapeHtml(e.exemption.ticket)}` : ''}<br>${muted('Reason:')} ${escapeHtml(e.exemption.reason)}`,
      filter: '&status=exempt',
    } satisfies Section<RunDiff['expiringExemptions'][number]>,
    lapsed: {
      title: 'Exemptions that lapsed',
      intro: 'Exempt in the previous run and no longer: the pool is judged on its findings again.',
      rows: diff.lapsedExemptions,
      cell: (e: RunDiff['lapsedExemptions'][number]) =>
        `${poolCell(e.pool)}<br>${muted('Exemption ended')} ${escapeHtml(day(e.exemption.expiresOn))} · ${muted('owner')} ${escapeHtml(e.exemption.owner)}` +
        `${e.exemption.ticket ? ` · ${muted('ticket')} ${escapeHtml(e.exemption.ticket)}` : ''} · ${muted('now')} ${escapeHtml(e.pool.status)}`,
      filter: '&status=noncompliant',
    } satisfies Section<RunDiff['lapsedExemptions'][number]>,
  };
}

function attachmentText(attachment: DigestAttachment | undefined): string {
  if (!attachment) return '';
  if (attachment.kind === 'none') return `No CSV attached: ${attachment.reason}`;
  if (attachment.kind === 'full')
    return `Attached: ${attachment.name}, every node pool of this run (${count(attachment.pools)}).`;
  return `Attached: ${attachment.name}, the ${count(attachment.pools)} pools that are not compliant (the full list is too large to mail).`;
}

export function renderDigestHtml(
  input: DigestInput,
  subject = digestSubject(input.report, input.diff),
): string {
  const { report, diff } = input;
  const { run, summary } = report;
  const maxRows = input.maxRows ?? DIGEST_MAX_ROWS;
  const previous = diff.previousSummary;
  const delta = (key: keyof StatusCounts) => (previous ? summary[key] - previous[key] : null);
  const link = reportLink(input.reportBaseUrl, run.id);
  const href = link ? safeHref(link) : null;
  const s = sections(input);
  const top: string[] = [];

  if (run.status === 'partial') {
    top.push(
      `<tr><td bgcolor="${COLORS.warnBg}" style="background-color:${COLORS.warnBg};border-bottom:2px solid ${COLORS.warnLine};padding:12px 16px;${FONT}font-size:14px;line-height:20px;">` +
        `<b>Partial run:</b> ${plural(report.errors.length, 'scope')} could not be read. Their pools are reported unknown, and none of them is counted as resolved. See “Scopes that could not be read” below.` +
        unreadableAtTop(report)
          .map(
            (e) =>
              `<br><code style="${CODE_STYLE}">${escapeHtml(e.scope)}</code> <b>${escapeHtml(e.code)}</b>: ${escapeHtml(e.message)}`,
          )
          .join('') +
        `</td></tr>`,
    );
  }
  top.push(
    `<tr><td style="padding:20px 16px 0 16px;${FONT}">` +
      `<h1 style="${FONT}font-size:22px;line-height:28px;margin:0 0 4px 0;color:${COLORS.text};">FIPS 140 audit of AKS node pools</h1>` +
      `<p style="margin:0;color:${COLORS.muted};font-size:13px;line-height:18px;">${escapeHtml(minute(run.startedAt))} · run ${escapeHtml(run.id)} · ${escapeHtml(run.cloud)} · ${count(summary.pools)} node pools in ${count(summary.clusters)} clusters and ${count(summary.subscriptions)} subscriptions</p>` +
      `<p style="margin:12px 0 0 0;font-size:18px;line-height:24px;"><b>${escapeHtml(percentText(summary))}</b>` +
      (previous
        ? ` <span style="color:${COLORS.muted};font-size:13px;">(previous good run: ${escapeHtml(percentText(previous))})</span>`
        : '') +
      `<br><span style="color:${COLORS.muted};font-size:12px;line-height:16px;">Exempt pools count as compliant; unknown pools are not judged.</span>` +
      `</p></td></tr>`,
  );
  top.push(
    `<tr><td style="padding:12px 16px 0 16px;"><table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;"><tr>` +
      cardHtml('noncompliant', summary.noncompliant, delta('noncompliant'), COLORS.bad) +
      cardHtml('unknown', summary.unknown, delta('unknown'), COLORS.unknown) +
      cardHtml('exempt', summary.exempt, delta('exempt'), COLORS.exempt) +
      cardHtml('compliant', summary.compliant, delta('compliant'), COLORS.ok) +
      `</tr></table></td></tr>`,
  );
  const changeLine = diff.previousRunId
    ? `Compared with the previous good run ${escapeHtml(diff.previousRunId)}: ${count(diff.newNoncompliant.length)} new noncompliant, ${count(diff.resolved.length)} resolved, ${count(diff.stillNoncompliant.length)} still noncompliant, ${count(diff.newlyUnknown.length)} newly unknown.`
    : 'This is the first audit on record, so every finding is new.';
  top.push(
    `<tr><td style="padding:12px 16px 0 16px;${FONT}font-size:14px;line-height:20px;${WRAP}">${changeLine}` +
      (href ? ` <a href="${href}" ${LINK}>Open the full report</a>.` : '') +
      `</td></tr>`,
  );
  const failures = input.earlierFailures ?? [];
  if (failures.length) {
    top.push(
      `<tr><td style="padding:12px 16px 0 16px;"><table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"><tr><td bgcolor="${COLORS.badBg}" style="background-color:${COLORS.badBg};border-left:4px solid ${COLORS.bad};padding:8px 12px;${FONT}font-size:13px;line-height:18px;${WRAP}">` +
        `<b>${plural(failures.length, 'earlier digest')} could not be sent</b>, so ${failures.length === 1 ? 'its' : 'their'} changes may not have reached you:<br>` +
        failures
          .slice(0, DIGEST_BREAKDOWN_ROWS)
          .map((f) => `run ${escapeHtml(f.runId)} (${escapeHtml(minute(f.at))}): ${escapeHtml(f.reason)}`)
          .join('<br>') +
        `</td></tr></table></td></tr>`,
    );
  }
  top.push(fixFirstHtml(input), subscriptionsHtml(input), ownersHtml(input), trendHtml(trendPoints(input)));

  // The title is the link text; a source without a clean https URL (runs stored before sources were data) is text.
  const sources = run.matrix.sourceDetails
    .map((source) => matrixSourceLinkHtml(source, ' style="color:#0969da;"'))
    .join(' · ');
  const footer =
    `<tr><td style="padding:24px 16px;${FONT}font-size:12px;line-height:17px;color:${COLORS.muted};${WRAP}">` +
    `FIPS matrix ${escapeHtml(run.matrix.version)} (${plural(run.matrix.sourceDetails.length, 'source')}${sources ? `: ${sources}` : ''}). Run ${escapeHtml(run.id)}, started by ${escapeHtml(run.trigger)} at ${escapeHtml(minute(run.startedAt))}, finished ${escapeHtml(minute(run.finishedAt))}.` +
    (input.attachment ? `<br>${escapeHtml(attachmentText(input.attachment))}` : '') +
    (href
      ? `<br>Full report: <a href="${href}" ${LINK}>${href}</a>`
      : '<br>Set REPORT_BASE_URL to link the full report from this email.') +
    `<br>Sent by aks-fips-auditor.</td></tr>`;

  const opening =
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${escapeHtml(subject)}</title></head>\n` +
    `<body style="margin:0;padding:0;background-color:${COLORS.head};">\n` +
    `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" bgcolor="${COLORS.head}" style="background-color:${COLORS.head};"><tr><td align="center" style="padding:12px 6px;">\n` +
    // Outlook for Windows (Word) ignores max-width: a fixed-width table for it alone.
    `<!--[if mso]><table role="presentation" width="${DIGEST_WIDTH_PX}" cellpadding="0" cellspacing="0" border="0"><tr><td><![endif]-->\n` +
    `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" bgcolor="#ffffff" style="width:100%;max-width:${DIGEST_WIDTH_PX}px;background-color:#ffffff;border:1px solid ${COLORS.line};${FONT}font-size:14px;line-height:20px;color:${COLORS.text};">\n`;
  const closing = `\n</table>\n<!--[if mso]></td></tr></table><![endif]-->\n</td></tr></table>\n</body></html>\n`;

  const fixed = opening + top.filter((p) => p !== '').join('\n') + footer + closing;
  const budget: Budget = { bytes: DIGEST_HTML_BUDGET_BYTES - Buffer.byteLength(fixed) };
  const lists = [s.newNoncompliant, s.resolved, s.lapsed, s.expiring, s.still, s.unknown, s.unreadable]
    .map((section) => sectionHtml(section as Section<unknown>, input, maxRows, budget))
    .filter((p) => p !== '');
  return opening + [...top.filter((p) => p !== ''), ...lists, footer].join('\n') + closing;
}

// ---- plain text ----

function poolLine(p: PoolResult): string {
  return `${plain(p.subscriptionName ?? p.subscriptionId)} / ${plain(p.resourceGroup)} / ${plain(p.cluster)} / ${plain(p.pool)}`;
}

function findingLines(p: PoolResult): string[] {
  const main = blocking(p);
  const lines = main.flatMap((f) => [
    `    ${f.code}: ${plain(f.message)}`,
    `      Fix: ${plain(f.remediation)}`,
  ]);
  const others = p.findings.filter((f) => !main.includes(f));
  if (others.length) lines.push(`    Also: ${others.map((f) => `${f.code} (${f.severity})`).join(', ')}`);
  return lines;
}

function textSection<T>(
  title: string,
  rows: readonly T[],
  lines: (row: T) => string[],
  input: DigestInput,
  filter: string,
  maxRows: number,
): string[] {
  if (rows.length === 0) return [];
  const out = ['', `${title} (${count(rows.length)})`, '-'.repeat(Math.min(72, title.length + 8))];
  for (const row of rows.slice(0, maxRows)) out.push(...lines(row));
  const rest = rows.length - Math.min(rows.length, maxRows);
  if (rest > 0) {
    const link = reportLink(input.reportBaseUrl, input.report.run.id, filter);
    out.push(
      `…and ${count(rest)} more: ${link ?? (input.attachment?.kind === 'none' ? 'see `aks-fips-auditor report`' : 'see the attached CSV')}`,
    );
  }
  return out;
}

export function renderDigestText(
  input: DigestInput,
  subject = digestSubject(input.report, input.diff),
): string {
  const { report, diff } = input;
  const { run, summary } = report;
  const maxRows = input.maxRows ?? DIGEST_MAX_ROWS;
  const asOf = Date.parse(run.startedAt);
  const previous = diff.previousSummary;
  const delta = (key: keyof StatusCounts) => (previous ? ` (${signed(summary[key] - previous[key])})` : '');
  const link = reportLink(input.reportBaseUrl, run.id);
  const lines: string[] = [subject, ''];
  if (run.status === 'partial') {
    lines.push(
      `PARTIAL RUN: ${plural(report.errors.length, 'scope')} could not be read. Their pools are reported unknown, and none of them is counted as resolved.`,
      ...unreadableAtTop(report).map((e) => `  ${plain(e.scope)}: ${plain(e.code)}: ${plain(e.message)}`),
      '',
    );
  }
  lines.push(
    `FIPS 140 audit of AKS node pools, ${minute(run.startedAt)}, run ${run.id} (${run.cloud})`,
    `${count(summary.pools)} node pools in ${count(summary.clusters)} clusters and ${count(summary.subscriptions)} subscriptions: ${percentText(summary)}${previous ? ` (previous good run: ${percentText(previous)})` : ''}; exempt pools count as compliant, unknown pools are not judged`,
    `  noncompliant ${count(summary.noncompliant)}${delta('noncompliant')} · unknown ${count(summary.unknown)}${delta('unknown')} · exempt ${count(summary.exempt)}${delta('exempt')} · compliant ${count(summary.compliant)}${delta('compliant')}`,
    diff.previousRunId
      ? `Compared with the previous good run ${diff.previousRunId}: ${count(diff.newNoncompliant.length)} new noncompliant, ${count(diff.resolved.length)} resolved, ${count(diff.stillNoncompliant.length)} still noncompliant, ${count(diff.newlyUnknown.length)} newly unknown.`
      : 'This is the first audit on record, so every finding is new.',
  );
  if (link) lines.push(`Full report: ${link}`);
  const failures = input.earlierFailures ?? [];
  if (failures.length) {
    lines.push('', `${plural(failures.length, 'earlier digest')} could not be sent:`);
    for (const f of failures.slice(0, maxRows))
      lines.push(`  run ${f.runId} (${minute(f.at)}): ${plain(f.reason)}`);
  }
  const fixes = fixFirstOf(report);
  if (fixes.length) {
    lines.push('', 'Fix first');
    fixes.slice(0, DIGEST_BREAKDOWN_ROWS).forEach((item, i) => {
      lines.push(
        `  ${i + 1}. ${fixFirstCount(item)}: ${plain(item.fix)} (${item.code}, ${item.severity})` +
          (item.resolves
            ? `; ${count(item.resolves)} ${item.resolves === 1 ? 'becomes' : 'become'} compliant with this fix alone`
            : ''),
      );
    });
    if (fixes.length > DIGEST_BREAKDOWN_ROWS)
      lines.push(`  …and ${plural(fixes.length - DIGEST_BREAKDOWN_ROWS, 'more finding code')} in the report`);
  }
  const breakdown = summaryWithBreakdowns(report);
  const subscriptions = breakdown.bySubscription ?? [];
  if (subscriptions.length >= 2) {
    const before = previousBySubscription(diff);
    lines.push('', 'By subscription (noncompliant, unknown, compliant)');
    for (const r of subscriptions.slice(0, DIGEST_BREAKDOWN_ROWS)) {
      const name = r.other ? 'all other subscriptions' : plain(r.subscriptionName ?? r.subscriptionId);
      const change =
        before && !r.other ? ` (${changeText(r.noncompliant, before.get(r.subscriptionId))})` : '';
      lines.push(
        `  ${name}: ${plural(r.pools, 'pool')}, ${count(r.noncompliant)} noncompliant${change}, ${count(r.unknown)} unknown, ${compliancePercentCell(r)} compliant`,
      );
    }
    if (subscriptions.length > DIGEST_BREAKDOWN_ROWS)
      lines.push(`  …${count(subscriptions.length - DIGEST_BREAKDOWN_ROWS)} more in the report`);
  }
  const owners = breakdown.byOwner ?? [];
  if (owners.length) {
    lines.push('', 'By owner (noncompliant, unknown, compliant)');
    for (const r of owners.slice(0, DIGEST_BREAKDOWN_ROWS)) {
      const name = r.other ? 'all other owners' : r.owner === null ? '(no owner tag)' : plain(r.owner);
      lines.push(
        `  ${name}: ${plural(r.pools, 'pool')}, ${count(r.noncompliant)} noncompliant, ${count(r.unknown)} unknown, ${compliancePercentCell(r)} compliant`,
      );
    }
    if (owners.length > DIGEST_BREAKDOWN_ROWS)
      lines.push(`  …${count(owners.length - DIGEST_BREAKDOWN_ROWS)} more in the report`);
  }
  const points = trendPoints(input);
  if (points.length >= 2) {
    lines.push('', `Trend, last ${points.length} runs (newest first)`);
    for (const p of points) {
      lines.push(
        `  ${minute(p.startedAt)}  ${
          p.summary && p.status !== 'failed'
            ? `${percentText(p.summary)}, ${count(p.summary.noncompliant)} noncompliant, ${count(p.summary.unknown)} unknown${p.status === 'partial' ? ' (partial)' : ''}`
            : 'failed: no results'
        }`,
      );
    }
  }
  lines.push(
    ...textSection(
      'New noncompliant node pools',
      diff.newNoncompliant,
      (p) => [`  ${poolLine(p)}`, ...findingLines(p)],
      input,
      '&status=noncompliant',
      maxRows,
    ),
    ...textSection(
      'Resolved',
      diff.resolved,
      (r) => [
        `  ${poolLine(r.current ?? r.previous)}: ${RESOLVED_HOW[r.how]} (was ${blocking(r.previous)
          .map((f) => f.code)
          .join(', ')})`,
      ],
      input,
      '&status=compliant&status=exempt',
      maxRows,
    ),
    ...textSection(
      'Exemptions that lapsed',
      diff.lapsedExemptions,
      (e) => [
        `  ${poolLine(e.pool)}: ended ${day(e.exemption.expiresOn)}, owner ${plain(e.exemption.owner)}${e.exemption.ticket ? `, ticket ${plain(e.exemption.ticket)}` : ''}; now ${e.pool.status}`,
      ],
      input,
      '&status=noncompliant',
      maxRows,
    ),
    ...textSection(
      'Exemptions expiring within 14 days',
      diff.expiringExemptions,
      (e) => [
        `  ${poolLine(e.pool)}: expires ${day(e.exemption.expiresOn)}, owner ${plain(e.exemption.owner)}${e.exemption.ticket ? `, ticket ${plain(e.exemption.ticket)}` : ''}; reason: ${plain(e.exemption.reason)}`,
      ],
      input,
      '&status=exempt',
      maxRows,
    ),
    ...textSection(
      'Still noncompliant',
      diff.stillNoncompliant,
      (s) => [
        `  ${poolLine(s.pool)}, since ${sinceText(s.noncompliantSince, asOf)}`,
        ...findingLines(s.pool),
      ],
      input,
      '&status=noncompliant',
      maxRows,
    ),
    ...textSection(
      'Unknown node pools',
      [
        ...diff.newlyUnknown.map((p) => ({ p, isNew: true })),
        ...diff.stillUnknown.map((p) => ({ p, isNew: false })),
      ],
      (u) => [`  ${u.isNew ? '[NEW] ' : ''}${poolLine(u.p)}`, ...findingLines(u.p)],
      input,
      '&status=unknown',
      maxRows,
    ),
    ...textSection(
      'Scopes that could not be read',
      diff.unreadableScopes,
      (s) => [
        `  ${s.isNew ? '[NEW] ' : ''}${plain(s.scope)}: ${plain(s.code)}: ${plain(s.message)} (${plural(s.pools, 'pool')} reported unknown)`,
      ],
      input,
      '&status=unknown&code=SCOPE_UNREADABLE',
      maxRows,
    ),
  );
  lines.push(
    '',
    `FIPS matrix ${run.matrix.version} (${plural(run.matrix.sourceDetails.length, 'source')}). Run ${run.id}, started by ${run.trigger} at ${minute(run.startedAt)}, finished ${minute(run.finishedAt)}.`,
  );
  if (input.attachment) lines.push(attachmentText(input.attachment));
  if (!link) lines.push('Set REPORT_BASE_URL to link the full report from this email.');
  lines.push('Sent by aks-fips-auditor.');
  return `${lines.join('\n')}\n`;
}

/** Subject, HTML and text of one run's digest. Pure: the same input always gives the same bytes. */
export function renderEmailDigest(input: DigestInput): RenderedDigest {
  const subject = digestSubject(input.report, input.diff);
  return { subject, html: renderDigestHtml(input, subject), text: renderDigestText(input, subject) };
}
