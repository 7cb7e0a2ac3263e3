// The API's schemas: what handlers validate requests with and what the OpenAPI document is generated from.

import { z } from 'zod';

import { codeBreakdownSchema, reportSchema } from '../core/reportSchema';
import { isRunId, runIdSchema } from '../core/runId';
import { RUN_STATUSES } from '../core/types';
import { MAX_PAGE_SIZE, reportFiltersSchema, subscriptionIdSchema } from '../render/reportJson';
import { REPORT_FORMATS } from './negotiate';

/** A run ID that is also a real UTC time (20260231T… is refused). */
export const validRunIdSchema = runIdSchema
  .refine(isRunId, { message: 'is not a real UTC time; a run ID looks like 20261129T043420Z-3f9a1c' })
  .meta({
    description: 'A run ID: its UTC start time, then 6 hex digits.',
    examples: ['20261129T060000Z-3f9a1c'],
  });

/** A whole number given as a query string, from 1 to `max`. */
function countParameter(max: number, what: string) {
  return z
    .string()
    .regex(/^\d{1,9}$/, { message: `must be a whole number from 1 to ${max}` })
    .pipe(
      z.coerce
        .number<string>()
        .int()
        .min(1, { message: `must be at least 1` })
        .max(max, { message: `must be at most ${max}` }),
    )
    .meta({ description: what });
}

const filters = reportFiltersSchema.shape;

/** Pools per page of the HTML report's table. */
export const HTML_PAGE_SIZE = 100;
/** The deepest page of the HTML table (a million pools); filters narrow anything larger. */
export const MAX_HTML_PAGE = 10_000;

/** GET /api/report query. Filters take several values, repeated or comma-separated. */
export const reportQuerySchema = z
  .object({
    runId: validRunIdSchema
      .optional()
      .meta({ description: 'The run to report; the latest completed run when absent.' }),
    format: z
      .enum(REPORT_FORMATS, { message: `must be one of ${REPORT_FORMATS.join(', ')}` })
      .optional()
      .meta({ description: 'Overrides the Accept header: json (default), csv or html.' }),
    status: filters.status.meta({ description: 'Only pools with one of these statuses.' }),
    subscriptionId: filters.subscriptionId.meta({
      description: 'Only pools in one of these subscriptions (GUIDs).',
    }),
    osType: filters.osType.meta({ description: 'Only pools of one of these OS types.' }),
    code: filters.code.meta({
      description:
        "Only pools with a finding of one of these codes. A value shaped like a function key (not an upper-case code) is the host's `code` key parameter and is ignored.",
    }),
    owner: filters.owner.meta({
      description:
        'Only pools whose cluster carries this value in the tag named by AUDIT_OWNER_TAG (exact, one value).',
    }),
    q: filters.q.meta({
      description:
        'Free text: only pools whose names, IDs, OS, versions, owner, status or findings contain every word (any case).',
    }),
    page: countParameter(
      MAX_HTML_PAGE,
      `HTML only: the page of the pool table to show (1-${MAX_HTML_PAGE}), ${HTML_PAGE_SIZE} pools a page, noncompliant and unknown first.`,
    ).optional(),
    top: countParameter(
      MAX_PAGE_SIZE,
      `JSON only: at most this many pools per page (1-${MAX_PAGE_SIZE}); all matching pools when absent.`,
    ).optional(),
    continuationToken: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .meta({ description: 'JSON only: page.continuationToken of the previous page, unchanged.' }),
  })
  .strict();
export const REPORT_ARRAY_PARAMETERS = ['status', 'subscriptionId', 'osType', 'code'] as const;

/** GET /api/runs query. */
export const runsQuerySchema = z
  .object({
    top: countParameter(1000, 'At most this many runs, newest first (1-1000); 30 when absent.').optional(),
    since: z.iso
      .datetime({ offset: true, message: 'must be an ISO 8601 date-time such as 2026-11-01T00:00:00Z' })
      .refine((text) => Date.parse(text) >= 0 && Date.parse(text) < Date.UTC(2286, 0, 1), {
        message: 'must be between 1970 and 2285 (run IDs hold no other times)',
      })
      .optional()
      .meta({ description: 'Only runs started at or after this time.' }),
  })
  .strict();

/** GET /api/trend query. */
export const trendQuerySchema = z
  .object({
    by: z
      .enum(['subscription', 'owner', 'code'], { message: 'must be subscription, owner or code' })
      .optional()
      .meta({
        description:
          'What each row counts: a subscription (the default), an owner tag value or a finding code.',
      }),
    top: countParameter(1000, 'The newest this many runs (1-1000); 30 when absent.').optional(),
    since: runsQuerySchema.shape.since,
  })
  .strict();

