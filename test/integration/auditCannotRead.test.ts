// When the audit cannot read: each case of issue 10 is run once, through the CLI and the real credential chain and
// SDK clients against the emulators, and every surface is checked for what it says: the run status, the exit code
// under --fail-on, the message and its fix, the report (JSON run and errors, the HTML banner), the digest or alert
// mailed through ACS, /api/health, and that no percentage is shown of nothing judged (and no false 100%).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { InvocationContext } from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';

import { type AcceptedMessage, AcsEmailEmulator } from '../../emulators/acsEmailEmulator';
import { ArmEmulator } from '../../emulators/armEmulator';
import { type ClusterRow, generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { TcpProxy } from '../../emulators/tcpProxy';
import { trustCertificate } from '../../emulators/tls';
import { App } from '../../src/app';
import { AcsEmailSender } from '../../src/azure/emailSender';
import { EXIT } from '../../src/cli/exitCodes';
import { type CliIo, main } from '../../src/cli/main';
import { loadConfig } from '../../src/config';
import { compliancePercent, compliancePercentText, judgedPools } from '../../src/core/compliancePercent';
import type { Report, RunStatus } from '../../src/core/types';
import { auditPipelineHandler, auditPipelinePoisonHandler } from '../../src/handlers/auditPipelineHandler';
import { auditTimerHandler } from '../../src/handlers/auditTimerHandler';
import { healthSchema, reportPageSchema } from '../../src/http/schemas';
import { poisonQueueName } from '../../src/pipeline/pipelineQueue';
import { drainQueue, type HostedQueue } from '../support/functionsHost';
import { callHandler } from '../support/httpCall';
import { isolateIdentityEnv } from '../support/identityEnv';

jest.setTimeout(90_000);

// Three subscriptions (each with a cluster), two management groups that do not overlap.
const estate = generateEstate({ seed: 31, pools: 40, subscriptions: 3, managementGroups: 0 });
const [SUB_A, SUB_B, SUB_C] = estate.subscriptions.map((s) => s.subscriptionId) as [string, string, string];
const ALL_SUBSCRIPTIONS = [SUB_A, SUB_B, SUB_C].join(',');
estate.managementGroups = { 'mg-fips-prod': [SUB_A, SUB_B], 'mg-fips-sandbox': [SUB_C] };
const SANDBOX = '/providers/Microsoft.Management/managementGroups/mg-fips-sandbox';
const EMAIL_TO = 'compliance@contoso.com';
const malformed = estate.clusters[0]!;
const vanishing = estate.clusters[estate.clusters.length - 1]!;

let local: LocalAzure;
let acs: AcsEmailEmulator;
let emptyTenant: ArmEmulator;
let restoreEnv: () => void;
const dir = mkdtempSync(join(tmpdir(), 'cannot-read-'));
let tables = 0;

class Capture extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

async function cli(args: string[], env: Record<string, string>) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(args, { stdout, stderr, env } as unknown as CliIo);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** The settings of one case: its own tables, email through the ACS emulator, short waits on Azure. */
function settingsOf(extra: Record<string, string> = {}): Record<string, string> {
  tables += 1;
  return {
    ...local.env,
    AUDIT_TABLE_PREFIX: `cannotread${tables}`,
    EMAIL_CONNECTION_STRING: acs.connectionString,
    EMAIL_SENDER: 'DoNotReply@contoso.com',
    EMAIL_TO,
    EMAIL_MODE: 'changes',
    AUDIT_ARM_TIMEOUT_SECONDS: '1',
    AUDIT_ARM_MAX_ATTEMPTS: '2',
    ...extra,
  };
}

/** What a reader sees of an HTML page or email part: its text, without markup, style or script. */
function visibleText(html: string): string {
  return html
    .replace(/<style[\s\S]*?<\/style>/gi, ' ')
    .replace(/<script[\s\S]*?<\/script>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&');
}

const poolIdsOf = (clusters: readonly ClusterRow[]) =>
  clusters
    .flatMap((c) => c.properties.agentPoolProfiles.map((p) => `${c.id}/agentPools/${p.name}`.toLowerCase()))
    .sort();
const poolsOfSubscription = (subscription: string) =>
  poolIdsOf(estate.clusters.filter((c) => c.subscriptionId === subscription));

const occurrences = (text: string, part: string) => text.split(part).length - 1;

/**
 * A machine with no Azure sign-in at all: no managed identity, and the chain pinned to the developer credentials
 * with none of their tools (az, azd, pwsh) on the PATH, so nothing of it leaves the machine. Returns the undo.
 */
function removeEveryCredential(): () => void {
  const saved = { ...process.env };
  const emptyPath = mkdtempSync(join(tmpdir(), 'no-tools-'));
  delete process.env.IDENTITY_ENDPOINT;
  delete process.env.IDENTITY_HEADER;
  process.env.AZURE_TOKEN_CREDENTIALS = 'dev';
  process.env.PATH = emptyPath;
  return () => {
    for (const name of ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'AZURE_TOKEN_CREDENTIALS', 'PATH']) {
      process.env[name] = saved[name];
    }
    rmSync(emptyPath, { recursive: true, force: true });
  };
}

/** Resolves once the clock has moved on to the next whole second. */
async function nextSecond(): Promise<void> {
  const second = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === second) await new Promise((resolve) => setTimeout(resolve, 20));
}

