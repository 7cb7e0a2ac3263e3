// The only reader of settings: validates every setting in one pass and returns a frozen Config.

import { readFileSync } from 'node:fs';

import { ARM_REQUEST_TIMEOUT_IN_MS, TABLE_REQUEST_TIMEOUT_IN_MS } from './azure/requestTimeoutPolicy';
import { DEFAULT_RETRY_POLICY } from './azure/retryPolicy';
import { applyMatrixOverride, builtInMatrix, type FipsMatrix, MatrixError } from './core/fipsMatrix';
import type { CloudName } from './core/types';
import { ConfigError, sanitize } from './errors';

export interface CloudSettings {
  name: CloudName;
  armEndpoint: string;
  /** Token scope for ARM and Resource Graph: the modular clients never derive it from the endpoint. */
  armScope: string;
  authorityHost: string;
  tableSuffix: string;
}

export const CLOUDS: Record<CloudName, Omit<CloudSettings, 'name'>> = {
  AzureCloud: {
    armEndpoint: 'https://management.azure.com',
    armScope: 'https://management.azure.com/.default',
    authorityHost: 'https://login.microsoftonline.com',
    tableSuffix: 'core.windows.net',
  },
  AzureUSGovernment: {
    armEndpoint: 'https://management.usgovcloudapi.net',
    armScope: 'https://management.usgovcloudapi.net/.default',
    authorityHost: 'https://login.microsoftonline.us',
    tableSuffix: 'core.usgovcloudapi.net',
  },
  AzureChinaCloud: {
    armEndpoint: 'https://management.chinacloudapi.cn',
    armScope: 'https://management.chinacloudapi.cn/.default',
    authorityHost: 'https://login.chinacloudapi.cn',
    tableSuffix: 'core.chinacloudapi.cn',
  },
};

export type EmailMode = 'always' | 'changes' | 'off';

export type EmailProvider = 'acs' | 'smtp';

export interface SmtpSettings {
  host: string;
  /** 587 by default: STARTTLS is required on every port but 465, where TLS starts at connect. */
  port: number;
  user: string | null;
  /** From SMTP_PASSWORD, which the infra fills from a Key Vault reference. Never logged. */
  password: string | null;
  /** Why this path cannot send although it is configured (an unresolved Key Vault reference); null when it can. */
  problem: string | null;
}

export type ShardingMode = 'off' | 'subscriptions';

/** Scale-out: every run is split into shards of AUDIT_SHARD_SIZE subscriptions, audited in parallel across instances. */
export interface ShardingSettings {
  mode: ShardingMode;
  /** Subscriptions per shard (AUDIT_SHARD_SIZE). */
  shardSize: number;
}

/**
 * The audit pipeline's Storage queue, read by the `auditPipeline` Function. `connection` follows the Functions
 * connection convention for the connection name AUDIT_QUEUE, so the trigger and the app read the same settings; it
 * is required by the Functions host and unused by the CLI and `serve`, which queue in their own process.
 */
export interface PipelineQueueSettings {
  /** AUDIT_SHARD_QUEUE; failed messages go to `<name>-poison`. */
  name: string;
  /** AUDIT_QUEUE (a connection string) or AUDIT_QUEUE__queueServiceUri (with a managed identity). */
  connection: QueueConnection | null;
}

/** The assessor's evidence: signing the chain of runs, and retaining each run's bundle (docs/evidence.md). */
export interface EvidenceSettings {
  /** AUDIT_SIGNING_KEY_ID: a Key Vault key, version included, that signs each run's chain digest; null for none. */
  signingKeyId: string | null;
  /** AUDIT_EVIDENCE_CONTAINER: the Blob container URL each completed run's bundle is written to; null for none. */
  container: string | null;
  /** AUDIT_EVIDENCE_RETENTION_DAYS: how long the container's immutability policy keeps a bundle (the infra sets it). */
  retentionDays: number;
}

export type StorageSettings =
  { kind: 'connectionString'; connectionString: string } | { kind: 'endpoint'; endpoint: string };

/**
 * The identity of an identity-based queue connection, as the Functions host reads it for the same connection:
 * AUDIT_QUEUE__credential=managedidentity, with AUDIT_QUEUE__clientId naming a user-assigned identity (without
 * it, the system-assigned one). Absent: the app's own credential, and the host's default (system-assigned).
 */
export interface QueueIdentity {
  credential: 'managedidentity';
  clientId: string | null;
}

export type QueueConnection = StorageSettings & { identity?: QueueIdentity };