const runColumns = {
  runId: z.string(),
  startedAt: z.string().meta({ description: 'When the run started (ISO 8601): the time axis.' }),
  runStatus: z.enum(['succeeded', 'partial']),
};
const countColumns = {
  pools: z.number().int().nonnegative(),
  compliant: z.number().int().nonnegative(),
  noncompliant: z.number().int().nonnegative(),
  exempt: z.number().int().nonnegative(),
  unknown: z.number().int().nonnegative(),
  compliancePercent: z.number().nullable().meta({
    description: '(compliant + exempt) / (compliant + noncompliant + exempt); null when none judged.',
  }),
};

/** One row of GET /api/trend: a run and one subscription, owner or finding code, flat for charting. */
export const trendRowSchema = z.union([
  z.object({
    ...runColumns,
    subscriptionId: z.string(),
    subscriptionName: z.string().nullable(),
    ...countColumns,
  }),
  z.object({ ...runColumns, owner: z.string().nullable(), ...countColumns }),
  z.object({ ...runColumns, ...codeBreakdownSchema.omit({ fix: true }).shape }),
]);

export const trendResponseSchema = z.object({
  by: z.enum(['subscription', 'owner', 'code']),
  rows: z.array(trendRowSchema).meta({
    description:
      'Oldest run first, then most noncompliant first. Completed runs only (succeeded, partial); runs stored before breakdowns were counted have no rows.',
  }),
});

/** Routes without query parameters of their own. */
export const noQuerySchema = z.object({}).strict();

/** GET /api/runs/{runId} path. */
export const runPathSchema = z.object({ runId: validRunIdSchema }).strict();

/** The most subscriptions one on-demand audit may name. */
export const MAX_AUDIT_SUBSCRIPTIONS = 100;
/** Largest accepted POST /api/audits body: 100 GUIDs take under 4 KiB. */
export const MAX_AUDIT_BODY_BYTES = 16 * 1024;

/** POST /api/audits body (optional). */
export const startAuditBodySchema = z
  .object({
    subscriptions: z
      .array(subscriptionIdSchema)
      .min(1, {
        message:
          'must name at least one subscription, or leave subscriptions out to audit every configured scope',
      })
      .max(MAX_AUDIT_SUBSCRIPTIONS, { message: `must name at most ${MAX_AUDIT_SUBSCRIPTIONS} subscriptions` })
      .optional()
      .meta({ description: 'Audit only these subscriptions (GUIDs) instead of every configured scope.' }),
    email: z.boolean({ message: 'must be true or false' }).optional().meta({
      description:
        "Mail the run's digest to EMAIL_TO once the audit completes (whatever EMAIL_MODE says). Without it an on-demand audit is not mailed. 422 when no email provider is configured.",
    }),
  })
  .strict()
  .meta({ description: 'Optional: an empty body audits every configured scope.' });

const runStatusSchema = z.enum(RUN_STATUSES);

/** One stored run, as GET /api/runs and GET /api/runs/{runId} return it. */
export const runRecordSchema = reportSchema.shape.run.extend({
  summary: reportSchema.shape.summary,
  errors: reportSchema.shape.errors,
  progress: z.object({
    pagesRead: z.number().int().nonnegative(),
    clustersRead: z.number().int().nonnegative(),
    poolsJudged: z.number().int().nonnegative(),
  }),
  scope: z.object({
    subscriptions: z.array(z.string()).nullable(),
    managementGroups: z.array(z.string()).nullable(),
  }),
  email: z.unknown().optional().meta({ description: 'Outcome of the report email, when one was sent.' }),
  leaseGeneration: z.number().int().positive().optional().meta({
    description: 'The generation of the audit lease the run was started under (its writes are fenced by it).',
  }),
  stage: z.enum(['queued', 'planning', 'auditing', 'completing']).optional().meta({
    description:
      'Where a running run is: waiting for a worker, being split into shards, auditing, completing.',
  }),
  shards: z.number().int().nonnegative().optional().meta({ description: 'Shards the run was split into.' }),
  emailRequested: z
    .boolean()
    .optional()
    .meta({ description: 'The run was started with `"email": true`: it is mailed once it completes.' }),
  chain: z
    .object({
      seq: z.number().int().positive(),
      digest: z.string(),
      previousRunId: z.string().nullable(),
      previousDigest: z.string().nullable(),
      sealedAt: z.string(),
      signature: z
        .object({ alg: z.enum(['ES256', 'RS256']), keyId: z.string(), value: z.string() })
        .nullable(),
    })
    .optional()
    .meta({
      description:
        "The run's seal in the chain of runs (docs/evidence.md): its position, its chain digest (SHA-256), the run and digest it chains to, and its Key Vault signature when signing is on. Absent until the completed run is sealed.",
    }),
  retention: z
    .object({
      state: z.enum(['retained', 'failed']),
      at: z.string(),
      blobUrl: z.string().nullable(),
      sha256: z.string().nullable(),
      reason: z.string().nullable(),
    })
    .optional()
    .meta({
      description:
        "Where the run's evidence bundle was retained (AUDIT_EVIDENCE_CONTAINER), or why it could not be.",
    }),
});

