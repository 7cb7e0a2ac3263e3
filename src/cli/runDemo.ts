// `npm run demo`: real daily audits of a sample estate over 14 simulated days, served by the emulators, in Azurite.

import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';

import { generateEstate } from '../../emulators/estateGenerator';
import { SAMPLE_ESTATE, startLocalAzure } from '../../emulators/localAzure';
import { App } from '../app';
import { loadConfig } from '../config';
import { validateExemptionInput } from '../core/exemptionRules';
import type { Report } from '../core/types';
import type { CliIo } from './cliIo';
import type { DemoCommandOptions } from './demoCommand';
import { DEMO_DAYS, DemoStory } from './demoStory';
import { writeDigestFiles } from './emailCommand';
import { EXIT } from './exitCodes';
import { createProgressDisplay } from './progress';
import { renderReport, storedHistory } from './reportOutput';
import { serveApp, untilShutdownSignal } from './serveCommand';

const DAY_IN_MS = 86_400_000;

function counts(report: Report): string {
  const s = report.summary;
  return `compliant ${s.compliant} · noncompliant ${s.noncompliant} · exempt ${s.exempt} · unknown ${s.unknown}`;
}

export async function runDemo(options: DemoCommandOptions, io: CliIo): Promise<number> {
  const started = Date.now();
  const out = (line = '') => io.stdout.write(`${line}\n`);
  const progress = createProgressDisplay(io.stderr);
  progress.log('Starting Azurite, the managed identity endpoint and the ARM emulator…');
  const estate = generateEstate(SAMPLE_ESTATE);
  const demo = await startLocalAzure(estate);
  try {
    // The digest preview's links point at `demo --keep`'s local API; its addresses are examples. The scope names
    // the subscriptions, as operators do, so one unreadable subscription is that subscription's problem alone.
    const config = loadConfig({
      ...demo.env,
      AUDIT_SUBSCRIPTIONS: estate.subscriptions.map((s) => s.subscriptionId).join(','),
      EMAIL_SENDER: 'DoNotReply@contoso.example',
      EMAIL_TO: 'compliance@contoso.example',
      REPORT_BASE_URL: `http://127.0.0.1:${options.port || 7071}`,
      // The sample clusters carry a `team` tag: the report and digest route work by it.
      AUDIT_OWNER_TAG: 'team',
    });
    const service = new App(config, { email: false });
    const now = Date.now();
    const days = Array.from({ length: DEMO_DAYS }, (_, i) => new Date(now - (DEMO_DAYS - 1 - i) * DAY_IN_MS));
    const story = new DemoStory(estate, demo.arm.faults, config.matrix, days);
    // Real audits are a day apart, so Resource Graph's per-identity quota window (seconds) never spans two of
    // them; the simulated days are seconds apart, so the emulator's quota would only add waits no user sees.
    demo.arm.quota = null;
    out(
      `Sample estate: ${estate.clusters.length} clusters with ${SAMPLE_ESTATE.pools} node pools in ${estate.subscriptions.length} subscriptions, served by the Resource Graph and ARM emulator at ${demo.arm.endpoint}.`,
    );
    out(`Auditing it once a day for ${DEMO_DAYS} days (a simulated clock; Azurite stores every run):`);

    let yesterday: Report | null = null;
    for (let day = 1; day <= DEMO_DAYS; day++) {
      const at = days[day - 1]!;
      const plan = story.before(day, yesterday);
      demo.arm.reindex();
      if (plan.exemptions.length) await service.exemptionStore.ensureTable();
      for (const exemption of plan.exemptions) {
        const { id, ...fields } = exemption;
        const input = validateExemptionInput(fields, { now: at, maxDays: config.exemptionMaxDays });
        if (!input.ok)
          throw new Error(`the demo's exemption ${id} is invalid: ${JSON.stringify(input.issues)}`);
        await service.exemptionStore.put(id, input.value, {
          who: `cli:${fields.owner}`,
          at,
          ifNoneMatch: '*',
        });
      }
      // The run's clock starts at the simulated day and runs at the real pace, so durations stay true.
      const runStarted = Date.now();
      const clock = () => new Date(at.getTime() + (Date.now() - runStarted));
      // The same pipeline the timer starts; the digest is previewed below, not sent.
      const dayApp = new App(config, {
        now: clock,
        email: false,
        // Fourteen audits' logs would bury the story, which says what happened each day; only a retry (the
        // unexpected) and the count of pools an unreadable scope left unknown are shown.
        log: (m) => {
          if (/retry|scope\(s\) could not be read/i.test(m)) progress.log(`day ${day}: ${m}`);
        },
      });
      const report = await dayApp.audit({ trigger: 'timer' });
      dayApp.close();
      const date = at.toISOString().slice(0, 10);
      out(
        `  day ${String(day).padStart(2)}  ${date}  ${report.run.status.toUpperCase().padEnd(9)} ${counts(report)}`,
      );
      for (const event of plan.events) out(`                 ${event}`);
      yesterday = report;
    }
    progress.done();

    const report = yesterday!;
    const latest = await service.stores.reports.getRun(report.run.id);
    if (!latest) throw new Error(`the demo's last run ${report.run.id} is not stored`);
    const outDir = resolve(options.out);
    await mkdir(outDir, { recursive: true });
    const history = await storedHistory(service.stores.reports, report.run.id);
    const files: [string, string][] = [];
    for (const [format, name] of [
      ['html', 'report.html'],
      ['json', 'report.json'],
      ['csv', 'report.csv'],
    ] as const) {
      const path = join(outDir, name);
      await writeFile(path, renderReport(format, report, history));
      files.push([
        `today's report (${format.toUpperCase()}${format === 'html' ? ', with the 14-day trend' : ''})`,
        path,
      ]);
    }
    // A preview, not a send: the digest the timer would mail today, as .eml and its HTML part.
    const digest = await writeDigestFiles(service, latest, join(outDir, 'digest.eml'), config.email.to);
    files.push(["today's digest email, not sent (open in a mail client)", digest.eml]);
    files.push(["today's digest email, its HTML part (open in a browser)", digest.html]);

    out();
    out(renderReport('text', report).trimEnd());
    out();
    out(`Digest subject: ${digest.subject}`);
    out('Wrote:');
    const shown = (path: string) => {
      const rel = relative(process.cwd(), path);
      return rel.startsWith('..') ? path : rel;
    };
    const width = Math.max(...files.map(([what]) => what.length));
    for (const [what, path] of files) out(`  ${what.padEnd(width)}  ${shown(path)}`);
    out(
      `Stored in Azurite (tables ${config.tablePrefix}runs, …pools, …poolhistory, …exemptions); Resource Graph requests: ${demo.arm.stats.graphRequests}, upgrade profile requests: ${demo.arm.stats.upgradeProfileRequests}.`,
    );
    out(`Demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    if (options.keep) {
      // The same API as the Function App, on the demo's Azurite and emulators, until Ctrl-C.
      const server = await serveApp(service, { port: options.port, host: '127.0.0.1' }, io);
      out(`Open the report with its ${DEMO_DAYS}-day trend: ${server.url}/api/report?format=html`);
      await untilShutdownSignal();
      await server.close();
    } else {
      out('Run `npm run demo -- --keep` to browse the same data through the HTTP API.');
    }
    return EXIT.ok;
  } finally {
    progress.done();
    await demo.stop();
  }
}
