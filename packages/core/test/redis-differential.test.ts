/**
 * Differential test: random traces of reserve / reserveMany / refund / peek / reset / block,
 * replayed with the same injected `now` through `InMemoryBackend` and `RedisBackend`, must
 * give the same answers.
 *
 * Times live on a 0.125 ms grid and intervals on a 0.25 ms grid (costs are multiples of 0.5),
 * so every TAT is a whole number of µs and an exact double in ms at epoch scale. On that grid
 * both backends compute exactly and must agree to 1 µs on every duration and exactly on
 * `allowed` and `remaining`. Off the grid they still agree to 1 µs per step, but memory's
 * epoch-ms floats (0.24 µs apart) and Redis's 1 µs TAT round differently, which can flip
 * `remaining` at an exact boundary, so an exact comparison there would test the rounding,
 * not the algorithm.
 */

import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { MultiReservation, Reservation } from '../src/backend.js';
import { InMemoryBackend } from '../src/backends/memory.js';
import { FreqLimitParams } from '../src/params.js';
import { RedisBackend } from '../src/redis.js';
import { useRedis } from './use-redis.js';

let redis: Redis;
useRedis((client) => {
  redis = client;
});

/** Limits whose interval (period / limit) is a multiple of 0.25 ms. */
const params = fc
  .record({
    limit: fc.constantFrom(1, 2, 4, 5, 10, 20, 25, 50, 100, 125, 250, 500),
    period: fc.integer({ min: 1, max: 80 }).map((k) => k * 125),
    burst: fc.integer({ min: 1, max: 6 }),
  })
  .map((init) => new FreqLimitParams(init));
const cost = fc.integer({ min: 1, max: 8 }).map((k) => k / 2);
const maxDelay = fc.oneof(
  fc.constant(0),
  fc.constant(Number.POSITIVE_INFINITY),
  fc.integer({ min: 0, max: 40_000 }).map((k) => k / 8),
);
const step = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 8000 }).map((k) => k / 8) },
);
const op = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      key: fc.nat(2),
      cost,
      maxDelay,
      dt: step,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('many' as const),
      keys: fc.uniqueArray(fc.nat(2), { minLength: 1, maxLength: 3 }),
      cost,
      maxDelay,
      dt: step,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('refund' as const), key: fc.nat(2), cost, dt: step }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('peek' as const), key: fc.nat(2), dt: step }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('reset' as const), key: fc.nat(2), dt: step }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('block' as const),
      key: fc.nat(2),
      ms: fc.oneof(
        fc.constant(0),
        fc.integer({ min: 0, max: 40_000 }).map((k) => k / 8),
      ),
      dt: step,
    }),
  },
);

function expectSame(label: string, a: Reservation, b: Reservation): void {
  expect(a.allowed, `${label} allowed`).toBe(b.allowed);
  expect(a.remaining, `${label} remaining`).toBe(b.remaining);
  for (const f of ['delay', 'retryAfter', 'resetAfter'] as const) {
    if (Number.isFinite(b[f]))
      expect(Math.abs(a[f] - b[f]), `${label} ${f}`).toBeLessThanOrEqual(1e-3);
    else expect(a[f], `${label} ${f}`).toBe(b[f]);
  }
}

function expectSameMany(label: string, a: MultiReservation, b: MultiReservation): void {
  expectSame(label, { ...a, remaining: 0, resetAfter: 0 }, { ...b, remaining: 0, resetAfter: 0 });
  for (const [i, e] of a.each.entries()) expectSame(`${label} each[${i}]`, e, b.each[i]!);
}

describe('RedisBackend against InMemoryBackend', () => {
  let run = 0;

  it('replays random traces to the same reservations', async () => {
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(params, params, params),
        fc.array(op, { minLength: 5, maxLength: 60, size: 'max' }),
        async (limits, ops) => {
          const memory = new InMemoryBackend();
          const backend = new RedisBackend(redis, { prefix: `fldiff:${process.pid}:${++run}:` });
          // A minute ahead of the server: keys are kept until either clock empties them.
          let now = Date.now() + 60_000;
          for (const [i, o] of ops.entries()) {
            now += o.dt;
            const label = `op ${i} (${o.kind})`;
            if (o.kind === 'reserve') {
              const opts = { now, cost: o.cost, maxDelay: o.maxDelay };
              const p = limits[o.key]!;
              expectSame(
                label,
                await backend.reserve(`k${o.key}`, p, opts),
                await memory.reserve(`k${o.key}`, p, opts),
              );
            } else if (o.kind === 'many') {
              const entries = o.keys.map((k) => ({
                key: `k${k}`,
                params: limits[k]!,
                cost: o.cost,
              }));
              const opts = { now, maxDelay: o.maxDelay };
              expectSameMany(
                label,
                await backend.reserveMany(entries, opts),
                await memory.reserveMany(entries, opts),
              );
            } else if (o.kind === 'refund') {
              const opts = { now, cost: o.cost };
              await backend.refund(`k${o.key}`, limits[o.key]!, opts);
              await memory.refund(`k${o.key}`, limits[o.key]!, opts);
            } else if (o.kind === 'peek') {
              const p = limits[o.key]!;
              const a = await backend.peek(`k${o.key}`, p, { now });
              const b = await memory.peek(`k${o.key}`, p, { now });
              expectSame(
                label,
                { ...a, allowed: true, delay: 0 },
                { ...b, allowed: true, delay: 0 },
              );
            } else if (o.kind === 'reset') {
              await backend.reset(`k${o.key}`);
              await memory.reset(`k${o.key}`);
            } else {
              await backend.block(`k${o.key}`, limits[o.key]!, o.ms, { now });
              await memory.block(`k${o.key}`, limits[o.key]!, o.ms, { now });
            }
            checked++;
          }
          await backend.clear();
        },
      ),
      { numRuns: 300 },
    );
    expect(checked).toBeGreaterThanOrEqual(300 * 5);
  });
});
