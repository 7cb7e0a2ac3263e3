// The CSV report read back with a real CSV parser: same data as the JSON, RFC 4180 quoting, BOM, no formulas.

import { parse } from 'csv-parse/sync';

import type { Exemption, Report } from '../../src/core/types';
import {
  ALL_CODES,
  CELL_LIST_SEPARATOR,
  CSV_COLUMNS,
  renderReportCsv,
  UTF8_BOM,
} from '../../src/render/reportCsv';
import { fixtureReport, handPool } from '../support/reportFixture';

type Row = Record<string, string>;

/** Parses as Excel would read an RFC 4180 file: BOM stripped, CRLF records, quoted fields with line breaks. */
function parseCsv(text: string): Row[] {
  return parse<Row>(text, {
    bom: true,
    columns: true,
    relax_column_count: false,
    skip_empty_lines: false,
  });
}

function withPools(pools: Report['pools']): Report {
  const base = fixtureReport({ pools: 10 });
  return { ...base, pools };
}

describe('renderReportCsv', () => {
  it('starts with a UTF-8 byte order mark and ends every record with CRLF', () => {
    const csv = renderReportCsv(fixtureReport({ pools: 20 }));
    expect(csv.startsWith(UTF8_BOM)).toBe(true);
    expect(Buffer.from(csv, 'utf8').subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(csv.slice(1).split('\r\n')[0]).toBe(CSV_COLUMNS.map((c) => c.name).join(','));
  });

  it('keeps the position of every column and appends the exemption details and the owner at the end', () => {
    expect(CSV_COLUMNS.map((c) => c.name)).toEqual([
      'subscriptionName',
      'subscriptionId',
      'resourceGroup',
      'cluster',
      'pool',
      'status',
      'codes',
      'severities',
      'messages',
      'remediations',
      'exemptionId',
      'exemptionReason',
      'exemptionTicket',
      'exemptionOwner',
      'exemptionExpiresOn',
      'location',
      'osType',
      'osSku',
      'kubernetesVersion',
      'nodeImageVersion',
      'enableFips',
      'id',
      'runId',
      'runStartedAt',
      // Appended later: a sheet reading the columns above by position still works.
      'exemptionScope',
      'exemptionCodes',
      'exemptionCreatedBy',
      'exemptionCreatedAt',
      // The cluster's AUDIT_OWNER_TAG value.
      'owner',
    ]);
  });

  it('has one row per pool whose cells equal the JSON report, findings one per line', () => {
    const report = fixtureReport({ pools: 400 });
    expect(report.pools.some((p) => p.findings.length > 1)).toBe(true);
    const rows = parseCsv(renderReportCsv(report));
    expect(rows).toHaveLength(report.pools.length);
    const list = (cell: string | undefined) => (cell ? cell.split(CELL_LIST_SEPARATOR) : []);
    const unquote = (cell: string | undefined) => (cell && /^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell);
    rows.forEach((row, i) => {
      const pool = report.pools[i]!;
      expect(row.id).toBe(pool.id);
      expect(unquote(row.subscriptionName)).toBe(pool.subscriptionName);
      expect(row.subscriptionId).toBe(pool.subscriptionId);
      expect(row.resourceGroup).toBe(pool.resourceGroup);
      expect(row.cluster).toBe(pool.cluster);
      expect(row.pool).toBe(pool.pool);
      expect(row.status).toBe(pool.status);
      expect(row.osType).toBe(pool.osType ?? '');
      expect(row.osSku).toBe(pool.osSku ?? '');
      expect(row.kubernetesVersion).toBe(pool.kubernetesVersion ?? '');
      expect(row.nodeImageVersion).toBe(pool.nodeImageVersion ?? '');
      expect(row.enableFips).toBe(pool.enableFips === null ? '' : String(pool.enableFips));
      expect(list(row.codes)).toEqual(pool.findings.map((f) => f.code));
      expect(list(row.severities)).toEqual(pool.findings.map((f) => f.severity));
      expect(list(row.messages).map(unquote)).toEqual(pool.findings.map((f) => f.message));
      expect(list(row.remediations).map(unquote)).toEqual(pool.findings.map((f) => f.remediation));
      expect(row.runId).toBe(report.run.id);
      expect(row.exemptionId).toBe(pool.exemption?.id ?? '');
      expect(row.exemptionScope).toBe(pool.exemption?.scope ?? '');
      expect(row.exemptionCreatedBy).toBe(pool.exemption?.createdBy ?? '');
    });
  });

  it('shows every detail of an exemption: ID, scope, codes, reason, ticket, owner, who created it, when, expiry', () => {
    const scope = '/subscriptions/00000000-0000-0000-0000-00000000000a';
    const exemption: Exemption = {
      id: 'sub-wide',
      scope,
      codes: ['FIPS_DISABLED', 'OS_RETIRED'],
      reason: 'Whole subscription is decommissioned, in sprint 48',
      ticket: 'CHG0012345',
      owner: 'platform-team',
      createdBy: 'Alice Approver',
      createdAt: '2026-11-01T00:00:00.000Z',
      expiresOn: '2026-12-31T23:59:59.999Z',
    };
    const rows = parseCsv(
      renderReportCsv(
        withPools([
          handPool({ pool: 'one', status: 'exempt', exemption }),
          handPool({ pool: 'two', status: 'exempt', exemption: { ...exemption, id: 'all', codes: null } }),
          handPool({ pool: 'three' }),
        ]),
      ),
    );
    expect(rows[0]).toMatchObject({
      exemptionId: 'sub-wide',
      exemptionScope: scope,
      exemptionCodes: `FIPS_DISABLED${CELL_LIST_SEPARATOR}OS_RETIRED`,
      exemptionReason: exemption.reason,
      exemptionTicket: 'CHG0012345',
      exemptionOwner: 'platform-team',
      exemptionCreatedBy: 'Alice Approver',
      exemptionCreatedAt: '2026-11-01T00:00:00.000Z',
      exemptionExpiresOn: '2026-12-31T23:59:59.999Z',
    });
    expect(rows[1]?.exemptionCodes).toBe(ALL_CODES);
    for (const column of CSV_COLUMNS.filter((c) => c.name.startsWith('exemption'))) {
      expect([column.name, rows[2]?.[column.name]]).toEqual([column.name, '']);
    }
  });

  it('writes only the pools it is given (a filtered selection) under the same header', () => {
    const report = fixtureReport({ pools: 100 });
    const noncompliant = report.pools.filter((p) => p.status === 'noncompliant');
    const rows = parseCsv(renderReportCsv(report, noncompliant));
    expect(rows.map((r) => r.id)).toEqual(noncompliant.map((p) => p.id));
  });

  it.each([
    ['=HYPERLINK("http://x")', `'=HYPERLINK("http://x")`],
    ['=1+2', "'=1+2"],
    ['+cmd|/C calc', "'+cmd|/C calc"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1:A9)', "'@SUM(A1:A9)"],
    ['\t=1+1', "'\t=1+1"],
    ['\r=1+1', "'\r=1+1"],
  ])('neutralises %j, which a spreadsheet would run, into the text %j', (name, expected) => {
    const rows = parseCsv(renderReportCsv(withPools([handPool({ subscriptionName: name })])));
    expect(rows[0]?.subscriptionName).toBe(expected);
  });

  it.each(['plain = fine', 'a-b', "it's", ' =spaced'])('leaves %j, which is no formula, as it is', (name) => {
    const rows = parseCsv(renderReportCsv(withPools([handPool({ subscriptionName: name })])));
    expect(rows[0]?.subscriptionName).toBe(name);
  });

  it('neutralises a formula in any column, findings and exemptions included', () => {
    const pool = handPool({
      resourceGroup: 'rg',
      cluster: '@cluster',
      status: 'exempt',
      findings: [{ code: 'FIPS_DISABLED', severity: 'high', message: '=evil()', remediation: '+also' }],
      exemption: {
        id: 'x1',
        scope: '/subscriptions/00000000-0000-0000-0000-00000000000a',
        codes: null,
        reason: '-reason',
        ticket: '=T',
        owner: '@owner',
        createdBy: '=someone',
        createdAt: '2026-11-01T00:00:00Z',
        expiresOn: '2027-01-01T00:00:00Z',
      },
    });
    const row = parseCsv(renderReportCsv(withPools([pool])))[0]!;
    expect(row.cluster).toBe("'@cluster");
    expect(row.messages).toBe("'=evil()");
    expect(row.remediations).toBe("'+also");
    expect(row.exemptionReason).toBe("'-reason");
    expect(row.exemptionTicket).toBe("'=T");
    expect(row.exemptionOwner).toBe("'@owner");
    expect(row.exemptionCreatedBy).toBe("'=someone");
    for (const cell of Object.values(row)) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('quotes commas, double quotes and line breaks so they survive a round trip', () => {
    const pool = handPool({
      subscriptionName: 'Contoso, "Prod"\r\nline two\nline three',
      cluster: 'a,b',
      pool: 'say "hi"',
    });
    const csv = renderReportCsv(withPools([pool]));
    expect(csv).toContain('"Contoso, ""Prod""\r\nline two\nline three"');
    expect(csv).toContain(',"a,b",');
    expect(csv).toContain(',"say ""hi""",');
    const row = parseCsv(csv)[0]!;
    expect(row.subscriptionName).toBe('Contoso, "Prod"\r\nline two\nline three');
    expect(row.cluster).toBe('a,b');
    expect(row.pool).toBe('say "hi"');
  });

  it('keeps non-ASCII names intact in UTF-8', () => {
    const row = parseCsv(
      renderReportCsv(withPools([handPool({ subscriptionName: 'Zürich – 東京 🚀' })])),
    )[0]!;
    expect(row.subscriptionName).toBe('Zürich – 東京 🚀');
  });

  it('writes the header alone for a run without pools', () => {
    const csv = renderReportCsv(withPools([]));
    expect(parseCsv(csv)).toEqual([]);
    expect(csv).toBe(`${UTF8_BOM}${CSV_COLUMNS.map((c) => c.name).join(',')}\r\n`);
  });
});
