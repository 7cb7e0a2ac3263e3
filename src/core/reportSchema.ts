// The report JSON (schemaVersion 1) as a schema: what dashboards rely on, checked in tests and the API.

import { z } from 'zod';

import { FINDING_CODES, RUN_STATUSES } from './types';

const isoDateTime = z.iso.datetime({ offset: true });

export const findingSchema = z.object({
  code: z.enum(FINDING_CODES),
  severity: z.enum(['high', 'medium', 'low', 'info']),
  message: z.string().min(1),
  remediation: z.string().min(1),
  undecided: z.literal(true).optional(),
});

export const exemptionSchema = z.object({
  id: z.string(),
  scope: z.string(),
  codes: z.array(z.enum(FINDING_CODES)).nullable(),
  reason: z.string(),
  ticket: z.string().nullable(),
  owner: z.string(),
  createdBy: z.string(),
  createdAt: isoDateTime,
  expiresOn: isoDateTime,
});

export const poolResultSchema = z.object({
  id: z
    .string()
    .regex(
      /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ContainerService\/managedClusters\/[^/]+\/agentPools\/[^/]+$/i,
    ),
  subscriptionId: z.string(),
  subscriptionName: z.string().optional(),
  resourceGroup: z.string(),
  cluster: z.string(),
  pool: z.string(),
  location: z.string(),
  osType: z.string().nullable(),
  osSku: z.string().nullable(),
  kubernetesVersion: z.string().nullable(),
  nodeImageVersion: z.string().nullable(),
  enableFips: z.boolean().nullable(),
  status: z.enum(['compliant', 'noncompliant', 'exempt', 'unknown']),
  findings: z.array(findingSchema),
  exemption: exemptionSchema.nullable(),
  owner: z.string().nullable().optional().meta({
    description:
      'The value of the cluster tag named by AUDIT_OWNER_TAG (null: the cluster has no such tag); absent when that setting is not set.',
  }),
});

const statusCounts = {
  pools: z.number().int().nonnegative(),
  compliant: z.number().int().nonnegative(),
  noncompliant: z.number().int().nonnegative(),
  exempt: z.number().int().nonnegative(),
  unknown: z.number().int().nonnegative(),
};

export const codeBreakdownSchema = z.object({
  code: z.enum(FINDING_CODES),
  severity: z.enum(['high', 'medium', 'low', 'info']),
  pools: z
    .number()
    .int()
    .nonnegative()
    .meta({ description: 'Pools with a finding of this code, any status.' }),
  noncompliant: z.number().int().nonnegative(),
  exempt: z.number().int().nonnegative(),
  unknown: z.number().int().nonnegative(),
  resolves: z.number().int().nonnegative().meta({
    description:
      'Noncompliant pools whose every high finding has this code: fixing it alone makes them compliant.',
  }),
  clusters: z
    .number()
    .int()
    .nonnegative()
    .meta({ description: 'Clusters with a cluster finding of this code.' }),
  fix: z.string().meta({ description: 'The fix in one line; backticks mark the command.' }),
});

export const subscriptionBreakdownSchema = z.object({
  subscriptionId: z.string().meta({ description: 'Lowercased; `*` on the row marked `other`.' }),
  subscriptionName: z.string().optional(),
  ...statusCounts,
  other: z.literal(true).optional().meta({
    description:
      'Sums the subscriptions past the stored limit (10,000 rows, fewer if they do not fit the run record).',
  }),
});

export const ownerBreakdownSchema = z.object({
  owner: z.string().nullable().meta({ description: 'The owner tag value; null for pools without the tag.' }),
  ...statusCounts,
  other: z.literal(true).optional().meta({ description: 'Sums the owners past the stored limit.' }),
});

export const summarySchema = z.object({
  subscriptions: z.number().int().nonnegative(),
  clusters: z.number().int().nonnegative(),
  pools: z.number().int().nonnegative(),
  compliant: z.number().int().nonnegative(),
  noncompliant: z.number().int().nonnegative(),
  exempt: z.number().int().nonnegative(),
  unknown: z.number().int().nonnegative(),
  compliancePercent: z.number().min(0).max(100).nullable().optional().meta({
    description:
      '(compliant + exempt) / (compliant + noncompliant + exempt) in percent, floored to 0.1; unknown pools are not judged and count on neither side; null when no pool was judged.',
  }),
  byCode: z.array(codeBreakdownSchema).optional().meta({
    description: 'Pools (and clusters) per finding code, in fix-first order: high first, then most pools.',
  }),
  bySubscription: z
    .array(subscriptionBreakdownSchema)
    .optional()
    .meta({ description: 'Pools per subscription by status, most noncompliant first.' }),
  byOwner: z.array(ownerBreakdownSchema).optional().meta({
    description: 'Pools per owner tag value by status (AUDIT_OWNER_TAG set), most noncompliant first.',
  }),
});

export const reportSchema = z.object({
  schemaVersion: z.literal(1),
  run: z.object({
    id: z.string(),
    trigger: z.enum(['timer', 'http', 'cli']),
    status: z.enum(RUN_STATUSES),
    startedAt: isoDateTime,
    finishedAt: isoDateTime.nullable(),
    cloud: z.enum(['AzureCloud', 'AzureUSGovernment', 'AzureChinaCloud']),
    matrix: z.object({
      version: z.string(),
      sources: z.array(z.string()).meta({
        description:
          "The sources' URLs (a source without one: its text). Runs stored before matrix 2026-12-01 keep the strings they were stored with.",
      }),
      sourceDetails: z
        .array(
          z.object({
            url: z.url({ protocol: /^https$/ }).nullable(),
            title: z.string(),
            retrieved: z.iso.date().nullable(),
          }),
        )
        .meta({
          description:
            'Each source as data: an https link (null for a source given as text only), its title and the date it was read (null when not recorded).',
        }),
    }),
  }),
  summary: summarySchema,
  pools: z.array(poolResultSchema),
  clusters: z.array(z.object({ id: z.string(), findings: z.array(findingSchema) })),
  errors: z.array(z.object({ scope: z.string(), code: z.string(), message: z.string() })),
});
