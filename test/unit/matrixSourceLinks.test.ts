// The FIPS matrix's sources as links: the report page, the digest, stored older runs and the report JSON.

import { diffRuns } from '../../src/core/diffRuns';
import { builtInMatrix } from '../../src/core/fipsMatrix';
import { matrixRefFromStored, matrixRefOf, sourceFromText } from '../../src/core/matrixSources';
import { reportSchema } from '../../src/core/reportSchema';
import type { MatrixRef, Report } from '../../src/core/types';
import { renderEmailDigest } from '../../src/render/emailDigest';
import { escapeHtml } from '../../src/render/escapeHtml';
import { renderReportHtml } from '../../src/render/reportHtml';
import { knownEstate } from '../support/digestFixture';
import { fixtureReport } from '../support/reportFixture';

/** The sources as the built-in matrix of 2026-11-29 wrote them, and as runs stored with it still carry them. */
const STORED_BEFORE_SOURCES_WERE_DATA = {
  version: '2026-11-29',
  sources: [
    'https://learn.microsoft.com/azure/aks/enable-fips-nodes (MicrosoftDocs/azure-aks-docs articles/aks/enable-fips-nodes.md, page dated 2026-06-16, and its git history)',
    'https://github.com/Azure/AKS/blob/master/CHANGELOG.md (AKS release notes, releases 2023-05-28 to 2026-07-17)',
    'https://learn.microsoft.com/azure/aks/supported-kubernetes-versions and the AKS OS version and retirement announcements',
    'Contoso security baseline 2026-12',
  ],
};

interface Anchor {
  href: string;
  text: string;
}

/** The matrix section of a report page, or the whole of a digest (whose only links there are the sources'). */
function matrixSection(html: string): string {
  const start = html.indexOf('<section id="matrix">');
  return start < 0 ? html : html.slice(start, html.indexOf('</section>', start));
}

/** Every `<a href="…">…</a>` of the page's matrix section, with the href unescaped as a browser reads it. */
function anchorsOf(page: string): Anchor[] {
  const html = matrixSection(page);
  return [...html.matchAll(/<a\s[^>]*href="([^"]*)"[^>]*>(.*?)<\/a>/g)].map((m) => ({
    href: m[1]!
      .replace(/&amp;/g, '&')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'"),
    text: m[2]!,
  }));
}

