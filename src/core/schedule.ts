// When the scheduled audit was due: the latest occurrence of AUDIT_SCHEDULE (NCRONTAB, seconds first, UTC).

import { CronExpressionParser } from 'cron-parser';

/**
 * The latest time at or before `now` that `schedule` fires. A retried or deferred timer invocation maps to the
 * same occurrence, so it is recognised as the same day's audit. Azure Functions evaluates NCRONTAB in UTC unless
 * WEBSITE_TIME_ZONE says otherwise, which this app does not set.
 */
export function latestOccurrence(schedule: string, now: Date): Date {
  // `prev()` is strictly before currentDate: start a millisecond later so an occurrence at `now` counts.
  const expression = CronExpressionParser.parse(schedule, {
    currentDate: new Date(now.getTime() + 1),
    tz: 'UTC',
  });
  return expression.prev().toDate();
}
