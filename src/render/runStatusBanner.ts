// The banner at the top of a report page for a run that could not read everything: what failed, where, the fix.

import type { RunInfo, ScopeError } from '../core/types';
import { unreadableScopes } from '../core/unreadableScopes';
import { codeSpans } from './codeSpans';
import { escapeHtml } from './escapeHtml';

/** Scopes listed in the banner; the Errors section of the page has them all. */
export const BANNER_SCOPES_SHOWN = 10;

const count = (n: number): string => n.toLocaleString('en-US');

/** A message with its backticked commands set as code; everything escaped. */
function messageHtml(text: string): string {
  return codeSpans(text)
    .map((span) => (span.code ? `<code>${escapeHtml(span.text)}</code>` : escapeHtml(span.text)))
    .join('');
}

/** What the banner says first, by status; null for a run whose figures describe what it was asked to read. */
function leadOf(run: Pick<RunInfo, 'status'>, scopes: number): string | null {
  switch (run.status) {
    case 'failed':
      return '<b>Audit failed:</b> it could not read what it was asked to audit, so no figure on this page describes the estate. The last completed report stays the latest.';
    case 'abandoned':
      return '<b>Audit abandoned:</b> its worker stopped before it finished, so no figure on this page describes the estate. The last completed report stays the latest.';
    case 'partial':
      return `<b>Audit incomplete:</b> ${count(scopes)} ${scopes === 1 ? 'scope' : 'scopes'} could not be read. Their pools are reported unknown from their last known state, and the figures cover only what was read.`;
    case 'succeeded':
    case 'running':
      return null;
  }
}

/**
 * The banner of a failed, abandoned or partial run, listing each scope that could not be read with its code and
 * message (which says how to fix it); empty for a succeeded or running run. Every value is escaped.
 */
export function runStatusBannerHtml(run: Pick<RunInfo, 'status'>, errors: readonly ScopeError[]): string {
  const scopes = unreadableScopes(errors);
  const lead = leadOf(run, scopes.length);
  if (lead === null) return '';
  const shown = scopes.slice(0, BANNER_SCOPES_SHOWN);
  const items = shown
    .map(
      (e) =>
        `<li><code class="scope">${escapeHtml(e.scope)}</code> <b>${escapeHtml(e.code)}</b>: ${messageHtml(e.message)}</li>`,
    )
    .join('');
  const more =
    scopes.length > shown.length
      ? `<p class="small">…and ${count(scopes.length - shown.length)} more under <a href="#errors">Errors</a>.</p>`
      : '';
  const list = shown.length
    ? `<p>What could not be read, and how to fix it:</p><ul id="unreadable-scopes">${items}</ul>${more}`
    : '';
  return `<section class="warn banner" id="run-banner" role="alert"><p>${lead}</p>${list}</section>`;
}
