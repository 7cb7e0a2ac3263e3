// The alert mailed when an audit could not complete: what failed, where, and how to fix it. No figures: it read none.

import { judgedPools } from '../core/compliancePercent';
import type { RunRecord } from '../core/run';
import { unreadableScopes } from '../core/unreadableScopes';
import { escapeHtml, safeHref } from './escapeHtml';

export interface RenderedAlert {
  subject: string;
  html: string;
  text: string;
}

/** Control characters (a newline in a hostile message could forge lines of the text part) become spaces. */
function plain(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this replaces
  return value.replace(/[\u0000-\u001F\u007F\u2028\u2029]+/g, ' ');
}

/** Why the run could not complete, in words, by the code of its first error (the code itself otherwise). */
const WHY: Record<string, string> = {
  RunAbandoned: 'its worker stopped before it finished',
  NothingRead: 'no scope could be read',
  PlanFailed: 'it could not be planned',
  StartFailed: 'it could not be started',
  CredentialUnavailable: 'no Azure credential is available',
  AuthenticationFailed: 'Microsoft Entra ID refused its credential',
  InvalidAuthenticationToken: 'Azure refused its access token',
  InvalidAuthenticationTokenAudience: 'its access token is for another cloud (AZURE_CLOUD)',
  ExpiredAuthenticationToken: 'Azure refused its access token',
  AuthenticationFailedMissingToken: 'Azure refused its access token',
  AuthorizationFailed: 'the identity may not read the audited scopes',
  NoReadableSubscriptions: 'the identity can read no subscription',
  SCOPE_UNREADABLE: 'the identity can read none of the audited scopes',
  RequestTimeout: 'Azure did not answer in time',
  ShardFailed: 'its scope could not be audited on any attempt',
};

/** Server errors and network failures that outlasted the retries: Azure kept failing. */
const TRANSIENT =
  /^(InternalServerError|ServiceUnavailable|BadGateway|GatewayTimeout|HTTP5\d\d|RateLimiting|TooManyRequests|E[A-Z]+)$/;

function reasonOf(code: string): string {
  return WHY[code] ?? (TRANSIENT.test(code) ? `Azure kept failing (${code})` : code);
}

/**
 * An "audit could not complete" alert for a failed or abandoned run: the run, each error with its scope, code and
 * message (the messages say how to fix what they can), and that the previous report stays the latest.
 */
export function renderFailureAlert(run: RunRecord, reportBaseUrl: string | null): RenderedAlert {
  const errors = unreadableScopes(run.errors);
  const first = errors[0];
  const reason = first ? reasonOf(first.code) : 'no reason was recorded';
  const subject = `[FIPS audit] Audit could not complete: ${plain(reason)} (run ${run.id})`;
  const status = run.status === 'abandoned' ? 'abandoned' : 'failed';
  // A sharded run can fail with some shards read: their figures are still not the estate's.
  const figures =
    judgedPools(run.summary) === 0
      ? 'It judged no node pool, so it reports no compliance figure'
      : 'It could not read everything it was asked to audit, so it reports no compliance figure';
  const lines = [
    `The ${run.trigger} FIPS audit ${run.id} (${run.cloud}) started ${run.startedAt} ${status}${run.finishedAt ? ` at ${run.finishedAt}` : ''}.`,
    `${figures}. The last completed report stays the latest.`,
    '',
    'What went wrong, and how to fix it:',
    ...run.errors.map((e) => `- ${plain(e.scope)}: ${plain(e.code)}: ${plain(e.message)}`),
  ];
  const record = reportBaseUrl
    ? `${reportBaseUrl.replace(/\/+$/, '')}/api/runs/${encodeURIComponent(run.id)}`
    : null;
  if (record) lines.push('', `Run record: ${record}`);
  const recordHref = record ? safeHref(record) : null;
  const html =
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>' +
    escapeHtml(subject) +
    '</title></head><body style="font-family:\'Segoe UI\',Arial,Helvetica,sans-serif;font-size:14px;line-height:20px;color:#1f2328;max-width:680px;">' +
    `<p style="background-color:#ffebe9;border-left:4px solid #cf222e;padding:12px;"><b>Audit could not complete.</b> The ${escapeHtml(run.trigger)} FIPS audit ${escapeHtml(run.id)} (${escapeHtml(run.cloud)}) started ${escapeHtml(run.startedAt)} ${status}. ${figures}; the last completed report stays the latest.</p>` +
    '<h2 style="font-size:16px;">What went wrong, and how to fix it</h2><ul>' +
    run.errors
      .map(
        (e) =>
          `<li><code>${escapeHtml(e.scope)}</code>: <b>${escapeHtml(e.code)}</b>: ${escapeHtml(e.message)}</li>`,
      )
      .join('') +
    '</ul>' +
    (recordHref ? `<p>Run record: <a href="${recordHref}">${recordHref}</a></p>` : '') +
    '</body></html>';
  return { subject, html, text: `${lines.join('\n')}\n` };
}
