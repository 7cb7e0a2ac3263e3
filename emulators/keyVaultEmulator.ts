// Loopback HTTPS emulator of Azure Key Vault keys (GET key, POST sign) with the bearer challenge the clients expect.

import { constants, generateKeyPairSync, type KeyObject, privateEncrypt, randomBytes } from 'node:crypto';
import type http from 'node:http';
import https from 'node:https';

import { closeServer, listenOnLoopback } from './loopbackServer';
import type { ManagedIdentityEmulator } from './managedIdentityEmulator';
import { createTestCertificate } from './tls';

/** The resource Key Vault names in its challenge, in the public cloud: tokens are asked for `<it>/.default`. */
export const KEY_VAULT_AUDIENCE = 'https://vault.azure.net';
/** API versions the emulator answers: `@azure/keyvault-keys` 4.10 sends 2025-07-01; the 7.x line is older. */
const API_VERSIONS = /^(7\.[0-6](-preview)?|2025-07-01)$/;
/** DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2): what PKCS#1 v1.5 signs around the digest. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

interface StoredKey {
  name: string;
  version: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  created: number;
}

export interface KeyVaultRequestLogEntry {
  method: string;
  path: string;
  status: number;
  /** `none` for the client's first, unauthenticated request (answered with the challenge). */
  auth: 'bearer' | 'none' | 'invalid';
}

/**
 * Key Vault keys as `@azure/keyvault-keys` sees them: every request without a valid bearer token gets `401` with
 * `WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="https://vault.azure.net"` (the client
 * sends its first request without a token, and without its body, to learn the resource from it); tokens come from
 * the managed identity emulator for that audience. `GET /keys/{name}[/{version}]` returns the key bundle (public
 * JWK, attributes); `POST /keys/{name}/{version}/sign` signs a SHA-256 digest with RS256 (PKCS#1 v1.5 over the
 * digest's DigestInfo, as the service does). Only RSA keys: Node's crypto has no ECDSA over a given digest.
 */
export class KeyVaultEmulator {
  readonly requests: KeyVaultRequestLogEntry[] = [];
  private readonly keys = new Map<string, StoredKey[]>();

  private constructor(
    private readonly server: https.Server,
    readonly vaultUrl: string,
    readonly certificatePem: string,
    private readonly identity: ManagedIdentityEmulator,
  ) {}

  static async start(options: { identity: ManagedIdentityEmulator }): Promise<KeyVaultEmulator> {
    const { cert, key } = await createTestCertificate();
    const server = https.createServer({ cert, key });
    const port = await listenOnLoopback(server);
    const emulator = new KeyVaultEmulator(server, `https://127.0.0.1:${port}`, cert, options.identity);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      emulator.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) send(res, 500, { error: { code: 'InternalError', message: String(error) } });
      });
    });
    return emulator;
  }

  /** Creates a new version of an RSA key and returns its full identifier. */
  createRsaKey(name: string): string {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const version = randomBytes(16).toString('hex');
    const versions = this.keys.get(name) ?? [];
    versions.push({ name, version, privateKey, publicKey, created: Math.floor(Date.now() / 1000) });
    this.keys.set(name, versions);
    return this.kid(name, version);
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private kid(name: string, version: string): string {
    return `${this.vaultUrl}/keys/${name}/${version}`;
  }

  private bundle(key: StoredKey): unknown {
    const jwk = key.publicKey.export({ format: 'jwk' });
    return {
      key: {
        kid: this.kid(key.name, key.version),
        kty: 'RSA',
        key_ops: ['sign', 'verify'],
        n: jwk.n,
        e: jwk.e,
      },
      attributes: {
        enabled: true,
        created: key.created,
        updated: key.created,
        recoveryLevel: 'Recoverable+Purgeable',
        recoverableDays: 90,
        exportable: false,
      },
      tags: {},
    };
  }

  private find(name: string, version: string | undefined): StoredKey | undefined {
    const versions = this.keys.get(name) ?? [];
    return version ? versions.find((k) => k.version === version) : versions[versions.length - 1];
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.vaultUrl);
    const body = await readBody(req);
    const log = (status: number, auth: KeyVaultRequestLogEntry['auth']) =>
      this.requests.push({ method: req.method ?? '', path: url.pathname, status, auth });

    const authorization = req.headers.authorization;
    const token = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
    if (!token || !this.identity.isValidToken(token, KEY_VAULT_AUDIENCE)) {
      res.setHeader(
        'WWW-Authenticate',
        `Bearer authorization="https://login.microsoftonline.com/${this.identity.tenantId}", resource="${KEY_VAULT_AUDIENCE}"`,
      );
      log(401, token ? 'invalid' : 'none');
      send(res, 401, {
        error: {
          code: 'Unauthorized',
          message: token
            ? 'AKV10022: Invalid audience.'
            : 'AKV10000: Request is missing a Bearer or PoP token.',
        },
      });
      return;
    }
    const apiVersion = url.searchParams.get('api-version') ?? '';
    if (!API_VERSIONS.test(apiVersion)) {
      log(400, 'bearer');
      send(res, 400, {
        error: { code: 'BadParameter', message: `The specified version (${apiVersion}) is not recognized.` },
      });
      return;
    }
    const get = /^\/keys\/([0-9A-Za-z-]{1,127})(?:\/([0-9a-f]{32}))?\/?$/.exec(url.pathname);
    const sign = /^\/keys\/([0-9A-Za-z-]{1,127})\/([0-9a-f]{32})\/sign$/.exec(url.pathname);
    if (req.method === 'GET' && get) {
      const key = this.find(get[1] as string, get[2]);
      if (!key) return this.notFound(res, url, log);
      log(200, 'bearer');
      send(res, 200, this.bundle(key));
      return;
    }
    if (req.method === 'POST' && sign) {
      const key = this.find(sign[1] as string, sign[2]);
      if (!key) return this.notFound(res, url, log);
      let request: { alg?: unknown; value?: unknown };
      try {
        request = JSON.parse(body.toString('utf8')) as typeof request;
      } catch {
        log(400, 'bearer');
        send(res, 400, { error: { code: 'BadParameter', message: 'The request body is not JSON.' } });
        return;
      }
      const digest =
        typeof request.value === 'string' ? Buffer.from(request.value, 'base64url') : Buffer.alloc(0);
      if (request.alg !== 'RS256' || digest.length !== 32) {
        log(400, 'bearer');
        send(res, 400, {
          error: {
            code: 'BadParameter',
            message: `Invalid algorithm or digest: alg ${String(request.alg)} with a ${digest.length}-byte value (this key signs RS256 over a 32-byte SHA-256 digest).`,
          },
        });
        return;
      }
      const signature = privateEncrypt(
        { key: key.privateKey, padding: constants.RSA_PKCS1_PADDING },
        Buffer.concat([SHA256_DIGEST_INFO, digest]),
      );
      log(200, 'bearer');
      send(res, 200, { kid: this.kid(key.name, key.version), value: signature.toString('base64url') });
      return;
    }
    log(404, 'bearer');
    send(res, 404, { error: { code: 'NotFound', message: `No route for ${req.method} ${url.pathname}` } });
  }

  private notFound(res: http.ServerResponse, url: URL, log: (status: number, auth: 'bearer') => void): void {
    log(404, 'bearer');
    send(res, 404, {
      error: {
        code: 'KeyNotFound',
        message: `A key with (name/id) ${url.pathname.split('/')[2] ?? ''} was not found in this key vault.`,
      },
    });
  }
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
