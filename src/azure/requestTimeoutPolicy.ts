// Bounds every request of an Azure SDK client in time: one pipeline policy for ARM, Resource Graph and Tables.

import {
  type PipelinePolicy,
  type PipelineRequest,
  type PipelineResponse,
  RestError,
} from '@azure/core-rest-pipeline';

/**
 * ARM proxies every call to the resource provider (Resource Graph and AKS among them) "with a client timeout of
 * 60 seconds" (Azure/azure-resource-manager-rpc, v1.0/common-api-details.md), so a live ARM answers, at worst
 * with its own 504, within about a minute. 15 s more covers ARM's front door and a 16 MiB Resource Graph page.
 */
export const ARM_REQUEST_TIMEOUT_IN_MS = 75_000;

/**
 * "The maximum timeout interval for Table service operations is 30 seconds" and the service cuts longer ones to
 * it (learn.microsoft.com/rest/api/storageservices/setting-timeouts-for-table-service-operations); 10 s more
 * covers the transfer of a 4 MiB batch.
 */
export const TABLE_REQUEST_TIMEOUT_IN_MS = 40_000;

export const REQUEST_TIMEOUT_POLICY_NAME = 'aksFipsAuditorRequestTimeout';

/** What a timed-out request's RestError carries in `details`. */
export interface RequestTimeoutDetails {
  code: 'RequestTimeout';
  /** `METHOD https://host/path` without the query string (which may hold a SAS). */
  call: string;
  timeoutInMs: number;
}

function callOf(request: PipelineRequest): string {
  try {
    const url = new URL(request.url);
    return `${request.method} ${url.origin}${url.pathname}`;
  } catch {
    return request.method;
  }
}

/**
 * A RestError with Node's `ETIMEDOUT` code, so the core pipeline's own retry policy (which retries system errors
 * by code) retries it like a socket timeout, and classifyAzureError calls it a timeout. `details` says which call
 * and how long it waited.
 */
export function requestTimeoutError(request: PipelineRequest, timeoutInMs: number): RestError {
  const call = callOf(request);
  const error = new RestError(`${call} did not answer within ${timeoutInMs} ms`, {
    code: 'ETIMEDOUT',
    request,
  });
  const details: RequestTimeoutDetails = { code: 'RequestTimeout', call, timeoutInMs };
  error.details = details;
  return error;
}

/**
 * Fails a request that has not finished (headers and body) within `timeoutInMs`, and aborts it on the wire. The
 * caller's own AbortSignal still works: the request is aborted by whichever fires first. The core `timeout`
 * option is not enough on its own: it stops counting once the headers arrive, so a body that stalls waits forever.
 *
 * Add it `perCall` to a client whose retries are ours (the whole call, token acquisition included, is bounded),
 * or `perRetry` to a client that keeps the core retry policy (each attempt is bounded and a timeout is retried).
 */
export function requestTimeoutPolicy(timeoutInMs: number): PipelinePolicy {
  if (!Number.isFinite(timeoutInMs) || timeoutInMs <= 0) {
    throw new RangeError(`requestTimeoutPolicy needs a positive timeout; got ${timeoutInMs}`);
  }
  return {
    name: REQUEST_TIMEOUT_POLICY_NAME,
    async sendRequest(request, next): Promise<PipelineResponse> {
      const callerSignal = request.abortSignal;
      if (callerSignal?.aborted) return next(request);
      const controller = new AbortController();
      const onCallerAbort = (): void => controller.abort();
      callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
      request.abortSignal = controller.signal;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(requestTimeoutError(request, timeoutInMs));
          controller.abort();
        }, timeoutInMs);
      });
      const attempt = next(request);
      // Settles after the timeout too (as an abort); it is observed through the race, or not at all.
      attempt.catch(() => undefined);
      try {
        return await Promise.race([attempt, timedOut]);
      } finally {
        clearTimeout(timer);
        callerSignal?.removeEventListener('abort', onCallerAbort);
        // The core retry policy checks the request's signal after each attempt: it must be the caller's again.
        request.abortSignal = callerSignal;
      }
    },
  };
}

/** The option of a TableClient (or any core-client client) that bounds each attempt of each request. */
export function tableClientTimeoutOptions(timeoutInMs: number = TABLE_REQUEST_TIMEOUT_IN_MS): {
  additionalPolicies: { policy: PipelinePolicy; position: 'perRetry' }[];
} {
  return { additionalPolicies: [{ policy: requestTimeoutPolicy(timeoutInMs), position: 'perRetry' }] };
}
