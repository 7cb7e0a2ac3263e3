// Generates every file of `aks-fips-auditor policy` from the matrix in use and the stored exemptions. Pure.

import type { FipsMatrix } from '../core/fipsMatrix';
import type { Exemption } from '../core/types';
import { agentPoolPolicyDefinitions } from './agentPoolPolicyDefinitions';
import { clusterPolicyDefinitions } from './clusterPolicyDefinitions';
import { candidateSets, releaseWindow } from './fipsPolicyClauses';
import { policyBicepFiles } from './policyBicep';
import { type PolicyExemptionPlan, policyExemptions } from './policyExemptions';
import { POLICY_FILE_NAMES } from './policyFileNames';
import { policyInitiative } from './policyInitiative';
import { type PolicyLimit, policyLimits } from './policyLimits';
import { definitionReferenceId } from './policyNames';
import type {
  PolicyCode,
  PolicyDefinition,
  PolicyEffect,
  PolicySetDefinition,
  PolicyTarget,
} from './policyTypes';

export interface GeneratePolicyOptions {
  effect: PolicyEffect;
  /** The moment of generation: which exemptions are active, which SKUs to recommend, `generatedAt`. */
  asOf: Date;
  /** The stored exemptions, or null when no exemption store is configured. */
  exemptions: readonly Exemption[] | null;
}

export interface GeneratedPolicy {
  /** File name → content. */
  files: Record<string, string>;
  definitions: PolicyDefinition[];
  initiative: PolicySetDefinition;
  exemptions: PolicyExemptionPlan;
  limits: PolicyLimit[];
}

/** SKUs that are FIPS-capable and not retired at `asOf` on every release: what a remediation may suggest. */
export function fipsCapableSkus(matrix: FipsMatrix, asOf: Date): string[] {
  const day = asOf.toISOString().slice(0, 10);
  const holds = (window: { from?: string; before?: string } | null) =>
    !!window && (!window.from || window.from <= day) && (!window.before || day < window.before);
  return candidateSets(matrix)
    .filter((set) => set.selector.kind === 'osSku' && set.releases.length > 0)
    .filter((set) =>
      set.releases.every(
        (r) =>
          !holds(releaseWindow('OS_NOT_FIPS_CAPABLE', r.os)) && !holds(releaseWindow('OS_RETIRED', r.os)),
      ),
    )
    .filter((set) => set.releases.length === 1)
    .map((set) => (set.selector.kind === 'osSku' ? set.selector.osSku : ''));
}

function nonComplianceMessage(
  code: PolicyCode,
  target: PolicyTarget,
  matrix: FipsMatrix,
  skus: string[],
): string {
  const which = target === 'clusters' ? "One of this cluster's agent pools" : 'This agent pool';
  const use = skus.length ? `a FIPS-capable OS SKU (${skus.join(', ')})` : 'a FIPS-capable OS SKU';
  switch (code) {
    case 'FIPS_DISABLED':
      return `${which} has FIPS off on an OS that offers it only on request: set enableFIPS (az aks nodepool add|update --enable-fips-image). A Windows pool cannot be switched: create a new pool.`;
    case 'OS_NOT_FIPS_CAPABLE':
      return `${which} uses an OS SKU without a FIPS image on AKS: create the pool with ${use} and --enable-fips-image.`;
    case 'OS_RETIRED':
      return `${which} runs an OS that is retired on AKS and gets no FIPS patches: move it to ${use}.`;
    case 'OS_SKU_UNRECOGNIZED':
      return `${which} uses an OS SKU that FIPS matrix ${matrix.version} does not know, so it is not known to have a FIPS image: use ${use}, or add the SKU to the matrix (AUDIT_MATRIX_FILE) and regenerate the policy.`;
  }
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

export function generatePolicy(matrix: FipsMatrix, options: GeneratePolicyOptions): GeneratedPolicy {
  const definitions = [
    ...clusterPolicyDefinitions(matrix, options.effect),
    ...agentPoolPolicyDefinitions(matrix, options.effect),
  ];
  const initiative = policyInitiative(definitions, matrix, options.effect);
  const present = [...new Set(definitions.map((d) => d.properties.metadata.aksFipsAuditor.findingCode))];
  const exemptions = policyExemptions(options.exemptions ?? [], { asOf: options.asOf, present });
  const skus = fipsCapableSkus(matrix, options.asOf);
  const nonComplianceMessages = Object.fromEntries(
    definitions.map((d) => {
      const { findingCode, target } = d.properties.metadata.aksFipsAuditor;
      return [
        definitionReferenceId(findingCode, target),
        nonComplianceMessage(findingCode, target, matrix, skus),
      ];
    }),
  );
  const exemptionsFile = {
    $comment:
      'Policy exemptions from the aks-fips-auditor exemption store, active when generated. The Bicep deploys them and fills policyAssignmentId; assignmentParameters carries pool-level waivers to the cluster definitions.',
    generatedAt: options.asOf.toISOString(),
    exemptionStore: options.exemptions
      ? 'read'
      : 'not configured (AUDIT_TABLES_ENDPOINT or AUDIT_TABLES_CONNECTION_STRING is not set): no exemptions',
    exemptions: exemptions.exemptions,
    assignmentParameters: exemptions.assignmentParameters,
    notDeployed: exemptions.notDeployed,
  };
  return {
    files: {
      [POLICY_FILE_NAMES.definitions]: json(definitions),
      [POLICY_FILE_NAMES.initiative]: json(initiative),
      [POLICY_FILE_NAMES.exemptions]: json(exemptionsFile),
      ...policyBicepFiles({
        effect: options.effect,
        initiative,
        matrixVersion: matrix.version,
        nonComplianceMessages,
      }),
    },
    definitions,
    initiative,
    exemptions,
    limits: policyLimits(matrix),
  };
}
