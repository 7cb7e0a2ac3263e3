// OSCAL Assessment Results for one run (pure): observations per pool, findings and risks against SC-13.

import type {
  ClusterResult,
  Exemption,
  Finding,
  PoolResult,
  RunInfo,
  ScopeError,
  Severity,
  Summary,
} from '../core/types';
import { LazyArray } from './jsonStream';
import { uuidV5 } from './uuidV5';

/** The namespace every UUID of the evidence is derived in (UUID v5): fixed forever, so rebuilt bundles are identical. */
export const EVIDENCE_UUID_NAMESPACE = '201ecf01-7d20-4240-bef6-57560c1c77ba';
/** Namespace of the properties this tool defines, so they never collide with NIST's own names and constraints. */
export const OSCAL_PROPERTY_NS = 'urn:aks-fips-auditor:oscal';
/** The OSCAL version the document declares; it also validates against NIST's 1.0.6 schema (docs/evidence.md). */
export const OSCAL_VERSION = '1.1.2';
/** NIST SP 800-53 Rev. 5 SC-13 Cryptographic Protection, and its statement, as the NIST catalog identifies them. */
export const SC_13 = {
  controlId: 'sc-13',
  statementId: 'sc-13_smt',
  title: 'SC-13 Cryptographic Protection',
} as const;

export interface OscalRunInput {
  tool: { name: string; version: string };
  run: RunInfo;
  summary: Summary;
  errors: ScopeError[];
  /** The run's seal, when it has one. */
  chain: { seq: number; digest: string } | null;
  /** How many pools the lazy list holds, and how many of them are noncompliant, unknown or exempt. */
  counts: { pools: number; flagged: number };
  /** The run's pools, read as often as the document needs (three times: observations, risks, findings). */
  pools: () => AsyncIterable<PoolResult> | Iterable<PoolResult>;
  /** Clusters with findings of their own, mentioned in the result's remarks. */
  clusterFindings: readonly ClusterResult[];
}

type Prop = { name: string; ns: string; value: string };

/** A property value as OSCAL's StringDatatype takes it: one line, no leading or trailing space, never empty. */
function propValue(value: string | null | undefined): string {
  const line = (value ?? '').replace(/\s+/g, ' ').trim();
  return line === '' ? 'not-set' : line;
}

function prop(name: string, value: string | null | undefined): Prop {
  return { name, ns: OSCAL_PROPERTY_NS, value: propValue(value) };
}

const SEVERITY_ORDER: Severity[] = ['high', 'medium', 'low', 'info'];

function worstSeverity(findings: readonly Finding[]): Severity | null {
  return SEVERITY_ORDER.find((s) => findings.some((f) => f.severity === s)) ?? null;
}

/** Pools that get a finding and a risk: everything the run did not find compliant. */
export function isFlagged(pool: PoolResult): boolean {
  return pool.status !== 'compliant';
}

export interface OscalIds {
  document: string;
  result: string;
  tool: string;
  assessmentPlan: string;
  inventoryItem(poolId: string): string;
  observation(poolId: string): string;
  risk(poolId: string): string;
  finding(poolId: string): string;
  riskLogEntry(poolId: string): string;
  remediation(poolId: string, code: string): string;
}

/**
 * Deterministic UUIDs (v5 in EVIDENCE_UUID_NAMESPACE): per run for the document and its parts, from the run ID
 * and the lowercased pool ID (ARM IDs compare case-insensitively); per pool only for its inventory item, so the
 * same pool is the same subject in every run's document, as OSCAL asks of subject identifiers.
 */
export function oscalIds(runId: string): OscalIds {
  const id = (...parts: string[]) => uuidV5(parts.join('\n'), EVIDENCE_UUID_NAMESPACE);
  const pool = (poolId: string) => poolId.toLowerCase();
  return {
    document: id('assessment-results', runId),
    result: id('result', runId),
    tool: id('component', 'aks-fips-auditor'),
    assessmentPlan: id('assessment-plan', 'aks-fips-auditor'),
    inventoryItem: (p) => id('inventory-item', pool(p)),
    observation: (p) => id('observation', runId, pool(p)),
    risk: (p) => id('risk', runId, pool(p)),
    finding: (p) => id('finding', runId, pool(p)),
    riskLogEntry: (p) => id('risk-log-entry', runId, pool(p)),
    remediation: (p, code) => id('remediation', runId, pool(p), code),
  };
}

