// GET/HEAD /api/runs/{runId}/evidence: a completed run's evidence bundle, verified against its seal, as a zip.

import type { HttpResponseInit } from '@azure/functions';

import { NotFoundError } from '../errors';
import type { LinkSignatureVerifier } from '../evidence/chainLink';
import { checkEvidenceBundle, openEvidenceBundle, RunNotCompletedError } from '../evidence/evidenceBundle';
import type { EvidenceStore } from '../evidence/evidenceStore';
import { describeProblem, EvidenceMismatchError } from '../evidence/verifyChain';
import type { RouteAccess } from '../http/authorize';
import { CACHE_CONTROL } from '../http/conditional';
import { routeHandler } from '../http/handle';
import { problemResponse } from '../http/problem';
import { API_ROUTES } from '../http/routes';
import { noQuerySchema, runPathSchema } from '../http/schemas';
import { parsePathParams, parseQuery } from '../http/validate';

export interface EvidenceDependencies {
  /** Read on each request: storage that is not configured answers 503, not a failed start. */
  evidence(): { readonly evidenceStore: EvidenceStore; readonly linkVerifier: LinkSignatureVerifier | null };
  config: RouteAccess;
}

function notCompleted(error: RunNotCompletedError): HttpResponseInit {
  return problemResponse(
    422,
    `${error.message} Follow it at GET /api/runs/{runId} and ask again once it has completed.`,
  );
}

export function evidenceHandler(deps: EvidenceDependencies) {
  return routeHandler(
    API_ROUTES.runEvidence,
    deps.config,
    async (request, context): Promise<HttpResponseInit> => {
      parseQuery(request.query, { schema: noQuerySchema, ignored: ['code'] });
      const { runId } = parsePathParams(request.params, runPathSchema);
      const { evidenceStore: store, linkVerifier } = deps.evidence();
      const headers = {
        'Content-Type': 'application/zip',
        'Content-Disposition': `attachment; filename="fips-audit-evidence-${runId}.zip"`,
        'Cache-Control': CACHE_CONTROL.noStore,
      };
      try {
        // What GET would answer, without the bundle: a run that no longer matches its seal is refused alike.
        if (request.method === 'HEAD') {
          await checkEvidenceBundle(store, runId, { verifier: linkVerifier });
          return { status: 200, headers };
        }
        // Verified and read before the first byte goes out: what can fail on storage answers as a problem.
        const bundle = await openEvidenceBundle(store, runId, { verifier: linkVerifier });
        bundle.zip.on('error', (error) =>
          context.error(`The evidence bundle of run ${runId} broke off: ${String(error)}`),
        );
        return { status: 200, headers, body: bundle.zip };
      } catch (error) {
        if (error instanceof NotFoundError) {
          throw new NotFoundError(`No run ${runId} is stored. List the stored runs with GET /api/runs.`);
        }
        if (error instanceof RunNotCompletedError) return notCompleted(error);
        if (error instanceof EvidenceMismatchError) {
          return problemResponse(
            422,
            `No bundle is made of a run that no longer matches its seal. ${describeProblem(error.problem)}. GET /api/runs/${runId}/verification shows the check.`,
            { verification: error.problem },
          );
        }
        throw error;
      }
    },
  );
}
