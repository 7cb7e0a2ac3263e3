// The report as one standalone HTML page: fix first, breakdowns, trend, one page of the pools table, matrix, errors.

import { randomBytes } from 'node:crypto';

import { compliancePercentCell, compliancePercentText, judgedPools } from '../core/compliancePercent';
import { parseExemptionScope } from '../core/exemptionRules';
import { fixFirst, fixFirstCount } from '../core/fixFirst';
import {
  type Finding,
  FINDING_CODES,
  type OwnerBreakdown,
  type PoolResult,
  type Report,
  type RunStatus,
  type StatusCounts,
  type SubscriptionBreakdown,
  type Summary,
} from '../core/types';
import { countTicks, timeTicks } from './chartAxes';
import { codeSpans } from './codeSpans';
import { escapeHtml } from './escapeHtml';
import { matrixSourceLinkHtml } from './matrixSourceLinks';
import { canonicalFilters, type ReportFilters } from './reportJson';
import { runStatusBannerHtml } from './runStatusBanner';

/** One stored run's counts, a point of the trend chart. */
export interface TrendPoint {
  runId: string;
  startedAt: string;
  status: RunStatus;
  compliant: number;
  noncompliant: number;
  exempt: number;
  unknown: number;
}

/** Which page of the (filtered) pools table the page shows. */
export interface TablePage {
  /** 1-based. */
  number: number;
  size: number;
  /** Pools of the run that pass the filters. */
  matched: number;
}

export interface ReportHtmlOptions {
  /** Stored runs for the trend chart, in any order (drawn on a time axis); the report's run is added if missing. */
  trend?: readonly TrendPoint[];
  /** The pools of this page of the table; the report's pools when absent. The summary is always the run's. */
  pools?: readonly PoolResult[];
  /** Which page `pools` is; one page of everything when absent. */
  page?: TablePage;
  /** The request's filters, kept in every link and in the filter form. */
  filters?: ReportFilters;
  /** The previous good run of the same scope, for the change of each subscription. */
  previous?: { runId: string; summary: Summary } | null;
  /** The run asked for by `runId`: links keep showing that run. Absent: links show the latest. */
  runId?: string;
  /**
   * The Functions key the page was opened with (`?code=`), carried in the page's own links and form so paging
   * keeps working for a reader who came from an email link. Never another value.
   */
  functionKey?: string;
  /** A fresh random value by default; pass one only in tests. */
  nonce?: string;
}

export interface RenderedHtml {
  html: string;
  /** The nonce of the page's one `<script>` and `<style>`: the response's Content-Security-Policy must name it. */
  nonce: string;
}

/** The policy for a page rendered with `nonce`: nothing loads from anywhere; only the page's own script and style run. */
export function reportContentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    'img-src data:',
    "base-uri 'none'",
    // The filter form submits to the page itself (GET), and nowhere else.
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Items of the fix-first list shown; the JSON summary has every code. */
export const FIX_FIRST_SHOWN = 8;
/** Rows of the subscription and owner tables shown, most noncompliant first; the JSON summary has them all. */
export const BREAKDOWN_ROWS_SHOWN = 15;
/** Clusters with findings listed; the JSON report has them all. */
export const CLUSTERS_SHOWN = 25;
/** Choices in the subscription and owner filters, most noncompliant first (plus the one selected). */
const FILTER_CHOICES = 500;

const SEVERITY_RANK: Record<Finding['severity'], number> = { high: 0, medium: 1, low: 2, info: 3 };