export interface Config {
  cloud: CloudSettings;
  subscriptions: string[] | null;
  managementGroups: string[] | null;
  schedule: string;
  clientId: string | null;
  storage: StorageSettings | null;
  tablePrefix: string;
  email: {
    endpoint: string | null;
    connectionString: string | null;
    sender: string | null;
    to: string[];
    mode: EmailMode;
    /**
     * EMAIL_ALLOWED_RECIPIENTS, lowercased: addresses and `@domain` entries that requested emails may go to, on top
     * of EMAIL_TO (always allowed). Empty when the setting is unset: then only EMAIL_TO.
     */
    allowedRecipients: string[];
  };
  /** Public base URL of the HTTP API (no trailing slash, no query): links in emails and absolute links in responses. */
  reportBaseUrl: string | null;
  /** AUDIT_SERVE_KEY: the key `serve` requires (like a function key); only the serve command reads it. */
  serveKey: string | null;
  matrix: FipsMatrix;
  matrixFile: string | null;
  nodeImageMaxAgeInDays: number;
  /** How far ahead an exemption's mandatory `expiresOn` may be (AUDIT_EXEMPTION_MAX_DAYS). */
  exemptionMaxDays: number;
  /** AUDIT_OWNER_TAG: the cluster tag that names who owns a cluster's pools (`owner` in the report); null when unset. */
  ownerTag: string | null;
  /**
   * Which path sends email, derived from the settings that are set: `acs` when EMAIL_ENDPOINT or
   * EMAIL_CONNECTION_STRING is set, `smtp` when SMTP_HOST is set (both at once is an error), else null.
   */
  emailProvider: EmailProvider | null;
  /** The SMTP path (SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD); null unless SMTP_HOST is set. */
  smtp: SmtpSettings | null;
  /**
   * App Service Authentication (Easy Auth) is on: the platform sets WEBSITE_AUTH_ENABLED=True, and only then
   * strips client-sent `x-ms-client-principal` headers, so only then may the app trust that header.
   */
  appServiceAuthEnabled: boolean;
  /** Sharded audits across instances (AUDIT_SHARDING, off by default). */
  sharding: ShardingSettings;
  queue: PipelineQueueSettings;
  /** How long the audit lease lasts without renewal (AUDIT_LEASE_TTL_SECONDS); a dead run is taken over after it. */
  leaseTtlInMs: number;
  evidence: EvidenceSettings;
  /** How long the audit waits on Azure, and how often it tries again (see requestBounds). */
  requests: RequestBounds;
}

/**
 * Bounds on every request the audit makes: a hung call fails (and is retried) after its timeout, and a scope whose
 * reads keep failing transiently is given up after `armMaxAttempts`. The defaults follow the services' own limits
 * (src/azure/requestTimeoutPolicy.ts); lower them to fail faster, e.g. in a pipeline.
 */
export interface RequestBounds {
  /** AUDIT_ARM_TIMEOUT_SECONDS: one ARM or Resource Graph request, token included. */
  armTimeoutInMs: number;
  /** AUDIT_ARM_MAX_ATTEMPTS: attempts per Resource Graph page or upgrade profile for transient failures. */
  armMaxAttempts: number;
  /** AUDIT_TABLES_TIMEOUT_SECONDS: one attempt of one Table Storage request (the SDK retries it). */
  tablesTimeoutInMs: number;
}

/** Every setting the app reads, with an example value for error messages and docs. */
export const SETTINGS = {
  AZURE_CLOUD: 'AzureUSGovernment',
  AUDIT_ARM_ENDPOINT: 'https://management.usgovcloudapi.net',
  AUDIT_SUBSCRIPTIONS: '00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-000000000002',
  AUDIT_MANAGEMENT_GROUPS: 'mg-prod,mg-fedramp',
  AUDIT_SCHEDULE: '0 0 6 * * *',
  AZURE_CLIENT_ID: '00000000-0000-0000-0000-0000000000aa',
  AUDIT_TABLES_ENDPOINT: 'https://myauditstore.table.core.windows.net',
  AUDIT_TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true',
  AUDIT_TABLE_PREFIX: 'fipsaudit',
  AUDIT_MATRIX_FILE: '/home/site/wwwroot/fips-matrix.override.json',
  AUDIT_NODE_IMAGE_MAX_AGE_DAYS: '30',
  AUDIT_EXEMPTION_MAX_DAYS: '90',
  AUDIT_OWNER_TAG: 'owner',
  WEBSITE_AUTH_ENABLED: 'True',
  AUDIT_SHARDING: 'subscriptions',
  AUDIT_SHARD_SIZE: '500',
  AUDIT_SHARD_QUEUE: 'fipsaudit-shards',
  AUDIT_QUEUE: 'UseDevelopmentStorage=true',
  AUDIT_QUEUE__queueServiceUri: 'https://myauditstore.queue.core.windows.net',
  AUDIT_QUEUE__credential: 'managedidentity',
  AUDIT_QUEUE__clientId: '00000000-0000-0000-0000-0000000000aa',
  AUDIT_LEASE_TTL_SECONDS: '120',
  AUDIT_ARM_TIMEOUT_SECONDS: '75',
  AUDIT_ARM_MAX_ATTEMPTS: '6',
  AUDIT_TABLES_TIMEOUT_SECONDS: '40',
  EMAIL_ENDPOINT: 'https://my-acs.communication.azure.com',
  EMAIL_CONNECTION_STRING: 'endpoint=https://my-acs.communication.azure.com/;accesskey=<key>',
  EMAIL_SENDER: 'DoNotReply@contoso.com',
  EMAIL_TO: 'compliance@contoso.com,secops@contoso.com',
  EMAIL_MODE: 'changes',
  EMAIL_ALLOWED_RECIPIENTS: 'auditor@assessor.example,@contoso.com',
  SMTP_HOST: 'smtp.office365.us',
  SMTP_PORT: '587',
  SMTP_USER: 'fips-auditor@contoso.com',
  SMTP_PASSWORD:
    '@Microsoft.KeyVault(SecretUri=https://my-vault.vault.usgovcloudapi.net/secrets/smtp-password)',
  REPORT_BASE_URL: 'https://fips-auditor.azurewebsites.us',
  AUDIT_SERVE_KEY: 'q8ZtV3rX6mN2pL9wK4sB7dF1gH5jY0cE',
  AUDIT_SIGNING_KEY_ID: 'https://my-vault.vault.azure.net/keys/audit-chain/0123456789abcdef0123456789abcdef',
  AUDIT_EVIDENCE_CONTAINER: 'https://myevidencestore.blob.core.windows.net/evidence',
  AUDIT_EVIDENCE_RETENTION_DAYS: '365',
} as const;
export type SettingName = keyof typeof SETTINGS;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MANAGEMENT_GROUP = /^[A-Za-z0-9._()-]{1,90}$/;
const EMAIL = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/;
/** An EMAIL_ALLOWED_RECIPIENTS entry that allows a whole domain: `@contoso.com` (that domain only, not its subdomains). */
const EMAIL_DOMAIN_ENTRY = /^@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/i;
/** AUDIT_SERVE_KEY: long enough to resist guessing, and safe in a header and a `?code=` query parameter. */
const SERVE_KEY = /^[A-Za-z0-9\-_=.~+/]{32,256}$/;