function poolName(pool: PoolResult): string {
  return `${pool.cluster}/${pool.pool}`;
}

function fipsFlag(pool: PoolResult): string {
  return pool.enableFips === null ? 'not-set' : String(pool.enableFips);
}

function toolOrigin(ids: OscalIds) {
  return [{ actors: [{ type: 'tool', 'actor-uuid': ids.tool }] }];
}

function inventoryItem(ids: OscalIds, pool: PoolResult) {
  return {
    uuid: ids.inventoryItem(pool.id),
    description: `AKS node pool ${pool.pool} of managed cluster ${pool.cluster} (resource group ${pool.resourceGroup}, subscription ${pool.subscriptionId}).`,
    props: [
      prop('resource-id', pool.id),
      prop('subscription-id', pool.subscriptionId),
      prop('resource-group', pool.resourceGroup),
      prop('cluster', pool.cluster),
      prop('location', pool.location),
    ],
  };
}

function observation(ids: OscalIds, input: OscalRunInput, pool: PoolResult) {
  const codes = pool.findings.map((f) => f.code);
  return {
    uuid: ids.observation(pool.id),
    title: `FIPS 140 configuration of node pool ${poolName(pool)}`,
    description:
      `Azure Resource Graph's record of AKS node pool ${pool.id}, judged against the FIPS matrix version ` +
      `${input.run.matrix.version}: ${pool.status}` +
      (codes.length ? ` (${codes.join(', ')}).` : '.'),
    props: [
      prop('os-type', pool.osType),
      prop('os-sku', pool.osSku),
      prop('enable-fips', fipsFlag(pool)),
      prop('kubernetes-version', pool.kubernetesVersion),
      prop('node-image-version', pool.nodeImageVersion),
      prop('pool-status', pool.status),
      ...codes.map((code) => prop('finding-code', code)),
    ],
    methods: ['TEST'],
    origins: toolOrigin(ids),
    subjects: [
      {
        'subject-uuid': ids.inventoryItem(pool.id),
        type: 'inventory-item',
        title: pool.id,
        props: [prop('resource-id', pool.id)],
      },
    ],
    'relevant-evidence': [
      {
        href: 'report.json',
        description: `This bundle's report.json: the pool's full result (findings, remediation, exemption) under pools[] with id ${pool.id}.`,
      },
    ],
    collected: input.run.finishedAt ?? input.run.startedAt,
  };
}

function exemptionText(x: Exemption): string {
  const codes = x.codes === null ? 'every finding code' : x.codes.join(', ');
  return (
    `Exemption ${x.id} (${codes}) for ${x.scope}: ${x.reason}. Owner ${x.owner}` +
    `${x.ticket ? `, ticket ${x.ticket}` : ''}; created by ${x.createdBy} at ${x.createdAt}; expires ${x.expiresOn}.`
  );
}

function risk(ids: OscalIds, input: OscalRunInput, pool: PoolResult) {
  const severity = worstSeverity(pool.findings);
  const exemption = pool.status === 'exempt' ? pool.exemption : null;
  const remediations = pool.findings
    .filter((f) => f.remediation.trim() !== '')
    .map((f) => ({
      uuid: ids.remediation(pool.id, f.code),
      lifecycle: 'recommendation',
      title: f.code,
      description: f.remediation,
    }));
  return {
    uuid: ids.risk(pool.id),
    title: `${exemption ? 'Accepted: ' : ''}FIPS 140 not assured on node pool ${poolName(pool)}`,
    description: pool.findings.length
      ? pool.findings.map((f) => `${f.code} (${f.severity}): ${f.message}`).join('\n')
      : `The pool is ${pool.status}.`,
    statement:
      pool.status === 'unknown'
        ? 'Whether this node pool uses FIPS 140 validated cryptography could not be determined, so SC-13 cannot be shown to be met for the workloads it runs.'
        : 'This node pool does not run FIPS 140 validated cryptographic modules as required, so SC-13 is not met for the workloads it runs.',
    props: [
      prop('pool-status', pool.status),
      ...(severity ? [prop('severity', severity)] : []),
      ...pool.findings.map((f) => prop('finding-code', f.code)),
      ...(exemption ? [prop('exemption-id', exemption.id), prop('exemption-owner', exemption.owner)] : []),
      ...(exemption?.ticket ? [prop('exemption-ticket', exemption.ticket)] : []),
    ],
    status: exemption ? 'deviation-approved' : 'open',
    origins: toolOrigin(ids),
    ...(exemption ? { deadline: exemption.expiresOn } : {}),
    ...(remediations.length ? { remediations } : {}),
    ...(exemption
      ? {
          'risk-log': {
            entries: [
              {
                uuid: ids.riskLogEntry(pool.id),
                title: 'Risk accepted by exemption',
                description: exemptionText(exemption),
                start: exemption.createdAt,
                end: exemption.expiresOn,
                props: [
                  prop('exemption-id', exemption.id),
                  prop('exemption-owner', exemption.owner),
                  prop('exemption-reason', exemption.reason),
                  ...(exemption.ticket ? [prop('exemption-ticket', exemption.ticket)] : []),
                ],
                'status-change': 'deviation-approved',
              },
            ],
          },
        }
      : {}),
    'related-observations': [{ 'observation-uuid': ids.observation(pool.id) }],
  };
}

