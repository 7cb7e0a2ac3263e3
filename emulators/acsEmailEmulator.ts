// Loopback HTTPS emulator of Azure Communication Services Email (2025-09-01): HMAC or bearer auth, 202 + polling.

import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import https from 'node:https';

import { closeServer, listenOnLoopback } from './loopbackServer';
import type { ManagedIdentityEmulator } from './managedIdentityEmulator';
import { createTestCertificate } from './tls';

export const ACS_EMAIL_API_VERSION = '2025-09-01';
/** The audience of ACS tokens; the client asks for `https://communication.azure.com//.default`. */
export const ACS_AUDIENCE = 'https://communication.azure.com';
/** How far x-ms-date may be from the emulator's clock, as the service allows. */
const MAX_CLOCK_SKEW_IN_MS = 15 * 60_000;
/** The service's limit on one request, attachments (base64) included. */
const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

export type OperationStatus = 'NotStarted' | 'Running' | 'Succeeded' | 'Failed' | 'Canceled';

/** One accepted message: what the client sent, as the service would deliver it. */
export interface AcceptedMessage {
  operationId: string;
  auth: 'hmac' | 'bearer';
  senderAddress: string;
  to: string[];
  subject: string;
  plainText: string | undefined;
  html: string | undefined;
  attachments: { name: string; contentType: string; content: Buffer }[];
  headers: Record<string, string>;
  userEngagementTrackingDisabled: boolean | undefined;
  receivedAt: Date;
}

/** A one-shot fault: the next matching request gets this answer instead. */
export type AcsFault =
  | { on: 'send' | 'poll'; status: 429; retryAfterInSeconds?: number }
  | { on: 'send' | 'poll'; status: 500 | 502 | 503 }
  /** The next accepted operation ends `Failed` with this error. */
  | { on: 'outcome'; status: 'Failed'; code?: string; message?: string };

export interface AcsRequestLogEntry {
  method: string;
  path: string;
  status: number;
  auth: 'hmac' | 'bearer' | 'none' | 'invalid';
  operationId: string | null;
}

export interface AcsEmailEmulatorOptions {
  /** Needed for bearer tokens (managed identity); without it only connection strings work. */
  identity?: ManagedIdentityEmulator;
  /** Retry-After (seconds) on the 202 and on `Running` polls; 1 by default. 0 lets the client's interval apply. */
  retryAfterInSeconds?: number;
  /**
   * Status polls answered `Running` before the final state; 2 by default: the client polls once at once, so the
   * second `Running` is what makes it wait Retry-After.
   */
  runningPolls?: number;
}

interface Operation {
  id: string;
  message: AcceptedMessage;
  pollsLeft: number;
  final: { status: 'Succeeded' } | { status: 'Failed'; code: string; message: string };
}

/**
 * ACS Email as `@azure/communication-email` sees it: `POST /emails:send` checks the HMAC-SHA256 signature of a
 * connection string (or a managed identity bearer token for https://communication.azure.com), answers `202` with an
 * absolute `Operation-Location` and `Retry-After`, and `GET /emails/operations/{id}` reports `Running`, then the final
 * status. A repeated `Operation-Id` is the same send (as the service treats it): no second message is recorded.
 */
export class AcsEmailEmulator {
  /** Every message accepted, one per distinct Operation-Id. */
  readonly messages: AcceptedMessage[] = [];
  readonly faults: AcsFault[] = [];
  /** Every request, in order. */
  readonly requests: AcsRequestLogEntry[] = [];
  /** Send requests that repeated a known Operation-Id. */
  repeatedOperationIds = 0;
  retryAfterInSeconds: number;
  runningPolls: number;
  readonly accessKey = randomBytes(32).toString('base64');
  private readonly operations = new Map<string, Operation>();

  private constructor(
    private readonly server: https.Server,
    readonly endpoint: string,
    readonly certificatePem: string,
    private readonly identity: ManagedIdentityEmulator | undefined,
    options: AcsEmailEmulatorOptions,
  ) {
    this.retryAfterInSeconds = options.retryAfterInSeconds ?? 1;
    this.runningPolls = options.runningPolls ?? 2;
  }

