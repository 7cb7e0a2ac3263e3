// What each error the @azure clients and the credential chain throw means for a retry, built with their own classes.

import { createHttpHeaders, createPipelineRequest, RestError } from '@azure/core-rest-pipeline';
import {
  AggregateAuthenticationError,
  AuthenticationError,
  AuthenticationRequiredError,
  CredentialUnavailableError,
} from '@azure/identity';
import { createRestError } from '@azure-rest/core-client';

import { type AzureFailureKind, classifyAzureError } from '../../src/azure/classifyAzureError';
import { requestTimeoutError } from '../../src/azure/requestTimeoutPolicy';
import { abortErrorOf } from '../../src/azure/retryPolicy';

const request = createPipelineRequest({
  url: 'https://management.azure.com/providers/Microsoft.ResourceGraph/resources',
});

/** A RestError as the modular ARM clients throw it: createRestError, then the ARM error body in `details`. */
function armError(status: number, error: { code: string; message: string; details?: unknown[] }): RestError {
  const thrown = createRestError({
    status: String(status),
    headers: {},
    body: { error },
    request,
  });
  thrown.details = { error };
  return thrown;
}

/** A RestError for a request that never got an answer, as the Node HTTP client throws it. */
function socketError(code: string): RestError {
  return new RestError(`connect ${code} 127.0.0.1:443`, { code, request });
}

const environmentUnavailable = new CredentialUnavailableError(
  'EnvironmentCredential is unavailable. No underlying credential could be used. To troubleshoot, visit https://aka.ms/azsdk/js/identity/environmentcredential/troubleshoot.',
);
const cliUnavailable = new CredentialUnavailableError(
  "Azure CLI could not be found. Please visit https://aka.ms/azure-cli for installation instructions and then, once installed, authenticate to your Azure account using 'az login'.",
);
const badSecret = new AuthenticationError(401, {
  error: 'invalid_client',
  error_description: 'AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x',
});

type Row = [
  string,
  unknown,
  AzureFailureKind,
  string,
  { retryable: boolean; fatal: boolean; status?: number },
];

