// OSCAL Assessment Results of a run: valid against NIST's published schema, deterministic, one finding per flagged pool.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import type { PoolResult, Report } from '../../src/core/types';
import { jsonChunks, materialize } from '../../src/evidence/jsonStream';
import {
  EVIDENCE_UUID_NAMESPACE,
  isFlagged,
  oscalAssessmentResults,
  type OscalRunInput,
  SC_13,
} from '../../src/evidence/oscalAssessmentResults';
import { uuidV5 } from '../../src/evidence/uuidV5';
import { OSCAL_SCHEMA_PATH, oscalValidator } from '../support/evidenceZip';
import { fixtureReport, handPool } from '../support/reportFixture';

type Doc = {
  'assessment-results': {
    uuid: string;
    metadata: { 'oscal-version': string; props: { name: string; value: string }[] };
    results: {
      observations?: {
        uuid: string;
        subjects: { title: string }[];
        props: { name: string; value: string }[];
        methods: string[];
      }[];
      findings?: {
        target: { 'target-id': string; status: { state: string; reason: string } };
        'related-risks': { 'risk-uuid': string }[];
      }[];
      risks?: {
        uuid: string;
        status: string;
        deadline?: string;
        remediations?: unknown[];
        'risk-log'?: { entries: { description: string }[] };
      }[];
      'local-definitions': { 'inventory-items'?: unknown[] };
    }[];
  };
};

const validate = oscalValidator();

function input(report: Report, extra: Partial<OscalRunInput> = {}): OscalRunInput {
  return {
    tool: { name: 'aks-fips-auditor', version: '0.1.0' },
    run: report.run,
    summary: report.summary,
    errors: report.errors,
    chain: { seq: 3, digest: 'a'.repeat(64) },
    counts: { pools: report.pools.length, flagged: report.pools.filter(isFlagged).length },
    pools: () => report.pools,
    clusterFindings: report.clusters.filter((c) => c.findings.length > 0),
    ...extra,
  };
}

async function build(
  report: Report,
  extra: Partial<OscalRunInput> = {},
): Promise<{ doc: Doc; text: string }> {
  const document = oscalAssessmentResults(input(report, extra));
  let text = '';
  for await (const chunk of jsonChunks(document)) text += chunk;
  expect(text).toBe(JSON.stringify(await materialize(document)));
  return { doc: JSON.parse(text) as Doc, text };
}

function expectValid(doc: unknown): void {
  validate(doc);
  expect(validate.errors ?? []).toEqual([]);
}

const exemptPool: PoolResult = handPool({
  status: 'exempt',
  enableFips: false,
  findings: [
    {
      code: 'FIPS_DISABLED',
      severity: 'high',
      message: 'FIPS is off.',
      remediation: 'az aks nodepool update --enable-fips-image',
    },
  ],
  exemption: {
    id: 'fips-waiver',
    scope: '/subscriptions/00000000-0000-0000-0000-00000000000a',
    codes: ['FIPS_DISABLED'],
    reason: 'Vendor image pending',
    ticket: 'RISK-42',
    owner: 'platform@contoso.com',
    createdBy: 'alice@contoso.com',
    createdAt: '2026-11-01T00:00:00.000Z',
    expiresOn: '2027-01-31T00:00:00.000Z',
  },
});

it('uses the schema NIST published, unchanged', () => {
  expect(createHash('sha256').update(readFileSync(OSCAL_SCHEMA_PATH)).digest('hex')).toBe(
    'aba6545539577ff98bd36ae3fbd1f944bfbf5527e0c6dd1b4d4847113ce42095',
  );
});

