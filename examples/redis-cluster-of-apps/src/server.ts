/**
 * @module server
 * One app process: Express with one limit kept in Redis, so every process started with the
 * same `REDIS_URL` shares it. Listens on 127.0.0.1:$PORT (`PORT=0`: a free port) and prints
 * `listening on http://127.0.0.1:<port>` once ready.
 *
 * The policy: every client — keyed by its `X-Api-Key` header, else by `req.ip` — may make 5
 * requests per 10 s, all 5 back to back, never held (`maxDelay: 0`): past that, 429 with
 * `Retry-After`.
 */

import type { AddressInfo } from 'node:net';
import { RedisBackend } from '@freqlimit/core/redis';
import { freqLimit } from '@freqlimit/express';
import express from 'express';
import { Redis } from 'ioredis';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error('set REDIS_URL, e.g. redis://127.0.0.1:6379');

const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
const backend = new RedisBackend(redis, { prefix: process.env.REDIS_PREFIX ?? 'freqlimit:' });

const app = express();
app.use(
  freqLimit({
    name: 'api',
    limit: 5,
    period: 10_000,
    burst: 5,
    maxDelay: 0,
    backend,
    keyFn: (req) => req.get('x-api-key') ?? req.ip,
  }),
);
app.get('/', (req, res) => {
  res.json({ pid: process.pid, remaining: req.freqLimit?.limits[0]?.remaining ?? null });
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`listening on http://127.0.0.1:${port} (pid ${process.pid})`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.closeAllConnections();
    server.close(() => {
      redis.quit().finally(() => process.exit(0));
    });
  });
}
