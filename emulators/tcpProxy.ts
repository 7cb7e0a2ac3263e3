// A loopback TCP proxy that plays network faults in front of any server (Azurite for Table Storage outages).
//
// Start it in front of a target, point the client at `proxy.port` instead, and switch `setMode()` at any time:
// - `pass` (default): bytes flow both ways untouched;
// - `hang`: connections are accepted (new ones too) and nothing is forwarded either way; bytes already sent wait,
//   and flow again when the mode goes back to `pass` or `delay` (a network stall, not a loss). Clients see a
//   request that never answers;
// - `refuse`: the proxy stops listening (new connections get ECONNREFUSED) and resets the open ones; it listens
//   again on the same port when the mode changes;
// - `reset`: new connections are accepted and reset at once (ECONNRESET), and the open ones are reset;
// - `delay`: like `pass`, with `delayInMs` added before each chunk in each direction (a slow link: order is kept
//   and a slow reader slows the writer, as TCP backpressure does).
// `close()` resets every connection and stops listening; nothing of the proxy outlives it.

import { once } from 'node:events';
import net from 'node:net';

export type TcpProxyMode = 'pass' | 'hang' | 'refuse' | 'reset' | 'delay';

export interface TcpProxyStats {
  /** Connections accepted (reset ones included). */
  connections: number;
  /** Connections open now. */
  open: number;
  /**
   * Connections whose client has not closed or ended its side: what the client still holds. A client that gives
   * up on a request closes its connection, which `open` shows only once the stalled other side ends too.
   */
  clientsOpen: number;
  bytesToTarget: number;
  bytesFromTarget: number;
}

/** Chunks queued in one direction before the sender is paused. */
const HIGH_WATER_CHUNKS = 16;

/** One direction of one connection: reads `from`, writes `to`, obeying the proxy's mode. */
class Pipe {
  private readonly queue: Buffer[] = [];
  private pumping = false;
  private ended = false;

  constructor(
    private readonly from: net.Socket,
    private readonly to: net.Socket,
    private readonly proxy: TcpProxy,
    private readonly count: (bytes: number) => void,
  ) {
    from.on('data', (chunk: Buffer) => {
      this.queue.push(chunk);
      if (this.queue.length >= HIGH_WATER_CHUNKS) from.pause();
      void this.pump();
    });
    from.on('end', () => {
      this.ended = true;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        await this.proxy.gate();
        if (this.proxy.delayInMs > 0 && this.proxy.mode === 'delay')
          await this.proxy.pause(this.proxy.delayInMs);
        if (this.to.destroyed || this.proxy.closed) return;
        const chunk = this.queue.shift() as Buffer;
        this.count(chunk.length);
        if (!this.to.write(chunk)) await Promise.race([once(this.to, 'drain'), once(this.to, 'close')]);
        if (this.queue.length < HIGH_WATER_CHUNKS / 4 && !this.from.destroyed) this.from.resume();
      }
      if (this.ended && !this.to.destroyed) this.to.end();
    } catch {
      // The connection went away while a chunk waited: nothing left to forward.
    } finally {
      this.pumping = false;
    }
  }
}

export class TcpProxy {
  readonly stats: TcpProxyStats = {
    connections: 0,
    open: 0,
    clientsOpen: 0,
    bytesToTarget: 0,
    bytesFromTarget: 0,
  };
  /** Added before each forwarded chunk in `delay` mode. */
  delayInMs = 0;
  private current: TcpProxyMode = 'pass';
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private waiting: (() => void)[] = [];
  private listening = true;
  private isClosed = false;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** Listens on a free loopback port and forwards to `target`. */
  static async start(
    target: { host: string; port: number },
    options: { mode?: TcpProxyMode; delayInMs?: number } = {},
  ): Promise<TcpProxy> {
    // Half-open: each direction ends on its own, so bytes still queued (or delayed) after a FIN are delivered.
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port, target);
    server.on('connection', (socket) => proxy.accept(socket));
    if (options.delayInMs !== undefined) proxy.delayInMs = options.delayInMs;
    if (options.mode) await proxy.setMode(options.mode);
    return proxy;
  }

  get host(): string {
    return '127.0.0.1';
  }

  get mode(): TcpProxyMode {
    return this.current;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** `url` with its host and port replaced by the proxy's (for an endpoint or a connection string's URL). */
  rewrite(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = this.host;
    parsed.port = String(this.port);
    return parsed.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
  }

  /** Switches the fault; resolves once the proxy listens (or has stopped listening) accordingly. */
  async setMode(mode: TcpProxyMode, options: { delayInMs?: number } = {}): Promise<void> {
    if (this.isClosed) throw new Error('the proxy is closed');
    if (options.delayInMs !== undefined) this.delayInMs = options.delayInMs;
    this.current = mode;
    if (mode === 'refuse' || mode === 'reset') this.resetAll();
    if (mode === 'refuse' && this.listening) {
      this.listening = false;
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
    } else if (mode !== 'refuse' && !this.listening) {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.port, '127.0.0.1', () => {
          this.server.off('error', reject);
          resolve();
        });
      });
      this.listening = true;
    }
    if (mode !== 'hang') {
      const waiting = this.waiting;
      this.waiting = [];
      for (const release of waiting) release();
    }
  }

  /** Resolves when bytes may flow (at once unless the proxy hangs). */
  gate(): Promise<void> {
    if (this.current !== 'hang' || this.isClosed) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** A wait that `close()` cancels. */
  pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const release of this.waiting) release();
    this.waiting = [];
    this.resetAll();
    if (this.listening) {
      this.listening = false;
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
  }

  private resetAll(): void {
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private accept(client: net.Socket): void {
    this.stats.connections += 1;
    if (this.isClosed || this.current === 'reset' || this.current === 'refuse') {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    this.stats.open += 1;
    this.stats.clientsOpen += 1;
    let clientOpen = true;
    const clientGone = () => {
      if (!clientOpen) return;
      clientOpen = false;
      this.stats.clientsOpen -= 1;
    };
    client.once('end', clientGone);
    client.once('close', clientGone);
    this.track(client);
    const upstream = net.connect({ port: this.target.port, host: this.target.host, allowHalfOpen: true });
    this.track(upstream);
    let closed = 0;
    // A side that closes cleanly has already ended its direction (the pipes end the other side once drained); a
    // side that fails takes the other down with it.
    const onClose =
      (other: net.Socket) =>
      (hadError: boolean): void => {
        if (hadError) other.destroy();
        closed += 1;
        if (closed === 2) this.stats.open -= 1;
      };
    client.on('close', onClose(upstream));
    upstream.on('close', onClose(client));
    new Pipe(client, upstream, this, (n) => (this.stats.bytesToTarget += n));
    new Pipe(upstream, client, this, (n) => (this.stats.bytesFromTarget += n));
  }
}
