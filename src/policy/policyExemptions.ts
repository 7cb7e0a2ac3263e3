// Turns the auditor's active exemptions into Azure Policy exemptions and pool waivers, waiving no more than they do.
//
// A policy exemption is a child of the scope it exempts (exemption-structure): a subscription, a resource group,
// a cluster or an agent pool. A pool-level exemption therefore sits on the `managedClusters/agentPools`
// resource and covers the agent-pool definitions; a cluster request never names that resource, so the same
// waiver reaches the cluster definitions as a `waivedPools` entry, with its expiry, instead of exempting the
// whole cluster. Only the definitions of the exemption's finding codes are exempted (category Waiver).

import { createHash } from 'node:crypto';

import { isActive } from '../core/applyExemptions';
import { parseExemptionScope, type ScopeLevel } from '../core/exemptionRules';
import type { Exemption } from '../core/types';
import { clip, DESCRIPTION_LIMIT, DISPLAY_NAME_LIMIT } from './definitionText';
import { definitionReferenceId, waiverParameterName } from './policyNames';
import {
  ASSIGNMENT_ID_TOKEN,
  isPolicyCode,
  POLICY_CODES,
  type PolicyCode,
  type PolicyTarget,
} from './policyTypes';

/**
 * Azure Policy evaluates at most 100 iterations of a `value` count (definition-structure-policy-rule, "Policy
 * rule limits"), and a rule over the limit becomes a deny; the waiver list of one finding must stay below it.
 */
export const MAX_POOL_WAIVERS_PER_CODE = 100;

export interface PoolWaiver {
  poolId: string;
  /** `yyyy-MM-ddTHH:mm:ss.fffffffZ`, the format of utcNow(), so the two compare as strings and as dates. */
  expiresOn: string;
  exemptionId: string;
}

/** One `Microsoft.Authorization/policyExemptions` resource, with where it goes. */
export interface PolicyExemptionEntry {
  /** The exemption resource's name: `fips-<exemption ID>`. */
  name: string;
  level: ScopeLevel;
  /** The ARM ID the exemption is created on. */
  scope: string;
  subscriptionId: string;
  /** Empty at subscription level; cluster and pool likewise empty where they do not apply. */
  resourceGroup: string;
  cluster: string;
  pool: string;
  properties: {
    displayName: string;
    description: string;
    exemptionCategory: 'Waiver';
    expiresOn: string;
    /** The deployment replaces the token with the initiative assignment's ID. */
    policyAssignmentId: string;
    policyDefinitionReferenceIds: string[];
    metadata: Record<string, unknown>;
  };
}

export interface PolicyExemptionPlan {
  exemptions: PolicyExemptionEntry[];
  /** Initiative parameters (`waivedPools<Code>`) as an assignment takes them. */
  assignmentParameters: Record<string, { value: PoolWaiver[] }>;
  /** Exemptions of the store that become no policy exemption, and why. */
  notDeployed: { exemptionId: string; reason: string }[];
}