/** Why a key for `serve` (AUDIT_SERVE_KEY or `--key`) is not acceptable, or null when it is. */
export function serveKeyProblem(key: string): string | null {
  return SERVE_KEY.test(key)
    ? null
    : `must be 32-256 characters of letters, digits and - _ = . ~ + / (got ${key.length} characters); make one with: openssl rand -base64 32`;
}
const NCRONTAB_FIELDS: readonly { name: string; min: number; max: number; names?: readonly string[] }[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  },
  { name: 'weekday', min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

// Why one NCRONTAB field is bad (`*`, `5`, `1-5`, `*/15`, `5/15`, `MON-FRI`, lists of those), or null when it is fine.
// Hand-written rather than a cron library: the parsers on npm (cron-parser, croner) also accept `?`, `L`, `W` and
// `#`, which the Functions host's NCRONTAB rejects, so the app would start and the timer would never register.
function ncrontabFieldProblem(text: string, field: (typeof NCRONTAB_FIELDS)[number]): string | null {
  const kind = field.names
    ? `a number (${field.min}-${field.max}) or a name (${field.names[0]}-${field.names[field.names.length - 1]})`
    : `a number (${field.min}-${field.max})`;
  const value = (v: string): number | null => {
    if (/^\d+$/.test(v)) return Number(v);
    const named = field.names?.indexOf(v.toLowerCase()) ?? -1;
    return named >= 0 ? named + field.min : null;
  };
  const shapes = `${kind}, a range (${field.min}-${field.max}), a list (a,b) or a step (*/n)`;
  for (const part of text.split(',')) {
    const match = /^(\*|([A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?)(?:\/(\d+))?$/.exec(part);
    if (!match || (match[3] === undefined && match[2] !== undefined && value(match[2]) === null)) {
      return `the ${field.name} field "${part}" is not ${shapes}`;
    }
    if (match[4] !== undefined && Number(match[4]) < 1)
      return `the ${field.name} step in "${part}" must be at least 1`;
    if (match[1] === '*') continue;
    const from = value(match[2]!);
    const to = match[3] === undefined ? from : value(match[3]);
    const notValue = from === null ? match[2] : to === null ? match[3] : null;
    if (notValue !== null && notValue !== undefined)
      return `the ${field.name} field "${part}": "${notValue}" is not ${kind}`;
    if (from! < field.min || to! > field.max)
      return `the ${field.name} field "${part}" is outside ${field.min}-${field.max}`;
    if (from! > to!) return `the ${field.name} range "${part}" runs backwards (write it low-high)`;
  }
  return null;
}

/** Why an NCRONTAB expression (the Functions timer's 6-field cron) is not valid, or null when it is. */
export function ncrontabProblem(expression: string): string | null {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) {
    return `it has ${fields.length} field${fields.length === 1 ? '' : 's'}${fields.length === 5 ? ' (a 5-field cron has no seconds: put 0 in front)' : ''}`;
  }
  return fields.map((f, i) => ncrontabFieldProblem(f, NCRONTAB_FIELDS[i]!)).find((p) => p !== null) ?? null;
}

export type Env = Readonly<Record<string, string | undefined>>;

function list(value: string | undefined): string[] | null {
  if (value === undefined || value.trim() === '') return null;
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** What a URL setting may hold beyond scheme, host and port. */
interface UrlRule {
  protocols: readonly ('http:' | 'https:')[];
  /** `origin`: nothing after the host (a trailing `/` is dropped); `path`: a base path, such as Azurite's account. */
  shape: 'origin' | 'path';
}

const ORIGIN_HTTPS: UrlRule = { protocols: ['https:'], shape: 'origin' };
const STORAGE_ENDPOINT: UrlRule = { protocols: ['https:', 'http:'], shape: 'path' };

/**
 * One normal form for a URL setting, or why there is none: the URL's own origin (host lowercased, default port
 * dropped) plus its path without trailing slashes. A query, a fragment, credentials, an empty path segment (`//`
 * inside the path) or, where only an origin makes sense, any path are refused: the clients append their own paths
 * and queries, so such a value would fail only later, on the first request that uses it.
 */
export function normalizeUrlSetting(text: string, rule: UrlRule): { url: string } | { problem: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: `must be a URL such as ${rule.protocols[0]}//host; got "${text}"` };
  }
  const schemes = rule.protocols.map((p) => `${p}//`).join(' or ');
  if (!(rule.protocols as readonly string[]).includes(url.protocol)) {
    return { problem: `must start with ${schemes}; got "${text}"` };
  }
  if (url.username !== '' || url.password !== '') {
    return { problem: 'must not carry a user name or password (user:password@)' };
  }
  if (text.includes('?')) return { problem: `must not have a query (?…); got "${text}"` };
  if (text.includes('#')) return { problem: `must not have a fragment (#…); got "${text}"` };
  const path = url.pathname.replace(/\/+$/, '');
  if (path !== '' && rule.shape === 'origin') {
    return { problem: `must be ${schemes}host[:port] with no path; got the path "${url.pathname}"` };
  }
  if (path.split('/').slice(1).includes('')) {
    return { problem: `has an empty path segment (//) in "${url.pathname}"; give the path once, e.g. /base` };
  }
  return { url: `${url.origin}${path}` };
}

/** `name=value` pairs of a connection string, the value kept whole (account keys and SAS tokens hold `=`). */
function connectionStringParts(text: string): [name: string, value: string][] {
  return text
    .split(';')
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const at = part.indexOf('=');
      return at < 0 ? [part.trim(), ''] : [part.slice(0, at).trim(), part.slice(at + 1).trim()];
    });
}

