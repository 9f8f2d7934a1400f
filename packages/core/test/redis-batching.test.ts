/**
 * RedisBackend sends the single-key reservations made in one tick as one script call (on a
 * standalone Redis): each is still decided on its own, in the order the calls were made, and
 * the answers are those of one call per reservation.
 */

import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Reservation } from '../src/backend.js';
import { FreqLimitParams } from '../src/params.js';
import { RedisBackend, type RedisClientLike } from '../src/redis.js';
import { useRedis } from './use-redis.js';

let redis: Redis;
useRedis((client) => {
  redis = client;
});

let prefixes = 0;
const freshPrefix = () => `flbatch:${process.pid}:${++prefixes}:`;

/** The real client, recording how many keys each script call carried. */
function recording(client: Redis): { client: RedisClientLike; sizes: number[] } {
  const sizes: number[] = [];
  return {
    sizes,
    client: {
      evalsha: (sha1, numkeys, keysAndArgs) => {
        sizes.push(numkeys);
        return client.evalsha(sha1, numkeys, keysAndArgs);
      },
      eval: (script, numkeys, keysAndArgs) => {
        sizes.push(numkeys);
        return client.eval(script, numkeys, keysAndArgs);
      },
      scan: (cursor, match, pattern, count, n) => client.scan(cursor, match, pattern, count, n),
      unlink: (...keys) => client.unlink(...keys),
    },
  };
}

describe('RedisBackend batching', () => {
  it('reservations made in one tick share script calls (at most 32 each), in call order', async () => {
    const { client, sizes } = recording(redis);
    const backend = new RedisBackend(client, { prefix: freshPrefix(), localCache: false });
    const p = { limit: 10, period: 1000 }; // T = 100 ms
    const now = Date.now() + 60_000;
    const answers = await Promise.all(
      Array.from({ length: 100 }, () => backend.reserve('k', p, { now })),
    );
    // One key, so the order shows: each reservation waits one interval more.
    expect(answers.map((r) => Math.round(r.delay))).toEqual(
      Array.from({ length: 100 }, (_, i) => i * 100),
    );
    expect(sizes).toEqual([32, 32, 32, 4]);
  });

  it('answers exactly what one call per reservation answers (property)', async () => {
    const params = fc
      .record({
        limit: fc.integer({ min: 1, max: 20 }),
        period: fc.integer({ min: 1, max: 80 }).map((k) => k * 125),
        burst: fc.integer({ min: 1, max: 4 }),
      })
      .map((init) => new FreqLimitParams(init));
    const request = fc.record({
      key: fc.nat(3),
      cost: fc.integer({ min: 1, max: 6 }).map((k) => k / 2),
      maxDelay: fc.oneof(fc.constant(0), fc.constant(Number.POSITIVE_INFINITY), fc.nat(3000)),
      dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 800 })),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(params, { minLength: 4, maxLength: 4 }),
        fc.array(request, { minLength: 1, maxLength: 70 }),
        async (limits, requests) => {
          const batched = new RedisBackend(redis, { prefix: freshPrefix(), localCache: false });
          const single = new RedisBackend(redis, { prefix: freshPrefix(), localCache: false });
          let now = Date.now() + 60_000;
          const times = requests.map((r) => (now += r.dt));
          const together = await Promise.all(
            requests.map((r, i) =>
              batched.reserve(`k${r.key}`, limits[r.key]!, {
                now: times[i],
                cost: r.cost,
                maxDelay: r.maxDelay,
              }),
            ),
          );
          const oneByOne: Reservation[] = [];
          for (const [i, r] of requests.entries()) {
            oneByOne.push(
              await single.reserve(`k${r.key}`, limits[r.key]!, {
                now: times[i],
                cost: r.cost,
                maxDelay: r.maxDelay,
              }),
            );
          }
          expect(together).toEqual(oneByOne);
          await batched.clear();
          await single.clear();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('other calls keep their place among reservations of the same tick', async () => {
    const backend = new RedisBackend(redis, { prefix: freshPrefix() });
    const p = { limit: 1, period: 60_000 };
    await backend.reserve('k', p);
    const [rejected, , afterReset, peeked, , blocked] = await Promise.all([
      backend.reserve('k', p, { maxDelay: 0 }),
      backend.reset('k'),
      backend.reserve('k', p, { maxDelay: 0 }),
      backend.peek('k', p),
      backend.block('k', p, 30_000),
      backend.reserve('k', p, { maxDelay: 1000 }),
    ]);
    expect(rejected.allowed).toBe(false);
    expect(afterReset.allowed).toBe(true);
    expect(peeked.remaining).toBe(0);
    expect(blocked.allowed).toBe(false);
    expect(blocked.retryAfter).toBeGreaterThan(28_000);
  });

  it('a batch survives SCRIPT FLUSH (sent again with EVAL)', async () => {
    const backend = new RedisBackend(redis, { prefix: freshPrefix() });
    const p = { limit: 1000, period: 1000 };
    await backend.reserve('warm', p);
    await redis.script('FLUSH');
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => backend.reserve(`k${i % 5}`, p)),
    );
    expect(answers.every((r) => r.allowed)).toBe(true);
  });

  it('bad arguments fail their own call only, before anything is sent', async () => {
    const backend = new RedisBackend(redis, { prefix: freshPrefix() });
    const p = { limit: 10, period: 1000 };
    const results = await Promise.allSettled([
      backend.reserve('a', p),
      backend.reserve('b', p, { cost: -1 }),
      backend.reserve('c', { limit: 0, period: 1 }),
      backend.reserve(42 as unknown as string, p),
      backend.reserve('d', p),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'rejected',
      'fulfilled',
    ]);
  });
});
