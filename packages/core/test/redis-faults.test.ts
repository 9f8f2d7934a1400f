/**
 * RedisBackend under faults, against a real redis-server this file owns: killed and restarted,
 * frozen (SIGSTOP) and resumed, wiped (FLUSHALL, SCRIPT FLUSH) — all during steady load. Every
 * call settles within its timeout (plus slack for a busy machine), nothing is left unhandled,
 * and calls succeed again by themselves once Redis is back. Real time is needed here; the
 * assertions only use generous bounds and ordering.
 */

import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BackendTimeoutError } from '../src/errors.js';
import { RedisBackend } from '../src/redis.js';
import { type OwnedRedisServer, startOwnRedis } from './redis-harness.js';

const TIMEOUT = 300;
/** What a call may take beyond `TIMEOUT` on a loaded 2-core machine. */
const SLACK = 1200;

let server: OwnedRedisServer;
const clients: Redis[] = [];
beforeAll(async () => {
  server = await startOwnRedis();
}, 60_000);
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});

function client(): Redis {
  const c = new Redis(server.url, { maxRetriesPerRequest: null });
  c.on('error', () => {}); // connection errors while Redis is down are expected
  clients.push(c);
  return c;
}

let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

interface Outcome {
  /** ms since the load started (performance.now()). */
  start: number;
  end: number;
  ok: boolean;
  error?: unknown;
}

/**
 * `clients` loops, each reserving on its own key every `pause` ms, until `duration` ms have
 * passed (bounded in time and in count). Resolves with every call's outcome.
 */
async function load(
  backend: RedisBackend,
  duration: number,
  { clients: count = 40, pause = 10 } = {},
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const t0 = performance.now();
  const p = { limit: 10_000, period: 1000, burst: 1000 };
  const loop = async (i: number): Promise<void> => {
    for (let n = 0; n < 100_000 && performance.now() - t0 < duration; n++) {
      const start = performance.now() - t0;
      try {
        await backend.reserve(`client:${i}`, p, { maxDelay: 0 });
        outcomes.push({ start, end: performance.now() - t0, ok: true });
      } catch (error) {
        outcomes.push({ start, end: performance.now() - t0, ok: false, error });
      }
      await new Promise((r) => setTimeout(r, pause));
    }
  };
  await Promise.all(Array.from({ length: count }, (_, i) => loop(i)));
  return outcomes;
}

function at(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function expectEverySettledInTime(outcomes: Outcome[]): void {
  const slowest = Math.max(...outcomes.map((o) => o.end - o.start));
  expect(slowest).toBeLessThanOrEqual(TIMEOUT + SLACK);
  for (const o of outcomes) {
    if (!o.ok) expect(o.error).toBeInstanceOf(Error);
  }
}

describe('RedisBackend under faults', () => {
  it('redis-server SIGKILLed under load and restarted on its port 3 s later', async () => {
    const backend = new RedisBackend(client(), { prefix: 'flfault:kill:', timeout: TIMEOUT });
    const t0 = performance.now();
    let downAt = 0;
    let upAt = 0;
    const faults = (async () => {
      await at(1500);
      downAt = performance.now() - t0;
      await server.kill();
      await at(3000);
      await server.start();
      upAt = performance.now() - t0;
    })();
    const outcomes = await load(backend, 10_000);
    await faults;
    expectEverySettledInTime(outcomes);
    // Healthy before, failing (with timeouts) while down: the test saw the outage.
    expect(outcomes.filter((o) => o.end < downAt).every((o) => o.ok)).toBe(true);
    const during = outcomes.filter((o) => o.start > downAt + 100 && o.end < upAt);
    expect(during.length).toBeGreaterThan(0);
    expect(during.every((o) => !o.ok)).toBe(true);
    expect(during.some((o) => o.error instanceof BackendTimeoutError)).toBe(true);
    // Back by itself: ioredis reconnects (its back-off is under 2 s here), every call works.
    const after = outcomes.filter((o) => o.start > upAt + 2500);
    expect(after.length).toBeGreaterThan(100);
    expect(after.filter((o) => !o.ok)).toEqual([]);
    expect(unhandled).toEqual([]);
  }, 60_000);

  it('redis-server stopped (SIGSTOP) for 4 s under load, then continued', async () => {
    const backend = new RedisBackend(client(), { prefix: 'flfault:stop:', timeout: TIMEOUT });
    const t0 = performance.now();
    let stopAt = 0;
    let contAt = 0;
    const faults = (async () => {
      await at(1500);
      stopAt = performance.now() - t0;
      process.kill(server.pid, 'SIGSTOP');
      try {
        await at(4000);
      } finally {
        process.kill(server.pid, 'SIGCONT');
      }
      contAt = performance.now() - t0;
    })();
    const outcomes = await load(backend, 9000);
    await faults;
    expectEverySettledInTime(outcomes);
    expect(outcomes.filter((o) => o.end < stopAt).every((o) => o.ok)).toBe(true);
    const during = outcomes.filter(
      (o) => o.start > stopAt + 100 && o.start < contAt - TIMEOUT - 200,
    );
    expect(during.length).toBeGreaterThan(0);
    expect(during.every((o) => o.error instanceof BackendTimeoutError)).toBe(true);
    const after = outcomes.filter((o) => o.start > contAt + 1000);
    expect(after.length).toBeGreaterThan(100);
    expect(after.filter((o) => !o.ok)).toEqual([]);
    expect(unhandled).toEqual([]);
  }, 60_000);

  it('FLUSHALL and SCRIPT FLUSH under load: the backend carries on with no error', async () => {
    const backend = new RedisBackend(client(), { prefix: 'flfault:flush:', timeout: TIMEOUT });
    const admin = client();
    let wipes = 0;
    const t0 = performance.now();
    const wiping = (async () => {
      while (performance.now() - t0 < 3500) {
        await at(150);
        await (wipes % 2 === 0 ? admin.flushall() : admin.script('FLUSH'));
        wipes++;
      }
    })();
    const outcomes = await load(backend, 4000);
    await wiping;
    expect(wipes).toBeGreaterThan(5);
    expect(outcomes.length).toBeGreaterThan(200);
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    expectEverySettledInTime(outcomes);
    expect(unhandled).toEqual([]);
  }, 60_000);
});