/**
 * AUDIT_QUEUE__credential and AUDIT_QUEUE__clientId, the Functions "common properties for identity-based
 * connections" of the AUDIT_QUEUE connection (learn.microsoft.com/azure/azure-functions/functions-reference).
 */
function readQueueIdentity(
  get: (name: SettingName) => string | undefined,
  bad: (name: SettingName, what: string) => void,
  identityBased: boolean,
): QueueIdentity | null {
  const credential = get('AUDIT_QUEUE__credential');
  const clientId = get('AUDIT_QUEUE__clientId');
  if (!credential && !clientId) return null;
  if (!identityBased) {
    bad(
      credential ? 'AUDIT_QUEUE__credential' : 'AUDIT_QUEUE__clientId',
      'only applies to an identity-based queue connection: set AUDIT_QUEUE__queueServiceUri, not AUDIT_QUEUE',
    );
    return null;
  }
  if (credential && credential.toLowerCase() !== 'managedidentity') {
    bad('AUDIT_QUEUE__credential', `must be managedidentity; got "${credential}"`);
    return null;
  }
  if (!credential) {
    bad(
      'AUDIT_QUEUE__credential',
      'must be managedidentity when AUDIT_QUEUE__clientId is set (without it the Functions host reads the client ID as a local-development service principal)',
    );
    return null;
  }
  if (clientId && !GUID.test(clientId)) {
    bad('AUDIT_QUEUE__clientId', `must be the client ID GUID of a user-assigned identity; got "${clientId}"`);
    return null;
  }
  return { credential: 'managedidentity', clientId: clientId ?? null };
}

/**
 * Reads and validates every setting. Throws one ConfigError listing every problem, each naming
 * the setting and an example value. Reads the matrix override file when AUDIT_MATRIX_FILE is set.
 */
