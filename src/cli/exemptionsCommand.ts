// `exemptions list|add|remove`: the API's validation and store, for approvers at a shell.

import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';

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
import type { CliCommand } from './cliCommand';
import type { CliIo } from './cliIo';
import { EXIT } from './exitCodes';

// Bad input throws InputError, which main maps to exit 2.
const OK = EXIT.ok;
const FAILED = EXIT.failed;

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

export interface ListOptions {
  active?: boolean;
  expired?: boolean;
  expiringWithin?: string;
  json?: boolean;
}

export interface AddOptions {
  scope?: string;
  reason?: string;
  owner?: string;
  expires?: string;
  codes?: string;
  ticket?: string;
  id?: string;
  json?: boolean;
}

export interface RemoveOptions {
  id?: string;
}

export const exemptionsCommand: CliCommand = {
  name: 'exemptions',
  summary: "List, add or remove time-boxed waivers (in Table Storage, with the API's validation).",
  failure: 'Exemptions command failed',
  configure(command, { io, exit }) {
    const now = () => new Date();
    command
      .command('list')
      .description('List exemptions, soonest expiry first.')
      .option('--active', 'only those in force now')
      .option('--expired', 'only those past their expiry')
      .option('--expiring-within <days>', 'only those expiring within DAYS days (0-3650)')
      .option('--json', 'print JSON')
      .action(async (options: ListOptions) => exit(await listExemptions(options, io, now())));
    command
      .command('add')
      .description(
        'Add an exemption; never replaces one (replace through PUT /api/exemptions/{id} with If-Match).',
      )
      .option('--scope <arm-id>', 'the ARM ID of a pool, cluster, resource group or subscription (required)')
      .option('--reason <text>', 'why the waiver is acceptable (required)')
      .option('--owner <name>', 'who is accountable for lifting it (required)')
      .option(
        '--expires <yyyy-mm-dd>',
        'the last day it is in force, at most AUDIT_EXEMPTION_MAX_DAYS ahead (required)',
      )
      .option('--codes <codes>', 'only these finding codes, comma-separated (default: all codes)')
      .option('--ticket <ref>', 'a change or risk ticket')
      .option('--id <id>', 'the exemption ID (default: ex-YYYYMMDD-xxxxxx)')
      .option('--json', 'print the stored exemption as JSON')
      .action(async (options: AddOptions) => exit(await addExemption(options, io, now())));
    command
      .command('remove')
      .description('Remove an exemption; its history is kept.')
      .option('--id <id>', 'the exemption to remove (required)')
      .action(async (options: RemoveOptions) => exit(await removeExemption(options, io, now())));
  },
};

async function listExemptions(values: ListOptions, io: CliIo, now: Date): Promise<number> {
  const within = values.expiringWithin;
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

async function addExemption(values: AddOptions, io: CliIo, now: Date): Promise<number> {
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

async function removeExemption(values: RemoveOptions, io: CliIo, now: Date): Promise<number> {
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
