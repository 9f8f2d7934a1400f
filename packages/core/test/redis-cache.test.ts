/**
 * RedisBackend's local rejection cache, against a real redis-server: what it saves Redis
 * (script calls counted by the server, `INFO commandstats`), and that it never changes an
 * answer (the same traces with the cache on and off give identical answers).
 */

import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import type { MultiReservation, Reservation } from '../src/backend.js';
import { FreqLimitParams } from '../src/params.js';
import { RedisBackend, type RedisClientLike } from '../src/redis.js';
import { useRedis } from './use-redis.js';

let redis: Redis;
useRedis((client) => {
  redis = client;
});

let prefixes = 0;
const freshPrefix = () => `flcache:${process.pid}:${++prefixes}:`;

/** Script calls the server has run since `CONFIG RESETSTAT` (EVALSHA and EVAL). */
async function scriptCalls(): Promise<number> {
  const info = await redis.info('commandstats');
  let calls = 0;
  for (const m of info.matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm)) calls += Number(m[2]);
  return calls;
}

/** The real client, counting the script calls (EVALSHA and EVAL) a backend sends through it. */
function counting(client: Redis): { client: RedisClientLike; calls: () => number } {
  let calls = 0;
  const counted: RedisClientLike = {
    evalsha: (sha1, numkeys, keysAndArgs) => {
      calls++;
      return client.evalsha(sha1, numkeys, keysAndArgs);
    },
    eval: (script, numkeys, keysAndArgs) => {
      calls++;
      return client.eval(script, numkeys, keysAndArgs);
    },
    scan: (cursor, match, pattern, count, n) => client.scan(cursor, match, pattern, count, n),
    unlink: (...keys) => client.unlink(...keys),
  };
  return { client: counted, calls: () => calls };
}