export function loadConfig(
  env: Env,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): Config {
  const problems: string[] = [];
  const get = (name: SettingName): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  // `what` may quote the value (`got "…"`): a SAS signature or a password in it must not reach a log.
  const bad = (name: SettingName, what: string) =>
    problems.push(`${name} ${sanitize(what)} (example: ${name}=${SETTINGS[name]})`);

  const cloudText = get('AZURE_CLOUD') ?? 'AzureCloud';
  // Case-insensitive, as `az cloud set --name` is; the canonical spelling is kept. Own keys only: `constructor`
  // or `toString` must not pass for a cloud.
  const cloudName = (Object.keys(CLOUDS) as CloudName[]).find(
    (c) => c.toLowerCase() === cloudText.toLowerCase(),
  );
  let cloudBase = cloudName ? CLOUDS[cloudName] : undefined;
  if (!cloudBase) {
    bad('AZURE_CLOUD', `must be one of ${Object.keys(CLOUDS).join(', ')}; got "${cloudText}"`);
    cloudBase = CLOUDS.AzureCloud;
  }
  /** A whole number from a setting within [min, max], or the default; reports the setting when it is not one. */
  const wholeNumber = (
    name: SettingName,
    fallback: number,
    min: number,
    max: number,
    unit: string,
  ): number => {
    const text = get(name) ?? String(fallback);
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) {
      bad(name, `must be a whole number of ${unit} from ${min} to ${max}; got "${text}"`);
      return fallback;
    }
    return value;
  };
  /** The normal form of a URL setting, or null after reporting why it has none. */
  const urlSetting = (name: SettingName, rule: UrlRule): string | null => {
    const text = get(name);
    if (text === undefined) return null;
    const result = normalizeUrlSetting(text, rule);
    if ('problem' in result) {
      bad(name, result.problem);
      return null;
    }
    return result.url;
  };
  /**
   * A storage connection string with its `<Service>Endpoint=` URLs (if any) checked and normalised like the
   * endpoint settings; other parts, keys included, are kept as they are.
   */
  const storageConnectionString = (name: SettingName, text: string): string => {
    let changed = false;
    const parts = connectionStringParts(text).map(([part, value]): [string, string] => {
      if (!/^(Table|Queue|Blob|File)Endpoint$/i.test(part)) return [part, value];
      const result = normalizeUrlSetting(value, STORAGE_ENDPOINT);
      if ('problem' in result) {
        bad(name, `has a ${part} that ${result.problem}`);
        return [part, value];
      }
      changed ||= result.url !== value;
      return [part, result.url];
    });
    return changed ? parts.map(([part, value]) => `${part}=${value}`).join(';') : text;
  };

  const armOverride = urlSetting('AUDIT_ARM_ENDPOINT', ORIGIN_HTTPS);
  const cloud: CloudSettings = {
    name: cloudName ?? 'AzureCloud',
    ...cloudBase,
    armEndpoint: armOverride ?? cloudBase.armEndpoint,
  };

  const subscriptions = list(get('AUDIT_SUBSCRIPTIONS'));
  const badSubs = subscriptions?.filter((s) => !GUID.test(s)) ?? [];
  if (badSubs.length)
    bad('AUDIT_SUBSCRIPTIONS', `must be subscription GUIDs; not GUIDs: ${badSubs.join(', ')}`);
  const managementGroups = list(get('AUDIT_MANAGEMENT_GROUPS'));
  const badMgs = managementGroups?.filter((m) => !MANAGEMENT_GROUP.test(m)) ?? [];
  if (badMgs.length) {
    bad(
      'AUDIT_MANAGEMENT_GROUPS',
      `must be management group IDs (letters, digits, - _ . ( ), at most 90); bad: ${badMgs.join(', ')}`,
    );
  }

  const schedule = get('AUDIT_SCHEDULE') ?? '0 0 6 * * *';
  const scheduleProblem = ncrontabProblem(schedule);
  if (scheduleProblem) {
    bad(
      'AUDIT_SCHEDULE',
      `must be an NCRONTAB expression of 6 fields, seconds first (second minute hour day month weekday; "0 0 6 * * *" is 06:00 UTC daily); got "${schedule}": ${scheduleProblem}`,
    );
  }

  const clientId = get('AZURE_CLIENT_ID') ?? null;
  if (clientId && !GUID.test(clientId)) bad('AZURE_CLIENT_ID', `must be a client ID GUID; got "${clientId}"`);

  const tablesEndpoint = get('AUDIT_TABLES_ENDPOINT');
  const tablesConnection = get('AUDIT_TABLES_CONNECTION_STRING');
  let storage: StorageSettings | null = null;
  if (tablesEndpoint && tablesConnection) {
    bad('AUDIT_TABLES_ENDPOINT', 'and AUDIT_TABLES_CONNECTION_STRING are both set; set only one');
  } else if (tablesEndpoint) {
    const endpoint = urlSetting('AUDIT_TABLES_ENDPOINT', STORAGE_ENDPOINT);
    if (endpoint) storage = { kind: 'endpoint', endpoint };
  } else if (tablesConnection) {
    if (!/TableEndpoint=|AccountName=|UseDevelopmentStorage=true/i.test(tablesConnection)) {
      bad(
        'AUDIT_TABLES_CONNECTION_STRING',
        'is not a storage connection string (it has no AccountName or TableEndpoint)',
      );
    }
    storage = {
      kind: 'connectionString',
      connectionString: storageConnectionString('AUDIT_TABLES_CONNECTION_STRING', tablesConnection),
    };
  }

  const tablePrefix = get('AUDIT_TABLE_PREFIX') ?? 'fipsaudit';
  // Table names are 3-63 alphanumerics starting with a letter; the longest suffix added is 11 characters.
  if (!/^[A-Za-z][A-Za-z0-9]{0,51}$/.test(tablePrefix)) {
    bad(
      'AUDIT_TABLE_PREFIX',
      `must be letters and digits, starting with a letter, at most 52 characters; got "${tablePrefix}"`,
    );
  }

  const emailEndpointText = get('EMAIL_ENDPOINT') ?? null;
  const emailEndpoint = urlSetting('EMAIL_ENDPOINT', ORIGIN_HTTPS);
  const emailConnectionText = get('EMAIL_CONNECTION_STRING') ?? null;
  let emailConnection: string | null = null;
  if (emailConnectionText) {
    // The ACS client reads `endpoint=(.*);accesskey=(.*)`; the endpoint is rebuilt in the portal's form.
    const match = /^endpoint=([^;]+);\s*accesskey=(.+)$/i.exec(emailConnectionText);
    const endpoint = match ? normalizeUrlSetting(match[1]!.trim(), ORIGIN_HTTPS) : null;
    if (!match || !endpoint) {
      bad('EMAIL_CONNECTION_STRING', 'must look like endpoint=https://…;accesskey=…');
    } else if ('problem' in endpoint) {
      bad('EMAIL_CONNECTION_STRING', `has an endpoint that ${endpoint.problem.replace(/; got .*$/, '')}`);
    } else {
      emailConnection = `endpoint=${endpoint.url}/;accesskey=${match[2]!}`;
    }
  }
  const sender = get('EMAIL_SENDER') ?? null;
  if (sender && !EMAIL.test(sender)) bad('EMAIL_SENDER', `must be an email address; got "${sender}"`);
  const to = list(get('EMAIL_TO')) ?? [];
  const badTo = to.filter((a) => !EMAIL.test(a));
  if (badTo.length) bad('EMAIL_TO', `must be email addresses; bad: ${badTo.join(', ')}`);
  const allowedRecipients = (list(get('EMAIL_ALLOWED_RECIPIENTS')) ?? []).map((e) => e.toLowerCase());
  // No wildcards: `*@contoso.com` is a legal address, but whoever writes it means a pattern.
  const badAllowed = allowedRecipients.filter(
    (e) => e.includes('*') || (!EMAIL.test(e) && !EMAIL_DOMAIN_ENTRY.test(e)),
  );
  if (badAllowed.length) {
    bad(
      'EMAIL_ALLOWED_RECIPIENTS',
      `must be email addresses or @domain entries (the whole domain after the @, no wildcards); bad: ${badAllowed.join(', ')}`,
    );
  }
  const mode = (get('EMAIL_MODE') ?? 'always') as EmailMode;
  if (!['always', 'changes', 'off'].includes(mode))
    bad('EMAIL_MODE', `must be always, changes or off; got "${mode}"`);
  if ((emailEndpointText || emailConnectionText) && mode !== 'off') {
    if (!sender) bad('EMAIL_SENDER', 'is required when EMAIL_ENDPOINT or EMAIL_CONNECTION_STRING is set');
    if (to.length === 0) bad('EMAIL_TO', 'is required when EMAIL_ENDPOINT or EMAIL_CONNECTION_STRING is set');
  }

  if (emailEndpointText && emailConnectionText) {
    bad('EMAIL_CONNECTION_STRING', 'and EMAIL_ENDPOINT are both set; set only one');
  }
  // The provider follows from what is set: ACS settings, or SMTP_HOST (for clouds without ACS Email).
  const smtpHost = get('SMTP_HOST') ?? null;
  const smtpPortText = get('SMTP_PORT') ?? '587';
  const smtpPort = Number(smtpPortText);
  const smtpUser = get('SMTP_USER') ?? null;
  // Not trimmed: a password may start or end with a space.
  const smtpPassword = env.SMTP_PASSWORD === undefined || env.SMTP_PASSWORD === '' ? null : env.SMTP_PASSWORD;
  if (smtpHost && !/^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]+\]$/.test(smtpHost)) {
    bad('SMTP_HOST', `must be a host name; got "${smtpHost}"`);
  }
  if (smtpHost && (emailEndpointText || emailConnectionText)) {
    bad(
      'SMTP_HOST',
      'is set together with EMAIL_ENDPOINT or EMAIL_CONNECTION_STRING; the email provider follows from which is set, so set only one (SMTP_HOST for SMTP, EMAIL_* for ACS)',
    );
  }
  if (!/^\d{1,5}$/.test(smtpPortText) || smtpPort < 1 || smtpPort > 65535) {
    bad('SMTP_PORT', `must be a port number from 1 to 65535; got "${smtpPortText}"`);
  }
  // The platform replaces a Key Vault reference by the secret; the reference text itself means it could not.
  // Not a start-up failure (the audit must go on): every send fails with this reason, recorded and in health.
  const unresolvedPassword = smtpPassword !== null && /^@Microsoft\.KeyVault\(/i.test(smtpPassword.trim());
  if (smtpHost && smtpUser !== null && smtpPassword === null) {
    bad('SMTP_PASSWORD', 'must be set when SMTP_USER is (the infra fills it from Key Vault)');
  }
  if (smtpHost && smtpUser === null && smtpPassword !== null) {
    bad('SMTP_USER', 'must be set when SMTP_PASSWORD is');
  }
  if (smtpHost && mode !== 'off') {
    if (!sender) bad('EMAIL_SENDER', 'is required when SMTP_HOST is set');
    if (to.length === 0) bad('EMAIL_TO', 'is required when SMTP_HOST is set');
  }
  const emailProvider: EmailProvider | null =
    emailEndpoint || emailConnection ? 'acs' : smtpHost ? 'smtp' : null;
  const smtp: SmtpSettings | null = smtpHost
    ? {
        host: smtpHost,
        port: smtpPort,
        user: smtpUser,
        password: unresolvedPassword ? null : smtpPassword,
        problem: unresolvedPassword
          ? "SMTP_PASSWORD still holds its Key Vault reference: the platform could not resolve it. Check the SecretUri, that the secret exists and that the app's identity may read it, then restart the app."
          : null,
      }
    : null;

  const reportBaseUrl = urlSetting('REPORT_BASE_URL', { protocols: ['https:', 'http:'], shape: 'path' });
  const serveKey = get('AUDIT_SERVE_KEY') ?? null;
  const serveKeyIssue = serveKey === null ? null : serveKeyProblem(serveKey);
  if (serveKeyIssue) bad('AUDIT_SERVE_KEY', serveKeyIssue);

  const nodeImageMaxAgeInDays = wholeNumber('AUDIT_NODE_IMAGE_MAX_AGE_DAYS', 30, 1, 3650, 'days');
  const exemptionMaxDays = wholeNumber('AUDIT_EXEMPTION_MAX_DAYS', 180, 1, 3650, 'days');

  const ownerTag = get('AUDIT_OWNER_TAG') ?? null;
  // ARM tag names: at most 512 characters, none of < > % & \ ? /.
  if (ownerTag !== null && !/^[^<>%&\\?/]{1,512}$/.test(ownerTag)) {
    bad(
      'AUDIT_OWNER_TAG',
      `must be an Azure tag name (at most 512 characters, none of < > % & \\ ? /); got "${ownerTag.slice(0, 80)}"`,
    );
  }

  // Set by the platform, never by hand: "True" when App Service Authentication is on.
  const authText = get('WEBSITE_AUTH_ENABLED') ?? 'False';
  if (!/^(true|false)$/i.test(authText)) {
    bad('WEBSITE_AUTH_ENABLED', `must be True or False; got "${authText}"`);
  }
  const appServiceAuthEnabled = authText.toLowerCase() === 'true';

  const shardingMode = (get('AUDIT_SHARDING') ?? 'off') as ShardingMode;
  if (!['off', 'subscriptions'].includes(shardingMode)) {
    bad('AUDIT_SHARDING', `must be off or subscriptions; got "${shardingMode}"`);
  }
  const shardSize = wholeNumber('AUDIT_SHARD_SIZE', 500, 1, 800, 'subscriptions per shard');
  const shardQueue = get('AUDIT_SHARD_QUEUE') ?? 'fipsaudit-shards';
  // Queue names: 3-63 lowercase letters, digits and single hyphens; `-poison` (7) must still fit.
  if (!/^[a-z0-9](?:[a-z0-9]|-(?!-)){2,55}$/.test(shardQueue) || shardQueue.endsWith('-')) {
    bad(
      'AUDIT_SHARD_QUEUE',
      `must be a queue name of 3-56 lowercase letters, digits and single hyphens; got "${shardQueue}"`,
    );
  }
  const queueConnection = get('AUDIT_QUEUE');
  const queueUri = get('AUDIT_QUEUE__queueServiceUri');
  const queueIdentity = readQueueIdentity(get, bad, !!queueUri);
  let queue: QueueConnection | null = null;
  if (queueConnection && queueUri) {
    bad('AUDIT_QUEUE', 'and AUDIT_QUEUE__queueServiceUri are both set; set only one');
  } else if (queueUri) {
    const endpoint = urlSetting('AUDIT_QUEUE__queueServiceUri', STORAGE_ENDPOINT);
    if (endpoint)
      queue = { kind: 'endpoint', endpoint, ...(queueIdentity ? { identity: queueIdentity } : {}) };
    // The host's queue trigger would connect as the system-assigned identity, which an app that runs as a
    // user-assigned one may not have, or without the queue role: no audit would ever be picked up.
    if (clientId && !queueIdentity) {
      bad(
        'AUDIT_QUEUE__clientId',
        `and AUDIT_QUEUE__credential=managedidentity must be set when the app runs as a user-assigned identity (AZURE_CLIENT_ID); without them the Functions queue trigger connects with the system-assigned identity (example: AUDIT_QUEUE__clientId=${clientId})`,
      );
    }
  } else if (queueConnection) {
    if (!/QueueEndpoint=|AccountName=|UseDevelopmentStorage=true/i.test(queueConnection)) {
      bad('AUDIT_QUEUE', 'is not a storage connection string (it has no AccountName or QueueEndpoint)');
    }
    queue = {
      kind: 'connectionString',
      connectionString: storageConnectionString('AUDIT_QUEUE', queueConnection),
    };
  }

  const leaseTtlSeconds = wholeNumber('AUDIT_LEASE_TTL_SECONDS', 120, 10, 3600, 'seconds');

  const requests: RequestBounds = {
    armTimeoutInMs:
      wholeNumber('AUDIT_ARM_TIMEOUT_SECONDS', ARM_REQUEST_TIMEOUT_IN_MS / 1000, 1, 600, 'seconds') * 1000,
    armMaxAttempts: wholeNumber(
      'AUDIT_ARM_MAX_ATTEMPTS',
      DEFAULT_RETRY_POLICY.maxAttempts,
      1,
      10,
      'attempts',
    ),
    tablesTimeoutInMs:
      wholeNumber('AUDIT_TABLES_TIMEOUT_SECONDS', TABLE_REQUEST_TIMEOUT_IN_MS / 1000, 1, 300, 'seconds') *
      1000,
  };

  const matrixFile = get('AUDIT_MATRIX_FILE') ?? null;
  let matrix = builtInMatrix;
  if (matrixFile) {
    try {
      matrix = applyMatrixOverride(builtInMatrix, JSON.parse(readFile(matrixFile)), matrixFile);
    } catch (error) {
      const detail =
        error instanceof MatrixError
          ? // One line per setting: the matrix's own problems are joined, not listed as settings.
            `${error.message.split('\n')[0]}: ${error.problems.join('; ')}`
          : `could not be read as JSON: ${error instanceof Error ? error.message : String(error)}`;
      bad('AUDIT_MATRIX_FILE', `names a file that is not a valid matrix override: ${detail}`);
    }
  }

  const signingKeyId = get('AUDIT_SIGNING_KEY_ID') ?? null;
  if (signingKeyId && !isKeyVaultKeyId(signingKeyId)) {
    bad(
      'AUDIT_SIGNING_KEY_ID',
      `must be a Key Vault key identifier with its version, https://<vault>.<vault DNS suffix>/keys/<name>/<32 hex digits>; got "${signingKeyId}"`,
    );
  }
  const evidenceContainer = get('AUDIT_EVIDENCE_CONTAINER')?.replace(/\/+$/, '') ?? null;
  if (evidenceContainer && !isContainerUrl(evidenceContainer)) {
    bad(
      'AUDIT_EVIDENCE_CONTAINER',
      `must be the https URL of a Blob container, https://<account>.blob.<suffix>/<container> (3-63 lowercase letters, digits and single hyphens); got "${evidenceContainer}"`,
    );
  }
  // Azure's time-based retention policy allows 1 to 146,000 days.
  const retentionDays = wholeNumber('AUDIT_EVIDENCE_RETENTION_DAYS', 365, 1, 146_000, 'days');

  if (problems.length) {
    throw new ConfigError(`Invalid settings:\n  - ${problems.join('\n  - ')}`, problems);
  }
  // Frozen all the way down (the matrix excepted, which is shared), so no caller can change a setting.
  const frozenList = (values: string[] | null): string[] | null =>
    values ? (Object.freeze(values) as string[]) : null;
  return Object.freeze({
    cloud: Object.freeze(cloud),
    subscriptions: frozenList(subscriptions?.map((s) => s.toLowerCase()) ?? null),
    managementGroups: frozenList(managementGroups),
    schedule,
    clientId,
    storage: storage && Object.freeze(storage),
    tablePrefix,
    email: Object.freeze({
      endpoint: emailEndpoint,
      connectionString: emailConnection,
      sender,
      to: frozenList(to)!,
      mode,
      allowedRecipients: frozenList(allowedRecipients)!,
    }),
    reportBaseUrl,
    serveKey,
    matrix,
    matrixFile,
    nodeImageMaxAgeInDays,
    exemptionMaxDays,
    ownerTag,
    emailProvider,
    smtp: smtp && Object.freeze(smtp),
    appServiceAuthEnabled,
    sharding: Object.freeze({ mode: shardingMode, shardSize }),
    queue: Object.freeze({ name: shardQueue, connection: queue && Object.freeze(queue) }),
    leaseTtlInMs: leaseTtlSeconds * 1000,
    evidence: Object.freeze({ signingKeyId, container: evidenceContainer, retentionDays }),
    requests: Object.freeze(requests),
  });
}

