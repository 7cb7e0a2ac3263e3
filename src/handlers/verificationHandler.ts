// GET /api/runs/{runId}/verification: recomputes a run's seal from storage and says whether it still matches.

import type { HttpResponseInit } from '@azure/functions';
import { z } from 'zod';

import { NotFoundError } from '../errors';
import type { LinkSignatureVerifier } from '../evidence/chainLink';
import type { EvidenceStore } from '../evidence/EvidenceStore';
import { verifyRun } from '../evidence/verifyChain';
import { CACHE_CONTROL } from '../http/conditional';
import { routeHandler } from '../http/handle';
import { API_ROUTES } from '../http/routes';
import { noQuerySchema, runPathSchema } from '../http/schemas';
import { parsePathParams, parseQuery } from '../http/validate';

export interface VerificationDependencies {
  readonly evidenceStore: EvidenceStore;
  readonly linkVerifier: LinkSignatureVerifier | null;
  now?: () => Date;
}

const entitySchema = z.object({
  table: z.string().meta({ description: 'The table, AUDIT_TABLE_PREFIX included.' }),
  partitionKey: z.string(),
  rowKey: z.string(),
});

/** The 200 body. */
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
      entity: entitySchema,
      detail: z.string(),
    })
    .nullable(),
  checkedAt: z.string(),
});

export function verificationHandler(deps: VerificationDependencies) {
  return routeHandler(API_ROUTES.runVerification, async (request): Promise<HttpResponseInit> => {
    parseQuery(request.query, { schema: noQuerySchema, ignored: ['code'] });
    const { runId } = parsePathParams(request.params, runPathSchema);
    const result = await verifyRun(deps.evidenceStore, runId, { verifier: deps.linkVerifier });
    if (!result)
      throw new NotFoundError(`No run ${runId} is stored. List the stored runs with GET /api/runs.`);
    const body: z.infer<typeof verificationResponseSchema> = {
      ...result,
      checkedAt: (deps.now ?? (() => new Date()))().toISOString(),
    };
    return {
      status: 200,
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': CACHE_CONTROL.noStore },
      body: JSON.stringify(body),
    };
  });
}
