// The TCP fault proxy plays each mode, and a Table Storage call through a hung link fails in bounded time.

import http from 'node:http';

import { TableClient } from '@azure/data-tables';

import { type AzuriteInstance, startAzurite } from '../../emulators/azurite';
import { closeServer, listenOnLoopback } from '../../emulators/loopbackServer';
import { TcpProxy } from '../../emulators/tcpProxy';
import { classifyAzureError } from '../../src/azure/classifyAzureError';
import { tableClientTimeoutOptions } from '../../src/azure/requestTimeoutPolicy';

jest.setTimeout(60_000);

let echo: http.Server;
let echoPort: number;
const proxies: TcpProxy[] = [];

async function proxyTo(port: number): Promise<TcpProxy> {
  const proxy = await TcpProxy.start({ host: '127.0.0.1', port });
  proxies.push(proxy);
  return proxy;
}

/** POSTs `body` through the proxy and resolves what came back; `signal` bounds the wait. */
function post(port: number, body: string, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: '/', agent: false, ...(signal ? { signal } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function caught(promise: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  try {
    await promise;
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  echo = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(`echo:${Buffer.concat(chunks).toString('utf8')}`));
  });
  echoPort = await listenOnLoopback(echo);
});

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await closeServer(echo);
});

describe('TcpProxy', () => {
  it('passes bytes both ways and counts them', async () => {
    const proxy = await proxyTo(echoPort);
    expect(await post(proxy.port, 'hello')).toBe('echo:hello');
    expect(proxy.stats.connections).toBe(1);
    expect(proxy.stats.bytesToTarget).toBeGreaterThan(5);
    expect(proxy.stats.bytesFromTarget).toBeGreaterThan(10);
  });

  it('hangs: a request gets no answer while it hangs, and the link works again afterwards', async () => {
    const proxy = await proxyTo(echoPort);
    await proxy.setMode('hang');
    const error = await caught(post(proxy.port, 'stalled', AbortSignal.timeout(300)));
    expect(error.name).toBe('AbortError');
    expect(proxy.stats.connections).toBe(1);
    expect(proxy.stats.bytesToTarget).toBe(0);
    await proxy.setMode('pass');
    expect(await post(proxy.port, 'again')).toBe('echo:again');
  });

  it('hangs a request in flight and lets it finish when the stall ends', async () => {
    const proxy = await proxyTo(echoPort);
    await proxy.setMode('hang');
    let settled = false;
    const answer = post(proxy.port, 'held').finally(() => (settled = true));
    while (proxy.stats.connections === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(settled).toBe(false);
    await proxy.setMode('pass');
    expect(await answer).toBe('echo:held');
  });

  it('refuses connections (ECONNREFUSED) and listens again on the same port', async () => {
    const proxy = await proxyTo(echoPort);
    await proxy.setMode('refuse');
    expect((await caught(post(proxy.port, 'x'))).code).toBe('ECONNREFUSED');
    await proxy.setMode('pass');
    expect(await post(proxy.port, 'back')).toBe('echo:back');
  });

  it('resets connections (ECONNRESET)', async () => {
    const proxy = await proxyTo(echoPort);
    await proxy.setMode('reset');
    expect((await caught(post(proxy.port, 'x'))).code).toBe('ECONNRESET');
    await proxy.setMode('pass');
    expect(await post(proxy.port, 'back')).toBe('echo:back');
  });

  it('delays each chunk and still delivers everything in order', async () => {
    const proxy = await proxyTo(echoPort);
    await proxy.setMode('delay', { delayInMs: 20 });
    const body = 'x'.repeat(200_000);
    expect(await post(proxy.port, body)).toBe(`echo:${body}`);
    expect(proxy.mode).toBe('delay');
  });

  it('closes cleanly with connections held open', async () => {
    const proxy = await proxyTo(echoPort);
    await proxy.setMode('hang');
    const held = caught(post(proxy.port, 'held'));
    while (proxy.stats.connections === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await proxy.close();
    expect((await held).code).toBe('ECONNRESET');
    expect(proxy.closed).toBe(true);
  });
});

describe('Table Storage behind a hung link', () => {
  let azurite: AzuriteInstance;

  beforeAll(async () => {
    azurite = await startAzurite();
  });

  afterAll(async () => {
    await azurite?.stop();
  });

  it('fails each attempt of a table operation after the request timeout, retries it, and recovers with the link', async () => {
    const target = new URL(azurite.tableEndpoint);
    const proxy = await proxyTo(Number(target.port));
    const connectionString = azurite.connectionString.replace(
      /TableEndpoint=[^;]+/,
      `TableEndpoint=${proxy.rewrite(azurite.tableEndpoint)}`,
    );
    const timeoutInMs = 300;
    const table = TableClient.fromConnectionString(connectionString, 'hungtable', {
      allowInsecureConnection: true,
      ...tableClientTimeoutOptions(timeoutInMs),
      retryOptions: { maxRetries: 2, retryDelayInMs: 10, maxRetryDelayInMs: 20 },
    });
    await proxy.setMode('hang');
    const error = await caught(table.createTable());

    const failure = classifyAzureError(error);
    expect(failure).toMatchObject({ kind: 'timeout', code: 'RequestTimeout', retryable: true });
    expect(error.message).toBe(
      `POST ${proxy.rewrite(azurite.tableEndpoint)}/Tables did not answer within ${timeoutInMs} ms`,
    );
    // The first attempt and the core pipeline's two retries, each on a connection of its own.
    expect(proxy.stats.connections).toBe(3);

    await proxy.setMode('pass');
    await table.createTable();
    await table.upsertEntity({ partitionKey: 'p', rowKey: 'r', value: 1 });
    expect((await table.getEntity<{ value: number }>('p', 'r')).value).toBe(1);
  });
});