describe('local rejection cache: what Redis pays', () => {
  it('20,000 reservations on one over-limit key cost Redis at most 5 script calls', async () => {
    const backend = new RedisBackend(redis, { prefix: freshPrefix() });
    const p = { limit: 1, period: 60_000 };
    await redis.config('RESETSTAT');
    let allowed = 0;
    let lastRetry = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 20_000; i++) {
      const r = await backend.reserve('flood', p, { maxDelay: 0 });
      if (r.allowed) allowed++;
      else {
        // Every answer is a real rejection: retryAfter counts down, never up.
        expect(r.retryAfter).toBeGreaterThan(0);
        expect(r.retryAfter).toBeLessThanOrEqual(lastRetry);
        expect(r).toMatchObject({ remaining: 0 });
        lastRetry = r.retryAfter;
      }
    }
    const calls = await scriptCalls();
    expect(allowed).toBe(1);
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls).toBeLessThanOrEqual(5);
  });

  it('the same with 200 calls in flight, several limits, costs and maxDelays', async () => {
    const backend = new RedisBackend(redis, { prefix: freshPrefix() });
    const slow = { limit: 2, period: 60_000, burst: 2 };
    const fast = { limit: 100, period: 1000, burst: 10 };
    // Make the key over-limit, and let Redis reject it once (that tells the floor).
    await backend.reserve('k', slow);
    await backend.reserve('k', slow);
    expect((await backend.reserve('k', slow, { maxDelay: 0 })).allowed).toBe(false);
    const many = [
      { key: 'k', params: slow },
      { key: 'other', params: fast },
    ];
    expect((await backend.reserveMany(many, { maxDelay: 1000 })).allowed).toBe(false);
    await redis.config('RESETSTAT');
    const calls: Array<Promise<Reservation | MultiReservation>> = [];
    let answered = 0;
    for (let wave = 0; wave < 100; wave++) {
      for (let i = 0; i < 200; i++) {
        const n = wave * 200 + i;
        calls.push(
          n % 4 === 3
            ? backend.reserveMany(many, { maxDelay: (n % 7) * 1000 })
            : backend.reserve('k', slow, { cost: 1 + (n % 2), maxDelay: (n % 5) * 1000 }),
        );
      }
      const answers = await Promise.all(calls.splice(0));
      for (const a of answers) expect(a.allowed).toBe(false);
      answered += answers.length;
    }
    expect(answered).toBe(20_000);
    expect(await scriptCalls()).toBeLessThanOrEqual(5);
  });

  it('without the cache every one of them is a script call (the count is real)', async () => {
    const backend = new RedisBackend(redis, { prefix: freshPrefix(), localCache: false });
    const p = { limit: 1, period: 60_000 };
    await redis.config('RESETSTAT');
    for (let i = 0; i < 2000; i++) await backend.reserve('flood', p, { maxDelay: 0 });
    expect(await scriptCalls()).toBe(2000);
  });

  it('a refund or reset through this backend drops the floor; block raises it', async () => {
    const { client, calls } = counting(redis);
    const backend = new RedisBackend(client, { prefix: freshPrefix() });
    const p = { limit: 1, period: 60_000 };
    await backend.reserve('k', p);
    expect((await backend.reserve('k', p, { maxDelay: 0 })).allowed).toBe(false);
    const before = calls();
    expect((await backend.reserve('k', p, { maxDelay: 0 })).allowed).toBe(false);
    expect(calls()).toBe(before); // answered here
    await backend.refund('k', p);
    expect((await backend.reserve('k', p, { maxDelay: 0 })).allowed).toBe(true);
    expect((await backend.reserve('k', p, { maxDelay: 0 })).allowed).toBe(false);
    await backend.reset('k');
    expect((await backend.reserve('k', p, { maxDelay: 0 })).allowed).toBe(true);
    // A block is known here at once: no call until it has passed.
    await backend.block('b', p, 30_000);
    const blocked = calls();
    const r = await backend.reserve('b', p, { maxDelay: 10_000 });
    expect(r.allowed).toBe(false);
    expect(r.retryAfter).toBeGreaterThan(19_000);
    expect(r.retryAfter).toBeLessThanOrEqual(20_000);
    expect(calls()).toBe(blocked);
    // clear() forgets every floor too.
    await backend.clear();
    expect((await backend.reserve('b', p, { maxDelay: 0 })).allowed).toBe(true);
  });

  it('keeps at most maxKeys floors, dropping the least recently refreshed', async () => {
    const { client, calls } = counting(redis);
    const backend = new RedisBackend(client, { prefix: freshPrefix(), localCache: { maxKeys: 2 } });
    const p = { limit: 1, period: 60_000 };
    for (const k of ['a', 'b', 'c']) {
      await backend.reserve(k, p);
      await backend.reserve(k, p, { maxDelay: 0 }); // rejected: a floor for k
    }
    const count = calls();
    await backend.reserve('b', p, { maxDelay: 0 });
    await backend.reserve('c', p, { maxDelay: 0 });
    expect(calls()).toBe(count); // b and c are cached
    await backend.reserve('a', p, { maxDelay: 0 });
    expect(calls()).toBe(count + 1); // a was dropped: asked Redis (and cached again, dropping b)
    await backend.reserve('b', p, { maxDelay: 0 });
    expect(calls()).toBe(count + 2);
  });

  it('keeps its floors on the monotonic clock: a wrong wall clock changes nothing', async () => {
    const { client, calls } = counting(redis);
    const backend = new RedisBackend(client, { prefix: freshPrefix() });
    const p = { limit: 1, period: 1000 };
    const realNow = Date.now;
    try {
      for (const skew of [3_600_000, -3_600_000]) {
        vi.spyOn(Date, 'now').mockImplementation(() => realNow() + skew);
        const key = `skew${skew}`;
        await backend.reserve(key, p);
        const first = await backend.reserve(key, p, { maxDelay: 0 });
        expect(first.allowed).toBe(false);
        const count = calls();
        const local = await backend.reserve(key, p, { maxDelay: 0 });
        expect(calls()).toBe(count);
        expect(local.allowed).toBe(false);
        expect(local.retryAfter).toBeGreaterThan(0);
        expect(local.retryAfter).toBeLessThanOrEqual(first.retryAfter);
        vi.restoreAllMocks();
      }
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('validates the option', () => {
    for (const bad of [0, 1.5, -1, Number.NaN, '10']) {
      expect(() => new RedisBackend(redis, { localCache: { maxKeys: bad as number } })).toThrow(
        /`localCache.maxKeys`/,
      );
    }
    expect(() => new RedisBackend(redis, { localCache: 'yes' as never })).toThrow(/`localCache`/);
    expect(() => new RedisBackend(redis, { localCache: false })).not.toThrow();
    expect(() => new RedisBackend(redis, { localCache: {} })).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// Cache on vs cache off: the same traces, identical answers (bit for bit: with an injected now
// the cache computes exactly what the script would).

const params = fc
  .record({
    limit: fc.integer({ min: 1, max: 50 }),
    period: fc.oneof(
      fc.integer({ min: 1, max: 80 }).map((k) => k * 125),
      fc.double({ min: 1, max: 10_000, noNaN: true }),
    ),
    burst: fc.integer({ min: 1, max: 5 }),
  })
  .map((init) => new FreqLimitParams(init));
const cost = fc.oneof(
  fc.integer({ min: 1, max: 6 }).map((k) => k / 2),
  fc.double({ min: 0.01, max: 4, noNaN: true }),
);
const maxDelay = fc.oneof(
  fc.constant(0),
  fc.constant(Number.POSITIVE_INFINITY),
  fc.double({ min: 0, max: 5000, noNaN: true }),
);
const dt = fc.oneof(
  { weight: 4, arbitrary: fc.constant(0) },
  { weight: 4, arbitrary: fc.double({ min: 0, max: 300, noNaN: true }) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 5000, noNaN: true }) },
);
const op = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      key: fc.nat(2),
      cost,
      maxDelay,
      dt,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('many' as const),
      keys: fc.uniqueArray(fc.nat(2), { minLength: 1, maxLength: 3 }),
      cost,
      maxDelay,
      dt,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('refund' as const), key: fc.nat(2), cost, dt }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('peek' as const), key: fc.nat(2), dt }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reset' as const), key: fc.nat(2), dt }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('block' as const),
      key: fc.nat(2),
      ms: fc.double({ min: 0, max: 5000, noNaN: true }),
      dt,
    }),
  },
);