export const runsResponseSchema = z.object({ runs: z.array(runRecordSchema) });

/** The report JSON of contracts.md plus what the API adds: the applied filters and the page. */
export const reportPageSchema = reportSchema.extend({
  filter: reportFiltersSchema.extend({
    matched: z
      .number()
      .int()
      .nonnegative()
      .meta({ description: 'Pools of the whole run that match the filters.' }),
  }),
  page: z.object({
    offset: z.number().int().nonnegative(),
    top: z.number().int().positive().nullable(),
    returned: z.number().int().nonnegative(),
    continuationToken: z.string().nullable(),
    nextLink: z.string().nullable(),
  }),
});

export const startAuditResponseSchema = z.object({
  runId: runIdSchema,
  status: z.literal('running'),
  location: z.string().meta({ description: 'Where the run record shows its progress: /api/runs/{runId}.' }),
  subscriptions: z.array(z.string()).nullable(),
  email: z.boolean().meta({ description: "Whether the run's digest is mailed once the audit completes." }),
});

export const healthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  time: z.string(),
  cloud: z.string(),
  matrix: z.object({ version: z.string(), override: z.boolean() }),
  settings: z.object({
    set: z
      .array(z.string())
      .meta({ description: 'Names of the optional settings that are set (never their values).' }),
    effective: z.object({
      AZURE_CLOUD: z.string(),
      AUDIT_SCHEDULE: z.string(),
      AUDIT_TABLE_PREFIX: z.string(),
      EMAIL_MODE: z.string(),
      AUDIT_NODE_IMAGE_MAX_AGE_DAYS: z.number(),
    }),
    scope: z.object({ subscriptions: z.number().nullable(), managementGroups: z.number().nullable() }),
  }),
  storage: z.object({
    configured: z.boolean(),
    reachable: z.boolean().nullable(),
    detail: z.string().optional(),
  }),
  latestRun: z
    .object({
      id: z.string(),
      status: runStatusSchema,
      trigger: z.string(),
      startedAt: z.string(),
      finishedAt: z.string().nullable(),
      ageInSeconds: z.number().int(),
      errors: z
        .array(z.object({ scope: z.string(), code: z.string(), message: z.string() }))
        .meta({ description: 'The first errors of a failed, abandoned or partial run (at most 5).' }),
    })
    .nullable(),
  audits: z
    .object({
      status: z.enum(['ok', 'degraded']).meta({
        description:
          '`degraded` when the latest run failed, was abandoned or is partial, a run is stuck, or the scheduled audit is overdue: see `warnings`.',
      }),
      stuckRun: z
        .object({ id: z.string(), startedAt: z.string(), reason: z.string() })
        .nullable()
        .meta({ description: 'A run recorded as running whose lease expired or went to another run.' }),
      schedule: z.object({
        lastScheduledAt: z.string().nullable(),
        lastStartedRunId: z.string().nullable(),
        deferredSince: z.string().nullable(),
        deferredBehindRunId: z.string().nullable(),
        nextAttemptAt: z.string().nullable(),
        lastMissedAt: z.string().nullable(),
      }),
      warnings: z.array(z.string()).meta({ description: 'What is wrong with the audits, and what to do.' }),
    })
    .meta({ description: 'Whether the audits run and complete: monitors alert on `status: degraded`.' }),
  email: z
    .object({
      provider: z.enum(['acs', 'smtp']).nullable().meta({
        description: 'The path the settings select; null when none is configured (nothing is mailed).',
      }),
      status: z.enum(['ok', 'degraded']).meta({
        description:
          '`degraded` when the latest digests failed or the settings keep email from working (see `warnings`). Email never makes the app unhealthy: the HTTP status follows storage alone.',
      }),
      delivery: z.enum(['ok', 'failing', 'none']).nullable().meta({
        description:
          '`failing`: a digest failed (or never confirmed) since the last one sent; `none`: no digest recorded yet; null: the email records could not be read (`detail`).',
      }),
      latest: z
        .object({
          runId: z.string(),
          state: z.enum(['sending', 'sent', 'failed', 'skipped']),
          attempts: z.number().int().nonnegative(),
          at: z.string(),
        })
        .nullable()
        .meta({ description: "The latest run's digest record." }),
      lastSent: z
        .object({ runId: z.string(), at: z.string() })
        .nullable()
        .meta({ description: 'The last digest sent, when it is among the latest 30.' }),
      lastFailure: z.object({ runId: z.string(), at: z.string(), reason: z.string() }).nullable().meta({
        description:
          'The newest digest that failed since the last one sent; the reason has addresses and secrets removed.',
      }),
      failuresSinceLastSent: z.number().int().nonnegative(),
      warnings: z
        .array(z.string())
        .meta({ description: 'What keeps email from working, and what to change.' }),
      detail: z.string().optional(),
    })
    .meta({
      description: 'Email delivery of the digests: outcomes only, never recipients, keys or passwords.',
    }),
  evidence: z
    .object({
      status: z.enum(['ok', 'degraded']).meta({
        description:
          '`degraded` when the latest completed run was not sealed, or bundles failed to be retained since the last one that was. Never turns the HTTP status into 503.',
      }),
      chain: z
        .object({
          head: z.object({ seq: z.number().int(), runId: z.string(), sealedAt: z.string() }).nullable(),
          latestCompletedRunSealed: z.boolean().nullable(),
        })
        .optional(),
      signing: z.object({ configured: z.boolean() }).optional(),
      retention: z
        .object({
          configured: z.boolean(),
          retentionDays: z.number().int(),
          latest: z
            .object({ runId: z.string(), state: z.enum(['retained', 'failed']), at: z.string() })
            .nullable(),
          lastFailure: z.object({ runId: z.string(), at: z.string(), reason: z.string() }).nullable(),
          failuresSinceLastRetained: z.number().int().nonnegative(),
        })
        .optional(),
      warnings: z.array(z.string()),
      detail: z.string().optional(),
    })
    .optional()
    .meta({
      description:
        'The chain of runs and the retention of evidence bundles (absent when storage did not answer).',
    }),
});

