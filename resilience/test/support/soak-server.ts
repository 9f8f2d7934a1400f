/**
 * The soak's server, in a child process of its own (run with `--expose-gc`), so its RSS is the
 * app's alone: Express, one limit per `x-key` on an `InMemoryBackend`, and `/stats` answering
 * `{ rss, heapUsed, size }` after a full GC (`size` is the backend's live-key count).
 * Prints `{"port":N}` once it listens; stops on SIGTERM.
 *
 * Usage: `node --expose-gc --import tsx soak-server.ts`.
 */

import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemoryBackend } from '@freqlimit/core';
import { freqLimit } from '@freqlimit/express';
import express from 'express';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('soak-server.ts needs node --expose-gc');

const backend = new InMemoryBackend();
const app = express();
app.get('/stats', (_req, res) => {
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  res.json({ rss, heapUsed, size: backend.size });
});
/** 10 per 10 s, 10 back to back: a key lives about 1 s after its last request. */
app.get(
  '/',
  freqLimit({
    limit: 10,
    period: 10_000,
    burst: 10,
    maxDelay: 0,
    backend,
    keyFn: (req) => req.get('x-key'),
  }),
  (_req, res) => {
    res.json({ ok: true });
  },
);
const server = createServer(app);
server.listen(0, '127.0.0.1');
await once(server, 'listening');
process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