describe('local rejection cache: answers', () => {
  it('random traces give identical answers with the cache on and off (property)', async () => {
    let saved = 0;
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(params, params, params),
        fc.array(op, { minLength: 5, maxLength: 80, size: 'max' }),
        async (limits, ops) => {
          const withCache = counting(redis);
          const cached = new RedisBackend(withCache.client, { prefix: freshPrefix() });
          const plain = new RedisBackend(redis, { prefix: freshPrefix(), localCache: false });
          // A minute ahead of the server's clock: keys live until both clocks empty them.
          let now = Date.now() + 60_000;
          let calls = 0;
          for (const [i, o] of ops.entries()) {
            now += o.dt;
            const label = `op ${i} (${o.kind})`;
            if (o.kind === 'reserve') {
              const opts = { now, cost: o.cost, maxDelay: o.maxDelay };
              const p = limits[o.key]!;
              calls++;
              expect(await cached.reserve(`k${o.key}`, p, opts), label).toEqual(
                await plain.reserve(`k${o.key}`, p, opts),
              );
            } else if (o.kind === 'many') {
              const entries = o.keys.map((k) => ({
                key: `k${k}`,
                params: limits[k]!,
                cost: o.cost,
              }));
              const opts = { now, maxDelay: o.maxDelay };
              calls++;
              expect(await cached.reserveMany(entries, opts), label).toEqual(
                await plain.reserveMany(entries, opts),
              );
            } else if (o.kind === 'refund') {
              const opts = { now, cost: o.cost };
              calls++;
              await cached.refund(`k${o.key}`, limits[o.key]!, opts);
              await plain.refund(`k${o.key}`, limits[o.key]!, opts);
            } else if (o.kind === 'peek') {
              calls++;
              expect(await cached.peek(`k${o.key}`, limits[o.key]!, { now }), label).toEqual(
                await plain.peek(`k${o.key}`, limits[o.key]!, { now }),
              );
            } else if (o.kind === 'reset') {
              calls++;
              await cached.reset(`k${o.key}`);
              await plain.reset(`k${o.key}`);
            } else {
              calls++;
              await cached.block(`k${o.key}`, limits[o.key]!, o.ms, { now });
              await plain.block(`k${o.key}`, limits[o.key]!, o.ms, { now });
            }
          }
          sent += calls;
          saved += calls - withCache.calls();
          await cached.clear();
          await plain.clear();
        },
      ),
      { numRuns: 200 },
    );
    // Not vacuous: a good share of the calls were answered from the cache.
    expect(saved).toBeGreaterThan(sent / 20);
  });
});