const STYLE = `
:root{color-scheme:light;--ok:#1a7f37;--bad:#cf222e;--unk:#6e7781;--ex:#8250df;--line:#d0d7de;--muted:#57606a;--link:#0969da}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;padding:20px;color:#1f2328;background:#fff;max-width:1400px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}
a{color:var(--link)}
#matrix li,#errors td{overflow-wrap:anywhere}
.meta{color:var(--muted);margin:0}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Consolas,monospace;background:#f6f8fa;padding:1px 4px;border-radius:4px;overflow-wrap:anywhere}
.headline{font-size:18px;margin:10px 0 0}.headline b{font-size:22px}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0 0;padding:0}
.card{border:1px solid var(--line);border-radius:8px;padding:8px 12px;min-width:110px;margin:0}
.card dt{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card dd{margin:0;font-size:22px;font-weight:600}
.card.compliant dd{color:var(--ok)}.card.noncompliant dd{color:var(--bad)}.card.unknown dd{color:var(--unk)}.card.exempt dd{color:var(--ex)}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff;background:var(--unk)}
.badge.compliant,.badge.succeeded{background:var(--ok)}.badge.noncompliant,.badge.failed{background:var(--bad)}
.badge.exempt{background:var(--ex)}.badge.partial,.badge.running{background:#9a6700}
.note{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:6px 10px;margin:10px 0}
.warn{background:#ffebe9;border:1px solid var(--bad);border-radius:6px;padding:6px 10px;margin:10px 0}
.banner p{margin:4px 0}.banner ul{margin:4px 0;padding-left:20px}.banner li{margin:0 0 4px;overflow-wrap:anywhere}
ol.fixes{margin:0;padding-left:22px}ol.fixes li{margin:0 0 8px}
.fixes .count{font-weight:700;font-size:15px}.fixes .resolves{color:var(--ok)}
.grid{display:flex;flex-wrap:wrap;gap:24px}.grid>section{flex:1 1 420px;min-width:0}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.up{color:var(--bad)}.down{color:var(--ok)}
svg{max-width:100%;height:auto;border:1px solid var(--line);border-radius:8px}
.axis{stroke:var(--line)}.label{fill:var(--muted);font-size:11px}
.series{fill:none;stroke-width:2}.series.compliant{stroke:var(--ok)}.series.noncompliant{stroke:var(--bad)}.series.unknown{stroke:var(--unk)}.series.exempt{stroke:var(--ex)}
.dot.compliant{fill:var(--ok)}.dot.noncompliant{fill:var(--bad)}.dot.unknown{fill:var(--unk)}.dot.exempt{fill:var(--ex)}
.legend{display:flex;flex-wrap:wrap;gap:16px;margin:6px 0 0;padding:0;list-style:none;color:var(--muted)}
.legend span{display:inline-block;width:12px;height:3px;margin-right:6px;vertical-align:middle}
.legend .compliant span{background:var(--ok)}.legend .noncompliant span{background:var(--bad)}.legend .unknown span{background:var(--unk)}.legend .exempt span{background:var(--ex)}
form.filters{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:flex-end;margin:0 0 10px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted);max-width:100%}
form.filters input,form.filters select,form.filters button{font:inherit;padding:4px 6px;max-width:100%}
.pager{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center;margin:8px 0}
.pager .pages a,.pager .pages b{margin-right:6px}
table.pools td:nth-child(2){min-width:300px}
table.pools td:nth-child(4) code{overflow-wrap:anywhere}
ul.findings{margin:0;padding-left:16px}ul.findings li{margin:0 0 4px}
details summary{cursor:pointer}
.sev{font-size:11px;font-weight:700;text-transform:uppercase}.sev.high{color:var(--bad)}.sev.medium{color:#9a6700}.sev.low,.sev.info{color:var(--muted)}
.fix{color:var(--muted);margin:4px 0}.small{font-size:12px;color:var(--muted)}
button.copy{font:11px system-ui,sans-serif;margin-left:4px;padding:0 6px;border:1px solid var(--line);border-radius:4px;background:#fff;cursor:pointer}
@media (max-width:700px){
body{padding:12px}
.cards .card{min-width:0;flex:1 1 28%;padding:6px 8px}
.card dd{font-size:18px}
table.pools thead{display:none}
table.pools,table.pools tbody,table.pools tr,table.pools td{display:block;width:100%}
table.pools tr{border:1px solid var(--line);border-radius:8px;margin:0 0 10px;padding:4px 0}
table.pools td{border:0;padding:3px 10px;min-width:0}
table.pools td:nth-child(2){min-width:0}
table.pools td::before{content:attr(data-label);display:block;font-size:11px;color:var(--muted);text-transform:uppercase}
.breakdown thead{display:none}
.breakdown,.breakdown tbody,.breakdown tr{display:block;width:100%}
.breakdown tr{border-bottom:1px solid var(--line);padding:4px 0}
.breakdown td{display:inline-block;border:0;padding:1px 10px 1px 0}
.breakdown td:first-child{display:block;overflow-wrap:anywhere}
.breakdown td.n::before{content:attr(data-label) ": ";color:var(--muted);font-size:12px}
.grid>section{flex-basis:100%}
}
`;

