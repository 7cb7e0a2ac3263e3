// What the report page draws beside a run: the trend of completed runs and the previous good run of the same scope.

import { previousGoodRun } from '../core/diffRuns';
import { isCompleted } from '../core/run';
import { type AuditScope, sameScope } from '../core/sameScope';
import type { RunStatus, Summary } from '../core/types';
import type { TrendPoint } from './reportHtml';

/** Runs drawn in the HTML report's trend chart. */
export const TREND_RUNS = 60;

/** A stored run as the history needs it (RunRecord has these fields). */
export interface HistoryRun {
  id: string;
  status: RunStatus;
  startedAt: string;
  scope: AuditScope;
  summary: Summary;
}

export interface ReportHistory {
  trend: TrendPoint[];
  previous: { runId: string; summary: Summary } | null;
}

/**
 * The trend points of the completed (`succeeded`, `partial`) runs among `runs`, and the newest good run before
 * `current` that audited the same scopes: an on-demand audit of one subscription is never compared with the
 * whole tenant. The same for the API's page and the CLI's file.
 */
export function reportHistory(runs: readonly HistoryRun[], current: HistoryRun): ReportHistory {
  const trend: TrendPoint[] = [];
  for (const run of runs) {
    if (!isCompleted(run.status)) continue;
    const { compliant, noncompliant, exempt, unknown } = run.summary;
    trend.push({
      runId: run.id,
      startedAt: run.startedAt,
      status: run.status,
      compliant,
      noncompliant,
      exempt,
      unknown,
    });
  }
  const previous = previousGoodRun(runs, current, (r) => sameScope(r.scope, current.scope));
  return { trend, previous: previous ? { runId: previous.id, summary: previous.summary } : null };
}