const rows: Row[] = [
  [
    'the chain with no credential at all (AggregateAuthenticationError of CredentialUnavailableErrors)',
    new AggregateAuthenticationError(
      [environmentUnavailable, cliUnavailable],
      'ChainedTokenCredential authentication failed.',
    ),
    'credentialUnavailable',
    'CredentialUnavailable',
    { retryable: false, fatal: true },
  ],
  [
    "a managed identity endpoint that refused (what MSAL and @azure/identity make of App Service's 400)",
    new AggregateAuthenticationError(
      [
        new AuthenticationRequiredError({
          scopes: ['https://management.azure.com/.default'],
          message: 'Response had no "expiresOn" property.',
        }),
      ],
      'ChainedTokenCredential authentication failed.',
    ),
    'credentialUnavailable',
    'CredentialUnavailable',
    { retryable: false, fatal: true },
  ],
  [
    'one unavailable credential',
    environmentUnavailable,
    'credentialUnavailable',
    'CredentialUnavailable',
    { retryable: false, fatal: true },
  ],
  [
    'the chain stopped at a refused credential',
    new AggregateAuthenticationError(
      [environmentUnavailable, badSecret],
      'ChainedTokenCredential authentication failed.',
    ),
    'authenticationFailed',
    'AuthenticationFailed',
    { retryable: false, fatal: true },
  ],
  [
    'Entra ID refusing a client secret (AuthenticationError)',
    badSecret,
    'authenticationFailed',
    'AuthenticationFailed',
    { retryable: false, fatal: true, status: 401 },
  ],
  [
    'a credential that needs interaction (AuthenticationRequiredError)',
    new AuthenticationRequiredError({
      scopes: ['https://management.azure.com/.default'],
      message: 'login needed',
    }),
    'credentialUnavailable',
    'CredentialUnavailable',
    { retryable: false, fatal: true },
  ],
  [
    'ARM 401 InvalidAuthenticationToken',
    armError(401, { code: 'InvalidAuthenticationToken', message: 'The access token is invalid.' }),
    'authenticationFailed',
    'InvalidAuthenticationToken',
    { retryable: false, fatal: true, status: 401 },
  ],
  [
    'ARM 401 for a token of the wrong audience',
    armError(401, {
      code: 'InvalidAuthenticationTokenAudience',
      message:
        "The access token has been obtained for wrong audience or resource 'https://management.usgovcloudapi.net/'.",
    }),
    'authenticationFailed',
    'InvalidAuthenticationTokenAudience',
    { retryable: false, fatal: true, status: 401 },
  ],
  [
    'ARM 403 AuthorizationFailed',
    armError(403, {
      code: 'AuthorizationFailed',
      message:
        "The client 'x' with object id 'x' does not have authorization to perform action 'Microsoft.ResourceGraph/resources/read' over scope '/subscriptions/s' or the scope is invalid.",
    }),
    'authorizationFailed',
    'AuthorizationFailed',
    { retryable: false, fatal: false, status: 403 },
  ],
  [
    "Resource Graph's 403 AccessDenied",
    armError(403, { code: 'AccessDenied', message: 'Access denied.' }),
    'authorizationFailed',
    'AccessDenied',
    { retryable: false, fatal: false, status: 403 },
  ],
  [
    '429 RateLimiting',
    armError(429, { code: 'RateLimiting', message: 'Client application has been throttled.' }),
    'throttled',
    'RateLimiting',
    { retryable: true, fatal: false, status: 429 },
  ],
  [
    '408 RequestTimeout',
    armError(408, { code: 'RequestTimeout', message: 'The request timed out.' }),
    'serverError',
    'RequestTimeout',
    { retryable: true, fatal: false, status: 408 },
  ],
  ...[500, 502, 503, 504].map((status): Row => [
    `${status} from the service`,
    armError(status, { code: 'InternalServerError', message: 'Encountered internal server error.' }),
    'serverError',
    'InternalServerError',
    { retryable: true, fatal: false, status },
  ]),
  [
    '400 ResponsePayloadTooLarge (inner code under BadRequest, as Resource Graph sends it)',
    armError(400, {
      code: 'BadRequest',
      message: 'Please provide below info when asking for support: timestamp = …, correlationId = ….',
      details: [
        {
          code: 'ResponsePayloadTooLarge',
          message:
            'Response payload size is 24813879, and has exceeded the limit of 16777216. Please consider querying less data at a time and make paginated call if needed.',
        },
      ],
    }),
    'payloadTooLarge',
    'ResponsePayloadTooLarge',
    { retryable: false, fatal: false, status: 400 },
  ],
  [
    '400 InvalidQuery',
    armError(400, {
      code: 'BadRequest',
      message: 'Please provide below info…',
      details: [{ code: 'InvalidQuery', message: 'Query is invalid.' }],
    }),
    'badRequest',
    'InvalidQuery',
    { retryable: false, fatal: false, status: 400 },
  ],
  [
    '404 ResourceNotFound',
    armError(404, { code: 'ResourceNotFound', message: 'The Resource was not found.' }),
    'notFound',
    'ResourceNotFound',
    { retryable: false, fatal: false, status: 404 },
  ],
  ...['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'REQUEST_SEND_ERROR'].map((code): Row => [
    `a network error (${code})`,
    socketError(code),
    'network',
    code,
    { retryable: true, fatal: false },
  ]),
  [
    'a socket timeout (ETIMEDOUT)',
    socketError('ETIMEDOUT'),
    'timeout',
    'ETIMEDOUT',
    { retryable: true, fatal: false },
  ],
  [
    "the auditor's own request timeout",
    requestTimeoutError(request, 75_000),
    'timeout',
    'RequestTimeout',
    { retryable: true, fatal: false },
  ],
  [
    "the caller's AbortSignal",
    abortErrorOf(AbortSignal.abort()),
    'aborted',
    'Aborted',
    { retryable: false, fatal: false },
  ],
  [
    'an unreadable response (PARSE_ERROR)',
    new RestError('Error reading response as text: aborted', { code: RestError.PARSE_ERROR }),
    'unknown',
    'PARSE_ERROR',
    { retryable: false, fatal: false },
  ],
  [
    'a bug (TypeError)',
    new TypeError("Cannot read properties of undefined (reading 'x')"),
    'unknown',
    'TypeError',
    { retryable: false, fatal: false },
  ],
  ['a thrown string', 'boom', 'unknown', 'Error', { retryable: false, fatal: false }],
];

describe('classifyAzureError', () => {
  it.each(rows)('classifies %s', (_title, error, kind, code, expected) => {
    const failure = classifyAzureError(error);
    expect(failure).toMatchObject({ kind, code, retryable: expected.retryable, fatal: expected.fatal });
    expect(failure.status).toBe(expected.status);
  });

  it('lists what the chain tried once, one line each, without the chain header', () => {
    const failure = classifyAzureError(
      new AggregateAuthenticationError(
        [environmentUnavailable, cliUnavailable],
        'ChainedTokenCredential authentication failed.',
      ),
    );
    expect(failure.attempts).toEqual([
      expect.stringMatching(/^EnvironmentCredential is unavailable\./),
      expect.stringMatching(/^Azure CLI could not be found\./),
    ]);
    expect(failure.message).not.toContain('ChainedTokenCredential');
    expect(failure.fromCredential).toBe(true);
  });

  it('reads the inner ARM message, not the generic one', () => {
    const failure = classifyAzureError(
      armError(400, {
        code: 'BadRequest',
        message: 'generic',
        details: [
          {
            code: 'ResponsePayloadTooLarge',
            message: 'Response payload size is 20000000, and has exceeded the limit of 16777216.',
          },
        ],
      }),
    );
    expect(failure.message).toBe(
      'Response payload size is 20000000, and has exceeded the limit of 16777216.',
    );
    expect(failure.fromCredential).toBe(false);
  });

  it('never carries a token or key in its message', () => {
    const failure = classifyAzureError(
      new RestError('GET https://x/?sig=abc123 with Authorization: Bearer eyJhbGciOi.secret.part', {
        code: 'ECONNRESET',
        request: { ...request, headers: createHttpHeaders() },
      }),
    );
    expect(failure.message).not.toMatch(/abc123|eyJhbGciOi/);
  });
});
