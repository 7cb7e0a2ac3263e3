// Starts Azurite (table, optionally queue and blob) in memory on free loopback ports, for tests, the demo and the benchmark.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { createTestCertificate } from './tls';

/** Azurite's well-known development account and its published key (not a secret). */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteInstance {
  /** `http://127.0.0.1:<port>/devstoreaccount1` */
  tableEndpoint: string;
  /** Connection string of the dev account with the table (and queue) endpoints. */
  connectionString: string;
  queueEndpoint?: string;
  /** `https://127.0.0.1:<port>/devstoreaccount1`, with `blob: true`: HTTPS and Entra ID (bearer) tokens, like a real account. */
  blobEndpoint?: string;
  /** The certificate the blob service presents; trust it (trustCertificate) before calling it. */
  blobCertificatePem?: string;
  /** Kills the Azurite processes and waits until they have exited. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartAzuriteOptions {
  /** Also start azurite-queue. */
  queue?: boolean;
  /**
   * Also start azurite-blob over HTTPS with `--oauth basic`: it accepts bearer tokens whose issuer is an Entra ID
   * STS and whose audience is https://storage.azure.com (the managed identity emulator issues such tokens), so the
   * app reaches it by identity as it reaches a real account; it checks no signature.
   */
  blob?: boolean;
  /** How long each service may take to accept connections; 20 s by default. */
  startTimeoutInMs?: number;
}

type Service = 'table' | 'queue' | 'blob';

const defaultStartTimeoutInMs = 20_000;
const stopTimeoutInMs = 5_000;
const portAttempts = 5;
const outputLimitInChars = 8_000;

/** Every Azurite this process started and has not seen exit, killed on exit so a crashed test leaves none behind. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: kill() is, and SIGKILL cannot be ignored.
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** Thrown when the chosen port was taken between picking it and Azurite binding it. */
class AddressInUseError extends Error {}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port of a probe server'));
      });
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function serviceScript(service: Service): string {
  // `require('azurite')` fails (see docs/azure-wire.md), so start the service's own bin entry.
  const packageDir = dirname(require.resolve('azurite/package.json'));
  return join(packageDir, 'dist', 'src', service, 'main.js');
}

/**
 * Exits Azurite when its parent is gone (ppid changes), covering what an 'exit' handler cannot: a test
 * worker killed with SIGKILL. Loaded with --import so the recorded PID stays the server's own.
 */
function watchdogImport(): string {
  const code = `const parent=${process.pid};setInterval(()=>{if(process.ppid!==parent)process.exit(0)},1000).unref();`;
  return `data:text/javascript,${encodeURIComponent(code)}`;
}

class ServiceProcess {
  private output = '';
  private readonly closed: Promise<void>;

  constructor(
    readonly service: Service,
    readonly port: number,
    private readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-outputLimitInChars);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    // 'close' comes after the stdio pipes are closed too, so nothing is left open for Jest to report.
    this.closed = new Promise((resolve) => child.once('close', () => resolve()));
    void this.closed.then(() => live.delete(child));
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  describeOutput(): string {
    const text = this.output.trim();
    return text ? `Azurite said:\n${text}` : 'Azurite printed nothing.';
  }

  async waitUntilReady(timeoutInMs: number): Promise<void> {
    const deadline = Date.now() + timeoutInMs;
    for (;;) {
      if (this.exited) {
        if (this.output.includes('EADDRINUSE')) throw new AddressInUseError(this.describeOutput());
        throw new Error(
          `azurite-${this.service} exited during startup (code ${String(this.child.exitCode)}, signal ${String(this.child.signalCode)}). ${this.describeOutput()}`,
        );
      }
      if ((await canConnect(this.port)) && !this.exited) return;
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(
          `azurite-${this.service} did not accept connections on 127.0.0.1:${this.port} within ${timeoutInMs} ms. ${this.describeOutput()}`,
        );
      }
      await delay(100);
    }
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), stopTimeoutInMs);
      await this.closed;
      clearTimeout(timer);
    }
    await this.closed;
  }
}

