// Table Storage failures as the user reads them: the fix for each, the account named without its key.

import { createPipelineRequest, RestError } from '@azure/core-rest-pipeline';
import { AggregateAuthenticationError, CredentialUnavailableError } from '@azure/identity';

import type { AccessContext } from '../../src/azure/accessFailureMessages';
import { storageLabel, tableStorageError } from '../../src/azure/accessFailureMessages';
import { requestTimeoutError } from '../../src/azure/requestTimeoutPolicy';
import { AzureAccessError, StorageUnavailableError } from '../../src/errors';

const ENDPOINT = 'https://auditstore.table.core.windows.net';
const request = createPipelineRequest({ url: `${ENDPOINT}/Tables?sig=secret`, method: 'POST' });
const context: AccessContext = {
  cloud: 'AzureCloud',
  armEndpoint: 'https://management.azure.com',
  tokenScope: 'https://management.azure.com/.default',
  clientId: null,
};

it.each<[string, unknown, RegExp]>([
  [
    'no answer in time',
    requestTimeoutError(request, 40_000),
    /^Table Storage \(https:\/\/auditstore\.table\.core\.windows\.net\), where every run is recorded, did not answer \(POST https:\/\/auditstore\.table\.core\.windows\.net\/Tables did not answer within 40000 ms\), so nothing was audited\. To fix: .*firewall, private endpoint and DNS.*AUDIT_TABLES_TIMEOUT_SECONDS/,
  ],
  [
    'no connection',
    new RestError('connect ECONNREFUSED 10.0.0.4:443', { code: 'ECONNREFUSED', request }),
    /could not be reached \(ECONNREFUSED: connect ECONNREFUSED 10\.0\.0\.4:443\), so nothing was audited\. To fix: check AUDIT_TABLES_ENDPOINT or AUDIT_TABLES_CONNECTION_STRING/,
  ],
  [
    'a 403',
    new RestError('This request is not authorized to perform this operation using this permission.', {
      statusCode: 403,
      code: 'AuthorizationPermissionMismatch',
      request,
    }),
    /refused the identity \(403 AuthorizationPermissionMismatch: .*\), so nothing was audited\. To fix: give the identity the Storage Table Data Contributor role/,
  ],
])('says how to fix %s', (_what, error, message) => {
  const said = tableStorageError(error, context, ENDPOINT);
  expect(said).toBeInstanceOf(StorageUnavailableError);
  expect((said as Error).message).toMatch(message);
  expect((said as Error).message).not.toContain('secret');
  expect((said as Error).cause).toBe(error);
});

it('turns a missing credential into the AzureAccessError that says what the chain tried, once', () => {
  const chain = new AggregateAuthenticationError(
    [new CredentialUnavailableError('Azure CLI could not be found.')],
    'ChainedTokenCredential authentication failed.',
  );
  const said = tableStorageError(chain, context, ENDPOINT);
  expect(said).toBeInstanceOf(AzureAccessError);
  expect((said as AzureAccessError).message).toMatch(
    /^No Azure credential is available, so the audit read nothing\. The credential chain tried: Azure CLI could not be found\. To fix: on a workstation run `az login`/,
  );
  expect((said as AzureAccessError).scope).toBe(ENDPOINT);
});

it('leaves any other error as it is', () => {
  const conflict = new RestError('The update condition specified in the request was not satisfied.', {
    statusCode: 412,
    request,
  });
  expect(tableStorageError(conflict, context, ENDPOINT)).toBe(conflict);
});

it.each<[string, Parameters<typeof storageLabel>[0], string]>([
  ['an endpoint', { kind: 'endpoint', endpoint: ENDPOINT }, ENDPOINT],
  [
    'a connection string with a table endpoint',
    {
      kind: 'connectionString',
      connectionString:
        'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;',
    },
    'http://127.0.0.1:10002/devstoreaccount1',
  ],
  [
    'a connection string with an account only',
    {
      kind: 'connectionString',
      connectionString:
        'DefaultEndpointsProtocol=https;AccountName=auditstore;AccountKey=a2V5;EndpointSuffix=core.windows.net',
    },
    'account auditstore of AUDIT_TABLES_CONNECTION_STRING',
  ],
  [
    'a SAS connection string',
    { kind: 'connectionString', connectionString: `TableEndpoint=${ENDPOINT}?sv=2024&sig=secret;` },
    ENDPOINT,
  ],
])('names the account of %s without its key', (_what, storage, label) => {
  expect(storageLabel(storage)).toBe(label);
});
