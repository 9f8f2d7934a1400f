import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RedisBackend } from '@freqlimit/core/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../../packages/core/test/redis-harness.js';

const here = fileURLToPath(new URL('..', import.meta.url));
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));

let redis: RedisServer;
let client: Redis;
const prefix = `example:${process.pid}:`;
const apps: Array<{ child: ChildProcess; url: string; pid: number }> = [];

/** Starts `src/server.ts` as its own process and resolves with its URL once it listens. */
function startApp(prefix: string): Promise<{ child: ChildProcess; url: string; pid: number }> {
  const child = spawn(tsx, ['src/server.ts'], {
    cwd: here,
    env: { ...process.env, PORT: '0', REDIS_URL: redis.url, REDIS_PREFIX: prefix },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`app did not start: ${out}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`app exited with ${code}: ${out}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      // tsx runs the server in a child process of its own: take the pid the server prints.
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+) \(pid (\d+)\)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, pid: Number(match[2]) });
      }
    });
  });
}

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  apps.push(...(await Promise.all([startApp(prefix), startApp(prefix)])));
}, 60_000);

afterAll(async () => {
  await Promise.all(
    apps.map(
      ({ child }) =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve(undefined);
          child.once('exit', resolve);
          child.kill('SIGTERM');
        }),
    ),
  );
  client?.disconnect();
  await redis?.stop();
});

// Every test starts from an empty limit (all clients are 127.0.0.1, so they share one key).
// Each app's RedisBackend also remembers the rejections it was answered (its local rejection
// cache) until their retryAfter has passed — at most one emission interval, 2 s here — and a
// clear through another client does not reach it (core README, Failure modes): wait that out.
beforeEach(async () => {
  await new RedisBackend(client, { prefix }).clear();
  await new Promise((resolve) => setTimeout(resolve, 2_100));
});

describe('two Express processes sharing one limit through Redis', () => {
  it('admit together no more than the one limit allows', async () => {
    const [a, b] = apps;
    // 5 per 10 s, burst 5, maxDelay 0: across both apps only 5 pass now, plus one more per 2 s.
    const started = performance.now();
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => fetch(`${(i % 2 ? a : b)!.url}/`)),
    );
    const elapsed = performance.now() - started;
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ pid?: number }>));
    const admitted = responses.filter((r) => r.status === 200).length;
    const rejected = responses.filter((r) => r.status === 429);
    expect(admitted + rejected.length).toBe(40);
    expect(admitted).toBeGreaterThanOrEqual(5);
    expect(admitted).toBeLessThanOrEqual(5 + Math.floor(elapsed / 2000) + 1);
    for (const r of rejected)
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Both processes answered: 20 requests each, admitted or not.
    expect(new Set([a!.pid, b!.pid]).size).toBe(2);
    const admittedBy = bodies.map((body) => body.pid).filter((pid) => pid !== undefined);
    expect(admittedBy.every((pid) => pid === a!.pid || pid === b!.pid)).toBe(true);
  });

  it("see each other's reservations on the same client key", async () => {
    const [a, b] = apps;
    const get = async (app: (typeof apps)[number] | undefined) => {
      const res = await fetch(`${app!.url}/`);
      return { status: res.status, body: (await res.json()) as { remaining?: number } };
    };
    for (const left of [4, 3, 2])
      expect(await get(a)).toEqual({ status: 200, body: { pid: a!.pid, remaining: left } });
    for (const left of [1, 0])
      expect(await get(b)).toEqual({ status: 200, body: { pid: b!.pid, remaining: left } });
    expect((await get(a)).status).toBe(429);
    expect((await get(b)).status).toBe(429);
  });
});
