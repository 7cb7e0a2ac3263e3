// Run IDs: sortable, carry the run's start second, unique per run (e.g. 20261129T043420Z-3f9a1c).

import { randomBytes } from 'node:crypto';

import { z } from 'zod';

/** A run ID: UTC start second, then 6 random hex digits so runs started in the same second differ. */
export const runIdPattern = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;
export const runIdSchema = z
  .string()
  .regex(runIdPattern, 'a run ID looks like 20261129T043420Z-3f9a1c (UTC start time, then 6 hex digits)');

export function isRunId(value: string): boolean {
  return runIdPattern.test(value) && !Number.isNaN(parseRunIdTime(value));
}

/**
 * Mints a run ID such as `20261129T043420Z-3f9a1c`; IDs sort by start time.
 * `random` (6 lowercase hex digits) makes IDs reproducible in tests.
 */
export function newRunId(now: Date, random: string = randomBytes(3).toString('hex')): string {
  if (!/^[0-9a-f]{6}$/.test(random))
    throw new RangeError(`random must be 6 lowercase hex digits; got "${random}"`);
  if (Number.isNaN(now.getTime())) throw new RangeError('newRunId needs a valid date');
  const stamp = now.toISOString(); // 2026-11-29T04:34:20.123Z
  const compact = `${stamp.slice(0, 4)}${stamp.slice(5, 7)}${stamp.slice(8, 10)}T${stamp.slice(11, 13)}${stamp.slice(14, 16)}${stamp.slice(17, 19)}Z`;
  const id = `${compact}-${random}`;
  if (!runIdPattern.test(id)) throw new RangeError(`newRunId needs a date in years 0000-9999; got ${stamp}`);
  return id;
}

function parseRunIdTime(runId: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-/.exec(runId);
  if (!m) return Number.NaN;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls 2026-02-31 over to March; such an ID was not minted by newRunId.
  const back = new Date(ms);
  const valid =
    back.getUTCFullYear() === y &&
    back.getUTCMonth() === mo - 1 &&
    back.getUTCDate() === d &&
    back.getUTCHours() === h &&
    back.getUTCMinutes() === mi &&
    back.getUTCSeconds() === s;
  return valid ? ms : Number.NaN;
}

/** The start time (to the second) encoded in a run ID; throws RangeError for anything that is not a run ID. */
export function runIdTime(runId: string): Date {
  const ms = runIdPattern.test(runId) ? parseRunIdTime(runId) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new RangeError(`Not a run ID: "${runId}" (expected e.g. 20261129T043420Z-3f9a1c)`);
  }
  return new Date(ms);
}