/** POST /api/runs/{runId}/email: the send as recorded (the 200 body, and the `email` member of its 502). */
export const emailRunResponseSchema = z.object({
  runId: z.string(),
  state: z.enum(['sending', 'sent', 'failed', 'skipped']),
  provider: z.enum(['acs', 'smtp', 'file']).nullable(),
  recipients: z.array(z.string()),
  subject: z.string().nullable(),
  messageId: z.string().nullable(),
  attempts: z.number().int().nonnegative(),
  sentAt: z.string().nullable(),
  reason: z.string().nullable(),
});

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z
    .array(
      z.object({ in: z.enum(['query', 'path', 'body', 'header']), name: z.string(), detail: z.string() }),
    )
    .optional(),
  runId: z
    .string()
    .optional()
    .meta({ description: '409: the run that is in progress (or whose email is being sent).' }),
  run: z.string().optional().meta({ description: '409 of POST /api/audits: where to follow that run.' }),
  email: emailRunResponseSchema
    .optional()
    .meta({ description: '502 of POST /api/runs/{runId}/email: the failed send as recorded.' }),
  invocationId: z.string().optional(),
  requiredRole: z.string().optional().meta({
    description: '401 and 403 while App Service Authentication is on: the app role the operation needs.',
  }),
  setting: z
    .string()
    .optional()
    .meta({ description: '403: the app setting that refused the request, e.g. EMAIL_ALLOWED_RECIPIENTS.' }),
  limit: z.number().int().optional().meta({ description: '403: the limit that was reached.' }),
});

const storedEntitySchema = z.object({
  table: z.string().meta({ description: 'The table, AUDIT_TABLE_PREFIX included.' }),
  partitionKey: z.string(),
  rowKey: z.string(),
});

/** The 200 body of GET /api/runs/{runId}/verification. */
export const verificationResponseSchema = z.object({
  runId: z.string(),
  status: z.enum(['intact', 'mismatch', 'unsealed']).meta({
    description:
      "`intact`: the run's link, its place in the chain, its signature and every entity stored for it match its seal; `mismatch`: `problem` names the first entity that does not; `unsealed`: the run has no seal (failed, still running, completed before the chain began, or its seal failed and no later run has caught up).",
  }),
  seq: z
    .number()
    .int()
    .positive()
    .nullable()
    .meta({ description: "The run's position in the chain of runs." }),
  digest: z.string().nullable().meta({ description: "The run's chain digest (SHA-256, hex)." }),
  signature: z.enum(['valid', 'none', 'unchecked']).nullable(),
  entities: z.number().int().nonnegative().nullable().meta({ description: 'Stored entities checked.' }),
  problem: z
    .object({
      runId: z.string(),
      kind: z.enum([
        'edited',
        'missing',
        'unexpected',
        'listEdited',
        'linkEdited',
        'chainBroken',
        'signatureInvalid',
        'signatureMissing',
        'unsealed',
      ]),
      entity: storedEntitySchema,
      detail: z.string(),
    })
    .nullable(),
  checkedAt: z.string(),
});
