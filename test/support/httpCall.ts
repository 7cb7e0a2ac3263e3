// Calls a handler the way the Functions host does: a real HttpRequest and InvocationContext, the response read back.

import { type HttpHandler, HttpRequest, HttpResponse, InvocationContext } from '@azure/functions';

export interface CallOptions {
  method?: string;
  /** Path and query, e.g. `/api/report?format=csv`. */
  url: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  params?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  /** The body as sent: `text` has a leading BOM removed by the UTF-8 decoder, these bytes keep it. */
  bytes: Buffer;
  json<T = unknown>(): T;
  logs: string[];
}

export const TEST_ORIGIN = 'https://fips-auditor.example.test';

export async function callHandler(handler: HttpHandler, options: CallOptions): Promise<CallResult> {
  const logs: string[] = [];
  const method = options.method ?? 'GET';
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? { string: options.body }
        : { bytes: options.body };
  const request = new HttpRequest({
    method,
    url: new URL(options.url, TEST_ORIGIN).href,
    headers: options.headers ?? {},
    params: options.params ?? {},
    ...(body ? { body } : {}),
  });
  const context = new InvocationContext({
    functionName: 'test',
    invocationId: `test-${Math.random().toString(16).slice(2)}`,
    logHandler: (level, ...args) => logs.push(`${level}: ${args.map(String).join(' ')}`),
  });
  const result = await handler(request, context);
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  const bytes = Buffer.from(await response.arrayBuffer());
  const text = new TextDecoder().decode(bytes);
  return {
    status: response.status,
    headers: response.headers,
    text,
    bytes,
    json: <T>() => JSON.parse(text) as T,
    logs,
  };
}
