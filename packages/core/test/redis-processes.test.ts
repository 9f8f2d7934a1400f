import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './redis-harness.js';

const run = promisify(execFile);
const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));
const child = fileURLToPath(new URL('./redis-child.ts', import.meta.url));

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
}, 60_000);
afterAll(() => server?.stop());

describe('RedisBackend shared by several processes', () => {
  it('4 processes on one key admit at most burst + rate × elapsed', async () => {
    const params = { limit: 100, period: 1000, burst: 5 };
    const env = {
      ...process.env,
      REDIS_URL: server.url,
      KEY: `shared:${Math.random()}`,
      START: String(Date.now() + 2000), // children take a moment to boot
      DURATION: '2000',
      PARAMS: JSON.stringify(params),
    };
    const outputs = await Promise.all(
      [1, 2, 3, 4].map(() => run(tsx, [child], { env, timeout: 15_000 })),
    );
    const results = outputs.map(
      (o) =>
        JSON.parse(o.stdout.trim()) as {
          allowed: number;
          attempts: number;
          first: number;
          last: number;
        },
    );
    const admitted = results.reduce((sum, r) => sum + r.allowed, 0);
    // Every admission happened between the earliest send and the latest reply.
    const elapsed =
      Math.max(...results.map((r) => r.last)) - Math.min(...results.map((r) => r.first));
    const rate = params.limit / params.period;
    expect(admitted).toBeLessThanOrEqual(params.burst + rate * elapsed + 1);
    // Not vacuous: the processes really competed, and the limit was reached.
    for (const r of results) expect(r.attempts).toBeGreaterThan(r.allowed);
    expect(admitted).toBeGreaterThanOrEqual(rate * elapsed * 0.8);
    expect(elapsed).toBeGreaterThan(1000);
  }, 20_000);
});