  static async start(options: AcsEmailEmulatorOptions = {}): Promise<AcsEmailEmulator> {
    const { cert, key } = await createTestCertificate();
    const server = https.createServer({ cert, key });
    const port = await listenOnLoopback(server);
    const emulator = new AcsEmailEmulator(
      server,
      `https://127.0.0.1:${port}`,
      cert,
      options.identity,
      options,
    );
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      emulator.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) send(res, 500, { error: { code: 'InternalError', message: String(error) } });
      });
    });
    return emulator;
  }

  /** `endpoint=https://127.0.0.1:<port>/;accesskey=<base64>`, as the portal shows it. */
  get connectionString(): string {
    return `endpoint=${this.endpoint}/;accesskey=${this.accessKey}`;
  }

  /** The status an operation has reached, or undefined for an unknown ID. */
  operationStatus(operationId: string): OperationStatus | undefined {
    const op = this.operations.get(operationId.toLowerCase());
    if (!op) return undefined;
    return op.pollsLeft > 0 ? 'Running' : op.final.status;
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private takeFault(on: 'send' | 'poll' | 'outcome'): AcsFault | undefined {
    const index = this.faults.findIndex((f) => f.on === on);
    return index < 0 ? undefined : this.faults.splice(index, 1)[0];
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', this.endpoint);
    const log = (status: number, auth: AcsRequestLogEntry['auth'], operationId: string | null = null) =>
      this.requests.push({ method: req.method ?? '', path: url.pathname, status, auth, operationId });

    const auth = this.authenticate(req, url, body);
    if (auth.kind === 'invalid' || auth.kind === 'none') {
      log(401, auth.kind);
      send(res, 401, { error: { code: 'Denied', message: auth.reason } });
      return;
    }
    if (url.searchParams.get('api-version') !== ACS_EMAIL_API_VERSION) {
      log(400, auth.kind);
      send(res, 400, {
        error: {
          code: 'BadRequest',
          message: `api-version must be ${ACS_EMAIL_API_VERSION}; got ${JSON.stringify(url.searchParams.get('api-version'))}`,
        },
      });
      return;
    }

    if (req.method === 'POST' && url.pathname === '/emails:send') {
      this.handleSend(req, res, body, auth.kind, log);
      return;
    }
    const poll = /^\/emails\/operations\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && poll) {
      this.handlePoll(res, decodeURIComponent(poll[1]!), auth.kind, log);
      return;
    }
    log(404, auth.kind);
    send(res, 404, { error: { code: 'NotFound', message: `No route for ${req.method} ${url.pathname}` } });
  }

  private handleSend(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
    auth: 'hmac' | 'bearer',
    log: (status: number, auth: AcsRequestLogEntry['auth'], operationId?: string | null) => void,
  ): void {
    const header = req.headers['operation-id'];
    const operationId = (typeof header === 'string' ? header : randomUUID()).toLowerCase();
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(operationId)) {
      log(400, auth, operationId);
      send(res, 400, { error: { code: 'BadRequest', message: 'Operation-Id must be a GUID.' } });
      return;
    }
    const fault = this.takeFault('send');
    if (fault && fault.on === 'send') {
      log(fault.status, auth, operationId);
      if (fault.status === 429) {
        send(
          res,
          429,
          {
            error: {
              code: 'TooManyRequests',
              message: 'Too many requests. Retry after the time in Retry-After.',
            },
          },
          { 'Retry-After': String(fault.retryAfterInSeconds ?? 1) },
        );
      } else {
        send(res, fault.status, { error: { code: 'ServiceUnavailable', message: 'Injected fault.' } });
      }
      return;
    }
    const known = this.operations.get(operationId);
    if (known) {
      // The same send again: the service answers with the existing operation and delivers nothing new.
      this.repeatedOperationIds += 1;
      log(202, auth, operationId);
      this.accepted(res, known);
      return;
    }
    if (body.length > MAX_REQUEST_BYTES) {
      log(413, auth, operationId);
      send(res, 413, {
        error: { code: 'RequestEntityTooLarge', message: 'The request is larger than 10 MB.' },
      });
      return;
    }
    const parsed = parseMessage(body);
    if (typeof parsed === 'string') {
      log(400, auth, operationId);
      send(res, 400, { error: { code: 'BadRequest', message: parsed } });
      return;
    }
    const message: AcceptedMessage = { ...parsed, operationId, auth, receivedAt: new Date() };
    const outcome = this.takeFault('outcome');
    const op: Operation = {
      id: operationId,
      message,
      pollsLeft: this.runningPolls,
      final:
        outcome && outcome.on === 'outcome'
          ? {
              status: 'Failed',
              code: outcome.code ?? 'EmailDroppedAllRecipientsSuppressed',
              message: outcome.message ?? 'Message dropped because all recipients were suppressed.',
            }
          : { status: 'Succeeded' },
    };
    this.operations.set(operationId, op);
    this.messages.push(message);
    log(202, auth, operationId);
    this.accepted(res, op);
  }

  private accepted(res: http.ServerResponse, op: Operation): void {
    send(
      res,
      202,
      { id: op.id, status: op.pollsLeft > 0 ? 'Running' : op.final.status },
      {
        'Operation-Location': `${this.endpoint}/emails/operations/${op.id}?api-version=${ACS_EMAIL_API_VERSION}`,
        'Retry-After': String(this.retryAfterInSeconds),
        'Operation-Id': op.id,
      },
    );
  }

  private handlePoll(
    res: http.ServerResponse,
    operationId: string,
    auth: 'hmac' | 'bearer',
    log: (status: number, auth: AcsRequestLogEntry['auth'], operationId?: string | null) => void,
  ): void {
    const fault = this.takeFault('poll');
    if (fault && fault.on === 'poll') {
      log(fault.status, auth, operationId);
      send(
        res,
        fault.status,
        {
          error: {
            code: fault.status === 429 ? 'TooManyRequests' : 'ServiceUnavailable',
            message: 'Injected fault.',
          },
        },
        fault.status === 429 ? { 'Retry-After': String(fault.retryAfterInSeconds ?? 1) } : {},
      );
      return;
    }
    const op = this.operations.get(operationId.toLowerCase());
    if (!op) {
      log(404, auth, operationId);
      send(res, 404, { error: { code: 'NotFound', message: `No operation ${operationId}.` } });
      return;
    }
    log(200, auth, operationId);
    if (op.pollsLeft > 0) {
      op.pollsLeft -= 1;
      send(res, 200, { id: op.id, status: 'Running' }, { 'Retry-After': String(this.retryAfterInSeconds) });
      return;
    }
    send(
      res,
      200,
      op.final.status === 'Failed'
        ? { id: op.id, status: 'Failed', error: { code: op.final.code, message: op.final.message } }
        : { id: op.id, status: 'Succeeded' },
    );
  }

  /** HMAC-SHA256 over `VERB\npath?query\ndate;host;content-hash`, or a bearer token for the ACS audience. */
  private authenticate(
    req: http.IncomingMessage,
    url: URL,
    body: Buffer,
  ): { kind: 'hmac' | 'bearer' } | { kind: 'none' | 'invalid'; reason: string } {
    const authorization = req.headers.authorization;
    if (!authorization) return { kind: 'none', reason: 'The Authorization header is missing.' };
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (bearer) {
      if (!this.identity)
        return { kind: 'invalid', reason: 'Bearer tokens are not accepted by this emulator.' };
      return this.identity.isValidToken(bearer[1]!, ACS_AUDIENCE)
        ? { kind: 'bearer' }
        : { kind: 'invalid', reason: `The token is not valid for ${ACS_AUDIENCE}.` };
    }
    const hmac = /^HMAC-SHA256 SignedHeaders=([^&]+)&Signature=(\S+)$/.exec(authorization);
    if (!hmac) return { kind: 'invalid', reason: 'Unsupported Authorization scheme.' };
    if (hmac[1] !== 'x-ms-date;host;x-ms-content-sha256') {
      return {
        kind: 'invalid',
        reason: `SignedHeaders must be x-ms-date;host;x-ms-content-sha256; got ${hmac[1]}`,
      };
    }
    const date = req.headers['x-ms-date'];
    const host = req.headers.host;
    const contentHash = req.headers['x-ms-content-sha256'];
    if (typeof date !== 'string' || typeof host !== 'string' || typeof contentHash !== 'string') {
      return { kind: 'invalid', reason: 'x-ms-date, Host and x-ms-content-sha256 are required.' };
    }
    if (!(Math.abs(Date.now() - Date.parse(date)) <= MAX_CLOCK_SKEW_IN_MS)) {
      return {
        kind: 'invalid',
        reason: `x-ms-date ${date} is more than 15 minutes from the service's clock.`,
      };
    }
    const actualHash = createHash('sha256').update(body).digest('base64');
    if (actualHash !== contentHash)
      return { kind: 'invalid', reason: 'x-ms-content-sha256 does not match the body.' };
    const query = url.searchParams.toString();
    const pathAndQuery = query ? `${url.pathname}?${query}` : url.pathname;
    const stringToSign = `${req.method ?? ''}\n${pathAndQuery}\n${date};${host};${contentHash}`;
    const expected = createHmac('sha256', Buffer.from(this.accessKey, 'base64'))
      .update(stringToSign, 'utf8')
      .digest();
    const given = Buffer.from(hmac[2]!, 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { kind: 'invalid', reason: 'The request signature does not match.' };
    }
    return { kind: 'hmac' };
  }
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-ms-request-id': randomUUID(),
    ...headers,
  });
  res.end(text);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates the body as the service does; a string is the 400 message. */
