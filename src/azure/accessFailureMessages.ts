// The texts a user reads when the audit cannot read Azure: what was tried, and how to fix it.

import type { CloudName } from '../core/types';
import { AzureAccessError, StorageUnavailableError } from '../errors';
import { type AzureFailure, classifyAzureError } from './classifyAzureError';

/** What the messages need to know of the configuration (see azureClients.accessContextOf). */
export interface AccessContext {
  cloud: CloudName;
  armEndpoint: string;
  /** The token scope the app asks for, e.g. `https://management.azure.com/.default`. */
  tokenScope: string;
  /** AZURE_CLIENT_ID: the user-assigned managed identity in use, or null for the default chain. */
  clientId: string | null;
}

/** The code of a scope error for a configured scope the identity cannot be shown to read. */
export const SCOPE_UNREADABLE = 'SCOPE_UNREADABLE';
export const NO_READABLE_SUBSCRIPTIONS = 'NoReadableSubscriptions';

const MAX_SCOPES_NAMED = 5;

/** `the subscriptions … to audit` or the configured scopes, for "needs the Reader role on …". */
export function describeScopes(scopes: readonly string[]): string {
  if (scopes.length === 1 && scopes[0] === '/') {
    return 'the subscriptions or management groups to audit (AUDIT_SUBSCRIPTIONS / AUDIT_MANAGEMENT_GROUPS; every subscription of the tenant when neither is set)';
  }
  const named = scopes.slice(0, MAX_SCOPES_NAMED).join(', ');
  return scopes.length > MAX_SCOPES_NAMED ? `${named} and ${scopes.length - MAX_SCOPES_NAMED} more` : named;
}

function cloudHint(context: AccessContext | undefined): string {
  if (!context || context.cloud === 'AzureCloud') {
    return 'for Azure Government set AZURE_CLOUD=AzureUSGovernment (and run `az cloud set --name AzureUSGovernment` before `az login`)';
  }
  return `AZURE_CLOUD is ${context.cloud}: sign in to that cloud (\`az cloud set --name ${context.cloud}\` before \`az login\`)`;
}

function identityHint(context: AccessContext | undefined): string {
  return context?.clientId
    ? `AZURE_CLIENT_ID is ${context.clientId}: check that this user-assigned identity is assigned to the app`
    : "turn on the Function App's managed identity, and set AZURE_CLIENT_ID to the client ID of a user-assigned identity";
}

/** Empty when no ARM scope is concerned (a Table Storage call: its role is a data role, not Reader). */
function readerHint(scopes: readonly string[]): string {
  return scopes.length ? `The identity needs the Reader role on ${describeScopes(scopes)}.` : '';
}

function numbered(lines: readonly string[]): string {
  const trimmed = lines.map((line) => line.replace(/[.\s]+$/, ''));
  return trimmed.length === 1
    ? (trimmed[0] ?? '')
    : trimmed.map((line, i) => `(${i + 1}) ${line}`).join('; ');
}

/**
 * The fatal error for a failure that stops the run: no credential, a refused credential or token, or a 403 on the
 * tenant-wide query (the only scope there is). `scopes` are the audited scopes, for the Reader hint; `scope` the
 * one being read when it happened.
 */
