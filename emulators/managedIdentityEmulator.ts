// Loopback emulator of the App Service / Functions managed identity endpoint (IDENTITY_ENDPOINT), for tests.
//
// Switch `emulator.mode` at any time:
// - `issue` (default): tokens for the resource asked, as the real endpoint;
// - `refuse`: every token request answers 400 `{"StatusCode":400,"Message":"No MSI found for specified
//   ClientId/ResourceId.","CorrelationId":"…"}`, as App Service does for an app without (that) managed identity
//   (MicrosoftDocs/azure-docs#43543): the credential reports CredentialUnavailableError;
// - `wrongAudience`: tokens are issued for `wrongAudience` whatever resource was asked (a cloud mix-up), so ARM
//   answers 401 InvalidAuthenticationTokenAudience.
// MSAL caches managed identity tokens per process, resource and client ID: a test that switches modes must use a
// resource or AZURE_CLIENT_ID no earlier test of the same file has used, or run first.
//
// "No credential at all" (a workstation with no Azure sign-in) is played without this emulator: unset
// IDENTITY_ENDPOINT and IDENTITY_HEADER, set AZURE_TOKEN_CREDENTIALS=dev and PATH to an empty directory, so the
// chain's developer credentials find no az, azd or pwsh and nothing leaves the machine (removeEveryCredential in
// test/integration/auditCannotRead.test.ts). `refuse` plays an app whose managed identity is off or not assigned.

import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';

import { closeServer, listenOnLoopback } from './loopbackServer';

const API_VERSION = '2019-08-01';
const TOKEN_PATH = '/msi/token';
const tokenLifetimeInMs = 24 * 60 * 60 * 1000;

/** What the emulator remembers of a token it issued. */
export interface IssuedToken {
  audience: string;
  /** Client ID of the identity the token is for (the system-assigned identity's when none was asked). */
  clientId: string;
  expiresOnInMs: number;
}

export type ManagedIdentityMode = 'issue' | 'refuse' | 'wrongAudience';

export interface ManagedIdentityEmulatorOptions {
  /** The secret the caller must send as `X-IDENTITY-HEADER` (random by default). */
  identityHeader?: string;
}

/**
 * Compares token audiences the way ARM does: `https://management.azure.com`, `https://management.azure.com/` and
 * the scope form `https://management.azure.com/.default` all name the same resource.
 */
export function normaliseAudience(audience: string): string {
  let value = audience.trim().toLowerCase();
  if (value.endsWith('/.default')) value = value.slice(0, -'/.default'.length);
  while (value.endsWith('/')) value = value.slice(0, -1);
  return value;
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export class ManagedIdentityEmulator {
  /** Every token request that passed the header check, in order. */
  readonly requests: { resource: string; clientId: string | null }[] = [];
  readonly tenantId = randomUUID();
  readonly systemAssignedClientId = randomUUID();
  /** How token requests are answered (see the header). */
  mode: ManagedIdentityMode = 'issue';
  /** The audience of every token in `wrongAudience` mode: the Government ARM, a typical cloud mix-up. */
  wrongAudience = 'https://management.usgovcloudapi.net/';
  /** Token requests refused in `refuse` mode. */
  refused = 0;
  private readonly tokens = new Map<string, IssuedToken>();

  private constructor(
    private readonly server: http.Server,
    readonly endpoint: string,
    readonly identityHeader: string,
  ) {}

  static async start(opts: ManagedIdentityEmulatorOptions = {}): Promise<ManagedIdentityEmulator> {
    const identityHeader = opts.identityHeader ?? randomBytes(16).toString('hex');
    const server = http.createServer();
    const port = await listenOnLoopback(server);
    const emulator = new ManagedIdentityEmulator(
      server,
      `http://127.0.0.1:${port}${TOKEN_PATH}`,
      identityHeader,
    );
    server.on('request', (req, res) => emulator.handle(req, res));
    return emulator;
  }

  /** True when `token` was issued here, has not expired and was issued for `audience` (trailing `/` ignored). */
  isValidToken(token: string, audience: string): boolean {
    const issued = this.lookupToken(token);
    return issued !== undefined && normaliseAudience(issued.audience) === normaliseAudience(audience);
  }

  /** The token's record if it was issued here and has not expired. */
  lookupToken(token: string): IssuedToken | undefined {
    const issued = this.tokens.get(token);
    if (!issued || issued.expiresOnInMs <= Date.now()) return undefined;
    return issued;
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // Drain any body so keep-alive connections stay usable.
    req.resume();
    if (req.method !== 'GET' || url.pathname.toLowerCase() !== TOKEN_PATH) {
      send(res, 404, { error: 'not_found', error_description: `No route for ${req.method} ${url.pathname}` });
      return;
    }
    const header = req.headers['x-identity-header'];
    if (header === undefined) {
      send(res, 400, {
        error: 'invalid_request',
        error_description: 'The X-IDENTITY-HEADER header is missing.',
      });
      return;
    }
    if (header !== this.identityHeader) {
      send(res, 401, {
        error: 'unauthorized_client',
        error_description: 'The X-IDENTITY-HEADER is not valid.',
      });
      return;
    }
    const apiVersion = url.searchParams.get('api-version');
    if (apiVersion !== API_VERSION) {
      send(res, 400, {
        error: 'invalid_request',
        error_description: `api-version must be ${API_VERSION}; got ${JSON.stringify(apiVersion)}.`,
      });
      return;
    }
    const resource = url.searchParams.get('resource');
    if (!resource) {
      send(res, 400, { error: 'invalid_request', error_description: 'The resource parameter is missing.' });
      return;
    }
    const askedClientId = url.searchParams.get('client_id');
    this.requests.push({ resource, clientId: askedClientId });
    if (this.mode === 'refuse') {
      this.refused += 1;
      send(res, 400, {
        StatusCode: 400,
        Message: 'No MSI found for specified ClientId/ResourceId.',
        CorrelationId: randomUUID(),
      });
      return;
    }
    const audience = this.mode === 'wrongAudience' ? this.wrongAudience : resource;

    const clientId = askedClientId ?? this.systemAssignedClientId;
    const nowInSeconds = Math.floor(Date.now() / 1000);
    const expiresOnInSeconds = nowInSeconds + Math.floor(tokenLifetimeInMs / 1000);
    // An unsigned JWT-shaped token: enough for code that peeks at claims, never valid anywhere real.
    const token = [
      base64url({ typ: 'JWT', alg: 'none' }),
      base64url({
        aud: audience,
        iss: `https://sts.windows.net/${this.tenantId}/`,
        iat: nowInSeconds,
        nbf: nowInSeconds,
        exp: expiresOnInSeconds,
        appid: clientId,
        oid: clientId,
        sub: clientId,
        tid: this.tenantId,
        idtyp: 'app',
        jti: randomUUID(),
      }),
      '',
    ].join('.');
    this.tokens.set(token, { audience, clientId, expiresOnInMs: expiresOnInSeconds * 1000 });
    send(res, 200, {
      access_token: token,
      expires_on: String(expiresOnInSeconds),
      resource,
      token_type: 'Bearer',
      client_id: clientId,
    });
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
