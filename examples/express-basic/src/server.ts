/**
 * @module server
 * Starts the app on 127.0.0.1:$PORT (default 3000). `PORT=0` picks a free port.
 *
 * Environment: `TRUST_PROXY` (Express `trust proxy`, e.g. `loopback`), `REDIS_URL` (share the
 * limits through Redis), `REDIS_PREFIX` (key prefix in Redis, default `freqlimit:`).
 */

import type { AddressInfo } from 'node:net';
import type { FreqLimitBackend } from '@freqlimit/express';
import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const trustProxy = process.env.TRUST_PROXY || false;

let backend: FreqLimitBackend | undefined;
let closeRedis = async (): Promise<void> => {};
if (process.env.REDIS_URL) {
  // Loaded only when asked for, so the in-memory app never needs ioredis.
  const { Redis } = await import('ioredis');
  const { RedisBackend } = await import('@freqlimit/core/redis');
  const redis = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1 });
  backend = new RedisBackend(redis, { prefix: process.env.REDIS_PREFIX ?? 'freqlimit:' });
  closeRedis = async () => {
    await redis.quit();
  };
}

const server = createApp({ backend, trustProxy }).listen(port, '127.0.0.1', () => {
  const { port: actual } = server.address() as AddressInfo;
  const store = backend ? 'Redis' : 'memory';
  console.log(`listening on http://127.0.0.1:${actual} (pid ${process.pid}, state in ${store})`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.closeAllConnections();
    server.close(() => {
      closeRedis().finally(() => process.exit(0));
    });
  });
}