// Static: it only wires the copy buttons and the filter selects; no data passes through it.
const SCRIPT = `
(function () {
  'use strict';
  document.querySelectorAll('button.copy').forEach(function (button) {
    button.hidden = false;
    button.addEventListener('click', function () {
      var code = button.previousElementSibling;
      var text = code ? code.textContent : '';
      var done = function () { button.textContent = 'copied'; setTimeout(function () { button.textContent = 'copy'; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { button.textContent = 'select and copy'; });
      } else {
        var range = document.createRange();
        range.selectNodeContents(code);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = 'selected: press Ctrl+C';
      }
    });
  });
  var form = document.getElementById('filters');
  if (form) {
    form.querySelectorAll('select').forEach(function (select) {
      select.addEventListener('change', function () { form.requestSubmit ? form.requestSubmit() : form.submit(); });
    });
    form.addEventListener('submit', function () {
      // Empty choices stay out of the URL.
      form.querySelectorAll('select, input[type=search]').forEach(function (field) { if (!field.value) field.disabled = true; });
    });
  }
})();
`;

const e = escapeHtml;
const count = (n: number): string => n.toLocaleString('en-US');

function formatTime(iso: string | null): string {
  if (!iso) return '—';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** Text with its backticked commands as `<code>`, each followed by a copy button (shown when script runs). */
function richText(text: string, copy = true): string {
  return codeSpans(text)
    .map((span) =>
      span.code
        ? `<code>${e(span.text)}</code>${copy ? '<button type="button" class="copy" hidden>copy</button>' : ''}`
        : e(span.text),
    )
    .join('');
}

/** Builds the page's own links: the run, the filters and the function key it was opened with. */
class LinkBuilder {
  constructor(
    private readonly base: { runId?: string; functionKey?: string },
    private readonly filters: ReportFilters,
  ) {}

  /** A query-only URL (`?…`), resolved against the page's own address. */
  to(changes: { format?: 'html' | 'csv' | 'json'; filters?: ReportFilters; page?: number } = {}): string {
    const params = new URLSearchParams();
    if (this.base.runId) params.set('runId', this.base.runId);
    params.set('format', changes.format ?? 'html');
    const filters = canonicalFilters(changes.filters ?? this.filters);
    for (const name of ['status', 'subscriptionId', 'osType', 'code'] as const) {
      for (const value of filters[name] ?? []) params.append(name, value);
    }
    if (filters.owner !== undefined) params.set('owner', filters.owner);
    if (filters.q !== undefined) params.set('q', filters.q);
    if (changes.page !== undefined && changes.page > 1) params.set('page', String(changes.page));
    if (this.base.functionKey) params.append('code', this.base.functionKey);
    return `?${params.toString()}`;
  }

  /** Hidden fields that keep the run and the key when the filter form is submitted. */
  hiddenFields(): string {
    const fields = ['<input type="hidden" name="format" value="html">'];
    if (this.base.runId) fields.push(`<input type="hidden" name="runId" value="${e(this.base.runId)}">`);
    if (this.base.functionKey)
      fields.push(`<input type="hidden" name="code" value="${e(this.base.functionKey)}">`);
    return fields.join('');
  }
}

/** How wide an exemption's scope is, in words (`scope` for one that is none of the four levels). */
function scopeLevel(scope: string): string {
  const parsed = parseExemptionScope(scope);
  if (!parsed.ok) return 'scope';
  const level = parsed.value.level;
  return level === 'resourceGroup' ? 'resource group' : level;
}

function exemptionText(pool: PoolResult): string {
  const x = pool.exemption;
  if (!x) return '';
  const ticket = x.ticket ? `, ticket ${e(x.ticket)}` : '';
  const codes = x.codes === null ? 'all codes' : x.codes.map((c) => `<code>${e(c)}</code>`).join(', ');
  return (
    `<div class="small exemption">Exempt until ${e(formatTime(x.expiresOn))}: ${e(x.reason)} (owner ${e(x.owner)}${ticket})` +
    `<div>Exemption <code class="exemption-id">${e(x.id)}</code> covers ${codes} for the ` +
    `${e(scopeLevel(x.scope))} <code class="exemption-scope">${e(x.scope)}</code>; created by ${e(x.createdBy)}</div></div>`
  );
}

function findingItem(f: Finding): string {
  return (
    `<li><span class="sev ${e(f.severity)}">${e(f.severity)}</span> <code>${e(f.code)}</code> ` +
    `<details><summary>${e(f.message)}</summary><div class="fix">Fix: ${richText(f.remediation)}</div></details></li>`
  );
}

function findingsCell(pool: PoolResult): string {
  if (pool.findings.length === 0) return '<td data-label="Findings"><span class="small">none</span></td>';
  const findings = [...pool.findings].sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
  return `<td data-label="Findings"><ul class="findings">${findings.map(findingItem).join('')}</ul></td>`;
}

function poolRow(pool: PoolResult, showOwner: boolean): string {
  const subscription = pool.subscriptionName
    ? `${e(pool.subscriptionName)} <code>${e(pool.subscriptionId)}</code>`
    : `<code>${e(pool.subscriptionId)}</code>`;
  const fips = pool.enableFips === null ? 'not set' : pool.enableFips ? 'on' : 'off';
  const os = [pool.osSku ?? 'no SKU', pool.kubernetesVersion && `Kubernetes ${pool.kubernetesVersion}`]
    .filter(Boolean)
    .join(' · ');
  return (
    `<tr data-status="${e(pool.status)}">` +
    `<td data-label="Status"><span class="badge ${e(pool.status)}">${e(pool.status)}</span>${exemptionText(pool)}</td>` +
    `<td data-label="Node pool"><b>${e(pool.cluster)} / ${e(pool.pool)}</b>` +
    `<div class="small">${subscription}<br>resource group ${e(pool.resourceGroup)} · ${e(pool.location)}</div></td>` +
    `<td data-label="OS">${e(pool.osType ?? 'unknown OS type')}<div class="small">${e(os)}</div></td>` +
    `<td data-label="Node image"><code>${e(pool.nodeImageVersion ?? '')}</code><div class="small">FIPS flag ${e(fips)}</div></td>` +
    (showOwner
      ? `<td data-label="Owner">${pool.owner ? e(pool.owner) : '<span class="small">no tag</span>'}</td>`
      : '') +
    findingsCell(pool) +
    '</tr>'
  );
}

const CHART = { width: 720, height: 230, left: 52, right: 18, top: 14, bottom: 40 } as const;
const SERIES = ['noncompliant', 'unknown', 'exempt', 'compliant'] as const;

/**
 * An inline SVG line chart of the four counts on a time axis (each run where it started), with round ticks.
 * Numbers only, so nothing in it needs escaping but titles.
 */
export function trendChartSvg(points: readonly TrendPoint[]): string {
  const { width, height, left, right, top, bottom } = CHART;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const sorted = [...points].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
  const times = sorted.map((p) => Date.parse(p.startedAt));
  const from = times[0] ?? 0;
  const to = times[times.length - 1] ?? 0;
  const yTicks = countTicks(Math.max(0, ...sorted.flatMap((p) => SERIES.map((s) => p[s]))));
  const yMax = yTicks[yTicks.length - 1]!;
  const x = (t: number) => left + (to > from ? ((t - from) / (to - from)) * plotWidth : plotWidth / 2);
  const y = (v: number) => top + plotHeight - (v / yMax) * plotHeight;
  const parts: string[] = [
    `<svg id="trend-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="trend-title">`,
    `<title id="trend-title">Compliant, noncompliant, exempt and unknown pools over the last ${sorted.length} run(s)</title>`,
  ];
  for (const value of yTicks) {
    parts.push(
      `<line class="axis" x1="${left}" x2="${width - right}" y1="${y(value).toFixed(1)}" y2="${y(value).toFixed(1)}"/>`,
      `<text class="label y-tick" x="${left - 6}" y="${(y(value) + 4).toFixed(1)}" text-anchor="end">${count(value)}</text>`,
    );
  }
  if (sorted.length === 0) {
    parts.push(
      `<text class="label" x="${width / 2}" y="${height / 2}" text-anchor="middle">No completed runs yet</text>`,
    );
  } else {
    for (const tick of timeTicks(from, to)) {
      const tx = x(tick.at);
      parts.push(
        `<line class="axis" x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${top + plotHeight}" y2="${top + plotHeight + 4}"/>`,
        `<text class="label x-tick" x="${tx.toFixed(1)}" y="${height - 20}" text-anchor="middle">${e(tick.label)}</text>`,
      );
    }
  }
  if (sorted.length === 1) {
    parts.push(
      `<text class="label" x="${width / 2}" y="${height - 4}" text-anchor="middle">One run so far: the trend draws lines from the next run on.</text>`,
    );
  }
  for (const series of SERIES) {
    const coords = sorted.map((p, i) => `${x(times[i]!).toFixed(1)},${y(p[series]).toFixed(1)}`);
    if (sorted.length > 1) parts.push(`<polyline class="series ${series}" points="${coords.join(' ')}"/>`);
    sorted.forEach((p, i) => {
      parts.push(
        `<circle class="dot ${series}" cx="${x(times[i]!).toFixed(1)}" cy="${y(p[series]).toFixed(1)}" r="3.5">` +
          `<title>${e(formatTime(p.startedAt))} run ${e(p.runId)} (${e(p.status)}): ${count(p[series])} ${series}</title></circle>`,
      );
    });
  }
  parts.push('</svg>');
  return parts.join('');
}

function sortedTrend(report: Report, trend: readonly TrendPoint[]): TrendPoint[] {
  const points = [...trend];
  if (!points.some((p) => p.runId === report.run.id)) {
    points.push({
      runId: report.run.id,
      startedAt: report.run.startedAt,
      status: report.run.status,
      compliant: report.summary.compliant,
      noncompliant: report.summary.noncompliant,
      exempt: report.summary.exempt,
      unknown: report.summary.unknown,
    });
  }
  return points.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

function fixFirstSection(summary: Summary, links: LinkBuilder): string {
  if (!summary.byCode) {
    return '<section id="fix-first"><h2>Fix first</h2><p>This run was stored before findings were counted by code; the table below lists its pools, noncompliant first.</p></section>';
  }
  const items = fixFirst(summary.byCode);
  if (items.length === 0) {
    return `<section id="fix-first"><h2>Fix first</h2><p>${summary.pools ? 'Nothing to fix: no pool has a finding that needs work.' : 'No node pools were found.'}</p></section>`;
  }
  const shown = items.slice(0, FIX_FIRST_SHOWN);
  const list = shown
    .map((item) => {
      const resolves =
        item.resolves > 0
          ? ` <span class="resolves">${count(item.resolves)} ${item.resolves === 1 ? 'becomes' : 'become'} compliant with this fix alone.</span>`
          : '';
      const show =
        item.unit === 'pool'
          ? ` <a href="${e(links.to({ filters: { code: [item.code] } }))}">Show them</a>`
          : '';
      return (
        `<li><span class="count">${e(fixFirstCount(item))}</span>: ${richText(item.fix, false)} ` +
        `<span class="small">(<code>${e(item.code)}</code>, <span class="sev ${e(item.severity)}">${e(item.severity)}</span>)</span>.${resolves}${show}</li>`
      );
    })
    .join('');
  const more =
    items.length > shown.length
      ? `<p class="small">${count(items.length - shown.length)} more finding code(s) in <code>summary.byCode</code> of the JSON report.</p>`
      : '';
  return `<section id="fix-first"><h2>Fix first</h2><ol class="fixes">${list}</ol>${more}</section>`;
}

function delta(now: number, before: number | undefined): string {
  if (before === undefined) return '<span class="small">new</span>';
  const d = now - before;
  if (d === 0) return '±0';
  return d > 0 ? `<span class="up">+${count(d)}</span>` : `<span class="down">−${count(-d)}</span>`;
}

function countsCells(row: StatusCounts): string {
  return (
    `<td class="n" data-label="Noncompliant">${count(row.noncompliant)}</td>` +
    `<td class="n" data-label="Unknown">${count(row.unknown)}</td>` +
    `<td class="n" data-label="% compliant">${e(compliancePercentCell(row))}</td>`
  );
}

function subscriptionTable(
  summary: Summary,
  previous: { runId: string; summary: Summary } | null | undefined,
  links: LinkBuilder,
): string {
  const rows = summary.bySubscription;
  if (!rows || rows.length === 0) return '';
  const before = previous?.summary.bySubscription
    ? new Map(previous.summary.bySubscription.map((r) => [r.subscriptionId.toLowerCase(), r.noncompliant]))
    : null;
  const shown = rows.slice(0, BREAKDOWN_ROWS_SHOWN);
  const body = shown
    .map((row: SubscriptionBreakdown) => {
      const label = row.other
        ? 'all other subscriptions'
        : `<a href="${e(links.to({ filters: { subscriptionId: [row.subscriptionId] } }))}">${e(row.subscriptionName ?? row.subscriptionId)}</a>`;
      const change = before ? delta(row.noncompliant, before.get(row.subscriptionId.toLowerCase())) : '—';
      return `<tr><td>${label}<div class="small">${count(row.pools)} ${row.pools === 1 ? 'pool' : 'pools'}</div></td>${countsCells(row)}<td class="n" data-label="Change">${change}</td></tr>`;
    })
    .join('');
  const note =
    rows.length > shown.length
      ? `<p class="small">The ${count(shown.length)} of ${count(rows.length)} subscriptions with the most noncompliant pools; every one is in <code>summary.bySubscription</code> of the JSON report.</p>`
      : '';
  const since = previous ? `since run ${e(previous.runId)}` : 'since the last run';
  return (
    `<section id="by-subscription"><h2>By subscription</h2>` +
    `<table class="breakdown"><thead><tr><th>Subscription</th><th class="n">Noncompliant</th><th class="n">Unknown</th><th class="n">% compliant</th><th class="n" title="Change of noncompliant pools ${since}">Change</th></tr></thead>` +
    `<tbody>${body}</tbody></table>${note}${previous ? '' : '<p class="small">No earlier run of the same scope to compare with.</p>'}</section>`
  );
}

function ownerTable(summary: Summary, links: LinkBuilder): string {
  const rows = summary.byOwner;
  if (!rows || rows.length === 0) return '';
  const shown = rows.slice(0, BREAKDOWN_ROWS_SHOWN);
  const body = shown
    .map((row: OwnerBreakdown) => {
      const label = row.other
        ? 'all other owners'
        : row.owner === null
          ? '<i>no owner tag</i>'
          : `<a href="${e(links.to({ filters: { owner: row.owner } }))}">${e(row.owner)}</a>`;
      return `<tr><td>${label}<div class="small">${count(row.pools)} ${row.pools === 1 ? 'pool' : 'pools'}</div></td>${countsCells(row)}</tr>`;
    })
    .join('');
  const note =
    rows.length > shown.length
      ? `<p class="small">${count(shown.length)} of ${count(rows.length)} owners; every one is in <code>summary.byOwner</code> of the JSON report.</p>`
      : '';
  return (
    `<section id="by-owner"><h2>By owner</h2>` +
    `<table class="breakdown"><thead><tr><th>Owner</th><th class="n">Noncompliant</th><th class="n">Unknown</th><th class="n">% compliant</th></tr></thead>` +
    `<tbody>${body}</tbody></table>${note}</section>`
  );
}

function selectOf(
  name: string,
  label: string,
  choices: { value: string; text: string }[],
  selected: string[],
) {
  const options = [
    `<option value="">all</option>`,
    ...choices.map(
      (c) =>
        `<option value="${e(c.value)}"${selected.includes(c.value) ? ' selected' : ''}>${e(c.text)}</option>`,
    ),
  ];
  return `<label>${label}<select name="${name}">${options.join('')}</select></label>`;
}

function filterForm(summary: Summary, filters: ReportFilters, links: LinkBuilder): string {
  const statuses = ['noncompliant', 'unknown', 'exempt', 'compliant'].map((s) => ({ value: s, text: s }));
  const codes = (summary.byCode?.map((c) => c.code) ?? [...FINDING_CODES]).map((c) => ({
    value: c,
    text: c,
  }));
  const subscriptions = (summary.bySubscription ?? [])
    .filter((r) => !r.other)
    .slice(0, FILTER_CHOICES)
    .map((r) => ({
      value: r.subscriptionId,
      text: r.subscriptionName
        ? `${r.subscriptionName} (${r.subscriptionId.slice(0, 8)}…)`
        : r.subscriptionId,
    }));
  for (const id of filters.subscriptionId ?? []) {
    if (!subscriptions.some((s) => s.value === id)) subscriptions.push({ value: id, text: id });
  }
  const owners = (summary.byOwner ?? [])
    .filter((r): r is OwnerBreakdown & { owner: string } => !r.other && r.owner !== null)
    .slice(0, FILTER_CHOICES)
    .map((r) => ({ value: r.owner, text: r.owner }));
  if (filters.owner !== undefined && !owners.some((o) => o.value === filters.owner)) {
    owners.push({ value: filters.owner, text: filters.owner });
  }
  return (
    `<form id="filters" class="filters" method="get">${links.hiddenFields()}` +
    selectOf('status', 'Status', statuses, filters.status ?? []) +
    selectOf('code', 'Finding', codes, filters.code ?? []) +
    (subscriptions.length
      ? selectOf('subscriptionId', 'Subscription', subscriptions, filters.subscriptionId ?? [])
      : '') +
    selectOf(
      'osType',
      'OS',
      ['Linux', 'Windows'].map((o) => ({ value: o, text: o })),
      filters.osType ?? [],
    ) +
    (owners.length ? selectOf('owner', 'Owner', owners, filters.owner ? [filters.owner] : []) : '') +
    `<label>Search<input type="search" name="q" value="${e(filters.q ?? '')}" maxlength="200" placeholder="cluster, pool, image, code…"></label>` +
    `<button type="submit">Apply</button> <a href="${e(links.to({ filters: {} }))}">Clear</a></form>`
  );
}

function filterText(filters: ReportFilters): string {
  const parts = Object.entries(canonicalFilters(filters)).map(
    ([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`,
  );
  return parts.join('; ');
}

function pager(page: TablePage, shown: number, links: LinkBuilder, withIds = true): string {
  const pages = Math.max(1, Math.ceil(page.matched / page.size));
  const first = page.matched === 0 ? 0 : (page.number - 1) * page.size + 1;
  const last = (page.number - 1) * page.size + shown;
  const link = (n: number, text: string) =>
    n === page.number ? `<b>${text}</b>` : `<a href="${e(links.to({ page: n }))}">${text}</a>`;
  const numbers = [
    ...new Set([1, page.number - 2, page.number - 1, page.number, page.number + 1, page.number + 2, pages]),
  ]
    .filter((n) => n >= 1 && n <= pages)
    .sort((a, b) => a - b);
  const pageLinks: string[] = [];
  numbers.forEach((n, i) => {
    if (i > 0 && n - numbers[i - 1]! > 1) pageLinks.push('…');
    pageLinks.push(link(n, String(n)));
  });
  return (
    `<div class="pager"><span${withIds ? ' id="page-range"' : ''}>Showing <b${withIds ? ' id="first-shown"' : ''}>${count(first)}</b>–<b${withIds ? ' id="last-shown"' : ''}>${count(last)}</b> of <b${withIds ? ' id="matched-count"' : ''}>${count(page.matched)}</b> ${page.matched === 1 ? 'pool' : 'pools'}</span>` +
    (pages > 1
      ? `<span class="pages">${page.number > 1 ? `<a rel="prev" href="${e(links.to({ page: page.number - 1 }))}">← previous</a> ` : ''}${pageLinks.join(' ')}${page.number < pages ? ` <a rel="next" href="${e(links.to({ page: page.number + 1 }))}">next →</a>` : ''}</span>`
      : '') +
    `</div>`
  );
}

/** Renders the page. Every value that came from Azure or storage passes through escapeHtml. */
export function renderReportHtml(report: Report, options: ReportHtmlOptions = {}): RenderedHtml {
  const pools = options.pools ?? report.pools;
  const showOwner = showsOwner(report.summary, pools);
  const { before, after, nonce } = reportHtmlFrame(report, options, { listed: pools.length, showOwner });
  return { html: `${before}${pools.map((p) => poolRow(p, showOwner)).join('\n')}${after}`, nonce };
}

/** Whether the table has an Owner column: the run was broken down by owner, or a listed pool has one. */
export function showsOwner(summary: Summary, pools: readonly PoolResult[] = []): boolean {
  return summary.byOwner !== undefined || pools.some((p) => p.owner !== undefined);
}

/** One pool's row of the page's table (`showOwner` as the frame was made with). */
export function reportHtmlRow(pool: PoolResult, showOwner: boolean): string {
  return poolRow(pool, showOwner);
}

/**
 * The page around its pool rows, for a writer that streams the rows (`listed` of them, joined by newlines, made
 * with reportHtmlRow) between `before` and `after`: the evidence bundle writes a 100,000-pool page this way.
 * `report.pools` and `options.pools` are not read.
 */
export function reportHtmlFrame(
  report: Report,
  options: Omit<ReportHtmlOptions, 'pools'>,
  table: { listed: number; showOwner: boolean },
): { before: string; after: string; nonce: string } {
  const nonce = options.nonce ?? randomBytes(18).toString('base64');
  if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(nonce))
    throw new RangeError('A CSP nonce is at least 16 base64 characters');
  const { run, summary } = report;
  const { listed, showOwner } = table;
  const filters = canonicalFilters(options.filters ?? {});
  const page: TablePage = options.page ?? {
    number: 1,
    size: Math.max(1, listed),
    matched: listed,
  };
  const links = new LinkBuilder(
    {
      ...(options.runId ? { runId: options.runId } : {}),
      ...(options.functionKey ? { functionKey: options.functionKey } : {}),
    },
    filters,
  );
  const judged = judgedPools(summary);
  const card = (key: keyof StatusCounts | 'clusters' | 'subscriptions', label: string) =>
    `<div class="card ${key}"><dt>${label}</dt><dd id="count-${key}" data-count="${summary[key]}">${count(summary[key])}</dd></div>`;
  // The title is the link text; a source without a clean https URL (runs stored before sources were data) is text.
  const sources = run.matrix.sourceDetails
    .map((source) => {
      const retrieved = source.retrieved
        ? ` <span class="small">(retrieved ${e(source.retrieved)})</span>`
        : '';
      return `<li>${matrixSourceLinkHtml(source, ' rel="noreferrer noopener"')}${retrieved}</li>`;
    })
    .join('');
  const clustersWithFindings = report.clusters.filter((c) => c.findings.length > 0);
  const clusterItems = clustersWithFindings
    .slice(0, CLUSTERS_SHOWN)
    .map(
      (c) =>
        `<li><code>${e(c.id)}</code><ul class="findings">${c.findings.map(findingItem).join('')}</ul></li>`,
    )
    .join('');
  const clusterMore =
    clustersWithFindings.length > CLUSTERS_SHOWN
      ? `<p class="small">${count(CLUSTERS_SHOWN)} of ${count(clustersWithFindings.length)} clusters with findings; every one is in <code>clusters</code> of the <a href="${e(links.to({ format: 'json' }))}">JSON report</a>.</p>`
      : '';
  const errors = report.errors.length
    ? `<table id="run-errors"><thead><tr><th>Scope</th><th>Code</th><th>Message</th></tr></thead><tbody>${report.errors
        .map(
          (x) => `<tr><td><code>${e(x.scope)}</code></td><td>${e(x.code)}</td><td>${e(x.message)}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p id="run-errors">Every scope was read: this run has no errors.</p>';
  const columns = ['Status', 'Node pool', 'OS', 'Node image', ...(showOwner ? ['Owner'] : []), 'Findings']
    .map((name) => `<th scope="col">${name}</th>`)
    .join('');
  const filtered = Object.keys(filters).length > 0;
  // First thing on every page of a run that could not read everything: its figures must not be read as the estate's.
  const banner = runStatusBannerHtml(run, report.errors);

  const before = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>FIPS 140 audit ${e(run.id)}</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header>
<h1>AKS FIPS 140 audit</h1>
<p class="meta">Run <code id="run-id">${e(run.id)}</code> · <span class="badge ${e(run.status)}" id="run-status">${e(run.status)}</span> · ${e(run.trigger)} · ${e(run.cloud)} · started ${e(formatTime(run.startedAt))} · finished ${e(formatTime(run.finishedAt))}</p>
${banner}
<p class="headline" id="headline"><b>${e(compliancePercentText(summary))}</b> · ${count(judged)} judged node pools (exempt count as compliant) · ${count(summary.unknown)} unknown, not judged</p>
<dl class="cards" id="summary">
${card('pools', 'Node pools')}${card('noncompliant', 'Noncompliant')}${card('unknown', 'Unknown')}${card('exempt', 'Exempt')}${card('compliant', 'Compliant')}${card('clusters', 'Clusters')}${card('subscriptions', 'Subscriptions')}
</dl>
</header>
<main>
${fixFirstSection(summary, links)}
<div class="grid">
${subscriptionTable(summary, options.previous, links)}
${ownerTable(summary, links)}
</div>
<section id="pools">
<h2>Node pools</h2>
${filterForm(summary, filters, links)}
${filtered ? `<p class="note" id="server-filter">Filtered (${e(filterText(filters))}): ${count(page.matched)} of the run's ${count(summary.pools)} pools match; the counts above are the whole run's.</p>` : ''}
<p class="small" id="exports">Noncompliant and unknown pools first. Download ${filtered ? 'these' : 'all'} ${count(page.matched)} pools: <a id="export-csv" href="${e(links.to({ format: 'csv' }))}">CSV</a> · <a id="export-json" href="${e(links.to({ format: 'json' }))}">JSON</a></p>
${pager(page, listed, links)}
<table id="pool-table" class="pools">
<thead><tr>${columns}</tr></thead>
<tbody>
`;
  const after = `
</tbody>
</table>
${listed === 0 ? '<p id="no-pools">No node pool matches these filters.</p>' : ''}
${page.matched > listed ? pager(page, listed, links, false) : ''}
</section>
<section id="trend">
<h2>Trend</h2>
${trendChartSvg(sortedTrend(report, options.trend ?? []))}
<ul class="legend"><li class="noncompliant"><span></span>noncompliant</li><li class="unknown"><span></span>unknown</li><li class="exempt"><span></span>exempt</li><li class="compliant"><span></span>compliant</li></ul>
</section>
<section id="cluster-findings">
<h2>Cluster findings</h2>
${clustersWithFindings.length ? `<ul>${clusterItems}</ul>${clusterMore}` : '<p>No cluster-level findings.</p>'}
</section>
<section id="errors">
<h2>Errors</h2>
${errors}
</section>
<section id="matrix">
<h2>FIPS matrix</h2>
<p>Judged against matrix version <code id="matrix-version">${e(run.matrix.version)}</code>. Sources:</p>
<ul>${sources}</ul>
</section>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
  return { before, after, nonce };
}
