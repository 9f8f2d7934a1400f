import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { Redis as Redis5 } from 'ioredis';
import { Redis as Redis6 } from 'ioredis6';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemoryBackend } from '../src/backends/memory.js';
import { BackendTimeoutError } from '../src/errors.js';
import { FreqLimit } from '../src/limiter.js';
import { FreqLimitParams } from '../src/params.js';
import { REDIS_SCRIPTS, RedisBackend } from '../src/redis.js';
import { testBackend } from './backend-suite.js';
import { type RedisServer, rawCommand, startRedis } from './redis-harness.js';

let server: RedisServer;
const clients: Array<Redis5 | Redis6> = [];

beforeAll(async () => {
  server = await startRedis();
}, 60_000);
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});

function client5(): Redis5 {
  const c = new Redis5(server.url);
  clients.push(c);
  return c;
}
function client6(): Redis6 {
  const c = new Redis6(server.url);
  clients.push(c);
  return c;
}

let prefixes = 0;
const freshPrefix = () => `fltest:${process.pid}:${++prefixes}:`;

testBackend('redis (ioredis 5)', () => ({
  backend: new RedisBackend(client5(), { prefix: freshPrefix() }),
}));
testBackend('redis (ioredis 6)', () => ({
  backend: new RedisBackend(client6(), { prefix: freshPrefix() }),
}));

