// Axis ticks for the report's charts: round counts, and calendar steps on a time axis.

/** The smallest of 1, 2 or 5 × 10^k that is at least `rough` (1 for anything up to 1). */
export function niceStep(rough: number): number {
  if (!(rough > 1)) return 1;
  const power = 10 ** Math.floor(Math.log10(rough));
  for (const factor of [1, 2, 5, 10]) if (factor * power >= rough) return factor * power;
  return 10 * power;
}

/** Ticks from 0 to at least `max` in round steps, about `count` of them: 0, 50, 100, 150, 200 for 185. */
export function countTicks(max: number, count = 4): number[] {
  const step = niceStep(Math.max(1, max) / count);
  const ticks = [0];
  while (ticks[ticks.length - 1]! < max) ticks.push(ticks[ticks.length - 1]! + step);
  if (ticks.length === 1) ticks.push(step);
  return ticks;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TIME_STEPS = [
  HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
  14 * DAY,
  28 * DAY,
  91 * DAY,
  364 * DAY,
];

export interface TimeTick {
  at: number;
  label: string;
}

/**
 * Ticks on a time axis from `from` to `to` (ms): whole hours or UTC days, at most `max` of them, labelled
 * `2026-11-29` (or `11-29 06:00` below a day's step). One instant gets one tick, its day.
 */
export function timeTicks(from: number, to: number, max = 6): TimeTick[] {
  const day = (t: number) => new Date(t).toISOString().slice(0, 10);
  if (!(to > from)) return [{ at: from, label: day(from) }];
  const step = TIME_STEPS.find((s) => (to - from) / s <= max - 1) ?? TIME_STEPS[TIME_STEPS.length - 1]!;
  const label = (t: number) =>
    step < DAY ? new Date(t).toISOString().slice(5, 16).replace('T', ' ') : day(t);
  const ticks: TimeTick[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push({ at: t, label: label(t) });
  return ticks.length ? ticks : [{ at: from, label: day(from) }];
}