async function startService(
  service: Service,
  timeoutInMs: number,
  extraArgs: string[] = [],
): Promise<ServiceProcess> {
  installExitHook();
  const script = serviceScript(service);
  let lastError: unknown;
  for (let attempt = 1; attempt <= portAttempts; attempt++) {
    const port = await freePort();
    const args = [
      '--import',
      watchdogImport(),
      script,
      '--inMemoryPersistence',
      `--${service}Host`,
      '127.0.0.1',
      `--${service}Port`,
      String(port),
      '--skipApiVersionCheck',
      '--silent',
      '--disableTelemetry',
      '--loose',
      ...extraArgs,
    ];
    // cwd is Azurite's workspace; in memory it writes nothing there, but keep it out of the repository anyway.
    const child = spawn(process.execPath, args, { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    const proc = new ServiceProcess(service, port, child);
    try {
      await proc.waitUntilReady(timeoutInMs);
      return proc;
    } catch (error) {
      await proc.stop();
      lastError = error;
      // Another process took the port between the probe and Azurite's bind: pick another.
      if (!(error instanceof AddressInUseError)) throw error;
    }
  }
  throw new Error(
    `azurite-${service} could not bind a free port in ${portAttempts} attempts. ${(lastError as Error).message}`,
  );
}

/**
 * Starts azurite-table (and azurite-queue with `queue: true`) as child processes of this Node, in memory,
 * on free ports of 127.0.0.1, and resolves once they accept connections.
 */
export async function startAzurite(opts: StartAzuriteOptions = {}): Promise<AzuriteInstance> {
  const timeoutInMs = opts.startTimeoutInMs ?? defaultStartTimeoutInMs;
  const services: ServiceProcess[] = [];
  let certificateDir: string | undefined;
  const stop = async () => {
    await Promise.all(services.map((s) => s.stop()));
    if (certificateDir) rmSync(certificateDir, { recursive: true, force: true });
  };
  try {
    const table = await startService('table', timeoutInMs);
    services.push(table);
    const queue = opts.queue ? await startService('queue', timeoutInMs) : undefined;
    if (queue) services.push(queue);
    let blob: ServiceProcess | undefined;
    let blobCertificatePem: string | undefined;
    if (opts.blob) {
      // Azurite reads its certificate from files; they live only as long as this instance.
      const { cert, key } = await createTestCertificate();
      certificateDir = mkdtempSync(join(tmpdir(), 'azurite-blob-'));
      const certPath = join(certificateDir, 'cert.pem');
      const keyPath = join(certificateDir, 'key.pem');
      writeFileSync(certPath, cert);
      writeFileSync(keyPath, key, { mode: 0o600 });
      blob = await startService('blob', timeoutInMs, [
        '--oauth',
        'basic',
        '--cert',
        certPath,
        '--key',
        keyPath,
      ]);
      services.push(blob);
      blobCertificatePem = cert;
    }

    const tableEndpoint = `http://127.0.0.1:${table.port}/${AZURITE_ACCOUNT_NAME}`;
    const queueEndpoint = queue ? `http://127.0.0.1:${queue.port}/${AZURITE_ACCOUNT_NAME}` : undefined;
    const connectionString =
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${AZURITE_ACCOUNT_KEY};` +
      `TableEndpoint=${tableEndpoint};` +
      (queueEndpoint ? `QueueEndpoint=${queueEndpoint};` : '');
    return {
      tableEndpoint,
      connectionString,
      ...(queueEndpoint ? { queueEndpoint } : {}),
      ...(blob && blobCertificatePem
        ? { blobEndpoint: `https://127.0.0.1:${blob.port}/${AZURITE_ACCOUNT_NAME}`, blobCertificatePem }
        : {}),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