export function accessErrorOf(
  failure: AzureFailure,
  context: AccessContext | undefined,
  scope: string,
  scopes: readonly string[],
): AzureAccessError {
  const details = {
    scope,
    code: failure.code,
    ...(failure.status !== undefined ? { status: failure.status } : {}),
  };
  if (failure.kind === 'credentialUnavailable') {
    const tried = failure.attempts?.length ? numbered(failure.attempts) : failure.message;
    return new AzureAccessError(
      'credentialUnavailable',
      `No Azure credential is available, so the audit read nothing. The credential chain tried: ${tried}. ` +
        `To fix: on a workstation run \`az login\` (then \`az account set --subscription <id>\`); in Azure, ${identityHint(context)}; ` +
        `${cloudHint(context)}. ${readerHint(scopes)}`.trimEnd(),
      details,
    );
  }
  if (failure.kind === 'authenticationFailed' && failure.fromCredential) {
    const said = failure.attempts?.length ? numbered(failure.attempts) : failure.message;
    return new AzureAccessError(
      'authenticationFailed',
      `Microsoft Entra ID refused the credential, so the audit read nothing: ${said}. ` +
        `To fix: check AZURE_TENANT_ID, AZURE_CLIENT_ID and the identity's secret, certificate or federated credential, or run \`az login\` again; ` +
        `${cloudHint(context)}. ${readerHint(scopes)}`.trimEnd(),
      details,
    );
  }
  if (failure.kind === 'authenticationFailed') {
    const endpoint = context?.armEndpoint ?? 'Azure Resource Manager';
    const audience = /audience/i.test(failure.code)
      ? `the token was issued for another audience than ${endpoint} expects: the app asks for ${context?.tokenScope ?? 'the ARM scope of AZURE_CLOUD'}, which follows AZURE_CLOUD (now ${context?.cloud ?? 'AzureCloud'}); set AZURE_CLOUD to the cloud of that endpoint (AzureUSGovernment for Government) and set AUDIT_ARM_ENDPOINT only for Azure Stack Hub`
      : `check that AZURE_CLOUD (now ${context?.cloud ?? 'AzureCloud'}; AzureUSGovernment for Government) is the cloud of ${endpoint}`;
    return new AzureAccessError(
      'authenticationFailed',
      `${endpoint} refused the access token (${failure.status ?? 401} ${failure.code}: ${failure.message}), so the audit read nothing. ` +
        `To fix: ${audience}; if the sign-in is stale, run \`az login\` again (a managed identity renews its token by itself); ` +
        `check that the identity belongs to the tenant of the audited subscriptions. ${readerHint(scopes)}`.trimEnd(),
      details,
    );
  }
  return new AzureAccessError(
    'authorizationFailed',
    `The identity may not query Resource Graph for ${scope === '/' ? 'the tenant' : scope} (${failure.status ?? 403} ${failure.code}: ${failure.message}), so the audit read nothing. ` +
      `To fix: give it the Reader role on the subscriptions or management groups to audit, or set AUDIT_SUBSCRIPTIONS / AUDIT_MANAGEMENT_GROUPS to scopes it can read.`,
    details,
  );
}

/**
 * A credential failure thrown by any client (no credential, or one Entra ID refused) as the AzureAccessError it
 * amounts to; an AzureAccessError as it is; null for anything else, a service's own 401 included (its message
 * here would name ARM). For callers outside the Resource Graph source, such as the stores, whose TableClients use
 * the same credential: `scope` is what they were reading, `scopes` the ARM scopes that need Reader (none for a
 * Table Storage call).
 */
export function asAzureAccessError(
  error: unknown,
  context: AccessContext | undefined,
  scope: string,
  scopes: readonly string[] = [],
): AzureAccessError | null {
  if (error instanceof AzureAccessError) return error;
  const failure = classifyAzureError(error);
  return failure.fatal && failure.fromCredential ? accessErrorOf(failure, context, scope, scopes) : null;
}

/** With no scope configured, the identity sees no subscription at all: a failed run, not an empty success. */
export function noReadableSubscriptionsError(context: AccessContext | undefined): AzureAccessError {
  return new AzureAccessError(
    'noReadableSubscriptions',
    'The identity can read no subscription in this tenant, so there is nothing to audit and nothing was judged. ' +
      'To fix: give it the Reader role on the subscriptions or management groups to audit (a role on a management group covers every subscription under it), ' +
      `and check that it is the intended identity and tenant (${context?.clientId ? `AZURE_CLIENT_ID is ${context.clientId}` : 'the managed identity, or the `az login` account'}); ${cloudHint(context)}.`,
    { scope: '/', code: NO_READABLE_SUBSCRIPTIONS },
  );
}

/** A 403 on one subscription or management group: that scope's failure, named with the role it needs. */
export function authorizationFailedMessage(scope: string, failure: AzureFailure): string {
  return (
    `The identity may not read ${scope} (${failure.status ?? 403} ${failure.code}: ${failure.message}). ` +
    `Give it the Reader role there: \`az role assignment create --assignee <principal ID of the auditor identity> --role Reader --scope ${scope}\`.`
  );
}

