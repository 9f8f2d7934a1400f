/**
 * A child process that opens N raw TCP connections to a server at once, sends one
 * `GET <path>` on each, and prints one JSON line: per request its status, latency and
 * Server-Timing. Run as `node --import tsx flood-client.ts <port> <count> <path> <deadlineMs>`.
 *
 * Raw sockets, not fetch: a fetch pool would cap (or queue) the connections; here every
 * request really is in flight at once, and each socket is closed by its deadline at the latest.
 */

import { connect } from 'node:net';

export interface FloodResult {
  /** ms from the connect call to the end of the response. */
  ms: number;
  /** 0: no complete response before the deadline, or a socket error. */
  status: number;
  serverTiming: string | null;
  error?: string;
}

function one(port: number, path: string, deadlineMs: number): Promise<FloodResult> {
  return new Promise((resolve) => {
    const start = performance.now();
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const timing = /\r\nserver-timing: ([^\r]*)/i.exec(text);
      resolve({
        ms: performance.now() - start,
        status: status && error === undefined ? Number(status[1]) : 0,
        serverTiming: timing ? timing[1]! : null,
        ...(error === undefined ? {} : { error }),
      });
    };
    const timer = setTimeout(() => finish('deadline'), deadlineMs);
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish());
    socket.on('error', (error) => finish(String(error)));
  });
}

const [port, count, path, deadline] = process.argv.slice(2);
if (port === undefined || count === undefined || path === undefined || deadline === undefined) {
  throw new Error('usage: flood-client.ts <port> <count> <path> <deadlineMs>');
}
const results = await Promise.all(
  Array.from({ length: Number(count) }, () => one(Number(port), path, Number(deadline))),
);
process.stdout.write(`${JSON.stringify(results)}\n`);
