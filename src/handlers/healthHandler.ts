// GET /api/health (anonymous): liveness and a configuration check — which settings are set, never their values.

import type { HttpResponseInit } from '@azure/functions';
import type { z } from 'zod';

import { storageLabel, tableStorageError } from '../azure/accessFailureMessages';
import { accessContextOf } from '../azure/azureClients';
import { CLOUDS, type Config } from '../config';
import type { RunRecord } from '../core/run';
import { describeError } from '../errors';
import type { EvidenceHealth } from '../evidence/evidenceHealth';
import { CACHE_CONTROL } from '../http/conditional';
import { routeHandler } from '../http/handle';
import { API_ROUTES } from '../http/routes';
import { type healthSchema, noQuerySchema } from '../http/schemas';
import { parseQuery } from '../http/validate';
import type { EmailHealth } from '../notify/emailHealth';
import type { Lease } from '../store/leaseStore';
import type { ScheduleState } from '../store/scheduleStore';

/** Cancels a probe's storage calls when the probe gives up on them, so nothing runs after the response. */
type Cancellable = { abortSignal?: AbortSignal };

export interface HealthDependencies {
  config: Config;
  /** Read inside the check: a store that throws (storage not configured) makes the app degraded, not down. */
  readonly store: { getLatestRun(opts: Cancellable): Promise<RunRecord | undefined> };
  /** The audit lease, to tell a live run from a stuck one. */
  lease: { get(opts: Cancellable): Promise<Pick<Lease, 'holderRunId' | 'expiresAt'> | undefined> };
  /** What became of the scheduled audits. */
  schedule: { get(opts: Cancellable): Promise<ScheduleState> };
  /** The digests' delivery, from the email table (getEmailHealth); read only when storage answered. */
  emailHealth(options: { now: Date } & Cancellable): Promise<EmailHealth>;
  /** The chain of runs and bundle retention (src/evidence); read only when storage answered. */
  evidenceHealth?(options: { now: Date } & Cancellable): Promise<EvidenceHealth>;
  now?: () => Date;
}

/** How long the storage probe may take before health says storage is unreachable. */
export const STORAGE_PROBE_TIMEOUT_IN_MS = 5_000;

type Health = z.infer<typeof healthSchema>;

/** Names of the optional settings in effect, read off the validated Config (this module never reads the environment). */
function settingsSet(config: Config): string[] {
  const set: [string, boolean][] = [
    ['AUDIT_ARM_ENDPOINT', config.cloud.armEndpoint !== CLOUDS[config.cloud.name].armEndpoint],
    ['AUDIT_SUBSCRIPTIONS', config.subscriptions !== null],
    ['AUDIT_MANAGEMENT_GROUPS', config.managementGroups !== null],
    ['AZURE_CLIENT_ID', config.clientId !== null],
    ['AUDIT_TABLES_ENDPOINT', config.storage?.kind === 'endpoint'],
    ['AUDIT_TABLES_CONNECTION_STRING', config.storage?.kind === 'connectionString'],
    ['AUDIT_MATRIX_FILE', config.matrixFile !== null],
    ['EMAIL_ENDPOINT', config.email.endpoint !== null],
    ['EMAIL_CONNECTION_STRING', config.email.connectionString !== null],
    ['EMAIL_SENDER', config.email.sender !== null],
    ['EMAIL_TO', config.email.to.length > 0],
    ['EMAIL_ALLOWED_RECIPIENTS', config.email.allowedRecipients.length > 0],
    ['SMTP_HOST', config.smtp !== null],
    // The config keeps the port, not whether it was given: reported when it is not the default 587.
    ['SMTP_PORT', config.smtp !== null && config.smtp.port !== 587],
    ['SMTP_USER', config.smtp?.user != null],
    // Set also when it still holds an unresolved Key Vault reference (then `email.warnings` says so).
    [
      'SMTP_PASSWORD',
      config.smtp !== null && (config.smtp.password !== null || config.smtp.problem !== null),
    ],
    ['REPORT_BASE_URL', config.reportBaseUrl !== null],
    ['AUDIT_SIGNING_KEY_ID', config.evidence.signingKeyId !== null],
    ['AUDIT_EVIDENCE_CONTAINER', config.evidence.container !== null],
  ];
  return set.filter(([, isSet]) => isSet).map(([name]) => name);
}

