// Why the local API could not listen, said so a person can act on it (a busy port, a privileged port, a bad host).

/** The local server could not listen; the message names the address and what to do. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** A ListenError for the errors `listen` reports (EADDRINUSE, EACCES, EADDRNOTAVAIL, ENOTFOUND); null for others. */
  static from(error: unknown, at: { port: number; host: string }): ListenError | null {
    const code = (error as { code?: unknown } | null)?.code;
    const address = `${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}`;
    switch (code) {
      case 'EADDRINUSE':
        return new ListenError(
          `port ${at.port} is already in use on ${at.host} (another \`serve\`, \`demo --keep\` or \`func start\`?). ` +
            `Stop that process, or pick another port with --port, for example --port ${at.port === 65535 ? 7072 : at.port + 1} (--port 0 picks a free one).`,
          code,
          { cause: error },
        );
      case 'EACCES':
        return new ListenError(
          `not allowed to listen on ${address}: ports below 1024 need privileges. Pick a port from 1024 up with --port (--port 0 picks a free one).`,
          code,
          { cause: error },
        );
      case 'EADDRNOTAVAIL':
      case 'ENOTFOUND':
        return new ListenError(
          `cannot listen on ${address}: ${at.host} is not an address of this machine. Use --host 127.0.0.1 (the default).`,
          code,
          { cause: error },
        );
      default:
        return null;
    }
  }
}
