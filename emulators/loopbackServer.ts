// Starting and stopping the emulators' HTTP(S) servers on a free loopback port.

import type * as http from 'node:http';
import type * as https from 'node:https';
import type { AddressInfo } from 'node:net';

type Server = http.Server | https.Server;

/**
 * Listens on 127.0.0.1 at a free port and resolves the port. Keep-alive as a real service has it: Node's client
 * agent retires an idle socket a second before the `Keep-Alive: timeout=N` the server announces, so a 1 s
 * timeout made every request a new TLS handshake (114 per 360-pool audit). closeServer drops idle connections,
 * so tests still end promptly.
 */
export async function listenOnLoopback(server: Server): Promise<number> {
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Stops accepting and drops every open connection, idle or not, so no handle outlives the test. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
