// A report's summary with its breakdowns (by code, subscription, owner), counted from its pools when not stored.

import { BreakdownCounter } from '../core/breakdownCounter';
import type { Report, Summary } from '../core/types';

/**
 * The summary's breakdowns as stored; for a run stored before breakdowns were counted, counted now from the
 * report's pools and clusters. Every page, email and CLI summary takes them from here.
 */
export function summaryWithBreakdowns(report: Pick<Report, 'summary' | 'pools' | 'clusters'>): Summary {
  if (report.summary.byCode && report.summary.bySubscription) return report.summary;
  const counter = new BreakdownCounter();
  counter.addPools(report.pools);
  counter.addClusters(report.clusters);
  return counter.complete(report.summary);
}
