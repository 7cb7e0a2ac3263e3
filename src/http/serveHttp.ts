// The local adapter: a node:http server that runs the Functions' own handlers with real HttpRequest/InvocationContext.

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type Duplex, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import {
  type HttpHandler,
  HttpRequest,
  HttpResponse,
  type HttpResponseInit,
  InvocationContext,
} from '@azure/functions';

import { ConfigError, describeError, sanitize } from '../errors';
import { PROBLEM_CONTENT_TYPE, problemResponse } from './problem';
import { parseRequestTarget } from './requestTarget';
import { API_ROUTES, type ApiRoute, ROUTE_PREFIX, type RouteName } from './routes';
import { isLoopbackAddress, presentsServeKey } from './serveAccess';

/** A handler per route; a route without one is not served (404), as when its Function is not deployed. */
export type ApiHandlers = Partial<Record<RouteName, HttpHandler>>;

export const DEFAULT_PORT = 7071;
export const DEFAULT_HOST = '127.0.0.1';
/**
 * The adapter stops reading a body beyond this (the Functions host buffers up to 100 MB); the route's
 * own, smaller limit then answers 413 with its own detail.
 */
export const ADAPTER_MAX_BODY_BYTES = 1024 * 1024;

export interface ServeOptions {
  handlers: ApiHandlers;
  /** 7071 by default, like `func start`; 0 picks a free port. */
  port?: number;
  /** 127.0.0.1 by default. Any address that is not loopback needs `key`: serveHttp refuses to start without one. */
  host?: string;
  /**
   * The key every route but the anonymous ones requires, like a function key: the `x-functions-key` header or
   * `?code=`. Null or absent: no key, which only a loopback address allows.
   */
  key?: string | null;
  maxBodyBytes?: number;
  /** One line per request (method, path without query, status, time) and the handlers' logs. */
  log?: (line: string) => void;
}

export interface RunningServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Whether requests must present the key (a key was given). */
  keyRequired: boolean;
  close(): Promise<void>;
}

interface RouteMatcher {
  name: RouteName;
  route: ApiRoute;
  pattern: RegExp;
  params: string[];
}

function matchers(handlers: ApiHandlers): RouteMatcher[] {
  return (Object.keys(API_ROUTES) as RouteName[])
    .filter((name) => handlers[name])
    .map((name) => {
      const route: ApiRoute = API_ROUTES[name];
      const params: string[] = [];
      const source = route.route
        .split('/')
        .map((segment) => {
          const param = /^\{(\w+)\}$/.exec(segment);
          if (param?.[1]) {
            params.push(param[1]);
            return '([^/]+)';
          }
          return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        })
        .join('/');
      return { name, route, params, pattern: new RegExp(`^/${ROUTE_PREFIX}/${source}/?$`, 'i') };
    });
}

/** Methods the fetch Request (and so HttpRequest) refuses to construct. */
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

class BodyTooLargeError extends Error {}

function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      reject(new BodyTooLargeError());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new BodyTooLargeError());
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    // A client that hangs up mid-body sends neither `end` nor always `error`: settle instead of waiting forever.
    req.on('close', () => {
      if (!req.complete) reject(new Error('the client closed the connection before the whole body arrived'));
    });
  });
}

function flatHeaders(req: http.IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** Responses whose request was already answered from the socket (its body could not be parsed): never written. */
const superseded = new WeakSet<http.ServerResponse>();

async function writeResponse(
  res: http.ServerResponse,
  result: HttpResponseInit | HttpResponse,
  method: string,
): Promise<number> {
  if (superseded.has(res)) return 400;
  if (!(result instanceof HttpResponse) && result.body instanceof Readable) {
    return writeStream(res, result, result.body, method);
  }
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  const status = response.status;
  // A string body is encoded directly: through the Response stream, a 100 MB report took ~0.5 s more.
  const body =
    !(result instanceof HttpResponse) && typeof result.body === 'string'
      ? Buffer.from(result.body, 'utf8')
      : Buffer.from(await response.arrayBuffer());
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') res.setHeader(name, value);
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) res.setHeader('set-cookie', cookies);
  const bodyless = method === 'HEAD' || status === 204 || status === 304;
  if (!bodyless) res.setHeader('content-length', body.length);
  res.writeHead(status);
  res.end(bodyless ? undefined : body);
  return status;
}

/** A streamed body (the evidence zip) goes out as it is produced, with backpressure, as the Functions host streams it. */
async function writeStream(
  res: http.ServerResponse,
  result: HttpResponseInit,
  body: Readable,
  method: string,
): Promise<number> {
  const status = result.status ?? 200;
  new Headers(result.headers).forEach((value, name) => res.setHeader(name, value));
  res.writeHead(status);
  if (method === 'HEAD') {
    body.destroy();
    res.end();
    return status;
  }
  await pipeline(body, res);
  return status;
}