function finding(ids: OscalIds, pool: PoolResult) {
  const exemption = pool.status === 'exempt' ? pool.exemption : null;
  const severity = worstSeverity(pool.findings);
  const reason = pool.status === 'unknown' ? 'other' : 'fail';
  const remarks =
    pool.status === 'unknown'
      ? 'The pool could not be judged (its scope could not be read, or the matrix does not know its OS SKU): undetermined, so not satisfied.'
      : exemption
        ? `Not satisfied; the risk is accepted until ${exemption.expiresOn} by exemption ${exemption.id} (owner ${exemption.owner}).`
        : 'Not satisfied.';
  return {
    uuid: ids.finding(pool.id),
    title: `${SC_13.title} not satisfied on node pool ${poolName(pool)}`,
    description: pool.findings.length
      ? pool.findings
          .map((f) => `${f.code} (${f.severity}): ${f.message} Remediation: ${f.remediation}`)
          .join('\n')
      : `The pool is ${pool.status}.`,
    props: [
      prop('pool-status', pool.status),
      ...(severity ? [prop('severity', severity)] : []),
      ...pool.findings.map((f) => prop('finding-code', f.code)),
      prop('resource-id', pool.id),
    ],
    origins: toolOrigin(ids),
    target: {
      type: 'statement-id',
      'target-id': SC_13.statementId,
      title: SC_13.title,
      status: { state: 'not-satisfied', reason, remarks },
    },
    'related-observations': [{ 'observation-uuid': ids.observation(pool.id) }],
    'related-risks': [{ 'risk-uuid': ids.risk(pool.id) }],
  };
}

async function* mapPools<T>(
  input: OscalRunInput,
  select: (pool: PoolResult) => boolean,
  map: (pool: PoolResult) => T,
): AsyncGenerator<T> {
  for await (const pool of input.pools()) if (select(pool)) yield map(pool);
}

function resultRemarks(input: OscalRunInput): string | undefined {
  const lines: string[] = [];
  if (input.errors.length) {
    lines.push(
      `The run is ${input.run.status}: these scopes could not be read, and their pools are reported unknown:`,
      ...input.errors.map((e) => `${e.scope}: ${e.code}: ${e.message}`),
    );
  }
  for (const cluster of input.clusterFindings) {
    for (const f of cluster.findings)
      lines.push(`Cluster ${cluster.id}: ${f.code} (${f.severity}): ${f.message}`);
  }
  return lines.length ? lines.join('\n') : undefined;
}

/**
 * The OSCAL Assessment Results document of one run, with its per-pool arrays lazy (jsonChunks streams it;
 * materialize reads it whole). One result; one observation and inventory item per judged pool; for every
 * pool not compliant, one finding targeting SC-13's statement as not satisfied and one risk carrying the
 * finding codes, severity and remediations: `open`, or `deviation-approved` until the exemption's expiry.
 */