function parseMessage(body: Buffer): Omit<AcceptedMessage, 'operationId' | 'auth' | 'receivedAt'> | string {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return 'The request body is not valid JSON.';
  }
  if (!isObject(json)) return 'The request body must be an object.';
  const { senderAddress, recipients, content, attachments, headers, userEngagementTrackingDisabled } = json;
  if (typeof senderAddress !== 'string' || !senderAddress.includes('@')) return 'senderAddress is required.';
  if (!isObject(recipients) || !Array.isArray(recipients.to) || recipients.to.length === 0) {
    return 'recipients.to must name at least one recipient.';
  }
  const to: string[] = [];
  for (const r of recipients.to as unknown[]) {
    if (!isObject(r) || typeof r.address !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(r.address)) {
      return 'Every recipient needs a valid address.';
    }
    to.push(r.address);
  }
  if (!isObject(content) || typeof content.subject !== 'string') return 'content.subject is required.';
  if (typeof content.html !== 'string' && typeof content.plainText !== 'string') {
    return 'content needs html or plainText.';
  }
  const files: AcceptedMessage['attachments'] = [];
  if (attachments !== undefined) {
    if (!Array.isArray(attachments)) return 'attachments must be an array.';
    for (const a of attachments as unknown[]) {
      if (
        !isObject(a) ||
        typeof a.name !== 'string' ||
        typeof a.contentType !== 'string' ||
        typeof a.contentInBase64 !== 'string' ||
        !/^[A-Za-z0-9+/]*={0,2}$/.test(a.contentInBase64)
      ) {
        return 'Every attachment needs name, contentType and contentInBase64 (base64).';
      }
      files.push({
        name: a.name,
        contentType: a.contentType,
        content: Buffer.from(a.contentInBase64, 'base64'),
      });
    }
  }
  const extra: Record<string, string> = {};
  if (headers !== undefined) {
    if (!isObject(headers)) return 'headers must be an object of strings.';
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value !== 'string') return 'headers must be an object of strings.';
      extra[name] = value;
    }
  }
  return {
    senderAddress,
    to,
    subject: content.subject,
    plainText: typeof content.plainText === 'string' ? content.plainText : undefined,
    html: typeof content.html === 'string' ? content.html : undefined,
    attachments: files,
    headers: extra,
    userEngagementTrackingDisabled:
      typeof userEngagementTrackingDisabled === 'boolean' ? userEngagementTrackingDisabled : undefined,
  };
}
