// The audit's exit codes: run status, findings and --fail-on gates to one code a pipeline can trust.

import { InvalidArgumentError } from 'commander';

import { auditExitCode, auditExitReason, collectFailOn, EXIT, type FailOn } from '../../src/cli/exitCodes';
import type { RunStatus } from '../../src/core/types';

const none = { noncompliant: 0, unknown: 0 };
const findings = { noncompliant: 4, unknown: 0 };
const unknowns = { noncompliant: 0, unknown: 2 };
const both = { noncompliant: 4, unknown: 2 };

describe('auditExitCode', () => {
  it.each<[RunStatus, { noncompliant: number; unknown: number }, FailOn[], number]>([
    // A succeeded run exits 0 unless a gate trips; then 3.
    ['succeeded', none, [], EXIT.ok],
    ['succeeded', both, [], EXIT.ok],
    ['succeeded', none, ['noncompliant', 'unknown'], EXIT.ok],
    ['succeeded', findings, ['noncompliant'], EXIT.gate],
    ['succeeded', findings, ['unknown'], EXIT.ok],
    ['succeeded', unknowns, ['unknown'], EXIT.gate],
    ['succeeded', unknowns, ['noncompliant'], EXIT.ok],
    ['succeeded', both, ['noncompliant', 'unknown'], EXIT.gate],
    // A partial run is 4, with or without gates, whatever it found: it passes no gate and never exits 0 or 3.
    ['partial', none, [], EXIT.incomplete],
    ['partial', none, ['noncompliant'], EXIT.incomplete],
    ['partial', findings, ['noncompliant'], EXIT.incomplete],
    ['partial', both, ['noncompliant', 'unknown'], EXIT.incomplete],
    // A failed run (read nothing, could not authenticate) is 1, gates or not.
    ['failed', none, [], EXIT.failed],
    ['failed', none, ['noncompliant'], EXIT.failed],
    ['failed', both, ['noncompliant', 'unknown'], EXIT.failed],
    // An abandoned run (its worker stopped) is a failed one.
    ['abandoned', both, ['noncompliant'], EXIT.failed],
    // A report still running is no outcome: never a pass.
    ['running', none, [], EXIT.failed],
  ])('maps a %s run with %j and --fail-on %j to exit %i', (status, summary, failOn, code) => {
    expect(auditExitCode({ status, summary }, failOn)).toBe(code);
  });

  it.each<RunStatus>(['failed', 'abandoned', 'partial', 'running'])(
    'never lets a %s run exit 0 or 3, whatever it found and whatever the gates',
    (status) => {
      for (const summary of [none, findings, unknowns, both]) {
        for (const failOn of [[], ['noncompliant'], ['unknown'], ['noncompliant', 'unknown']] as FailOn[][]) {
          expect([EXIT.ok, EXIT.gate]).not.toContain(auditExitCode({ status, summary }, failOn));
        }
      }
    },
  );
});

describe('auditExitReason', () => {
  it.each<[RunStatus, { noncompliant: number; unknown: number }, FailOn[], string | null]>([
    ['succeeded', findings, [], null],
    [
      'succeeded',
      both,
      ['noncompliant', 'unknown'],
      'Exit 3: --fail-on noncompliant,unknown tripped: 4 noncompliant and 2 unknown node pools.',
    ],
    [
      'succeeded',
      unknowns,
      ['noncompliant', 'unknown'],
      'Exit 3: --fail-on noncompliant,unknown tripped: 2 unknown node pools.',
    ],
    [
      'partial',
      none,
      [],
      'Exit 4: the audit is incomplete (partial): some scope could not be read, so no gate can pass.',
    ],
    [
      'failed',
      none,
      ['noncompliant'],
      'Exit 1: the audit failed: it could not read what it was asked to audit (see the errors above).',
    ],
    [
      'abandoned',
      none,
      [],
      'Exit 1: the audit ended abandoned: its worker stopped before it completed (see the errors above).',
    ],
  ])('explains a %s run with %j and --fail-on %j', (status, summary, failOn, reason) => {
    expect(auditExitReason({ status, summary }, failOn)).toBe(reason);
  });
});

describe('collectFailOn', () => {
  it.each<[string[], FailOn[]]>([
    [['noncompliant'], ['noncompliant']],
    [['unknown'], ['unknown']],
    [['noncompliant,unknown'], ['noncompliant', 'unknown']],
    [
      ['noncompliant', 'unknown'],
      ['noncompliant', 'unknown'],
    ],
    [
      ['Noncompliant, unknown', 'noncompliant'],
      ['noncompliant', 'unknown'],
    ],
  ])('reads --fail-on %j as %j', (values, expected) => {
    expect(values.reduce<FailOn[]>((previous, value) => collectFailOn(value, previous), [])).toEqual(
      expected,
    );
  });

  it.each(['always', 'noncompliant,exempt', '', ',', 'incomplete'])(
    'refuses --fail-on "%s" as a usage error naming the allowed values',
    (value) => {
      expect(() => collectFailOn(value)).toThrow(InvalidArgumentError);
      expect(() => collectFailOn(value)).toThrow(/--fail-on takes noncompliant or unknown/);
    },
  );
});
