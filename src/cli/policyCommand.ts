// `policy`: writes the Azure Policy that keeps new pools FIPS-compliant, generated from the matrix in use.

import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { App } from '../app';
import { loadConfig } from '../config';
import type { Exemption } from '../core/types';
import { describeError, InputError } from '../errors';
import { generatePolicy } from '../policy/generatePolicy';
import { POLICY_FILE_NAMES } from '../policy/policyFileNames';
import { POLICY_EFFECTS, type PolicyEffect } from '../policy/policyTypes';
import { argvCommand, type CliCommand } from './cliCommand';
import type { CliIo } from './cliIo';
import { EXIT } from './exitCodes';

export const POLICY_USAGE = `  policy  [--effect audit|deny|disabled] [--out DIR]
          Writes to DIR (default ./fips-policy), generated from the FIPS matrix in use (AUDIT_MATRIX_FILE included):
            ${POLICY_FILE_NAMES.definitions}  ${POLICY_FILE_NAMES.initiative}  ${POLICY_FILE_NAMES.exemptions}
            ${POLICY_FILE_NAMES.managementGroupBicep} (az deployment mg create)  ${POLICY_FILE_NAMES.subscriptionBicep} (az deployment sub create)
            ${POLICY_FILE_NAMES.resourceGroupExemptionModule}  ${POLICY_FILE_NAMES.subscriptionExemptionModule}
          --effect  the definitions' default effect: audit (default) reports, deny refuses, disabled turns them off
          The exemptions come from the exemption store when AUDIT_TABLES_* is set; otherwise the file holds none.`;

export interface PolicyCommandOptions {
  /** The clock (tests): which exemptions are active and which SKUs the messages suggest. */
  now?: () => Date;
}

function effectOf(text: string | undefined): PolicyEffect {
  const wanted = (text ?? 'audit').toLowerCase();
  const effect = POLICY_EFFECTS.find((e) => e.toLowerCase() === wanted);
  if (!effect) throw new InputError(`--effect takes audit, deny or disabled; got "${text}"`);
  return effect;
}

export async function policyCommand(
  args: string[],
  io: CliIo,
  options: PolicyCommandOptions = {},
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      effect: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(`Usage: aks-fips-auditor policy [options]\n${POLICY_USAGE}\n`);
    return EXIT.ok;
  }
  const effect = effectOf(values.effect);
  if (values.out !== undefined && values.out.trim() === '') throw new InputError('--out needs a directory');
  const config = loadConfig(io.env);
  const asOf = (options.now ?? (() => new Date()))();

  let exemptions: Exemption[] | null = null;
  if (config.storage) {
    try {
      exemptions = await new App(config).exemptionStore.listExemptions();
    } catch (error) {
      // Without them the policy would refuse every waived pool: better no files than wrong ones.
      io.stderr.write(`Could not read the exemptions, so no policy was written: ${describeError(error)}\n`);
      return EXIT.failed;
    }
  } else {
    io.stderr.write(
      'No exemption store is configured (AUDIT_TABLES_ENDPOINT or AUDIT_TABLES_CONNECTION_STRING is not set): the policy carries no exemptions.\n',
    );
  }

  let generated: ReturnType<typeof generatePolicy>;
  try {
    generated = generatePolicy(config.matrix, { effect, asOf, exemptions });
  } catch (error) {
    io.stderr.write(`Could not generate the policy: ${describeError(error)}\n`);
    return EXIT.failed;
  }

  const dir = resolve(values.out ?? 'fips-policy');
  try {
    await mkdir(dir, { recursive: true });
    for (const [name, content] of Object.entries(generated.files))
      await writeFile(join(dir, name), content, 'utf8');
  } catch (error) {
    io.stderr.write(`Could not write the policy to ${dir}: ${describeError(error)}\n`);
    return EXIT.failed;
  }

  const { exemptions: plan, definitions } = generated;
  // Limits whose every window closed before today no longer leave anything to the audit.
  const today = asOf.toISOString().slice(0, 10);
  const limits = generated.limits.filter((l) =>
    l.releases.some((r) => r.window && (!r.window.before || r.window.before > today)),
  );
  const poolWaivers = new Set(
    Object.values(plan.assignmentParameters).flatMap((p) => p.value.map((w) => w.exemptionId.toLowerCase())),
  ).size;
  const lines = [
    `Wrote the Azure Policy of FIPS matrix ${config.matrix.version} (default effect ${effect}) to ${dir}:`,
    `  ${POLICY_FILE_NAMES.definitions}  ${definitions.length} policy definitions`,
    `  ${POLICY_FILE_NAMES.initiative}  the initiative ${generated.initiative.name}`,
    `  ${POLICY_FILE_NAMES.exemptions}  ${plan.exemptions.length} policy exemptions (${poolWaivers} of them pool waivers), ${exemptions === null ? 'no exemption store' : `from ${exemptions.length} stored exemptions`}`,
    `  ${POLICY_FILE_NAMES.managementGroupBicep}  az deployment mg create --management-group-id <group> --location <region> --template-file ${POLICY_FILE_NAMES.managementGroupBicep}`,
    `  ${POLICY_FILE_NAMES.subscriptionBicep}  az deployment sub create --location <region> --template-file ${POLICY_FILE_NAMES.subscriptionBicep}`,
    ...(plan.notDeployed.length
      ? [
          'Exemptions that are no policy exemption:',
          ...plan.notDeployed.map((n) => `  ${n.exemptionId}: ${n.reason}`),
        ]
      : []),
    'Left to the daily audit (a request does not show what decides them):',
    ...limits.map((l) => `  - ${l.text}`),
  ];
  io.stdout.write(`${lines.join('\n')}\n`);
  return EXIT.ok;
}

export const policyCliCommand: CliCommand = argvCommand({
  name: 'policy',
  summary: 'Write the Azure Policy that keeps new pools FIPS-compliant, generated from the matrix in use.',
  failure: 'Could not write the policy',
  usage: POLICY_USAGE,
  run: (args, io) => policyCommand(args, io),
});
