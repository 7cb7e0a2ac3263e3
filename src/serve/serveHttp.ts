// The local adapter: a node:http server that runs the Functions' own handlers with real HttpRequest/InvocationContext.

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import {
  type HttpHandler,
  HttpRequest,
  HttpResponse,
  type HttpResponseInit,
  InvocationContext,
} from '@azure/functions';

import { describeError } from '../errors';
import { hostEvidence } from '../evidence/hostEvidence';
import { emailRunHandler } from '../handlers/emailRunHandler';
import { evidenceHandler } from '../handlers/evidenceHandler';
import { type HealthDependencies, healthHandler } from '../handlers/healthHandler';
import { openApiHandler } from '../handlers/openApiHandler';
import { type ReportDependencies, reportHandler } from '../handlers/reportHandler';
import { type RunDependencies, runHandler } from '../handlers/runHandler';
import { type RunsDependencies, runsHandler } from '../handlers/runsHandler';
import { type AuditStarter, startAuditHandler } from '../handlers/startAuditHandler';
import { verificationHandler } from '../handlers/verificationHandler';
import { problemResponse } from '../http/problem';
import { API_ROUTES, type ApiRoute, ROUTE_PREFIX, type RouteName } from '../http/routes';
import { hostEmail, type NotifyHost } from '../notify';

/** Everything the handlers need together; an AuditService is one (email is built from it on first use). */
export type ApiDependencies = ReportDependencies &
  RunsDependencies &
  RunDependencies &
  AuditStarter &
  Omit<HealthDependencies, 'emailHealth'> &
  NotifyHost;

/** A handler per route; a route without one is not served (404), as when its Function is not deployed. */
export type ApiHandlers = Partial<Record<RouteName, HttpHandler>>;

/** The same handler factories the Functions registrations use, one per route; `extra` adds or replaces routes. */
export function createApiHandlers(deps: ApiDependencies, extra: ApiHandlers = {}): ApiHandlers {
  const email = hostEmail(deps);
  const evidence = hostEvidence(deps);
  return {
    report: reportHandler(deps),
    runs: runsHandler(deps),
    run: runHandler(deps),
    startAudit: startAuditHandler({
      config: deps.config,
      start: (options) => deps.start(options),
      notify: email.notify,
    }),
    emailRun: emailRunHandler({ notify: email.notify }),
    runEvidence: evidenceHandler(evidence),
    runVerification: verificationHandler(evidence),
    health: healthHandler({
      config: deps.config,
      get store() {
        return deps.store;
      },
      emailHealth: email.health,
      evidenceHealth: (options) => evidence.health(options),
    }),
    openApi: openApiHandler(),
    ...extra,
  };
}

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
  /** 127.0.0.1 by default: the adapter checks no function keys, so it stays on loopback unless told otherwise. */
  host?: string;
  maxBodyBytes?: number;
  /** One line per request (method, path without query, status, time) and the handlers' logs. */
  log?: (line: string) => void;
}

export interface RunningServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
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

async function writeResponse(
  res: http.ServerResponse,
  result: HttpResponseInit | HttpResponse,
  method: string,
): Promise<number> {
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

/**
 * Serves `/api/...` with the given handlers. Each request becomes a real `HttpRequest` (URL, headers,
 * body bytes, route params) and `InvocationContext`; the handler's `HttpResponseInit` goes back as is.
 * Unknown paths are 404 and unreadable requests 400/405/413, all as problem+json.
 */
export async function serveHttp(options: ServeOptions): Promise<RunningServer> {
  const routes = matchers(options.handlers);
  const maxBodyBytes = options.maxBodyBytes ?? ADAPTER_MAX_BODY_BYTES;
  const log = options.log ?? (() => undefined);
  const host = options.host ?? DEFAULT_HOST;
  let origin = '';

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const started = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    // The origin is the server's own address, never the Host header, so links in responses cannot be pointed elsewhere.
    const url = new URL(req.url ?? '/', origin);
    let status = 500;
    try {
      const match = routes
        .map((m) => ({ m, groups: m.pattern.exec(url.pathname) }))
        .find((candidate) => candidate.groups !== null);
      if (!match?.groups) {
        status = await writeResponse(
          res,
          problemResponse(
            404,
            `Nothing is served at ${url.pathname.slice(0, 100)}. The API's routes are listed at /${ROUTE_PREFIX}/openapi.json.`,
          ),
          method,
        );
        return;
      }
      const { m, groups } = match;
      if (FORBIDDEN_METHODS.has(method)) {
        status = await writeResponse(
          res,
          problemResponse(
            405,
            `${method} is not supported here. Use ${m.route.methods.join(' or ')}.`,
            {},
            {
              Allow: m.route.methods.join(', '),
            },
          ),
          method,
        );
        return;
      }
      const params: Record<string, string> = {};
      try {
        m.params.forEach((name, i) => (params[name] = decodeURIComponent(groups[i + 1] ?? '')));
      } catch {
        status = await writeResponse(
          res,
          problemResponse(400, 'The path has a malformed percent-encoding.'),
          method,
        );
        return;
      }
      let body: Buffer;
      try {
        body = await readBody(req, maxBodyBytes);
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        res.setHeader('connection', 'close');
        status = await writeResponse(
          res,
          problemResponse(
            413,
            `The body is larger than ${maxBodyBytes} bytes; no route of this API takes that much.`,
          ),
          method,
        );
        return;
      }
      const request = new HttpRequest({
        method,
        url: url.href,
        headers: flatHeaders(req),
        params,
        ...(body.length && method !== 'GET' && method !== 'HEAD' ? { body: { bytes: body } } : {}),
      });
      const context = new InvocationContext({
        invocationId: randomUUID(),
        functionName: m.name,
        logHandler: (level, ...args) => log(`[${m.name}] ${level}: ${args.map(String).join(' ')}`),
      });
      const handler = options.handlers[m.name] as HttpHandler;
      const result = await handler(request, context);
      status = await writeResponse(res, result ?? { status: 204 }, method);
    } catch (error) {
      log(`${method} ${url.pathname} failed in the adapter: ${describeError(error)}`);
      if (!res.headersSent) {
        status = await writeResponse(
          res,
          problemResponse(500, `The local adapter failed: ${describeError(error)}`),
          method,
        );
      } else {
        res.destroy();
      }
    } finally {
      log(`${method} ${url.pathname} ${status} ${Date.now() - started} ms`);
    }
  };

  const server = http.createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  origin = `http://${shownHost === '0.0.0.0' || shownHost === '[::]' ? '127.0.0.1' : shownHost}:${port}`;
  let closed: Promise<void> | undefined;
  return {
    url: origin,
    port,
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