function expectEveryLinkHttps(anchors: Anchor[]): void {
  expect(anchors.length).toBeGreaterThan(0);
  for (const { href } of anchors) {
    expect(href).not.toMatch(/\s|%20\(/);
    expect(new URL(href).protocol).toBe('https:');
  }
}

function withMatrix(report: Report, matrix: MatrixRef): Report {
  return { ...report, run: { ...report.run, matrix } };
}

const hostileSource = {
  url: 'https://learn.microsoft.com/azure/aks/node-images?x="><script>alert(1)</script>',
  title: '<img src=x onerror=alert(1)> & "Node images"',
  retrieved: '2026-12-01',
};

describe('the matrix reference a run records', () => {
  it('keeps run.matrix.sources as plain https URLs and adds each source as data', () => {
    const ref = matrixRefOf(builtInMatrix);
    expect(ref.version).toBe(builtInMatrix.version);
    expect(ref.sources).toEqual(builtInMatrix.sources.map((s) => s.url));
    expect(ref.sourceDetails).toEqual(builtInMatrix.sources);
    for (const url of ref.sources) expect(new URL(url).protocol).toBe('https:');
  });

  it('reads a run stored before sources were data: its strings as stored, details derived from them', () => {
    const ref = matrixRefFromStored(STORED_BEFORE_SOURCES_WERE_DATA);
    expect(ref.sources).toEqual(STORED_BEFORE_SOURCES_WERE_DATA.sources);
    expect(ref.sourceDetails).toEqual([
      {
        url: 'https://learn.microsoft.com/azure/aks/enable-fips-nodes',
        title:
          'MicrosoftDocs/azure-aks-docs articles/aks/enable-fips-nodes.md, page dated 2026-06-16, and its git history',
        retrieved: null,
      },
      {
        url: 'https://github.com/Azure/AKS/blob/master/CHANGELOG.md',
        title: 'AKS release notes, releases 2023-05-28 to 2026-07-17',
        retrieved: null,
      },
      {
        url: 'https://learn.microsoft.com/azure/aks/supported-kubernetes-versions',
        title: 'and the AKS OS version and retirement announcements',
        retrieved: null,
      },
      { url: null, title: 'Contoso security baseline 2026-12', retrieved: null },
    ]);
  });

  it.each<[string, unknown, MatrixRef]>([
    ['nothing stored', undefined, { version: '', sources: [], sourceDetails: [] }],
    ['a non-object', 'x', { version: '', sources: [], sourceDetails: [] }],
    [
      'details with a URL that is not clean https',
      {
        version: 'v',
        sources: ['http://x.example/'],
        sourceDetails: [{ url: 'http://x.example/', title: 'X', retrieved: null }],
      },
      {
        version: 'v',
        sources: ['http://x.example/'],
        sourceDetails: [{ url: null, title: 'X', retrieved: null }],
      },
    ],
  ])('reads %s without failing', (_title, stored, expected) => {
    expect(matrixRefFromStored(stored)).toEqual(expected);
  });

  it('never takes a description into the URL of a source written as one string', () => {
    expect(sourceFromText('https://a.example/x (b c)')).toEqual({
      url: 'https://a.example/x',
      title: 'b c',
      retrieved: null,
    });
  });

  it('validates in the report JSON schema, for new runs and for runs stored before', () => {
    const report = fixtureReport({ pools: 3 });
    expect(reportSchema.safeParse(report).success).toBe(true);
    const old = withMatrix(report, matrixRefFromStored(STORED_BEFORE_SOURCES_WERE_DATA));
    expect(reportSchema.safeParse(old).success).toBe(true);
  });
});

describe('the HTML report links every source by its title', () => {
  const report = fixtureReport({ pools: 10 });

  it('links each built-in source: https href, the title as text, the date it was read', () => {
    const { html } = renderReportHtml(report);
    const anchors = anchorsOf(html);
    expectEveryLinkHttps(anchors);
    for (const source of builtInMatrix.sources) {
      expect(anchors).toContainEqual({ href: source.url, text: escapeHtml(source.title) });
      expect(html).toContain(`(retrieved ${source.retrieved!})`);
    }
  });

  it('renders a run stored before sources were data: clean links, and text where there is no URL', () => {
    const { html } = renderReportHtml(
      withMatrix(report, matrixRefFromStored(STORED_BEFORE_SOURCES_WERE_DATA)),
    );
    const anchors = anchorsOf(html);
    expectEveryLinkHttps(anchors);
    expect(anchors.map((a) => a.href)).toEqual([
      'https://learn.microsoft.com/azure/aks/enable-fips-nodes',
      'https://github.com/Azure/AKS/blob/master/CHANGELOG.md',
      'https://learn.microsoft.com/azure/aks/supported-kubernetes-versions',
    ]);
    expect(html).toContain('<li>Contoso security baseline 2026-12</li>');
  });

  it('escapes a hostile title and URL', () => {
    const { html } = renderReportHtml(
      withMatrix(report, matrixRefOf({ version: 'v', sources: [hostileSource] })),
    );
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<script>alert');
    expect(html).toContain(escapeHtml(hostileSource.title));
    const [anchor] = anchorsOf(html);
    expect(new URL(anchor!.href).protocol).toBe('https:');
    expect(anchor!.text).toBe(escapeHtml(hostileSource.title));
  });
});

describe('the digest links the sources too', () => {
  const { previous, current, noncompliantSince } = knownEstate();
  const input = {
    report: current,
    diff: diffRuns(current, previous, { noncompliantSince }),
    reportBaseUrl: 'https://fips-auditor.azurewebsites.us',
  };

  it('links every source and every other link of the digest over https', () => {
    const builtIn = { ...input, report: withMatrix(input.report, matrixRefOf(builtInMatrix)) };
    const { html } = renderEmailDigest(builtIn);
    const anchors = anchorsOf(html);
    expectEveryLinkHttps(anchors);
    for (const source of builtInMatrix.sources)
      expect(anchors).toContainEqual({ href: source.url, text: escapeHtml(source.title) });
  });

  it('renders a run stored before sources were data without a broken link', () => {
    const old = {
      ...input,
      report: withMatrix(input.report, matrixRefFromStored(STORED_BEFORE_SOURCES_WERE_DATA)),
    };
    const { html } = renderEmailDigest(old);
    expectEveryLinkHttps(anchorsOf(html));
    expect(html).toContain('Contoso security baseline 2026-12');
  });

  it('escapes a hostile title', () => {
    const hostile = {
      ...input,
      report: withMatrix(input.report, matrixRefOf({ version: 'v', sources: [hostileSource] })),
    };
    const { html } = renderEmailDigest(hostile);
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<script>alert');
    expect(anchorsOf(html).some((a) => a.text === escapeHtml(hostileSource.title))).toBe(true);
  });
});
