/**
 * Serving a Node `http.Server` for the adapter suite: wait until it listens on 127.0.0.1, and
 * close it with every connection it holds.
 */

import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Served } from './adapter-suite.js';

/** Waits for `server` to listen; `ran` and `errors` are the harness's counters. */
export async function listening(
  server: Server,
  ran: () => number,
  errors: unknown[],
): Promise<Served> {
  if (!server.listening) await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    ran,
    errors,
    async close() {
      server.closeAllConnections();
      const closed = once(server, 'close');
      server.close();
      await closed;
    },
  };
}
