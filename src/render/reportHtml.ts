// The report as one standalone HTML page: summary, trend chart, sortable and filterable pools, matrix, errors.

import { randomBytes } from 'node:crypto';

import { parseExemptionScope } from '../core/exemptionRules';
import type { Finding, PoolResult, Report, RunStatus } from '../core/types';
import { escapeHtml, safeHref } from './escapeHtml';
import type { ReportFilters } from './reportJson';

/** One stored run's counts, a point of the trend chart. */
export interface TrendPoint {
  runId: string;
  startedAt: string;
  status: RunStatus;
  compliant: number;
  noncompliant: number;
  unknown: number;
}

export interface ReportHtmlOptions {
  /** Stored runs for the trend chart, in any order (drawn oldest to newest); the report's run is added if missing. */
  trend?: readonly TrendPoint[];
  /** The pools to list (the whole run, or the request's filtered selection); the summary is always the run's. */
  pools?: readonly PoolResult[];
  /** The request's filters, shown above the table when any applied. */
  filters?: ReportFilters;
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
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** How the status column sorts: the pools that need attention first. */
const STATUS_RANK: Record<PoolResult['status'], number> = {
  noncompliant: 0,
  unknown: 1,
  exempt: 2,
  compliant: 3,
};
const SEVERITY_RANK: Record<Finding['severity'], number> = { high: 0, medium: 1, low: 2, info: 3 };

const STYLE = `
:root{color-scheme:light;--ok:#1a7f37;--bad:#cf222e;--unk:#6e7781;--ex:#8250df;--line:#d0d7de;--muted:#57606a}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;padding:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.meta{color:var(--muted);margin:0}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Consolas,monospace;background:#f6f8fa;padding:1px 4px;border-radius:4px;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0 0;padding:0}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:120px;margin:0}
.card dt{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card dd{margin:0;font-size:24px;font-weight:600}
.card.compliant dd{color:var(--ok)}.card.noncompliant dd{color:var(--bad)}.card.unknown dd{color:var(--unk)}.card.exempt dd{color:var(--ex)}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff;background:var(--unk)}
.badge.compliant,.badge.succeeded{background:var(--ok)}.badge.noncompliant,.badge.failed{background:var(--bad)}
.badge.exempt{background:var(--ex)}.badge.partial,.badge.running{background:#9a6700}
svg{max-width:100%;height:auto;border:1px solid var(--line);border-radius:8px}
.axis{stroke:var(--line)}.label{fill:var(--muted);font-size:11px}
.series{fill:none;stroke-width:2}.series.compliant{stroke:var(--ok)}.series.noncompliant{stroke:var(--bad)}.series.unknown{stroke:var(--unk)}
.dot.compliant{fill:var(--ok)}.dot.noncompliant{fill:var(--bad)}.dot.unknown{fill:var(--unk)}
.legend{display:flex;gap:16px;margin:6px 0 0;padding:0;list-style:none;color:var(--muted)}
.legend span{display:inline-block;width:12px;height:3px;margin-right:6px;vertical-align:middle}
.legend .compliant span{background:var(--ok)}.legend .noncompliant span{background:var(--bad)}.legend .unknown span{background:var(--unk)}
.controls{display:flex;flex-wrap:wrap;gap:16px;align-items:center;margin:0 0 10px}
.controls input,.controls select{font:inherit;padding:4px 6px}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}
th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:inherit}
th[aria-sort=ascending] button::after{content:" \\25B2"}th[aria-sort=descending] button::after{content:" \\25BC"}
ul.findings{margin:0;padding-left:16px}ul.findings li{margin:0 0 4px}
.sev{font-size:11px;font-weight:700;text-transform:uppercase}.sev.high{color:var(--bad)}.sev.medium{color:#9a6700}.sev.low,.sev.info{color:var(--muted)}
.fix{color:var(--muted)}.small{font-size:12px;color:var(--muted)}
.note{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:6px 10px}
`;

// Static: it reads the table the server rendered, so no data ever passes through script.
const SCRIPT = `
(function () {
  'use strict';
  var table = document.getElementById('pool-table');
  if (!table || !table.tBodies[0]) return;
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var texts = new Map();
  rows.forEach(function (row) { texts.set(row, row.textContent.toLowerCase()); });
  var statusSelect = document.getElementById('filter-status');
  var textInput = document.getElementById('filter-text');
  var visibleCount = document.getElementById('visible-count');
  function applyFilter() {
    var status = statusSelect.value;
    var words = textInput.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (row) {
      var text = texts.get(row);
      var ok = (!status || row.getAttribute('data-status') === status) &&
        words.every(function (w) { return text.indexOf(w) !== -1; });
      row.hidden = !ok;
      if (ok) shown += 1;
    });
    visibleCount.textContent = String(shown);
  }
  statusSelect.addEventListener('change', applyFilter);
  textInput.addEventListener('input', applyFilter);
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  headers.forEach(function (th, column) {
    var button = th.querySelector('button');
    if (!button) return;
    button.addEventListener('click', function () {
      var ascending = th.getAttribute('aria-sort') !== 'ascending';
      headers.forEach(function (h) { h.setAttribute('aria-sort', 'none'); });
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      var key = function (row) {
        var cell = row.cells[column];
        var v = cell.getAttribute('data-v');
        return v === null ? cell.textContent : v;
      };
      rows.sort(function (a, b) {
        var d = key(a).localeCompare(key(b), undefined, { numeric: true, sensitivity: 'base' });
        return ascending ? d : -d;
      });
      var fragment = document.createDocumentFragment();
      rows.forEach(function (row) { fragment.appendChild(row); });
      tbody.appendChild(fragment);
    });
  });
  applyFilter();
})();
`;

const e = escapeHtml;

function formatTime(iso: string | null): string {
  if (!iso) return '—';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function findingsCell(pool: PoolResult): string {
  if (pool.findings.length === 0) return '<td data-v="9"><span class="small">none</span></td>';
  const worst = Math.min(...pool.findings.map((f) => SEVERITY_RANK[f.severity]));
  const items = pool.findings
    .map(
      (f) =>
        `<li><span class="sev ${e(f.severity)}">${e(f.severity)}</span> <code>${e(f.code)}</code> ${e(f.message)}` +
        `<div class="fix">Remediation: ${e(f.remediation)}</div></li>`,
    )
    .join('');
  return `<td data-v="${worst}"><ul class="findings">${items}</ul></td>`;
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

function poolRow(pool: PoolResult): string {
  const subscription = pool.subscriptionName
    ? `${e(pool.subscriptionName)}<div class="small"><code>${e(pool.subscriptionId)}</code></div>`
    : `<code>${e(pool.subscriptionId)}</code>`;
  const fips = pool.enableFips === null ? 'not set' : pool.enableFips ? 'on' : 'off';
  return (
    `<tr data-status="${e(pool.status)}">` +
    `<td data-v="${STATUS_RANK[pool.status]}"><span class="badge ${e(pool.status)}">${e(pool.status)}</span>${exemptionText(pool)}</td>` +
    `<td data-v="${e(pool.subscriptionName ?? pool.subscriptionId)}">${subscription}</td>` +
    `<td>${e(pool.resourceGroup)}</td>` +
    `<td>${e(pool.cluster)}</td>` +
    `<td>${e(pool.pool)}</td>` +
    `<td>${e(pool.osType ?? '')}<div class="small">${e(pool.osSku ?? 'no SKU')}</div></td>` +
    `<td>${e(pool.kubernetesVersion ?? '')}</td>` +
    `<td><code>${e(pool.nodeImageVersion ?? '')}</code></td>` +
    `<td>${e(fips)}</td>` +
    findingsCell(pool) +
    '</tr>'
  );
}

const CHART = { width: 720, height: 220, left: 48, right: 16, top: 14, bottom: 34 } as const;
const SERIES = ['compliant', 'noncompliant', 'unknown'] as const;

/** An inline SVG line chart of the three counts over the runs; numbers only, so nothing in it needs escaping but titles. */
export function trendChartSvg(points: readonly TrendPoint[]): string {
  const { width, height, left, right, top, bottom } = CHART;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const max = Math.max(1, ...points.flatMap((p) => SERIES.map((s) => p[s])));
  const x = (i: number) =>
    left + (points.length <= 1 ? plotWidth / 2 : (i / (points.length - 1)) * plotWidth);
  const y = (v: number) => top + plotHeight - (v / max) * plotHeight;
  const parts: string[] = [
    `<svg id="trend-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="trend-title">`,
    `<title id="trend-title">Compliant, noncompliant and unknown pools over the last ${points.length} run(s)</title>`,
  ];
  for (const fraction of [0, 0.5, 1]) {
    const value = Math.round(max * fraction);
    parts.push(
      `<line class="axis" x1="${left}" x2="${width - right}" y1="${y(value).toFixed(1)}" y2="${y(value).toFixed(1)}"/>`,
      `<text class="label" x="${left - 6}" y="${(y(value) + 4).toFixed(1)}" text-anchor="end">${value}</text>`,
    );
  }
  if (points.length === 0) {
    parts.push(
      `<text class="label" x="${width / 2}" y="${height / 2}" text-anchor="middle">No completed runs yet</text>`,
    );
  }
  const first = points[0];
  const last = points[points.length - 1];
  if (first) {
    parts.push(
      `<text class="label" x="${left}" y="${height - 10}">${e(formatTime(first.startedAt).slice(0, 10))}</text>`,
    );
  }
  if (last && points.length > 1) {
    parts.push(
      `<text class="label" x="${width - right}" y="${height - 10}" text-anchor="end">${e(formatTime(last.startedAt).slice(0, 10))}</text>`,
    );
  }
  for (const series of SERIES) {
    const coords = points.map((p, i) => `${x(i).toFixed(1)},${y(p[series]).toFixed(1)}`);
    if (points.length > 1) parts.push(`<polyline class="series ${series}" points="${coords.join(' ')}"/>`);
    points.forEach((p, i) => {
      parts.push(
        `<circle class="dot ${series}" cx="${x(i).toFixed(1)}" cy="${y(p[series]).toFixed(1)}" r="3">` +
          `<title>${e(p.runId)} (${e(p.status)}): ${p[series]} ${series}</title></circle>`,
      );
    });
  }
  parts.push('</svg>');
  return parts.join('');
}

function filterNote(filters: ReportFilters | undefined, shown: number, total: number): string {
  const applied = Object.entries(filters ?? {}).filter(([, v]) => Array.isArray(v) && v.length > 0);
  if (applied.length === 0) return '';
  const text = applied.map(([k, v]) => `${k}=${(v as string[]).join(',')}`).join('; ');
  return `<p class="note" id="server-filter">Filtered by the request (${e(text)}): ${shown} of the run's ${total} pools are listed; the summary above is the whole run's.</p>`;
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
      unknown: report.summary.unknown,
    });
  }
  return points.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** Renders the page. Every value that came from Azure or storage passes through escapeHtml. */
export function renderReportHtml(report: Report, options: ReportHtmlOptions = {}): RenderedHtml {
  const pools = options.pools ?? report.pools;
  const { before, after, nonce } = reportHtmlFrame(report, options, pools.length);
  return { html: `${before}${pools.map(reportHtmlRow).join('\n')}${after}`, nonce };
}

/** One pool's row of the page's table. */
export const reportHtmlRow: (pool: PoolResult) => string = poolRow;

/**
 * The page around its pool rows, for a writer that streams the rows (`listed` of them, joined by newlines)
 * between `before` and `after`; `report.pools` is not read.
 */
export function reportHtmlFrame(
  report: Report,
  options: Omit<ReportHtmlOptions, 'pools'>,
  listed: number,
): { before: string; after: string; nonce: string } {
  const nonce = options.nonce ?? randomBytes(18).toString('base64');
  if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(nonce))
    throw new RangeError('A CSP nonce is at least 16 base64 characters');
  const { run, summary } = report;
  const judged = summary.pools - summary.unknown;
  const percent = judged ? (((summary.compliant + summary.exempt) / judged) * 100).toFixed(1) : '—';
  const card = (key: keyof typeof summary, label: string) =>
    `<div class="card ${key}"><dt>${label}</dt><dd id="count-${key}" data-count="${summary[key]}">${summary[key]}</dd></div>`;
  const sources = run.matrix.sources
    .map((source) => {
      const href = safeHref(source);
      return href
        ? `<li><a href="${href}" rel="noreferrer noopener">${e(source)}</a></li>`
        : `<li>${e(source)}</li>`;
    })
    .join('');
  const clustersWithFindings = report.clusters.filter((c) => c.findings.length > 0);
  const clusterItems = clustersWithFindings
    .map(
      (c) =>
        `<li><code>${e(c.id)}</code><ul class="findings">${c.findings
          .map(
            (f) =>
              `<li><span class="sev ${e(f.severity)}">${e(f.severity)}</span> <code>${e(f.code)}</code> ${e(f.message)}<div class="fix">Remediation: ${e(f.remediation)}</div></li>`,
          )
          .join('')}</ul></li>`,
    )
    .join('');
  const errors = report.errors.length
    ? `<table id="run-errors"><thead><tr><th>Scope</th><th>Code</th><th>Message</th></tr></thead><tbody>${report.errors
        .map(
          (x) => `<tr><td><code>${e(x.scope)}</code></td><td>${e(x.code)}</td><td>${e(x.message)}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p id="run-errors">Every scope was read: this run has no errors.</p>';
  const statusOptions = ['noncompliant', 'unknown', 'exempt', 'compliant']
    .map((s) => `<option value="${s}">${s}</option>`)
    .join('');
  const columns = [
    'Status',
    'Subscription',
    'Resource group',
    'Cluster',
    'Pool',
    'OS',
    'Kubernetes',
    'Node image',
    'FIPS flag',
    'Findings',
  ]
    .map((name) => `<th scope="col" aria-sort="none"><button type="button">${name}</button></th>`)
    .join('');

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
<dl class="cards" id="summary">
${card('pools', 'Node pools')}${card('compliant', 'Compliant')}${card('noncompliant', 'Noncompliant')}${card('exempt', 'Exempt')}${card('unknown', 'Unknown')}${card('clusters', 'Clusters')}${card('subscriptions', 'Subscriptions')}
</dl>
<p class="meta">${percent}${percent === '—' ? '' : '%'} of judged pools are compliant or exempt.</p>
</header>
<main>
<section id="trend">
<h2>Trend</h2>
${trendChartSvg(sortedTrend(report, options.trend ?? []))}
<ul class="legend"><li class="compliant"><span></span>compliant</li><li class="noncompliant"><span></span>noncompliant</li><li class="unknown"><span></span>unknown</li></ul>
</section>
<section id="pools">
<h2>Node pools</h2>
${filterNote(options.filters, listed, summary.pools)}
<div class="controls">
<label>Status <select id="filter-status"><option value="">all</option>${statusOptions}</select></label>
<label>Search <input id="filter-text" type="search" placeholder="subscription, cluster, code…" autocomplete="off"></label>
<span>Showing <b id="visible-count">${listed}</b> of <b id="listed-count">${listed}</b> pools</span>
</div>
<noscript><p class="small">Sorting and filtering need JavaScript; the full table is below.</p></noscript>
<table id="pool-table">
<thead><tr>${columns}</tr></thead>
<tbody>
`;
  const after = `
</tbody>
</table>
</section>
<section id="cluster-findings">
<h2>Cluster findings</h2>
${clustersWithFindings.length ? `<ul>${clusterItems}</ul>` : '<p>No cluster-level findings.</p>'}
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