interface Case {
  title: string;
  status: RunStatus;
  exit: number;
  settings?: () => Record<string, string>;
  /** A clean audit first, so the pools of what then cannot be read are known. */
  previousRun?: boolean;
  /** Turns the fault on; returns what turns it off again. */
  arrange: () => () => void;
  /** The first unreadable scope: its scope, code, what its message says; null for a run that read everything. */
  error: { scope: string; code: string; says: string[] } | null;
  /** The words of the alert's subject (failed runs). */
  reason?: string;
  /** Pools reported unknown from their last known state, because their scope could not be read. */
  unreadablePools?: string[];
  check?: (report: Report, output: { stdout: string; stderr: string }) => void;
}

const cases: Case[] = [
  {
    title: 'no credential at all (no managed identity, no az, azd or pwsh on the PATH)',
    status: 'failed',
    exit: EXIT.failed,
    arrange: removeEveryCredential,
    error: {
      scope: '/',
      code: 'CredentialUnavailable',
      says: [
        'No Azure credential is available, so the audit read nothing. The credential chain tried: (1) ',
        'Azure CLI could not be found',
        'on a workstation run `az login`',
        'AZURE_CLIENT_ID',
        'AZURE_CLOUD=AzureUSGovernment',
        'The identity needs the Reader role',
      ],
    },
    reason: 'no Azure credential is available',
    check: (_report, { stdout, stderr }) => {
      // The chain's failure is said once on stdout (and once in the log), not once per credential or per line.
      expect(occurrences(stdout, 'Azure CLI could not be found')).toBe(1);
      expect(occurrences(stderr, 'Azure CLI could not be found')).toBe(1);
      expect(stderr).not.toMatch(/retry \d/);
    },
  },
  {
    title: '401 InvalidAuthenticationToken from ARM on every call',
    status: 'failed',
    exit: EXIT.failed,
    previousRun: true,
    arrange: () => {
      local.arm.faults.rejectAllTokens = true;
      return () => (local.arm.faults.rejectAllTokens = false);
    },
    error: {
      scope: '/',
      code: 'InvalidAuthenticationToken',
      says: [
        'refused the access token (401 InvalidAuthenticationToken',
        'run `az login` again',
        'AZURE_CLOUD',
      ],
    },
    reason: 'Azure refused its access token',
    check: (_report, { stderr }) => expect(stderr).not.toMatch(/retry \d/),
  },
  {
    title: '403 AuthorizationFailed from ARM on every configured subscription',
    status: 'failed',
    exit: EXIT.failed,
    settings: () => ({ AUDIT_SUBSCRIPTIONS: ALL_SUBSCRIPTIONS }),
    arrange: () => {
      local.arm.faults.forbidAll = true;
      return () => (local.arm.faults.forbidAll = false);
    },
    error: {
      scope: `/subscriptions/${SUB_A}`,
      code: 'AuthorizationFailed',
      says: [`--role Reader --scope /subscriptions/${SUB_A}`],
    },
    reason: 'the identity may not read the audited scopes',
    check: (report) => {
      expect(report.errors.map((e) => [e.scope, e.code])).toEqual([
        [`/subscriptions/${SUB_A}`, 'AuthorizationFailed'],
        [`/subscriptions/${SUB_B}`, 'AuthorizationFailed'],
        [`/subscriptions/${SUB_C}`, 'AuthorizationFailed'],
        ['/', 'NothingRead'],
      ]);
    },
  },
  {
    title: '403 AuthorizationFailed from ARM on one of three configured subscriptions',
    status: 'partial',
    exit: EXIT.incomplete,
    previousRun: true,
    settings: () => ({ AUDIT_SUBSCRIPTIONS: ALL_SUBSCRIPTIONS }),
    arrange: () => {
      local.arm.faults.failingSubscriptions.add(SUB_B);
      return () => local.arm.faults.failingSubscriptions.clear();
    },
    error: {
      scope: `/subscriptions/${SUB_B}`,
      code: 'AuthorizationFailed',
      says: [`--role Reader --scope /subscriptions/${SUB_B}`],
    },
    unreadablePools: poolsOfSubscription(SUB_B),
  },
  {
    title: 'persistent 500s from Resource Graph',
    status: 'failed',
    exit: EXIT.failed,
    previousRun: true,
    arrange: () => {
      local.arm.faults.graphStatus = 500;
      return () => (local.arm.faults.graphStatus = null);
    },
    error: {
      scope: '/',
      code: 'InternalServerError',
      says: ['Resource Graph / page 1 failed 2 times in', '(last: 500 InternalServerError'],
    },
    reason: 'Azure kept failing (InternalServerError)',
    check: (report, { stdout }) => {
      // The case the issue measured: every known pool unknown, and no percentage of the none judged.
      expect(report.summary.unknown).toBe(
        estate.clusters.flatMap((c) => c.properties.agentPoolProfiles).length,
      );
      expect(stdout).toMatch(/^ {2}no node pools judged /m);
      expect(stdout).toMatch(/unknown 40 /);
    },
  },
  {
    title: 'a hung Resource Graph call',
    status: 'failed',
    exit: EXIT.failed,
    arrange: () => {
      local.arm.faults.hangGraph = true;
      return () => (local.arm.faults.hangGraph = false);
    },
    error: { scope: '/', code: 'RequestTimeout', says: ['did not answer within 1000 ms'] },
    reason: 'Azure did not answer in time',
    check: (report, { stderr }) => {
      const call = `POST ${local.arm.endpoint}/providers/Microsoft.ResourceGraph/resources did not answer within 1000 ms`;
      expect(report.errors[0]?.message).toContain(call);
      // The log says which call and how long, when it retries.
      expect(stderr).toContain(`Resource Graph / page 1: RequestTimeout (${call}); retry 1 in`);
    },
  },
  {
    title: 'one malformed cluster row (and a cluster that vanished since the last run)',
    status: 'partial',
    exit: EXIT.incomplete,
    previousRun: true,
    arrange: () => {
      local.arm.faults.malformedClusters.add(malformed.id);
      const at = estate.clusters.indexOf(vanishing);
      estate.clusters.splice(at, 1);
      local.arm.reindex();
      return () => {
        local.arm.faults.malformedClusters.clear();
        estate.clusters.splice(at, 0, vanishing);
        local.arm.reindex();
      };
    },
    error: {
      scope: malformed.id,
      code: 'InvalidClusterRow',
      says: [`cluster ${malformed.id}: agentPoolProfiles is not an array`],
    },
    unreadablePools: poolIdsOf([malformed]),
    check: (report) => {
      // The row's problem is its cluster's alone: the vanished cluster's pools are gone, not phantom unknowns.
      const ids = new Set(report.pools.map((p) => p.id.toLowerCase()));
      expect(poolIdsOf([vanishing]).filter((id) => ids.has(id))).toEqual([]);
      expect(report.errors).toHaveLength(1);
    },
  },
  {
    title: 'a configured subscription silently absent from Resource Graph’s answer',
    status: 'partial',
    exit: EXIT.incomplete,
    previousRun: true,
    settings: () => ({ AUDIT_SUBSCRIPTIONS: ALL_SUBSCRIPTIONS }),
    arrange: () => {
      local.arm.faults.hiddenSubscriptions.add(SUB_C);
      return () => local.arm.faults.hiddenSubscriptions.clear();
    },
    error: {
      scope: `/subscriptions/${SUB_C}`,
      code: 'SCOPE_UNREADABLE',
      says: [
        `Subscription ${SUB_C} is in AUDIT_SUBSCRIPTIONS but Resource Graph does not list it for this identity`,
        `Give the identity the Reader role on /subscriptions/${SUB_C}.`,
      ],
    },
    unreadablePools: poolsOfSubscription(SUB_C),
  },
  {
    title: 'a management group with no readable subscription',
    status: 'partial',
    exit: EXIT.incomplete,
    previousRun: true,
    settings: () => ({ AUDIT_MANAGEMENT_GROUPS: 'mg-fips-prod,mg-fips-sandbox' }),
    arrange: () => {
      local.arm.hideManagementGroup('mg-fips-sandbox');
      return () => local.arm.faults.hiddenSubscriptions.clear();
    },
    error: {
      scope: SANDBOX,
      code: 'SCOPE_UNREADABLE',
      says: [
        'Management group mg-fips-sandbox gives no subscription this identity can read',
        `Give the identity the Reader role on ${SANDBOX}.`,
      ],
    },
    unreadablePools: poolsOfSubscription(SUB_C),
  },
  {
    title: 'every configured subscription silently absent (nothing read, so failed, not partial)',
    status: 'failed',
    exit: EXIT.failed,
    previousRun: true,
    settings: () => ({ AUDIT_SUBSCRIPTIONS: ALL_SUBSCRIPTIONS }),
    arrange: () => {
      for (const s of [SUB_A, SUB_B, SUB_C]) local.arm.faults.hiddenSubscriptions.add(s);
      return () => local.arm.faults.hiddenSubscriptions.clear();
    },
    error: {
      scope: `/subscriptions/${SUB_A}`,
      code: 'SCOPE_UNREADABLE',
      says: [`Give the identity the Reader role on /subscriptions/${SUB_A}.`],
    },
    reason: 'the identity can read none of the audited scopes',
    check: (report) => {
      expect(report.errors.map((e) => e.code)).toEqual([
        'SCOPE_UNREADABLE',
        'SCOPE_UNREADABLE',
        'SCOPE_UNREADABLE',
        'NothingRead',
      ]);
      // Its pools are still reported from their last known state, all unknown.
      expect(report.summary.unknown).toBe(report.summary.pools);
    },
  },
  {
    title: 'no scope configured and no subscription readable',
    status: 'failed',
    exit: EXIT.failed,
    arrange: () => {
      for (const s of [SUB_A, SUB_B, SUB_C]) local.arm.faults.hiddenSubscriptions.add(s);
      return () => local.arm.faults.hiddenSubscriptions.clear();
    },
    error: {
      scope: '/',
      code: 'NoReadableSubscriptions',
      says: ['The identity can read no subscription in this tenant, so there is nothing to audit'],
    },
    reason: 'the identity can read no subscription',
  },
  {
    title: 'an empty but readable tenant (a genuine success with no pools)',
    status: 'succeeded',
    exit: EXIT.ok,
    settings: () => ({ AUDIT_ARM_ENDPOINT: emptyTenant.endpoint }),
    arrange: () => () => undefined,
    error: null,
  },
];

