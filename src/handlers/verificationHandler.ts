// GET /api/runs/{runId}/verification: recomputes a run's seal from storage and says whether it still matches.

import type { HttpResponseInit } from '@azure/functions';
import type { z } from 'zod';

import { NotFoundError } from '../errors';
import type { LinkSignatureVerifier } from '../evidence/chainLink';
import type { EvidenceStore } from '../evidence/evidenceStore';
import { verifyRun } from '../evidence/verifyChain';
import type { RouteAccess } from '../http/authorize';
import { CACHE_CONTROL } from '../http/conditional';
import { routeHandler } from '../http/handle';
import { API_ROUTES } from '../http/routes';
import { noQuerySchema, runPathSchema, type verificationResponseSchema } from '../http/schemas';
import { parsePathParams, parseQuery } from '../http/validate';

export interface VerificationDependencies {
  /** Read on each request: storage that is not configured answers 503, not a failed start. */
  evidence(): { readonly evidenceStore: EvidenceStore; readonly linkVerifier: LinkSignatureVerifier | null };
  config: RouteAccess;
  now?: () => Date;
}

export function verificationHandler(deps: VerificationDependencies) {
  return routeHandler(API_ROUTES.runVerification, deps.config, async (request): Promise<HttpResponseInit> => {
    parseQuery(request.query, { schema: noQuerySchema, ignored: ['code'] });
    const { runId } = parsePathParams(request.params, runPathSchema);
    const { evidenceStore, linkVerifier } = deps.evidence();
    const result = await verifyRun(evidenceStore, runId, { verifier: linkVerifier });
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