/** The format of expiresOn in the exemption docs and of utcNow(): seven fractional digits. */
export function policyDateTime(iso: string): string {
  return new Date(Date.parse(iso)).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

/** `fips-<id>`, or a shortened form with a hash when the ID has characters or a length a name cannot take. */
export function exemptionResourceName(id: string): string {
  const plain = `fips-${id}`;
  if (/^[A-Za-z0-9_-]{1,64}$/.test(plain)) return plain;
  const hash = createHash('sha256').update(id.toLowerCase()).digest('hex').slice(0, 8);
  return `fips-${id.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 50)}-${hash}`;
}

/**
 * Plans the policy exemptions of the exemptions active at `asOf`. `present` lists the finding codes the
 * generated initiative has definitions for. Mirrors applyExemptions: an OS_SKU_UNRECOGNIZED waiver counts only
 * on the very pool, never on a cluster, resource group or subscription.
 */
export function policyExemptions(
  exemptions: readonly Exemption[],
  options: { asOf: Date; present: readonly PolicyCode[] },
): PolicyExemptionPlan {
  const plan: PolicyExemptionPlan = { exemptions: [], assignmentParameters: {}, notDeployed: [] };
  const waivers = new Map<PolicyCode, PoolWaiver[]>(options.present.map((code) => [code, []]));
  const sorted = [...exemptions].sort((a, b) => a.id.toLowerCase().localeCompare(b.id.toLowerCase()));
  for (const exemption of sorted) {
    const skip = (reason: string) => plan.notDeployed.push({ exemptionId: exemption.id, reason });
    if (!isActive(exemption, options.asOf)) {
      skip(
        Date.parse(exemption.expiresOn) <= options.asOf.getTime()
          ? `expired on ${exemption.expiresOn}`
          : `not active yet (created ${exemption.createdAt})`,
      );
      continue;
    }
    const parsed = parseExemptionScope(exemption.scope);
    if (!parsed.ok) {
      skip(`its scope is not one a policy exemption can name: ${parsed.issues[0]?.detail ?? 'invalid'}`);
      continue;
    }
    const { level, scope, subscriptionId } = parsed.value;
    const requested = exemption.codes ?? POLICY_CODES;
    const judged = requested.filter(isPolicyCode);
    const present = judged.filter((code) => options.present.includes(code));
    const codes = level === 'pool' ? present : present.filter((code) => code !== 'OS_SKU_UNRECOGNIZED');
    if (codes.length === 0) {
      skip(
        judged.length === 0
          ? `it waives only findings a policy does not judge (${requested.join(', ')})`
          : present.length === 0
            ? `the policy has no definition of ${judged.join(', ')} with this matrix`
            : 'it waives only OS_SKU_UNRECOGNIZED above pool level, which the audit honours only on the very pool',
      );
      continue;
    }
    const targets: PolicyTarget[] = level === 'pool' ? ['agentPools'] : ['clusters', 'agentPools'];
    const [, , , , resourceGroup = '', , , , cluster = '', , pool = ''] = scope.split('/');
    const expiresOn = policyDateTime(exemption.expiresOn);
    if (level === 'pool') {
      for (const code of codes)
        waivers.get(code)?.push({ poolId: scope, expiresOn, exemptionId: exemption.id });
    }
    plan.exemptions.push({
      name: exemptionResourceName(exemption.id),
      level,
      scope,
      subscriptionId,
      resourceGroup,
      cluster,
      pool,
      properties: {
        displayName: clip(`AKS FIPS waiver ${exemption.id}`, DISPLAY_NAME_LIMIT),
        description: clip(
          `Waiver from aks-fips-auditor exemption ${exemption.id}. Owner: ${exemption.owner}. Ticket: ${exemption.ticket ?? 'none'}. Reason: ${exemption.reason}`,
          DESCRIPTION_LIMIT,
        ),
        exemptionCategory: 'Waiver',
        expiresOn,
        policyAssignmentId: ASSIGNMENT_ID_TOKEN,
        policyDefinitionReferenceIds: codes.flatMap((code) =>
          targets.map((target) => definitionReferenceId(code, target)),
        ),
        metadata: {
          source: 'aks-fips-auditor',
          exemptionId: exemption.id,
          owner: exemption.owner,
          ticket: exemption.ticket,
          reason: clip(exemption.reason, 1024),
          codes: exemption.codes ?? 'all',
          createdBy: exemption.createdBy,
          createdAt: exemption.createdAt,
        },
      },
    });
  }
  for (const [code, list] of waivers) {
    if (list.length > MAX_POOL_WAIVERS_PER_CODE) {
      throw new RangeError(
        `${list.length} active pool-level exemptions waive ${code}; Azure Policy evaluates at most ${MAX_POOL_WAIVERS_PER_CODE} in a rule, and a rule over the limit denies. Waive at cluster or resource group level, or remove expired and duplicate exemptions.`,
      );
    }
    plan.assignmentParameters[waiverParameterName(code)] = { value: list };
  }
  return plan;
}