describe.each([
  ['ioredis 5', () => client5()],
  ['ioredis 6', () => client6()],
] as const)('RedisBackend with %s', (_, makeClient) => {
  let redis: Redis5 | Redis6;
  let backend: RedisBackend;
  beforeAll(() => {
    redis = makeClient();
    backend = new RedisBackend(redis, { prefix: freshPrefix(), timeout: 1000 });
  });

  it('keeps µs precision at 100,000 requests/s near the epoch', async () => {
    const p = new FreqLimitParams({ limit: 100_000, period: 1000 });
    // A minute ahead of the server's clock, so the key outlives the loop on Redis's clock too.
    const now = Date.now() + 60_000.375;
    const delays: number[] = [];
    for (let i = 0; i < 300; i++) delays.push((await backend.reserve('precise', p, { now })).delay);
    for (let i = 0; i < delays.length; i++) {
      expect(Math.abs(delays[i]! - i * 0.01)).toBeLessThan(1e-3);
      if (i > 0) expect(Math.abs(delays[i]! - delays[i - 1]! - 0.01)).toBeLessThan(1e-3);
    }
    const stored = await redis.get(backend.redisKey('precise'));
    expect(stored).toMatch(/^\d+$/); // integer µs, no exponent, no fraction
    expect(Number(stored) - Math.round(now * 1000)).toBe(300 * 10);
  });

  it('reloads the script after SCRIPT FLUSH (NOSCRIPT)', async () => {
    const p = { limit: 1, period: 1000 };
    const now = Date.now();
    expect((await backend.reserve('noscript', p, { now })).delay).toBe(0);
    await redis.script('FLUSH');
    expect((await backend.reserve('noscript', p, { now })).delay).toBe(1000);
    await redis.script('FLUSH');
    const many = await backend.reserveMany([{ key: 'noscript:2', params: p }], { now });
    expect(many.allowed).toBe(true);
  });

  it('expires a key exactly when its state becomes empty', async () => {
    const p = { limit: 4, period: 2000, burst: 2 };
    const now = Date.now();
    const r = await backend.reserve('ttl', p, { now });
    const key = backend.redisKey('ttl');
    const pttl = await redis.pttl(key);
    expect(Math.abs(pttl - Math.ceil(r.resetAfter))).toBeLessThanOrEqual(1);
    const r2 = await backend.reserve('ttl', p, { now });
    expect(Math.abs((await redis.pttl(key)) - Math.ceil(r2.resetAfter))).toBeLessThanOrEqual(1);
    // Refunding everything empties the state: the key is deleted, not left with PX 0.
    await backend.refund('ttl', p, { now, cost: 2 });
    expect(await redis.exists(key)).toBe(0);
    // And a short state really disappears on Redis's own clock.
    await backend.reserve('ttl-short', { limit: 5, period: 1000 });
    expect(await redis.exists(backend.redisKey('ttl-short'))).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(await redis.exists(backend.redisKey('ttl-short'))).toBe(0);
  });

  it('uses the server clock when no now is given', async () => {
    const p = { limit: 1, period: 1000 };
    expect((await backend.reserve('clock', p)).delay).toBe(0);
    const second = await backend.reserve('clock', p, { maxDelay: 0 });
    expect(second.allowed).toBe(false);
    expect(second.retryAfter).toBeGreaterThan(900);
    expect(second.retryAfter).toBeLessThanOrEqual(1000);
  });

  it('hashes keys longer than 128 UTF-8 bytes, keeping their state and hash tag', async () => {
    const p = { limit: 1, period: 1000 };
    const now = Date.now();
    const exact = 'k'.repeat(128);
    expect(backend.redisKey(exact)).toBe(backend.prefix + exact);
    const euros = '€'.repeat(43); // 43 chars, 129 bytes
    const hashed = backend.redisKey(euros);
    expect(hashed).not.toContain('€');
    expect(hashed.length - backend.prefix.length).toBeLessThanOrEqual(50);
    expect(backend.redisKey(`${'x'.repeat(200)}1`)).not.toBe(
      backend.redisKey(`${'x'.repeat(200)}2`),
    );
    expect(backend.redisKey(`{user42}:${'y'.repeat(200)}`)).toMatch(/\{user42\}#[\w-]{43}$/);
    expect((await backend.reserve(euros, p, { now })).delay).toBe(0);
    expect((await backend.reserve(euros, p, { now })).delay).toBe(1000);
    expect(await redis.exists(hashed)).toBe(1);
  });

  it('clear() deletes only the keys under its prefix', async () => {
    const prefix = `fl[*?]:${Math.random()}:`;
    const mine = new RedisBackend(redis, { prefix });
    const p = { limit: 1, period: 60_000 };
    for (let i = 0; i < 2500; i++) await mine.reserve(`k${i}`, p);
    await redis.set('unrelated:key', '1', 'PX', 60_000);
    await mine.clear();
    expect(await redis.exists(mine.redisKey('k7'))).toBe(0);
    expect(await redis.exists('unrelated:key')).toBe(1);
    const [, left] = await redis.scan('0', 'MATCH', 'fl\\[\\*\\?\\]*', 'COUNT', 10_000);
    expect(left).toEqual([]);
  });

  it('works as the backend of FreqLimit with several limits', async () => {
    const limiter = new FreqLimit(
      [
        { limit: 2, period: 1000, burst: 2 },
        { limit: 1, period: 60_000, burst: 3 },
      ],
      { backend, name: 'multi', maxDelay: 0 },
    );
    await limiter.acquire('user');
    await limiter.acquire('user');
    await expect(limiter.acquire('user')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
  });
});

describe('RedisBackend rounding (one rule for delay and remaining)', () => {
  it('repro (issue 10): a free cell left at an epoch-ms clock is reported', async () => {
    const backend = new RedisBackend(client5(), { prefix: freshPrefix() });
    const p = { limit: 40, period: 2462.5443689445183, burst: 3 };
    // Ahead of the server's clock (keys live until both clocks empty them); the fraction
    // puts `now` off the µs grid.
    const now = Date.now() + 60_000.031;
    expect((await backend.reserve('k', p, { now })).remaining).toBe(2);
    const second = await backend.reserve('k', p, { now });
    expect(second).toMatchObject({ allowed: true, delay: 0 });
    // The stored TAT is whole µs, so whether the third fits depends on that rounding; what
    // must hold is that `remaining` says what the next request then sees.
    const third = await backend.reserve('k', p, { now, maxDelay: 0 });
    expect(second.remaining > 0).toBe(third.allowed);
    expect(second.remaining).toBeLessThanOrEqual(1);
  });

  it('remaining > 0 exactly when the next unit-cost request passes with no delay (property)', async () => {
    const backend = new RedisBackend(client5(), { prefix: freshPrefix() });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          limit: fc.integer({ min: 1, max: 100 }),
          period: fc.double({ min: 1, max: 100_000, noNaN: true }),
          burst: fc.integer({ min: 1, max: 6 }),
        }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(
          fc.oneof(
            fc.constant(1),
            fc.integer({ min: 1, max: 8 }).map((k) => k / 4),
          ),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        async (p, fraction, costs) => {
          const key = `r${++run}`;
          // A minute ahead of the server: keys live until both clocks empty them.
          const now = Date.now() + 60_000 + fraction;
          for (const cost of costs) {
            const r = await backend.reserve(key, p, { now, cost });
            if (!r.allowed) continue;
            const next = await backend.reserve(key, p, { now, maxDelay: 0 });
            expect(r.remaining > 0, JSON.stringify({ p, now, r, next })).toBe(next.allowed);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('RedisBackend scripts', () => {
  it.each(Object.entries(REDIS_SCRIPTS))(
    '%s: the SHA-1 constant is the hash Redis computes',
    async (_, script) => {
      expect(createHash('sha1').update(script.lua).digest('hex')).toBe(script.sha1);
      expect(await client5().script('LOAD', script.lua)).toBe(script.sha1);
    },
  );

  it('every script survives SCRIPT FLUSH (NOSCRIPT, then EVAL and cached again)', async () => {
    const redis = client5();
    const backend = new RedisBackend(redis, { prefix: freshPrefix() });
    const p = { limit: 1, period: 60_000 };
    await redis.script('FLUSH');
    expect((await backend.reserve('k', p)).allowed).toBe(true);
    await redis.script('FLUSH');
    expect((await backend.peek('k', p)).remaining).toBe(0);
    await redis.script('FLUSH');
    await backend.block('k', p, 120_000);
    await redis.script('FLUSH');
    expect((await backend.peek('k', p)).retryAfter).toBeGreaterThan(119_000);
    await redis.script('FLUSH');
    await backend.refund('k', p);
    await redis.script('FLUSH');
    await backend.reset('k');
    expect(await redis.exists(backend.redisKey('k'))).toBe(0);
    await redis.script('FLUSH');
    expect((await backend.reserveMany([{ key: 'k', params: p }])).allowed).toBe(true);
  });
});

describe('RedisBackend state control', () => {
  it('peek writes nothing, not even the expiry', async () => {
    const redis = client5();
    const backend = new RedisBackend(redis, { prefix: freshPrefix() });
    const p = { limit: 1, period: 60_000 };
    await backend.reserve('k', p);
    const key = backend.redisKey('k');
    const [value, pttl] = [await redis.get(key), await redis.pttl(key)];
    await backend.peek('k', p);
    await backend.peek('never-seen', p);
    expect(await redis.get(key)).toBe(value);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(pttl);
    expect(await redis.exists(backend.redisKey('never-seen'))).toBe(0);
  });

  it('reset deletes the key; block stores the TAT that expires at now + ms + tau', async () => {
    const redis = client5();
    const backend = new RedisBackend(redis, { prefix: freshPrefix() });
    const p = { limit: 10, period: 1000, burst: 3 }; // tau = 200
    await backend.reserve('k', p);
    await backend.reset('k');
    expect(await redis.exists(backend.redisKey('k'))).toBe(0);
    const now = Date.now();
    await backend.block('k', p, 30_000, { now });
    expect(await redis.get(backend.redisKey('k'))).toBe(
      String(Math.round(now * 1000) + 30_200_000),
    );
    const pttl = await redis.pttl(backend.redisKey('k'));
    expect(pttl).toBeGreaterThan(29_000);
    expect(pttl).toBeLessThanOrEqual(30_200);
  });

  it('validates arguments before any round trip', async () => {
    const backend = new RedisBackend(client5());
    await expect(backend.peek('k', { limit: 1 } as never)).rejects.toThrow(/`period`/);
    await expect(backend.peek('k', { limit: 1, period: 1 }, { now: Number.NaN })).rejects.toThrow(
      /`now`/,
    );
    await expect(backend.block('k', { limit: 1, period: 1 }, -5)).rejects.toThrow(/`ms`/);
    await expect(backend.reset(5 as never)).rejects.toThrow(/`key`/);
  });
});

describe('RedisBackend options', () => {
  it('validates its options with errors naming the field', () => {
    const redis = client5();
    expect(() => new RedisBackend({} as never)).toThrow(/`redis`/);
    expect(() => new RedisBackend(redis, { prefix: 1 as never })).toThrow(TypeError);
    expect(() => new RedisBackend(redis, { prefix: 1 as never })).toThrow(/`prefix`/);
    for (const timeout of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5']) {
      expect(() => new RedisBackend(redis, { timeout: timeout as never })).toThrow(/`timeout`/);
    }
    expect(new RedisBackend(redis).prefix).toBe('freqlimit:');
    expect(new RedisBackend(redis).timeout).toBe(1000);
  });

  it('rejects bad arguments before any round trip', async () => {
    const backend = new RedisBackend(client5());
    await expect(backend.reserve('k', { limit: 0, period: 1 })).rejects.toThrow(/`limit`/);
    await expect(backend.reserve('k', { limit: 1, period: 1 }, { cost: 0 })).rejects.toThrow(
      /`cost`/,
    );
    await expect(backend.reserve('k', { limit: 1, period: 1 }, { maxDelay: -1 })).rejects.toThrow(
      /`maxDelay`/,
    );
    await expect(
      backend.reserve('k', { limit: 1, period: 1 }, { now: Number.NaN }),
    ).rejects.toThrow(/`now`/);
    await expect(backend.reserveMany([])).rejects.toThrow(/`entries`/);
  });

  it('gives the same answers as memory for the README example', async () => {
    const redisBackend = new RedisBackend(client6(), { prefix: freshPrefix() });
    const memory = new InMemoryBackend();
    const p = { limit: 20, period: 60_000, burst: 3 };
    const now = Date.now();
    for (let i = 0; i < 6; i++) {
      const opts = { now: now + i * 1000, maxDelay: 5000 };
      expect(await redisBackend.reserve('same', p, opts)).toEqual(
        await memory.reserve('same', p, opts),
      );
    }
  });
});

describe('RedisBackend when Redis does not answer', () => {
  it('times out on a stalled server, then recovers', async () => {
    const redis = client5();
    const backend = new RedisBackend(redis, { prefix: freshPrefix(), timeout: 300 });
    const p = { limit: 10, period: 1000 };
    await backend.reserve('stall', p);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const resume = await stall(server);
    try {
      const started = performance.now();
      const error = await backend.reserve('stall', p).catch((e: unknown) => e);
      const elapsed = performance.now() - started;
      expect(error).toBeInstanceOf(BackendTimeoutError);
      expect((error as BackendTimeoutError).timeout).toBe(300);
      expect(elapsed).toBeGreaterThanOrEqual(295);
      expect(elapsed).toBeLessThan(300 + 100);
    } finally {
      await resume();
    }
    const after = await backend.reserve('stall', p, { maxDelay: 10_000 });
    expect(after.allowed).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });

  it('times out while ioredis is disconnected (offline queue)', async () => {
    const port = server.port === 1 ? 2 : 1; // nothing listens on port 1
    const redis = new Redis5({
      host: '127.0.0.1',
      port,
      retryStrategy: () => 50,
      lazyConnect: false,
    });
    redis.on('error', () => {});
    clients.push(redis);
    const backend = new RedisBackend(redis, { timeout: 200 });
    const started = performance.now();
    await expect(backend.reserve('down', { limit: 1, period: 1000 })).rejects.toBeInstanceOf(
      BackendTimeoutError,
    );
    expect(performance.now() - started).toBeLessThan(300);
    await expect(backend.refund('down', { limit: 1, period: 1000 })).rejects.toBeInstanceOf(
      BackendTimeoutError,
    );
  });
});

/** Freezes the server (SIGSTOP when we own its pid, else CLIENT PAUSE); returns the undo. */
async function stall(redis: RedisServer): Promise<() => Promise<void>> {
  if (redis.pid !== undefined) {
    process.kill(redis.pid, 'SIGSTOP');
    return async () => {
      process.kill(redis.pid!, 'SIGCONT');
    };
  }
  await rawCommand(redis.port, ['CLIENT', 'PAUSE', '1000', 'ALL'], redis.host);
  return () => new Promise((r) => setTimeout(r, 1000));
}