/** Anything shaped like an address (recipients in an SMTP or ACS rejection): health is anonymous. */
const ADDRESS = /[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*/g;

export function redactAddresses(text: string): string {
  return text.replace(ADDRESS, '<address>');
}

/** The email part of health from what the settings say and, when storage answered, the email table. */
async function emailSection(
  deps: HealthDependencies,
  now: Date,
  storageReachable: boolean,
): Promise<Health['email']> {
  const { config } = deps;
  const provider = config.emailProvider;
  const warnings: string[] = [];
  if (config.smtp?.problem) warnings.push(`SMTP cannot send: ${config.smtp.problem}`);
  const section: Health['email'] = {
    provider,
    status: 'ok',
    delivery: null,
    latest: null,
    lastSent: null,
    lastFailure: null,
    failuresSinceLastSent: 0,
    warnings,
  };
  if (!storageReachable) {
    section.detail = 'The email records were not read: storage is not configured or did not answer.';
  } else {
    try {
      const health = await withTimeout(
        (abortSignal) => deps.emailHealth({ now, abortSignal }),
        STORAGE_PROBE_TIMEOUT_IN_MS,
      );
      const failure = health.failures[0];
      section.delivery = health.status;
      section.latest = health.latest && {
        runId: health.latest.runId,
        state: health.latest.state,
        attempts: health.latest.attempts,
        at: health.latest.at,
      };
      section.lastSent = health.lastSent && { runId: health.lastSent.runId, at: health.lastSent.at };
      section.lastFailure = failure
        ? { runId: failure.runId, at: failure.at, reason: redactAddresses(failure.reason) }
        : null;
      section.failuresSinceLastSent = health.failures.length;
      if (failure) {
        warnings.push(
          `${health.failures.length} digest(s) could not be sent since the last one that was${health.lastSent ? ` (run ${health.lastSent.runId})` : ''}; the latest, of run ${failure.runId}: ${section.lastFailure?.reason ?? ''}`,
        );
      }
    } catch (error) {
      section.detail = `The email records could not be read: ${redactAddresses(describeError(error))}`;
      warnings.push(
        'Whether digests are delivered is unknown: the email records could not be read (`detail`).',
      );
    }
  }
  section.status = warnings.length > 0 ? 'degraded' : 'ok';
  return section;
}

/** A deferred scheduled audit this old is overdue. */
export const SCHEDULE_OVERDUE_AFTER_IN_MS = 3_600_000;

/** Whether the audits run and complete: the latest run's outcome, a stuck run, an overdue or missed schedule. */
async function auditsSection(
  deps: HealthDependencies,
  run: RunRecord | undefined,
  now: Date,
): Promise<Health['audits']> {
  const warnings: string[] = [];
  let stuckRun: Health['audits']['stuckRun'] = null;
  if (run?.status === 'running') {
    const lease = await withTimeout(
      (abortSignal) => deps.lease.get({ abortSignal }),
      STORAGE_PROBE_TIMEOUT_IN_MS,
    );
    const held = lease?.holderRunId === run.id && Date.parse(lease.expiresAt) > now.getTime();
    if (!held) {
      const reason =
        lease?.holderRunId && lease.holderRunId !== run.id
          ? `run ${lease.holderRunId} holds the audit lease now`
          : `its lease expired${lease ? ` at ${lease.expiresAt}` : ''} without the run completing`;
      stuckRun = { id: run.id, startedAt: run.startedAt, reason };
      warnings.push(
        `Run ${run.id} is recorded as running but ${reason}: its worker stopped. The next audit marks it abandoned and takes over.`,
      );
    }
  } else if (run && run.status !== 'succeeded') {
    const first = run.errors[0];
    warnings.push(
      `The latest run ${run.id} is ${run.status}${first ? `: ${first.code}: ${first.message}` : ''}` +
        (run.status === 'partial' ? ' (its report leaves out what could not be read)' : ''),
    );
  }
  const schedule = await withTimeout(
    (abortSignal) => deps.schedule.get({ abortSignal }),
    STORAGE_PROBE_TIMEOUT_IN_MS,
  );
  if (
    schedule.deferredSince &&
    now.getTime() - Date.parse(schedule.deferredSince) > SCHEDULE_OVERDUE_AFTER_IN_MS
  ) {
    warnings.push(
      `The scheduled audit of ${schedule.lastScheduledAt ?? '?'} is overdue: it has waited since ${schedule.deferredSince} behind run ${schedule.deferredBehindRunId ?? '?'} (next attempt ${schedule.nextAttemptAt ?? '?'}).`,
    );
  }
  if (
    schedule.lastMissedAt &&
    (!schedule.lastStartedAt || Date.parse(schedule.lastMissedAt) > Date.parse(schedule.lastStartedAt))
  ) {
    warnings.push(
      `The scheduled audit of ${schedule.lastScheduledAt ?? '?'} was missed: the audit lease was never free before its deadline.`,
    );
  }
  return {
    status: warnings.length ? 'degraded' : 'ok',
    stuckRun,
    schedule: {
      lastScheduledAt: schedule.lastScheduledAt,
      lastStartedRunId: schedule.lastStartedRunId,
      deferredSince: schedule.deferredSince,
      deferredBehindRunId: schedule.deferredBehindRunId,
      nextAttemptAt: schedule.nextAttemptAt,
      lastMissedAt: schedule.lastMissedAt,
    },
    warnings,
  };
}

/**
 * Runs `call`, giving up after `timeoutInMs`: then its signal aborts, so the storage call is cancelled on the wire
 * instead of going on (with its own timeout and retries) after the response. The race also answers for a call
 * that does not heed its signal.
 */
async function withTimeout<T>(
  call: (abortSignal: AbortSignal) => Promise<T>,
  timeoutInMs: number,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  // Settled either way, so the call's rejection after the abort is handled, not left unobserved.
  const settled = call(controller.signal).then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  const timedOut = new Promise<{ error: unknown }>((resolve) => {
    timer = setTimeout(() => {
      const error = new Error(`no answer within ${timeoutInMs} ms`);
      resolve({ error });
      controller.abort(error);
    }, timeoutInMs);
  });
  try {
    const outcome = await Promise.race([settled, timedOut]);
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  } finally {
    clearTimeout(timer);
  }
}

export function healthHandler(deps: HealthDependencies) {
  return routeHandler(API_ROUTES.health, deps.config, async (request): Promise<HttpResponseInit> => {
    parseQuery(request.query, { schema: noQuerySchema, ignored: ['code'] });
    const now = (deps.now ?? (() => new Date()))();
    const { config } = deps;
    const storage: Health['storage'] = { configured: config.storage !== null, reachable: null };
    let latestRun: Health['latestRun'] = null;
    let audits: Health['audits'] = {
      status: 'degraded',
      stuckRun: null,
      schedule: {
        lastScheduledAt: null,
        lastStartedRunId: null,
        deferredSince: null,
        deferredBehindRunId: null,
        nextAttemptAt: null,
        lastMissedAt: null,
      },
      warnings: ['Whether audits run is unknown: storage could not be read.'],
    };
    if (storage.configured) {
      try {
        const run = await withTimeout(
          (abortSignal) => deps.store.getLatestRun({ abortSignal }),
          STORAGE_PROBE_TIMEOUT_IN_MS,
        );
        storage.reachable = true;
        if (run) {
          latestRun = {
            id: run.id,
            status: run.status,
            trigger: run.trigger,
            startedAt: run.startedAt,
            finishedAt: run.finishedAt,
            ageInSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(run.startedAt)) / 1000)),
            errors: run.status === 'succeeded' ? [] : run.errors.slice(0, 5),
          };
        }
        audits = await auditsSection(deps, run, now);
      } catch (error) {
        storage.reachable = false;
        const said = config.storage
          ? tableStorageError(error, accessContextOf(config), storageLabel(config.storage))
          : error;
        storage.detail = `Table Storage could not be read: ${describeError(said)}`;
      }
    } else {
      storage.detail =
        'Neither AUDIT_TABLES_ENDPOINT nor AUDIT_TABLES_CONNECTION_STRING is set: runs are not stored.';
    }
    const healthy = storage.reachable === true;
    const email = await emailSection(deps, now, healthy);
    const readEvidence = healthy ? deps.evidenceHealth?.bind(deps) : undefined;
    const evidence = readEvidence
      ? await withTimeout(
          (abortSignal) => readEvidence({ now, abortSignal }),
          STORAGE_PROBE_TIMEOUT_IN_MS,
        ).catch((error: unknown): Health['evidence'] => ({
          status: 'degraded',
          warnings: [
            'Whether runs are sealed and retained is unknown: the evidence records could not be read.',
          ],
          detail: describeError(error),
        }))
      : undefined;
    const health: Health = {
      // The HTTP status follows storage alone (liveness); the body says `degraded` for audit trouble too.
      status: healthy && audits.status === 'ok' ? 'ok' : 'degraded',
      time: now.toISOString(),
      cloud: config.cloud.name,
      matrix: { version: config.matrix.version, override: config.matrixFile !== null },
      settings: {
        set: settingsSet(config),
        effective: {
          AZURE_CLOUD: config.cloud.name,
          AUDIT_SCHEDULE: config.schedule,
          AUDIT_TABLE_PREFIX: config.tablePrefix,
          EMAIL_MODE: config.email.mode,
          AUDIT_NODE_IMAGE_MAX_AGE_DAYS: config.nodeImageMaxAgeInDays,
        },
        scope: {
          subscriptions: config.subscriptions?.length ?? null,
          managementGroups: config.managementGroups?.length ?? null,
        },
      },
      storage,
      latestRun,
      audits,
      email,
      ...(evidence ? { evidence } : {}),
    };
    return {
      status: healthy ? 200 : 503,
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': CACHE_CONTROL.noStore },
      body: JSON.stringify(health),
    };
  });
}