/** A configured subscription that Resource Graph does not list for this identity (it filters, it does not fail). */
export function subscriptionUnreadableMessage(subscriptionId: string): string {
  return (
    `Subscription ${subscriptionId} is in AUDIT_SUBSCRIPTIONS but Resource Graph does not list it for this identity: ` +
    'the identity has no Reader role on it (or the subscription is not in this tenant), and Resource Graph leaves out what it may not read without an error. ' +
    `Its pools seen before are reported unknown. Give the identity the Reader role on /subscriptions/${subscriptionId}.`
  );
}

/** A configured management group under which the identity can read no subscription. */
export function managementGroupUnreadableMessage(managementGroup: string, scope: string): string {
  return (
    `Management group ${managementGroup} gives no subscription this identity can read: it has no Reader role under the group ` +
    `(or the group holds no subscription). Its pools seen before are reported unknown. Give the identity the Reader role on ${scope}.`
  );
}

/** A scope whose reads kept failing with transient errors until the retries ran out. */
export function retriesExhaustedMessage(
  what: string,
  failure: AzureFailure,
  attempts: number,
  elapsedInMs: number,
): string {
  const last = failure.status !== undefined ? `${failure.status} ${failure.code}` : failure.code;
  return (
    `${what} failed ${attempts} time${attempts === 1 ? '' : 's'} in ${Math.round(elapsedInMs / 1000)} s (last: ${last}: ${failure.message}); ` +
    'the scope is reported unreadable for this run and read again by the next one.'
  );
}

/**
 * A Table Storage failure as the error the user reads, or the error as it is when it is none of these: a missing
 * or refused credential (AzureAccessError, with the fixes for the identity), no answer in time, no connection, or
 * a 403 (StorageUnavailableError, with the fix). `storage` names the account without any key (see storageLabel).
 */
export function tableStorageError(
  error: unknown,
  context: AccessContext | undefined,
  storage: string,
): unknown {
  const access = asAzureAccessError(error, context, storage);
  if (access) return access;
  if (error instanceof StorageUnavailableError) return error;
  const failure = classifyAzureError(error);
  const what = `Table Storage (${storage}), where every run is recorded,`;
  switch (failure.kind) {
    case 'timeout':
      return new StorageUnavailableError(
        `${what} did not answer (${failure.message}), so nothing was audited. ` +
          'To fix: check that this machine (or the Function App) can reach the storage account: its firewall, private endpoint and DNS; ' +
          'then run the audit again. AUDIT_TABLES_TIMEOUT_SECONDS sets how long each attempt waits.',
        failure.code,
        { cause: error },
      );
    case 'network':
      return new StorageUnavailableError(
        `${what} could not be reached (${failure.code}: ${failure.message}), so nothing was audited. ` +
          'To fix: check AUDIT_TABLES_ENDPOINT or AUDIT_TABLES_CONNECTION_STRING, and the network path to the storage account (firewall, private endpoint, DNS).',
        failure.code,
        { cause: error },
      );
    case 'authorizationFailed':
      return new StorageUnavailableError(
        `${what} refused the identity (${failure.status ?? 403} ${failure.code}: ${failure.message}), so nothing was audited. ` +
          'To fix: give the identity the Storage Table Data Contributor role on the storage account (`az role assignment create --assignee <principal ID> --role "Storage Table Data Contributor" --scope <storage account ID>`).',
        failure.code,
        { cause: error },
      );
    default:
      return error;
  }
}

/** The storage account a setting names, for messages: the endpoint URL, never a key or SAS. */
export function storageLabel(
  storage: { kind: 'endpoint'; endpoint: string } | { kind: 'connectionString'; connectionString: string },
): string {
  if (storage.kind === 'endpoint') return storage.endpoint;
  const endpoint = /(?:^|;)\s*TableEndpoint=([^;?]+)/i.exec(storage.connectionString)?.[1]?.trim();
  const account = /(?:^|;)\s*AccountName=([^;]+)/i.exec(storage.connectionString)?.[1]?.trim();
  if (endpoint) return endpoint;
  return account ? `account ${account} of AUDIT_TABLES_CONNECTION_STRING` : 'AUDIT_TABLES_CONNECTION_STRING';
}