/** Parser errors Node reports on `clientError`, and what the client is told. */
const CLIENT_ERRORS: Record<string, [status: number, reason: string, detail: string]> = {
  HPE_HEADER_OVERFLOW: [
    431,
    'Request Header Fields Too Large',
    'The request line and headers are larger than this server reads (16 KiB).',
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'The request did not arrive in time.'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Content Too Large', 'The chunk extensions are too large.'],
};

/**
 * A whole HTTP/1.1 response with a problem+json body, written straight to a socket: for requests Node's parser
 * refused (no ServerResponse exists) and for CONNECT, which Node hands over as a bare socket.
 */
function rawProblem(
  status: number,
  reason: string,
  detail: string,
  options: { head?: boolean } = {},
): string {
  const { body } = problemResponse(status, detail);
  const text = typeof body === 'string' ? body : '';
  const headers = {
    'Content-Type': PROBLEM_CONTENT_TYPE,
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    Connection: 'close',
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  // A response to HEAD has no body, even when the rest of the request could not be parsed.
  return `HTTP/1.1 ${status} ${reason}\r\n${lines.join('\r\n')}\r\n\r\n${options.head ? '' : text}`;
}

/** Control characters and secrets out of a client-chosen string before it reaches a log line. */
function loggable(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this replaces
  return sanitize(text.slice(0, 200)).replace(/[\u0000-\u001F\u007F]/g, '?');
}

/**
 * Serves `/api/...` with the given handlers. Each request becomes a real `HttpRequest` (URL, headers,
 * body bytes, route params) and `InvocationContext`; the handler's `HttpResponseInit` goes back as is.
 * Unknown paths are 404 and unreadable requests 400/401/405/413/431, all as problem+json; nothing a client
 * sends ends the process. The request URL the handlers see is the server's own address plus the checked path
 * and query: never the Host header or an authority in the request target.
 */
export async function serveHttp(options: ServeOptions): Promise<RunningServer> {
  const routes = matchers(options.handlers);
  const maxBodyBytes = options.maxBodyBytes ?? ADAPTER_MAX_BODY_BYTES;
  const log = options.log ?? (() => undefined);
  const host = options.host ?? DEFAULT_HOST;
  const key = options.key ?? null;
  let origin = '';
  // Requests are served only once the bound address has been checked against the key rule.
  let armed = false;
  /** Requests being answered per socket (pipelining may queue several): a parser error there must not write. */
  const answering = new Map<Socket, number>();
  /** The latest request per socket, and its response: a parser error while its body arrives belongs to it. */
  const latest = new WeakMap<Duplex, { req: http.IncomingMessage; res: http.ServerResponse }>();

  const problem = (res: http.ServerResponse, method: string, status: number, detail: string, extra = {}) =>
    writeResponse(res, problemResponse(status, detail, {}, extra), method);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const started = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    let shown = loggable((req.url ?? '').split('?')[0] ?? '');
    let status = 500;
    try {
      // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400 (Node's own check answers without a body).
      if (req.httpVersion === '1.1' && req.headers.host === undefined) {
        res.setHeader('connection', 'close');
        status = await problem(res, method, 400, 'An HTTP/1.1 request needs a Host header.');
        return;
      }
      const target = parseRequestTarget(req.url ?? '');
      if ('problem' in target) {
        res.setHeader('connection', 'close');
        status = await problem(res, method, 400, target.problem);
        return;
      }
      // Resolved against the server's own origin: `//host/…` stays a path, and dot segments are resolved.
      const url = new URL(`${origin}${target.pathname}${target.search}`);
      shown = loggable(url.pathname);
      const match = routes
        .map((m) => ({ m, groups: m.pattern.exec(url.pathname) }))
        .find((candidate) => candidate.groups !== null);
      if (!match?.groups) {
        status = await problem(
          res,
          method,
          404,
          `Nothing is served at ${url.pathname.slice(0, 100)}. The API's routes are listed at /${ROUTE_PREFIX}/openapi.json.`,
        );
        return;
      }
      const { m, groups } = match;
      // Like the Functions host: the key is checked before anything else of a function-level route.
      if (key !== null && m.route.authLevel !== 'anonymous') {
        const header = req.headers['x-functions-key'];
        if (!presentsServeKey(key, { header, query: url.searchParams })) {
          status = await problem(
            res,
            method,
            401,
            `This server requires its key (AUDIT_SERVE_KEY or --key): send it in the x-functions-key header, or as ?code=, as for a function key.`,
          );
          return;
        }
      }
      if (FORBIDDEN_METHODS.has(method)) {
        status = await problem(
          res,
          method,
          405,
          `${method} is not supported here. Use ${m.route.methods.join(' or ')}.`,
          {
            Allow: m.route.methods.join(', '),
          },
        );
        return;
      }
      const params: Record<string, string> = {};
      try {
        m.params.forEach((name, i) => (params[name] = decodeURIComponent(groups[i + 1] ?? '')));
      } catch {
        status = await problem(res, method, 400, 'The path has a malformed percent-encoding.');
        return;
      }
      let body: Buffer;
      try {
        body = await readBody(req, maxBodyBytes);
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        res.setHeader('connection', 'close');
        status = await problem(
          res,
          method,
          413,
          `The body is larger than ${maxBodyBytes} bytes; no route of this API takes that much.`,
        );
        return;
      }
      let request: HttpRequest;
      try {
        request = new HttpRequest({
          method,
          url: url.href,
          headers: flatHeaders(req),
          params,
          ...(body.length && method !== 'GET' && method !== 'HEAD' ? { body: { bytes: body } } : {}),
        });
      } catch (error) {
        // Node's parser let through something the fetch Request refuses (a header value, a method).
        status = await problem(
          res,
          method,
          400,
          `The request cannot be read: ${loggable(describeError(error))}`,
        );
        return;
      }
      const context = new InvocationContext({
        invocationId: randomUUID(),
        functionName: m.name,
        logHandler: (level, ...args) => log(`[${m.name}] ${level}: ${args.map(String).join(' ')}`),
      });
      const handler = options.handlers[m.name] as HttpHandler;
      const result = await handler(request, context);
      status = await writeResponse(res, result ?? { status: 204 }, method);
    } catch (error) {
      log(`${method} ${shown} failed in the adapter: ${describeError(error)}`);
      if (!res.headersSent && !res.destroyed) {
        status = await problem(res, method, 500, `The local adapter failed: ${describeError(error)}`);
      } else {
        res.destroy();
      }
    } finally {
      log(`${loggable(method)} ${shown} ${status} ${Date.now() - started} ms`);
    }
  };

  // The Host check is ours (above), so that its 400 carries a problem+json too.
  const server = http.createServer({ requireHostHeader: false }, (req, res) => {
    if (!armed) {
      res.destroy();
      return;
    }
    const socket = req.socket;
    latest.set(socket, { req, res });
    answering.set(socket, (answering.get(socket) ?? 0) + 1);
    res.on('close', () => {
      const left = (answering.get(socket) ?? 1) - 1;
      if (left > 0) answering.set(socket, left);
      else answering.delete(socket);
    });
    // eslint-disable-next-line no-restricted-syntax -- Node's request listener cannot await: this promise is the request's handling and ends with its response
    handle(req, res).catch((error: unknown) => {
      // handle() catches everything itself; this is the last line, so a bug there costs one connection only.
      log(`The adapter could not answer a request: ${describeError(error)}`);
      res.destroy();
    });
  });
  // Requests Node's parser refuses (bad request line, bad header, headers too large, timeouts): answered with a
  // problem+json instead of Node's bare status line, unless a response to that socket is already under way.
  server.on('clientError', (error: NodeJS.ErrnoException & { rawPacket?: unknown }, socket: Duplex) => {
    // Whose bytes failed: the body of the latest request (its head was read and a handler has it), or a new request.
    const current = latest.get(socket);
    const owner = current && !current.req.complete ? current.res : undefined;
    // A second answer to one request, or one written between another request's answer, would corrupt the stream.
    const answered = owner ? owner.headersSent : answering.has(socket as Socket);
    if (error.code === 'ECONNRESET' || !socket.writable || answered) {
      socket.destroy();
      return;
    }
    // The handler still waiting for that body must not answer as well: this answer is its request's.
    if (owner) superseded.add(owner);
    const [status, reason, detail] = CLIENT_ERRORS[error.code ?? ''] ?? [
      400,
      'Bad Request',
      'The request is not valid HTTP/1.1 (its request line, a header or the body framing could not be parsed).',
    ];
    log(`Refused an unparseable request (${loggable(error.code ?? error.message)}): ${status}`);
    const head = owner
      ? current?.req.method === 'HEAD'
      : Buffer.isBuffer(error.rawPacket) && error.rawPacket.subarray(0, 5).toString('latin1') === 'HEAD ';
    socket.end(rawProblem(status, reason, detail, { head }));
  });
  // An Expect other than 100-continue: Node would answer a bare 417 itself.
  server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!armed) {
      res.destroy();
      return;
    }
    res.setHeader('connection', 'close');
    const detail = 'Only Expect: 100-continue is supported; send the request without Expect.';
    // eslint-disable-next-line no-restricted-syntax -- the listener cannot await: this promise writes the response itself
    problem(res, req.method ?? 'GET', 417, detail).catch(() => res.destroy());
  });
  // CONNECT is handed over as a bare socket; without this listener Node closes it with no answer at all.
  server.on('connect', (_req: http.IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    socket.end(rawProblem(405, 'Method Not Allowed', 'CONNECT is not supported: this is not a proxy.'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port, address } = server.address() as AddressInfo;
  if (key === null && !isLoopbackAddress(address)) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw new ConfigError(
      `Invalid settings:\n  - AUDIT_SERVE_KEY (or --key) must be set to serve on ${host}, which is not a loopback address: without a key anyone who can reach it could read reports, start audits and send email (example: AUDIT_SERVE_KEY=<openssl rand -base64 32>)`,
      ['AUDIT_SERVE_KEY'],
    );
  }
  const shownHost = host.includes(':') ? `[${host}]` : host;
  origin = `http://${shownHost === '0.0.0.0' || shownHost === '[::]' ? '127.0.0.1' : shownHost}:${port}`;
  armed = true;
  let closed: Promise<void> | undefined;
  return {
    url: origin,
    port,
    keyRequired: key !== null,
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