beforeAll(async () => {
  restoreEnv = isolateIdentityEnv();
  local = await startLocalAzure(estate, { queue: true });
  // No per-identity Resource Graph quota: these cases are about failures, and pacing would only slow them down.
  local.arm.quota = null;
  acs = await AcsEmailEmulator.start({ retryAfterInSeconds: 0, runningPolls: 0 });
  trustCertificate(acs.certificatePem);
  emptyTenant = await ArmEmulator.start({
    estate: generateEstate({ seed: 3, pools: 0, subscriptions: 3 }),
    identity: local.identity,
    audience: 'https://management.azure.com/',
  });
  trustCertificate(emptyTenant.certificatePem);
}, 120_000);

afterEach(() => local.arm.resetFaults());

afterAll(async () => {
  await emptyTenant?.close();
  await acs?.close();
  await local?.stop();
  restoreEnv?.();
  rmSync(dir, { recursive: true, force: true });
});

describe('every surface says what the audit could not read', () => {
  it.each(cases.map((c) => [c.title, c] as const))('%s', async (_title, c) => {
    const env = settingsOf(c.settings?.());
    let before: Report | undefined;
    if (c.previousRun) {
      const clean = await cli(['audit', '--no-email', '--json'], env);
      expect(clean.code).toBe(EXIT.ok);
      before = JSON.parse(clean.stdout) as Report;
      expect(before.run.status).toBe('succeeded');
      // Run IDs carry their start second: the next run must start in a later one to be told apart as the latest.
      await nextSecond();
    }

    // The audit, with every gate: none may pass on an audit that could not read.
    const undo = c.arrange();
    const htmlFile = join(dir, `case${tables}.html`);
    let output: Awaited<ReturnType<typeof cli>>;
    try {
      output = await cli(['audit', '--fail-on', 'noncompliant,unknown', '--out', htmlFile], env);
    } finally {
      undo();
    }
    const { code, stdout, stderr } = output;
    expect(code).toBe(c.exit);
    if (c.status !== 'succeeded') expect([EXIT.ok, EXIT.gate]).not.toContain(code);

    // CLI: what a reader must know first, the message with its fix, and why the exit code is not 0.
    const runId = /^FIPS audit (\S+) \(cli, AzureCloud\): /m.exec(stdout)?.[1];
    expect(runId).toBeDefined();
    const lines = stdout.split('\n');
    if (c.status === 'failed') {
      expect(lines[0]).toMatch(
        new RegExp(
          `^AUDIT FAILED: it could not read the estate; no figure below describes it\\. ${c.error!.code}: `,
        ),
      );
      expect(lines[1]).toBe(`FIPS audit ${runId} (cli, AzureCloud): FAILED`);
      expect(stderr).toContain('Exit 1: the audit failed: it could not read what it was asked to audit');
    } else if (c.status === 'partial') {
      expect(lines[0]).toMatch(/^AUDIT INCOMPLETE: 1 scope\(s\) could not be read; their pools are unknown/);
      expect(lines[1]).toBe(`FIPS audit ${runId} (cli, AzureCloud): PARTIAL`);
      expect(stderr).toContain('Exit 4: the audit is incomplete (partial)');
    } else {
      expect(lines[0]).toBe(`FIPS audit ${runId} (cli, AzureCloud): SUCCEEDED`);
      expect(stderr).not.toMatch(/^Exit \d/m);
    }
    for (const words of c.error?.says ?? []) expect(stdout).toContain(words);

    // The stored report, as the API serves it: JSON run status and errors, the HTML page's banner.
    const app = new App(loadConfig(env));
    const handlers = app.httpHandlers();
    const json = await callHandler(handlers.report, { url: `/api/report?runId=${runId}` });
    expect(json.status).toBe(200);
    const report = reportPageSchema.parse(json.json()) as Report;
    expect(report.run.status).toBe(c.status);
    if (c.error) {
      expect(report.errors[0]).toMatchObject({ scope: c.error.scope, code: c.error.code });
      for (const words of c.error.says) expect(report.errors[0]!.message).toContain(words);
    } else {
      expect(report.errors).toEqual([]);
    }
    const page = await callHandler(handlers.report, { url: `/api/report?runId=${runId}&format=html` });
    expect(page.status).toBe(200);
    const written = readFileSync(htmlFile, 'utf8');
    for (const html of [page.text, written]) {
      const banner = /<section class="warn banner" id="run-banner"[\s\S]*?<\/section>/.exec(html)?.[0];
      if (c.status === 'succeeded') {
        expect(banner).toBeUndefined();
        continue;
      }
      expect(html.indexOf('id="run-banner"')).toBeLessThan(html.indexOf('id="headline"'));
      expect(banner).toContain(
        c.status === 'failed'
          ? '<b>Audit failed:</b> it could not read what it was asked to audit'
          : '<b>Audit incomplete:</b> 1 scope could not be read.',
      );
      expect(banner).toContain(`<code class="scope">${c.error!.scope}</code> <b>${c.error!.code}</b>: `);
    }

    // Pools of an unreadable scope: reported unknown from their last known state, and only those.
    const unreadable = report.pools
      .filter((p) => p.findings.some((f) => f.code === 'SCOPE_UNREADABLE'))
      .map((p) => p.id.toLowerCase())
      .sort();
    if (c.unreadablePools) {
      expect(unreadable).toEqual(c.unreadablePools);
      expect(
        report.pools
          .filter((p) => unreadable.includes(p.id.toLowerCase()))
          .every((p) => p.status === 'unknown'),
      ).toBe(true);
    }

    // The email: one per run, to EMAIL_TO: the alert of a failed run, the digest (saying so first) otherwise.
    const mails = acs.messages.filter((m) => m.headers['X-FIPS-Audit-Run'] === runId);
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.to).toEqual([EMAIL_TO]);
    const mailText = mail.plainText ?? '';
    if (c.status === 'failed') {
      expect(mail.subject).toBe(`[FIPS audit] Audit could not complete: ${c.reason} (run ${runId})`);
      expect(mailText).toContain('It judged no node pool, so it reports no compliance figure.');
      expect(mailText).toContain(`- ${c.error!.scope}: ${c.error!.code}: `);
      for (const words of c.error!.says) expect(mailText).toContain(words);
    } else if (c.status === 'partial') {
      expect(mail.subject).toMatch(/^\[FIPS audit\] Audit incomplete: 1 scope could not be read — /);
      const top = mailText.split('\n');
      expect(top[2]).toMatch(/^PARTIAL RUN: 1 scope could not be read\./);
      expect(top[3]).toContain(`  ${c.error!.scope}: ${c.error!.code}: `);
      for (const words of c.error!.says) expect(top[3]).toContain(words);
    } else {
      expect(mail.subject).toBe('[FIPS audit] First audit: 0 noncompliant node pools — no node pools judged');
    }

    // Health: degraded with the last run's error, so a monitor can alert on it; ok for a genuine success.
    const health = healthSchema.parse((await callHandler(handlers.health, { url: '/api/health' })).json());
    expect(health.latestRun).toMatchObject({ id: runId, status: c.status });
    if (c.error) {
      expect(health.status).toBe('degraded');
      expect(health.audits.status).toBe('degraded');
      expect(health.latestRun?.errors[0]).toMatchObject({ scope: c.error.scope, code: c.error.code });
      expect(health.audits.warnings[0]).toMatch(
        new RegExp(`^The latest run ${runId} is ${c.status}: ${c.error.code}: `),
      );
    } else {
      expect(health.status).toBe('ok');
      expect(health.latestRun?.errors).toEqual([]);
    }
    // A failed run never becomes the report served as the latest: the last completed one stays.
    const latest = await callHandler(handlers.report, { url: '/api/report' });
    if (c.status === 'failed') {
      if (before) expect(latest.json<Report>().run.id).toBe(before.run.id);
      else expect(latest.status).toBe(404);
    } else {
      expect(latest.json<Report>().run.id).toBe(runId);
    }

    // No percentage of nothing judged; where something was judged, the one the data supports, never a false 100%.
    const surfaces = [
      stdout,
      stderr,
      visibleText(page.text),
      visibleText(written),
      mail.subject,
      mailText,
      visibleText(mail.html ?? ''),
      JSON.stringify(health),
    ];
    if (judgedPools(report.summary) === 0) {
      expect(lines.find((l) => l.startsWith('  no node pools judged'))).toBeDefined();
      expect(page.text).toContain('<b>no node pools judged</b>');
      for (const text of surfaces) expect(text).not.toMatch(/\d\s?%/);
    } else {
      const percent = compliancePercent(report.summary)!;
      expect(percent).toBeLessThan(100);
      expect(stdout).toContain(`  ${compliancePercentText(report.summary)} (exempt pools count as compliant`);
      expect(mail.subject).toContain(`— ${compliancePercentText(report.summary)}`);
      const rows = [...(report.summary.bySubscription ?? []), ...(report.summary.byOwner ?? [])];
      if (!rows.some((r) => compliancePercent(r) === 100)) {
        for (const text of surfaces) expect(text).not.toMatch(/\b100(\.0)?\s?%/);
      }
    }
    c.check?.(report, { stdout, stderr });

    // The next audit, once Azure reads again, is not held partial or failed by this one.
    if (c.previousRun) {
      const after = await cli(['audit', '--no-email', '--json'], env);
      expect(after.code).toBe(EXIT.ok);
      expect((JSON.parse(after.stdout) as Report).run.status).toBe('succeeded');
    }
  });

  it('a hung Table Storage call: the audit fails in bounded time naming the call, and health says storage is down', async () => {
    const tableEndpoint = /TableEndpoint=([^;]+)/.exec(local.env.AUDIT_TABLES_CONNECTION_STRING!)![1]!;
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(tableEndpoint).port) });
    try {
      const env = settingsOf({
        AUDIT_TABLES_TIMEOUT_SECONDS: '1',
        AUDIT_TABLES_CONNECTION_STRING: local.env.AUDIT_TABLES_CONNECTION_STRING!.replace(
          tableEndpoint,
          proxy.rewrite(tableEndpoint),
        ),
      });
      const mailsBefore = acs.messages.length;
      const graphBefore = local.arm.stats.graphRequests;
      await proxy.setMode('hang');

      const { code, stdout, stderr } = await cli(['audit', '--fail-on', 'noncompliant,unknown'], env);
      expect(code).toBe(EXIT.failed);
      expect(stdout).toBe('');
      expect(stderr).toBe(
        `Audit failed: StorageUnavailableError: Table Storage (${proxy.rewrite(tableEndpoint)}), where every run is recorded, ` +
          `did not answer (POST ${proxy.rewrite(tableEndpoint)}/Tables did not answer within 1000 ms), so nothing was audited. ` +
          'To fix: check that this machine (or the Function App) can reach the storage account: its firewall, private endpoint and DNS; ' +
          'then run the audit again. AUDIT_TABLES_TIMEOUT_SECONDS sets how long each attempt waits.\n',
      );
      // Nothing was read from Azure without a place to record it.
      expect(local.arm.stats.graphRequests).toBe(graphBefore);

      const app = new App(loadConfig(env));
      const down = await callHandler(app.httpHandlers().health, { url: '/api/health' });
      expect(down.status).toBe(503);
      const health = healthSchema.parse(down.json());
      expect(health).toMatchObject({ status: 'degraded', storage: { configured: true, reachable: false } });
      expect(health.storage.detail).toMatch(/^Table Storage could not be read: /);

      // Once the link is back: no run was recorded, so there is no report to pass for the estate's, and no email.
      await proxy.setMode('pass');
      const handlers = new App(loadConfig(env)).httpHandlers();
      const latest = await callHandler(handlers.report, { url: '/api/report' });
      expect(latest.status).toBe(404);
      expect(
        healthSchema.parse((await callHandler(handlers.health, { url: '/api/health' })).json()).latestRun,
      ).toBeNull();
      expect(acs.messages.length).toBe(mailsBefore);
      for (const text of [stdout, stderr, JSON.stringify(health)]) expect(text).not.toMatch(/\d\s?%/);
    } finally {
      await proxy.close();
    }
  });

  it('no credential at all, with runs stored through the identity (AUDIT_TABLES_ENDPOINT): said once, with the fix, nothing read', async () => {
    // Any https URL serves: the chain fails before a request is sent. The ARM emulator's counts prove none was.
    const env = settingsOf({ AUDIT_TABLES_ENDPOINT: `${local.arm.endpoint}/devstoreaccount1` });
    delete env.AUDIT_TABLES_CONNECTION_STRING;
    const requestsBefore = Object.values(local.arm.stats.requestsByEndpoint).reduce((a, b) => a + b, 0);
    const mailsBefore = acs.messages.length;
    const undo = removeEveryCredential();
    try {
      const { code, stdout, stderr } = await cli(['audit', '--fail-on', 'noncompliant,unknown'], env);
      expect(code).toBe(EXIT.failed);
      expect(stdout).toBe('');
      expect(stderr).toMatch(
        /^Audit failed: AzureAccessError: No Azure credential is available, so the audit read nothing\. The credential chain tried: \(1\) /,
      );
      expect(occurrences(stderr, 'Azure CLI could not be found')).toBe(1);
      expect(stderr).not.toContain('ChainedTokenCredential');
      for (const words of [
        'on a workstation run `az login`',
        'AZURE_CLIENT_ID',
        'AZURE_CLOUD=AzureUSGovernment',
      ]) {
        expect(stderr).toContain(words);
      }
      const down = await callHandler(new App(loadConfig(env)).httpHandlers().health, { url: '/api/health' });
      expect(down.status).toBe(503);
      const health = healthSchema.parse(down.json());
      expect(health).toMatchObject({ status: 'degraded', storage: { reachable: false }, latestRun: null });
      expect(health.storage.detail).toMatch(
        /^Table Storage could not be read: AzureAccessError: No Azure credential is available/,
      );
      expect(Object.values(local.arm.stats.requestsByEndpoint).reduce((a, b) => a + b, 0)).toBe(
        requestsBefore,
      );
      expect(acs.messages.length).toBe(mailsBefore);
      for (const text of [stdout, stderr, JSON.stringify(health)]) expect(text).not.toMatch(/\d\s?%/);
    } finally {
      undo();
    }
  });
});

