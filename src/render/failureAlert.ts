// The alert mailed when an audit could not complete: what failed, where, and how to fix it. No figures: it read none.

import type { RunRecord } from '../core/run';
import { escapeHtml } from './escapeHtml';

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

const WHY: Record<string, string> = {
  RunAbandoned: 'its worker stopped before it finished',
  NothingRead: 'no scope could be read',
  PlanFailed: 'it could not be planned',
  StartFailed: 'it could not be started',
};

/**
 * An "audit could not complete" alert for a failed or abandoned run: the run, each error with its scope, code and
 * message (the messages say how to fix what they can), and that the previous report stays the latest.
 */
export function renderFailureAlert(run: RunRecord, reportBaseUrl: string | null): RenderedAlert {
  const first = run.errors.find((e) => e.code !== 'NothingRead') ?? run.errors[0];
  const reason = first ? (WHY[first.code] ?? first.code) : 'no reason was recorded';
  const subject = `[FIPS audit] Audit could not complete: ${plain(reason)} (run ${run.id})`;
  const status = run.status === 'abandoned' ? 'abandoned' : 'failed';
  const lines = [
    `The ${run.trigger} FIPS audit ${run.id} (${run.cloud}) started ${run.startedAt} ${status}${run.finishedAt ? ` at ${run.finishedAt}` : ''}.`,
    'It judged no node pool, so it reports no compliance figure. The last completed report stays the latest.',
    '',
    'What went wrong:',
    ...run.errors.map((e) => `- ${plain(e.scope)}: ${plain(e.code)}: ${plain(e.message)}`),
  ];
  if (reportBaseUrl) {
    lines.push('', `Run record: ${reportBaseUrl.replace(/\/+$/, '')}/api/runs/${encodeURIComponent(run.id)}`);
  }
  const html =
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>' +
    escapeHtml(subject) +
    '</title></head><body style="font-family:\'Segoe UI\',Arial,Helvetica,sans-serif;font-size:14px;line-height:20px;color:#1f2328;max-width:680px;">' +
    `<p style="background-color:#ffebe9;border-left:4px solid #cf222e;padding:12px;"><b>Audit could not complete.</b> The ${escapeHtml(run.trigger)} FIPS audit ${escapeHtml(run.id)} (${escapeHtml(run.cloud)}) started ${escapeHtml(run.startedAt)} ${status}. It judged no node pool, so it reports no compliance figure; the last completed report stays the latest.</p>` +
    '<h2 style="font-size:16px;">What went wrong</h2><ul>' +
    run.errors
      .map(
        (e) =>
          `<li><code>${escapeHtml(e.scope)}</code>: <b>${escapeHtml(e.code)}</b>: ${escapeHtml(e.message)}</li>`,
      )
      .join('') +
    '</ul></body></html>';
  return { subject, html, text: `${lines.join('\n')}\n` };
}
