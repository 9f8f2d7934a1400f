/**
 * One Redis per test file: found or started before its tests (see `startRedis`), with one
 * ioredis client; the client is closed and an own server stopped after them.
 */

import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { type RedisServer, startRedis } from './redis-harness.js';

/** Registers the file's hooks; `ready` receives the client and server before the first test. */
export function useRedis(ready: (redis: Redis, server: RedisServer) => void): void {
  let server: RedisServer | undefined;
  let redis: Redis | undefined;
  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
    ready(redis, server);
  }, 60_000);
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });
}