/** The Functions host queues every run's stages: it cannot start without the pipeline queue's connection. */
export function requireQueue(config: Config): StorageSettings {
  if (!config.queue.connection) {
    throw new ConfigError(
      `Invalid settings:\n  - AUDIT_QUEUE__queueServiceUri or AUDIT_QUEUE must be set: the Function App runs every audit through its Storage queue (example: AUDIT_QUEUE__queueServiceUri=${SETTINGS.AUDIT_QUEUE__queueServiceUri})`,
      ['AUDIT_QUEUE__queueServiceUri'],
    );
  }
  return config.queue.connection;
}

const KEY_VAULT_KEY_ID = /^https:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?\/keys\/[A-Za-z0-9-]{1,127}\/[0-9a-f]{32}$/;

/**
 * A Key Vault (or Managed HSM) key identifier with its version: signatures name the exact key version, so a
 * rotated key never makes older signatures unverifiable.
 */
export function isKeyVaultKeyId(value: string): boolean {
  return KEY_VAULT_KEY_ID.test(value);
}

const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;

/** `https://<account>.blob.<suffix>/<container>`, or the path style of emulators, `https://<host>:<port>/<account>/<container>`. */
export function isContainerUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' || url.search || url.hash || url.username || url.password) return false;
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const container = segments[segments.length - 1];
  return (
    (segments.length === 1 || (segments.length === 2 && url.port !== '')) &&
    !!container &&
    CONTAINER_NAME.test(container)
  );
}

/** Storage is optional for `audit --no-store`; everything that stores asks for it through here. */
export function requireStorage(config: Config): StorageSettings {
  if (!config.storage) {
    throw new ConfigError(
      `Invalid settings:\n  - AUDIT_TABLES_ENDPOINT or AUDIT_TABLES_CONNECTION_STRING must be set (example: AUDIT_TABLES_ENDPOINT=${SETTINGS.AUDIT_TABLES_ENDPOINT})`,
      ['AUDIT_TABLES_ENDPOINT'],
    );
  }
  return config.storage;
}