it('validates against the OSCAL 1.0.6 assessment-results schema for a whole estate, with one observation per pool', async () => {
  const report = fixtureReport({ pools: 240 });
  const { doc } = await build(report);
  expectValid(doc);
  const [result] = doc['assessment-results'].results;
  expect(result?.observations).toHaveLength(report.pools.length);
  expect(result?.['local-definitions']['inventory-items']).toHaveLength(report.pools.length);
  const flagged = report.pools.filter((p) => p.status !== 'compliant');
  expect(flagged.length).toBeGreaterThan(0);
  expect(result?.findings).toHaveLength(flagged.length);
  expect(result?.risks).toHaveLength(flagged.length);
  expect(
    result?.findings?.every(
      (f) => f.target['target-id'] === SC_13.statementId && f.target.status.state === 'not-satisfied',
    ),
  ).toBe(true);
  expect(doc['assessment-results'].metadata['oscal-version']).toBe('1.1.2');
});

it('records the facts read of each pool on its observation, with the pool resource ID as its subject', async () => {
  const report = fixtureReport({ pools: 20 });
  const { doc } = await build(report);
  const pool = report.pools[0]!;
  const observation = doc['assessment-results'].results[0]!.observations![0]!;
  expect(observation.subjects[0]?.title).toBe(pool.id);
  expect(observation.methods).toEqual(['TEST']);
  const props = Object.fromEntries(observation.props.map((p) => [p.name, p.value]));
  expect(props).toMatchObject({
    'os-type': pool.osType ?? 'not-set',
    'enable-fips': pool.enableFips === null ? 'not-set' : String(pool.enableFips),
    'pool-status': pool.status,
  });
});

it('carries an exemption as a risk accepted until its expiry, with its owner, reason and ticket', async () => {
  const base = fixtureReport({ pools: 10 });
  const report: Report = { ...base, pools: [...base.pools, exemptPool] };
  const { doc } = await build(report);
  expectValid(doc);
  const result = doc['assessment-results'].results[0]!;
  const riskId = uuidV5(
    ['risk', report.run.id, exemptPool.id.toLowerCase()].join('\n'),
    EVIDENCE_UUID_NAMESPACE,
  );
  const risk = result.risks!.find((r) => r.uuid === riskId)!;
  expect(risk).toMatchObject({ status: 'deviation-approved', deadline: '2027-01-31T00:00:00.000Z' });
  expect(risk.remediations).toHaveLength(1);
  expect(risk['risk-log']!.entries[0]!.description).toContain('Vendor image pending');
  expect(risk['risk-log']!.entries[0]!.description).toContain('RISK-42');
  expect(risk['risk-log']!.entries[0]!.description).toContain('platform@contoso.com');
});

it('reports an unknown pool as not satisfied for another reason, and an empty run without empty arrays', async () => {
  const unknown = handPool({
    status: 'unknown',
    findings: [
      {
        code: 'OS_SKU_UNRECOGNIZED',
        severity: 'info',
        message: 'Unknown SKU',
        remediation: 'Check the SKU',
        undecided: true,
      },
    ],
  });
  const base = fixtureReport({ pools: 4 });
  const { doc } = await build({ ...base, pools: [unknown] });
  expectValid(doc);
  expect(doc['assessment-results'].results[0]!.findings![0]!.target.status.reason).toBe('other');

  const empty = { ...base, pools: [], summary: { ...base.summary, pools: 0 } };
  const { doc: emptyDoc } = await build(empty, { chain: null });
  expectValid(emptyDoc);
  const result = emptyDoc['assessment-results'].results[0]!;
  expect(result.observations).toBeUndefined();
  expect(result.findings).toBeUndefined();
});

it('is the same document when built again from the same run, and names the same pool with the same subject in every run', async () => {
  const report = fixtureReport({ pools: 30 });
  const first = await build(report);
  const again = await build(report);
  expect(again.text).toBe(first.text);
  const other = await build({ ...report, run: { ...report.run, id: '20261130T060000Z-3f9a1c' } });
  const items = (d: Doc) => d['assessment-results'].results[0]!['local-definitions']['inventory-items'];
  expect(items(other.doc)).toEqual(items(first.doc));
  expect(other.doc['assessment-results'].uuid).not.toBe(first.doc['assessment-results'].uuid);
});
