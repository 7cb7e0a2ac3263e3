// The command's exit codes, and the one mapping from an audit's outcome (run status, summary, --fail-on) to a code.

import { InvalidArgumentError } from 'commander';

import type { RunStatus, Summary } from '../core/types';

/**
 * Exit codes a pipeline can trust. A failed or incomplete audit never exits `ok` or `gate`: a gate must not pass,
 * and a step that tolerates `gate` (findings) must not tolerate an audit that could not read the estate.
 */
export const EXIT = {
  /** The command did its job; for `audit`, the run succeeded and no --fail-on gate tripped. */
  ok: 0,
  /** The command failed; for `audit`, the run failed (it could not authenticate or read at all) or threw. */
  failed: 1,
  /** Bad usage or settings: nothing was done. */
  usage: 2,
  /** A --fail-on gate tripped on a succeeded run. */
  gate: 3,
  /** The audit was incomplete (run status `partial`: some scope could not be read), with or without --fail-on. */
  incomplete: 4,
  /** `verify` or `evidence` found a stored run that no longer matches its seal (or a completed run not sealed). */
  evidenceMismatch: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What `--fail-on` can gate on: pools of that status in a succeeded run. */
export const FAIL_ON = ['noncompliant', 'unknown'] as const;
export type FailOn = (typeof FAIL_ON)[number];

/** The exit status lines of `--help` and the README, from one place. */
export const EXIT_STATUS_HELP = `Exit status:
  0  the audit succeeded (and no --fail-on gate tripped); any other command did its job
  1  the audit failed: it could not authenticate or read at all (run status failed), or the command failed
  2  bad usage or settings: nothing was done
  3  a --fail-on gate tripped on a succeeded run (noncompliant or unknown pools)
  4  the audit was incomplete (run status partial: some scope could not be read), with or without --fail-on
  5  verify or evidence found a stored run that no longer matches its seal
A failed or incomplete audit never exits 0 or 3.`;

/**
 * Commander's argument parser for a repeatable `--fail-on`: `--fail-on noncompliant,unknown` or the option
 * given twice. Unknown values are a usage error naming the allowed ones.
 */
export function collectFailOn(value: string, previous: FailOn[] = []): FailOn[] {
  const parts = value
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter((v) => v !== '');
  const bad = parts.filter((v) => !(FAIL_ON as readonly string[]).includes(v));
  if (parts.length === 0 || bad.length) {
    throw new InvalidArgumentError(
      `--fail-on takes ${FAIL_ON.join(' or ')} (comma-separated or repeated), for example --fail-on noncompliant,unknown`,
    );
  }
  return [...new Set([...previous, ...(parts as FailOn[])])];
}

export interface AuditOutcome {
  status: RunStatus;
  summary: Pick<Summary, 'noncompliant' | 'unknown'>;
}

/**
 * The exit code of an audit that returned a report. `partial` is 4 whatever the gates say, because figures that
 * miss a scope can neither pass nor fail a gate honestly; `failed` (and any status that is not an outcome) is 1.
 */
export function auditExitCode(outcome: AuditOutcome, failOn: Iterable<FailOn> = []): ExitCode {
  switch (outcome.status) {
    case 'succeeded': {
      const gates = new Set(failOn);
      const tripped =
        (gates.has('noncompliant') && outcome.summary.noncompliant > 0) ||
        (gates.has('unknown') && outcome.summary.unknown > 0);
      return tripped ? EXIT.gate : EXIT.ok;
    }
    case 'partial':
      return EXIT.incomplete;
    case 'failed':
    case 'abandoned':
    case 'running':
      return EXIT.failed;
  }
}

/** One line for stderr saying why an audit exits non-zero, so a red pipeline step explains itself; null for 0. */
export function auditExitReason(outcome: AuditOutcome, failOn: Iterable<FailOn> = []): string | null {
  const code = auditExitCode(outcome, failOn);
  const { noncompliant, unknown } = outcome.summary;
  switch (code) {
    case EXIT.ok:
      return null;
    case EXIT.incomplete:
      return `Exit ${code}: the audit is incomplete (partial): some scope could not be read, so no gate can pass.`;
    case EXIT.gate: {
      const gates = new Set(failOn);
      const tripped = [
        ...(gates.has('noncompliant') && noncompliant > 0 ? [`${noncompliant} noncompliant`] : []),
        ...(gates.has('unknown') && unknown > 0 ? [`${unknown} unknown`] : []),
      ];
      return `Exit ${code}: --fail-on ${[...gates].join(',')} tripped: ${tripped.join(' and ')} node pools.`;
    }
    default:
      return outcome.status === 'abandoned'
        ? `Exit ${code}: the audit ended abandoned: its worker stopped before it completed (see the errors above).`
        : `Exit ${code}: the audit ${outcome.status === 'failed' ? 'failed' : `ended ${outcome.status}`}: it could not read what it was asked to audit (see the errors above).`;
  }
}
