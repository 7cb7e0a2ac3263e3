// The summary of a run that has judged nothing yet.

import type { Summary } from './types';

/** Every count 0, no percentage, no breakdowns: the start of a count, and a stored run without a summary. */
export function emptySummary(): Summary {
  return { subscriptions: 0, clusters: 0, pools: 0, compliant: 0, noncompliant: 0, exempt: 0, unknown: 0 };
}