describe('the timer tells people when the scheduled audit could not read', () => {
  interface FunctionApp {
    app: App;
    host: HostedQueue;
    /** Fires the timer at `at` (the app's clock then reads `at` and runs on from it), and drains the queue. */
    timer: (at: Date, options?: { late?: number }) => Promise<void>;
  }

  /**
   * One Function App over its own tables and queue, as src/functions/* wires it. Its clock runs at real speed from
   * the time the timer last fired, so daily occurrences days apart are audited within seconds.
   */
  function functionApp(extra: Record<string, string> = {}): FunctionApp {
    const env = settingsOf({
      AUDIT_SHARD_QUEUE: `cannot-read-${tables}-${Date.now().toString(36)}`,
      ...extra,
    });
    let offset = 0;
    const app = new App(loadConfig(env), {
      queue: 'storage',
      now: () => new Date(Date.now() + offset),
      notify: {
        sender: new AcsEmailSender({ connectionString: acs.connectionString, pollIntervalInMs: 20 }),
      },
    });
    const deps = {
      handle: (...args: Parameters<App['pipeline']['handle']>) => app.pipeline.handle(...args),
      poison: (...args: Parameters<App['pipeline']['poison']>) => app.pipeline.poison(...args),
    };
    const host: HostedQueue = {
      queue: new QueueClient(env.AUDIT_QUEUE!, app.config.queue.name),
      poison: new QueueClient(env.AUDIT_QUEUE!, poisonQueueName(app.config.queue.name)),
      handler: auditPipelineHandler(deps),
      poisonHandler: auditPipelinePoisonHandler(deps),
      maxDequeueCount: 3,
    };
    const timer = async (at: Date, options: { late?: number } = {}) => {
      // `late`: the invocation runs this many ms after `at` (a retry hours later).
      offset = at.getTime() + (options.late ?? 0) - Date.now();
      const handler = auditTimerHandler({
        schedule: app.config.schedule,
        startScheduled: (scheduledAt, log) => app.pipeline.startScheduled(scheduledAt, log),
        now: () => at,
      });
      await handler(
        {
          isPastDue: false,
          schedule: { adjustForDST: true },
          scheduleStatus: { last: '', next: '', lastUpdated: '' },
        },
        new InvocationContext({ functionName: 'auditTimer', invocationId: `timer-${at.toISOString()}` }),
      );
      await drainQueue(host);
    };
    return { app, host, timer };
  }

  // Shortly after the default AUDIT_SCHEDULE's 06:00 UTC, on two days.
  const DAY_1 = new Date(Date.UTC(2026, 10, 30, 6, 0, 5));
  const DAY_2 = new Date(Date.UTC(2026, 11, 1, 6, 0, 5));
  const mailsOf = (runId: string): AcceptedMessage[] =>
    acs.messages.filter((m) => m.headers['X-FIPS-Audit-Run'] === runId);

  it('a failed scheduled run mails one "Audit could not complete" alert to EMAIL_TO, and no retry sends another', async () => {
    const f = functionApp();
    local.arm.faults.rejectAllTokens = true;
    await f.timer(DAY_1);
    // The platform retries the timer invocation of the same occurrence: the same run, no second audit.
    await f.timer(DAY_1);
    local.arm.faults.rejectAllTokens = false;

    const runs = [];
    for await (const run of f.app.stores.reports.listRuns({})) runs.push(run);
    expect(runs.map((r) => [r.trigger, r.status])).toEqual([['timer', 'failed']]);
    const run = runs[0]!;
    const mails = mailsOf(run.id);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual([EMAIL_TO]);
    expect(mails[0]!.subject).toBe(
      `[FIPS audit] Audit could not complete: Azure refused its access token (run ${run.id})`,
    );
    expect(mails[0]!.plainText).toContain(
      `The timer FIPS audit ${run.id} (AzureCloud) started ${run.startedAt} failed`,
    );
    expect(mails[0]!.plainText).toContain('refused the access token (401 InvalidAuthenticationToken');
    expect(mails[0]!.plainText).toContain('run `az login` again');
    expect(mails[0]!.plainText).not.toMatch(/\d\s?%/);

    // The completion redelivered (its worker died after sending): the record says sent, nothing goes out again.
    const again = await f.app.notify(run.id, { takeOverClaim: true });
    expect(again.status).toBe('alreadySent');
    expect(mailsOf(run.id)).toHaveLength(1);
    const health = healthSchema.parse(
      (await callHandler(f.app.httpHandlers().health, { url: '/api/health' })).json(),
    );
    expect(health).toMatchObject({ status: 'degraded', latestRun: { id: run.id, status: 'failed' } });
    expect(health.email.latest).toMatchObject({ runId: run.id, state: 'sent' });
  });

  it('a scheduled audit that could not start before its deadline on a fresh deployment is recorded missed, and health says so', async () => {
    const f = functionApp();
    // The timer's invocation runs 21 hours after the occurrence (the platform retried it that late).
    await f.timer(DAY_1, { late: 21 * 3_600_000 });
    const health = healthSchema.parse(
      (await callHandler(f.app.httpHandlers().health, { url: '/api/health' })).json(),
    );
    expect(health.status).toBe('degraded');
    expect(health.audits.schedule.lastMissedAt).not.toBeNull();
    expect(health.audits.warnings).toContain(
      'The scheduled audit of 2026-11-30T06:00:00.000Z was missed: the audit lease was never free before its deadline.',
    );
  });

  it('a partial scheduled run mails its "Audit incomplete" digest as the alert, each run once, even when nothing changed', async () => {
    // EMAIL_MODE=changes: an unchanged estate is not mailed, but an incomplete audit always is.
    const f = functionApp({ AUDIT_SUBSCRIPTIONS: ALL_SUBSCRIPTIONS });
    local.arm.faults.hiddenSubscriptions.add(SUB_C);
    await f.timer(DAY_1);
    await f.timer(DAY_2);
    local.arm.faults.hiddenSubscriptions.clear();

    const runs = [];
    for await (const run of f.app.stores.reports.listRuns({})) runs.push(run);
    expect(runs.map((r) => [r.startedAt.slice(0, 10), r.status])).toEqual([
      ['2026-12-01', 'partial'],
      ['2026-11-30', 'partial'],
    ]);
    for (const run of runs) {
      const mails = mailsOf(run.id);
      expect(mails).toHaveLength(1);
      const [mail] = mails as [AcceptedMessage];
      expect(mail.to).toEqual([EMAIL_TO]);
      expect(mail.subject).toMatch(/^\[FIPS audit\] Audit incomplete: 1 scope could not be read — /);
      const top = (mail.plainText ?? '').split('\n');
      expect(top[2]).toMatch(/^PARTIAL RUN: 1 scope could not be read\./);
      expect(top[3]).toBe(`  /subscriptions/${SUB_C}: SCOPE_UNREADABLE: ${runs[0]!.errors[0]!.message}`);
      expect(top[3]).toContain(`Give the identity the Reader role on /subscriptions/${SUB_C}.`);
      expect(await f.app.notify(run.id, { takeOverClaim: true })).toMatchObject({ status: 'alreadySent' });
    }
    // The second run changed nothing, and was mailed because it is incomplete.
    const newest = runs[0]!;
    expect(newest.email).toMatchObject({ state: 'sent' });
    expect(mailsOf(newest.id)[0]!.subject).toContain('No change');
  });
});
