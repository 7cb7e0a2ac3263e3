// Starting and stopping the emulators' HTTP(S) servers on a free loopback port.

import type * as http from 'node:http';
import type * as https from 'node:https';
import type { AddressInfo } from 'node:net';

type Server = http.Server | https.Server;

/** Listens on 127.0.0.1 at a free port and resolves the port. Short keep-alive so tests end promptly. */
export async function listenOnLoopback(server: Server): Promise<number> {
  server.keepAliveTimeout = 1000;
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
