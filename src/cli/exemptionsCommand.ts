// `exemptions list|add|remove`: the API's validation and store, for approvers at a shell.

import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';

import { App } from '../app';
import { loadConfig } from '../config';
import {
  exemptionIdProblem,
  exemptionState,
  expiresWithin,
  validateExemptionInput,
} from '../core/exemptionRules';
import { describeError, InputError } from '../errors';
import { ExemptionPreconditionError, unknownScopeWarnings } from '../store/exemptionStore';
import type { CliIo } from './main';

// main's EXIT codes (not imported: main imports this module). Bad input throws InputError, which main maps to 2.
const OK = 0;
const FAILED = 1;

export const EXEMPTIONS_USAGE = `  exemptions list    [--active | --expired | --expiring-within DAYS] [--json]
  exemptions add     --scope ARM_ID --reason TEXT --owner NAME --expires YYYY-MM-DD
                     [--codes CODE,CODE] [--ticket REF] [--id ID] [--json]
  exemptions remove  --id ID`;

/** Flags by field, so a validation problem names the option to fix. */
const FLAG_OF: Record<string, string> = {
  scope: '--scope',
  reason: '--reason',
  owner: '--owner',
  ticket: '--ticket',
  codes: '--codes',
  expiresOn: '--expires',
  id: '--id',
};

function who(env: NodeJS.ProcessEnv): string {
  let name = env.USER ?? env.USERNAME;
  if (!name) {
    try {
      name = userInfo().username;
    } catch {
      name = 'unknown';
    }
  }
  return `cli:${name}`.slice(0, 256);
}

/** A readable, sortable ID when the approver gives none: `ex-20261129-3f9a1c`. */
export function newExemptionId(now: Date, random: string = randomBytes(3).toString('hex')): string {
  return `ex-${now.toISOString().slice(0, 10).replaceAll('-', '')}-${random}`;
}

export interface ExemptionsCommandOptions {
  /** The clock (tests): validation, `createdAt` and the list's state use it. */
  now?: () => Date;
}

export async function exemptionsCommand(
  args: string[],
  io: CliIo,
  options: ExemptionsCommandOptions = {},
): Promise<number> {
  const [action, ...rest] = args;
  const now = (options.now ?? (() => new Date()))();
  switch (action) {
    case 'list':
      return listExemptions(rest, io, now);
    case 'add':
      return addExemption(rest, io, now);
    case 'remove':
      return removeExemption(rest, io, now);
    default:
      throw new InputError(
        `${action === undefined ? 'exemptions needs an action' : `Unknown exemptions action "${action}"`}:\n${EXEMPTIONS_USAGE}`,
      );
  }
}

async function listExemptions(args: string[], io: CliIo, now: Date): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      active: { type: 'boolean', default: false },
      expired: { type: 'boolean', default: false },
      'expiring-within': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const within = values['expiring-within'];
  if (within !== undefined && (!/^\d{1,4}$/.test(within) || Number(within) > 3650)) {
    throw new InputError(`--expiring-within takes a whole number of days from 0 to 3650; got "${within}"`);
  }
  if ([values.active, values.expired, within !== undefined].filter(Boolean).length > 1) {
    throw new InputError('Give at most one of --active, --expired and --expiring-within');
  }
  const store = new App(loadConfig(io.env)).exemptionStore;
  const rows = [];
  for await (const { exemption, etag } of store.list()) {
    const state = exemptionState(exemption, now);
    if (values.active && state !== 'active') continue;
    if (values.expired && state !== 'expired') continue;
    if (within !== undefined && !expiresWithin(exemption, now, Number(within))) continue;
    rows.push({ ...exemption, state, etag });
  }
  rows.sort((a, b) => a.expiresOn.localeCompare(b.expiresOn) || a.id.localeCompare(b.id));
  if (values.json) {
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return OK;
  }
  if (rows.length === 0) {
    io.stdout.write('No exemptions match.\n');
    return OK;
  }
  for (const e of rows) {
    io.stdout.write(
      `${e.id}\t${e.state}\texpires ${e.expiresOn}\towner ${e.owner}\t${e.codes ? e.codes.join(',') : 'all codes'}\t${e.scope}\n`,
    );
  }
  return OK;
}

async function addExemption(args: string[], io: CliIo, now: Date): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      scope: { type: 'string' },
      reason: { type: 'string' },
      owner: { type: 'string' },
      expires: { type: 'string' },
      codes: { type: 'string' },
      ticket: { type: 'string' },
      id: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const config = loadConfig(io.env);
  const id = values.id ?? newExemptionId(now);
  const idProblem = exemptionIdProblem(id);
  const input = validateExemptionInput(
    {
      scope: values.scope,
      reason: values.reason,
      owner: values.owner,
      expiresOn: values.expires,
      ticket: values.ticket,
      codes: values.codes?.split(',').map((c) => c.trim()),
    },
    { now, maxDays: config.exemptionMaxDays },
  );
  const problems = [
    ...(idProblem ? [`--id ${idProblem}`] : []),
    ...(input.ok ? [] : input.issues.map((i) => `${FLAG_OF[i.field] ?? i.field} ${i.detail}`)),
  ];
  if (problems.length || !input.ok) {
    throw new InputError(`Cannot add the exemption:\n  - ${problems.join('\n  - ')}`);
  }
  const app = new App(config);
  const store = app.exemptionStore;
  try {
    await store.ensureTable();
    // Add never replaces: a replacement goes through the API with If-Match, so nobody overwrites blindly.
    const { stored } = await store.put(id, input.value, { who: who(io.env), at: now, ifNoneMatch: '*' });
    for (const warning of await unknownScopeWarnings(
      app.exemptionsDependencies().catalog!,
      input.value.scope,
    )) {
      io.stderr.write(`Warning: ${warning}\n`);
    }
    if (values.json)
      io.stdout.write(`${JSON.stringify({ ...stored.exemption, etag: stored.etag }, null, 2)}\n`);
    else
      io.stdout.write(
        `Added exemption ${stored.exemption.id}: ${stored.exemption.scope} until ${stored.exemption.expiresOn}\n`,
      );
    return OK;
  } catch (error) {
    if (error instanceof ExemptionPreconditionError) {
      io.stderr.write(
        `Exemption ${id} already exists. Remove it first, or replace it through PUT /api/exemptions/${id} with If-Match.\n`,
      );
      return FAILED;
    }
    io.stderr.write(`Could not add the exemption: ${describeError(error)}\n`);
    return FAILED;
  }
}

async function removeExemption(args: string[], io: CliIo, now: Date): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { id: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  if (values.id === undefined) throw new InputError('exemptions remove needs --id ID');
  const idProblem = exemptionIdProblem(values.id);
  if (idProblem) throw new InputError(`--id ${idProblem}`);
  const store = new App(loadConfig(io.env)).exemptionStore;
  try {
    const deleted = await store.delete(values.id, { who: who(io.env), at: now });
    if (!deleted) {
      io.stderr.write(`No exemption ${values.id}; nothing was removed.\n`);
      return FAILED;
    }
    io.stdout.write(`Removed exemption ${values.id}.\n`);
    return OK;
  } catch (error) {
    io.stderr.write(`Could not remove the exemption: ${describeError(error)}\n`);
    return FAILED;
  }
}
