// `npm run demo`: a real audit of a built-in sample estate, served by the emulators, stored in Azurite.

import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { InvocationContext } from '@azure/functions';

import { SAMPLE_ESTATE, startLocalAzure } from '../../emulators/localAzure';
import { AuditService } from '../auditService';
import { loadConfig } from '../config';
import { auditTimerHandler } from '../handlers/auditTimerHandler';
import { summaryText } from '../render/summaryText';
import { parsePort, serveService, untilShutdownSignal } from '../serve/serveCommand';
import { writeDigestFiles } from './emailCommand';
import type { CliIo } from './main';
import { createProgressDisplay } from './progress';

export async function demoCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      keep: { type: 'boolean', default: false },
      port: { type: 'string', default: '7071' },
      out: { type: 'string', default: 'demo-output' },
    },
    strict: true,
  });
  const started = Date.now();
  const progress = createProgressDisplay(io.stderr);
  progress.log('Starting Azurite, the managed identity endpoint and the ARM emulator…');
  const demo = await startLocalAzure();
  try {
    // The digest's links point at `demo --keep`'s local API; its addresses are examples.
    const config = loadConfig({
      ...demo.env,
      EMAIL_SENDER: 'DoNotReply@contoso.example',
      EMAIL_TO: 'compliance@contoso.example',
      REPORT_BASE_URL: `http://127.0.0.1:${parsePort(values.port) || 7071}`,
      // The sample clusters carry a `team` tag: the report and digest route work by it.
      AUDIT_OWNER_TAG: 'team',
    });
    const service = new AuditService(config);
    progress.log(
      `Sample estate: ${SAMPLE_ESTATE.pools} node pools in ${SAMPLE_ESTATE.subscriptions} subscriptions, served at ${demo.arm.endpoint}`,
    );
    // The same handler the timer runs, with a minimal invocation context.
    const handler = auditTimerHandler(service);
    const context = new InvocationContext({
      functionName: 'auditTimer',
      invocationId: 'demo',
      logHandler: (_level, ...message) => progress.log(message.map(String).join(' ')),
    });
    await handler(
      {
        isPastDue: false,
        schedule: { adjustForDST: true },
        scheduleStatus: { last: '', next: '', lastUpdated: '' },
      },
      context,
    );
    progress.done();
    const latest = await service.store.getLatestRun();
    const report = latest ? await service.store.getReport(latest.id) : undefined;
    if (!report) throw new Error('the demo audit stored no run');
    const outDir = resolve(values.out);
    await mkdir(outDir, { recursive: true });
    const reportPath = join(outDir, 'report.json');
    await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);
    const digest = await writeDigestFiles(
      service,
      latest!,
      join(outDir, 'outbox', `digest-${report.run.id}.eml`),
      config.email.to,
    );
    io.stdout.write(`${summaryText(report)}\n\n`);
    io.stdout.write(
      `Digest email: ${digest.eml}\n  (its HTML part: ${digest.html})\n  Subject: ${digest.subject}\n\n`,
    );
    io.stdout.write(
      [
        `Stored in Azurite (tables ${config.tablePrefix}runs, …findings, …pools, …poolhistory) and written to ${reportPath}.`,
        `Resource Graph requests: ${demo.arm.stats.graphRequests}, upgrade profile requests: ${demo.arm.stats.upgradeProfileRequests}.`,
        `Demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`,
      ].join('\n') + '\n',
    );
    if (values.keep) {
      // The same API as the Function App, on the demo's Azurite and emulators, until Ctrl-C.
      const server = await serveService(service, { port: parsePort(values.port), host: '127.0.0.1' }, io);
      io.stdout.write(`\nReport: ${server.url}/api/report?format=html\n`);
      await untilShutdownSignal();
      await server.close();
    }
    return 0;
  } finally {
    progress.done();
    await demo.stop();
  }
}