export function oscalAssessmentResults(input: OscalRunInput) {
  const ids = oscalIds(input.run.id);
  const { run, summary } = input;
  const end = run.finishedAt ?? undefined;
  const flagged = input.counts.flagged;
  const pools = input.counts.pools;
  return {
    'assessment-results': {
      uuid: ids.document,
      metadata: {
        title: `AKS node pool FIPS 140 assessment results, run ${run.id}`,
        'last-modified': end ?? run.startedAt,
        version: run.id,
        'oscal-version': OSCAL_VERSION,
        props: [
          prop('tool', input.tool.name),
          prop('tool-version', input.tool.version),
          prop('run-id', run.id),
          prop('run-status', run.status),
          prop('run-started', run.startedAt),
          prop('run-finished', end),
          prop('matrix-version', run.matrix.version),
          ...(input.chain
            ? [prop('chain-seq', String(input.chain.seq)), prop('chain-digest', input.chain.digest)]
            : []),
        ],
        remarks: `Produced by ${input.tool.name} ${input.tool.version} from run ${run.id} as stored${input.chain ? ` and sealed (link ${input.chain.seq} of the chain of runs, digest ${input.chain.digest})` : ' (the run is not sealed)'}. The bundle's manifest.json lists the SHA-256 of this file.`,
      },
      'import-ap': {
        href: `#${ids.assessmentPlan}`,
        remarks:
          'No separate assessment plan: the back-matter resource it points to describes the automated test.',
      },
      results: [
        {
          uuid: ids.result,
          title: `FIPS 140 audit of AKS node pools, run ${run.id}`,
          description:
            `Every AKS node pool Azure Resource Graph returned for the audited scopes was read and judged against ` +
            `the FIPS support matrix version ${run.matrix.version}: ${summary.pools} pools in ${summary.clusters} clusters ` +
            `of ${summary.subscriptions} subscriptions; ${summary.compliant} compliant, ${summary.noncompliant} noncompliant, ` +
            `${summary.exempt} exempt, ${summary.unknown} unknown. Run status: ${run.status}.`,
          start: run.startedAt,
          ...(end ? { end } : {}),
          props: [
            prop('run-id', run.id),
            prop('run-status', run.status),
            prop('trigger', run.trigger),
            prop('cloud', run.cloud),
            prop('matrix-version', run.matrix.version),
            prop('pools', String(summary.pools)),
            prop('compliant', String(summary.compliant)),
            prop('noncompliant', String(summary.noncompliant)),
            prop('exempt', String(summary.exempt)),
            prop('unknown', String(summary.unknown)),
          ],
          'local-definitions': {
            components: [
              {
                uuid: ids.tool,
                type: 'software',
                title: input.tool.name,
                description:
                  'Audits every AKS node pool of an Azure tenant for FIPS 140 validated cryptography against a dated support matrix.',
                props: [prop('version', input.tool.version)],
                status: { state: 'operational' },
              },
            ],
            ...(pools > 0
              ? {
                  'inventory-items': new LazyArray(pools, () =>
                    mapPools(
                      input,
                      () => true,
                      (p) => inventoryItem(ids, p),
                    ),
                  ),
                }
              : {}),
          },
          'reviewed-controls': {
            'control-selections': [
              {
                description: 'NIST SP 800-53 Rev. 5',
                'include-controls': [{ 'control-id': SC_13.controlId }],
              },
            ],
          },
          ...(pools > 0
            ? {
                observations: new LazyArray(pools, () =>
                  mapPools(
                    input,
                    () => true,
                    (p) => observation(ids, input, p),
                  ),
                ),
              }
            : {}),
          ...(flagged > 0
            ? {
                risks: new LazyArray(flagged, () => mapPools(input, isFlagged, (p) => risk(ids, input, p))),
                findings: new LazyArray(flagged, () => mapPools(input, isFlagged, (p) => finding(ids, p))),
              }
            : {}),
          remarks: resultRemarks(input),
        },
      ],
      'back-matter': {
        resources: [
          {
            uuid: ids.assessmentPlan,
            title: `${input.tool.name}: automated assessment of AKS node pools for FIPS 140`,
            description:
              'Method TEST: Azure Resource Graph is queried for every AKS agent pool of the audited subscriptions and ' +
              'management groups; each pool (OS type and SKU, enableFIPS, Kubernetes version, node image) is judged ' +
              'against the dated FIPS support matrix in this bundle (fips-matrix.json), with exemptions applied as of ' +
              'the run start.',
          },
        ],
      },
    },
  };
}
