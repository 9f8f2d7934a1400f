import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelBackend } from '../test/model.js';
import { InMemoryBackend } from './backends/memory.js';
import { gcraBlock, gcraPeek, gcraRefund, gcraReserve, gcraReserveMany, gcraStep } from './gcra.js';
import { FreqLimitParams } from './params.js';

const P = (limit: number, period: number, burst = 1) =>
  new FreqLimitParams({ limit, period, burst });

/** An epoch-ms instant: absolute times this large are where float noise shows. */
const EPOCH = Date.UTC(2026, 0, 1, 12, 0, 0, 0);

describe('gcraStep', () => {
  it.each([
    // now, tat, limit, period, burst, cost → tat, delay
    [0, undefined, 1, 1000, 1, 1, 1000, 0],
    [0, 1000, 1, 1000, 1, 1, 2000, 1000],
    [500, 1000, 1, 1000, 1, 1, 2000, 500],
    [5000, 1000, 1, 1000, 1, 1, 6000, 0],
    [0, undefined, 10, 1000, 3, 3, 300, 0],
    [0, 300, 10, 1000, 3, 1, 400, 100],
    [0, undefined, 10, 1000, 3, 2.5, 250, 0],
    [0, 250, 10, 1000, 3, 1, 350, 50],
    // cost > burst: the step itself still computes the wait it would need.
    [0, undefined, 1, 1000, 2, 3, 3000, 1000],
  ])(
    'now %d, tat %s, %d/%d burst %d, cost %d → tat %d, delay %d',
    (now, tat, limit, period, burst, cost, nextTat, delay) => {
      expect(gcraStep(now, tat, P(limit, period, burst), cost)).toEqual({ tat: nextTat, delay });
    },
  );

  it('an exact fit at epoch-ms times is not a tiny positive delay', () => {
    const p = P(3, 1000, 2);
    const first = gcraStep(EPOCH, undefined, p);
    const second = gcraStep(EPOCH, first.tat, p);
    expect([first.delay, second.delay]).toEqual([0, 0]);
    // One interval later exactly one more fits; EPOCH + 1000/3 is not exact in binary.
    expect(gcraStep(EPOCH + 1000 / 3, second.tat, p).delay).toBe(0);
    expect(gcraStep(EPOCH + 1000 / 3 - 0.001, second.tat, p).delay).toBeGreaterThan(0);
  });

  /**
   * Reference: the virtual-scheduling form in absolute times. The request's cells are
   * scheduled one interval apart from `max(tat, now)`; the request conforms once its last
   * cell is no more than tau early, so it is emitted at `max(now, last − tau)`.
   */
  function virtualScheduling(
    now: number,
    tat: number | undefined,
    p: FreqLimitParams,
    cost: number,
  ): { tat: number; emit: number } {
    const first = tat === undefined ? now : Math.max(tat, now);
    const last = first + (cost - 1) * p.interval;
    return { tat: first + cost * p.interval, emit: Math.max(now, last - p.tau) };
  }

  const params = fc
    .record({
      limit: fc.integer({ min: 1, max: 1000 }),
      period: fc.double({ min: 0.001, max: 3_600_000, noNaN: true }),
      burst: fc.integer({ min: 1, max: 50 }),
    })
    .map((init) => new FreqLimitParams(init));

  it('matches the virtual-scheduling form (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1_000_000, EPOCH),
        fc.double({ min: 0, max: 1e7, noNaN: true }),
        fc.option(fc.double({ min: -1e7, max: 1e7, noNaN: true }), { nil: undefined }),
        params,
        fc.double({ min: 1e-3, max: 60, noNaN: true }),
        (origin, offset, tatOffset, p, cost) => {
          const now = origin + offset;
          const tat = tatOffset === undefined ? undefined : now + tatOffset;
          const got = gcraStep(now, tat, p, cost);
          const want = virtualScheduling(now, tat, p, cost);
          // Float tolerance: a few ulps of the absolute times involved.
          // Delays up to 1 ns (about one ulp at epoch ms) are float noise, clamped to 0 by
          // design; beyond that, a few ulps of the absolute times involved.
          const eps = Math.max(
            2e-6,
            4 * Number.EPSILON * Math.max(Math.abs(want.tat), Math.abs(now)),
          );
          expect(Math.abs(got.tat - want.tat)).toBeLessThanOrEqual(eps);
          expect(Math.abs(got.delay - (want.emit - now))).toBeLessThanOrEqual(eps);
          expect(got.delay).toBeGreaterThanOrEqual(0);
          if (cost === 1 && tat !== undefined) {
            // Unit cost: exactly `allowed = tat − tau`.
            expect(Math.abs(got.delay - Math.max(0, tat - p.tau - now))).toBeLessThanOrEqual(eps);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Traces: random sequences of reservations, checked against the model in test/model.ts.
// Every generated quantity is a small dyadic fraction (intervals in 1/4 ms, costs in 1/8,
// clock steps in 1/16 ms), so both implementations compute exactly and decisions can be
// compared exactly, even at epoch-ms times.

interface LimitSpec {
  limit: number;
  /** Interval T in ms; period = T · limit. */
  interval: number;
  burst: number;
}

interface Op {
  /** Clock step before the op, ms (≥ 0). */
  dt: number;
  /** Indices into the key list; one key → reserve, several → reserveMany. */
  keys: number[];
  /** Cost per key (fractions; may exceed burst). */
  costs: number[];
  maxDelay: number;
}

const KEYS = 4;

const limitSpec: fc.Arbitrary<LimitSpec> = fc.record({
  limit: fc.integer({ min: 1, max: 20 }),
  interval: fc.integer({ min: 1, max: 4000 }).map((q) => q / 4),
  burst: fc.integer({ min: 1, max: 6 }),
});

const opArb: fc.Arbitrary<Op> = fc
  .record({
    dt: fc.oneof(
      { weight: 3, arbitrary: fc.constant(0) },
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 16 * 200 }).map((s) => s / 16) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 16 * 5000 }).map((s) => s / 16) },
    ),
    keys: fc.uniqueArray(fc.integer({ min: 0, max: KEYS - 1 }), { minLength: 1, maxLength: 3 }),
    costs: fc.array(
      fc.integer({ min: 1, max: 8 * 8 }).map((e) => e / 8),
      {
        minLength: 3,
        maxLength: 3,
      },
    ),
    maxDelay: fc.oneof(
      fc.constant(0),
      fc.constant(Number.POSITIVE_INFINITY),
      fc.integer({ min: 0, max: 4 * 3000 }).map((q) => q / 4),
    ),
  })
  .map((op) => ({ ...op, costs: op.costs.slice(0, op.keys.length) }));

const traceArb = fc.record({
  origin: fc.constantFrom(0, 123_456, EPOCH),
  limits: fc.array(limitSpec, { minLength: KEYS, maxLength: KEYS }),
  ops: fc.array(opArb, { minLength: 1, maxLength: 80 }),
  /** Only single-key ops: what a backend without reserveMany sees. */
  singleOnly: fc.boolean(),
});

type Trace = typeof traceArb extends fc.Arbitrary<infer X> ? X : never;

function toParams(spec: LimitSpec): FreqLimitParams {
  return new FreqLimitParams({
    limit: spec.limit,
    period: spec.interval * spec.limit,
    burst: spec.burst,
  });
}

/** What the system under test answers for an op: reserve when one key, else reserveMany. */
type Reserver = (
  keys: string[],
  params: FreqLimitParams[],
  costs: number[],
  maxDelay: number,
  now: number,
) => { allowed: boolean; delay: number; retryAfter: number; each: ReadonlyArray<object> };

/**
 * Run a trace through `sut` and the model side by side; compare every answer exactly and
 * check the long-run window bound on the emissions of every key.
 */
function checkTrace(trace: Trace, sut: Reserver): void {
  const model = new ModelBackend();
  const params = trace.limits.map(toParams);
  const emissions: Array<Array<{ at: number; cost: number }>> = params.map(() => []);
  let now = trace.origin;
  for (const op of trace.ops) {
    now += op.dt;
    const keys = trace.singleOnly ? op.keys.slice(0, 1) : op.keys;
    const costs = op.costs.slice(0, keys.length);
    const names = keys.map((k) => `k${k}`);
    const ps = keys.map((k) => params[k] as FreqLimitParams);
    const got = sut(names, ps, costs, op.maxDelay, now);
    const want = model.reserveMany(
      keys.map((k, i) => ({ key: `k${k}`, p: ps[i] as FreqLimitParams, cost: costs[i] as number })),
      op.maxDelay,
      now,
    );
    expect({
      allowed: got.allowed,
      delay: got.delay,
      retryAfter: got.retryAfter,
      each: got.each,
    }).toEqual(want);
    if (got.allowed) {
      keys.forEach((k, i) => {
        emissions[k]?.push({ at: now + got.delay, cost: costs[i] as number });
      });
    }
  }
  params.forEach((p, k) => {
    const list = emissions[k] ?? [];
    // Sorted by emission time, the cost in any window [a, b] is ≤ burst + (b − a) / T.
    const sorted = [...list].sort((x, y) => x.at - y.at);
    for (let i = 0; i < sorted.length; i++) {
      let sum = 0;
      for (let j = i; j < sorted.length; j++) {
        sum += (sorted[j] as { cost: number }).cost;
        const window = (sorted[j] as { at: number }).at - (sorted[i] as { at: number }).at;
        expect(sum).toBeLessThanOrEqual(p.burst + window / p.interval + 1e-9);
      }
    }
  });
}

describe('gcraReserve / gcraReserveMany against the model (property)', () => {
  it('pure functions', () => {
    fc.assert(
      fc.property(traceArb, (trace) => {
        const tats = new Map<string, number | undefined>();
        checkTrace(trace, (keys, params, costs, maxDelay, now) => {
          if (keys.length === 1) {
            const key = keys[0] as string;
            const { reservation, tat } = gcraReserve(
              now,
              tats.get(key),
              params[0] as FreqLimitParams,
              costs[0],
              maxDelay,
            );
            tats.set(key, tat);
            return { ...reservation, each: [reservation] };
          }
          const { reservation, tats: next } = gcraReserveMany(
            now,
            keys.map((k) => tats.get(k)),
            keys.map((_, i) => ({ params: params[i] as FreqLimitParams, cost: costs[i] })),
            maxDelay,
          );
          keys.forEach((k, i) => {
            tats.set(k, next[i]);
          });
          return reservation;
        });
      }),
      { numRuns: 400 },
    );
  });

  it('InMemoryBackend.reserve / reserveMany with an injected clock', async () => {
    await fc.assert(
      fc.asyncProperty(traceArb, async (trace) => {
        let clock = 0;
        // A small maxKeys would evict; this checks the algorithm, so keep them all.
        const backend = new InMemoryBackend({ clock: () => clock });
        const answers: Array<{
          allowed: boolean;
          delay: number;
          retryAfter: number;
          each: object[];
        }> = [];
        // Run the trace on the backend first (async), recording answers, then replay them.
        let now = trace.origin;
        for (const op of trace.ops) {
          now += op.dt;
          clock = now;
          const keys = (trace.singleOnly ? op.keys.slice(0, 1) : op.keys).map((k) => `k${k}`);
          const params = (trace.singleOnly ? op.keys.slice(0, 1) : op.keys).map((k) =>
            toParams(trace.limits[k] as LimitSpec),
          );
          const costs = op.costs.slice(0, keys.length);
          if (keys.length === 1) {
            const r = await backend.reserve(keys[0] as string, params[0] as FreqLimitParams, {
              cost: costs[0],
              maxDelay: op.maxDelay,
            });
            answers.push({ ...r, each: [r] });
          } else {
            answers.push(
              await backend.reserveMany(
                keys.map((key, i) => ({
                  key,
                  params: params[i] as FreqLimitParams,
                  cost: costs[i],
                })),
                { maxDelay: op.maxDelay },
              ),
            );
          }
        }
        let i = 0;
        checkTrace(trace, () => answers[i++] as (typeof answers)[number]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('a client hammering with maxDelay: 0', () => {
  it.each([
    ['small times', 0],
    ['epoch-ms times', EPOCH],
  ])('is admitted exactly when the first retryAfter has passed (%s)', async (_label, t0) => {
    const backend = new InMemoryBackend();
    const p = P(3, 1000, 2);
    let firstRejection: { at: number; retryAfter: number } | undefined;
    let admitted = 0;
    // 1,000 requests, one every 0.1 ms: 10,000/s against a limit of 3/s.
    for (let i = 0; i < 1000; i++) {
      const at = t0 + i * 0.1;
      const r = await backend.reserve('client', p, { now: at, maxDelay: 0 });
      if (r.allowed) admitted++;
      else firstRejection ??= { at, retryAfter: r.retryAfter };
    }
    expect(admitted).toBe(2);
    if (firstRejection === undefined) return expect.fail('no request was rejected');
    // Within the float resolution of the absolute times (0.1 ms steps at epoch ms).
    expect(firstRejection.retryAfter).toBeCloseTo(1000 / 3 - 0.2, 3);
    const due = firstRejection.at + firstRejection.retryAfter;
    const early = await backend.reserve('client', p, { now: due - 0.001, maxDelay: 0 });
    expect(early.allowed).toBe(false);
    expect(early.retryAfter).toBeGreaterThan(0);
    expect(early.retryAfter).toBeLessThanOrEqual(0.0011);
    const onTime = await backend.reserve('client', p, { now: due, maxDelay: 0 });
    expect(onTime).toMatchObject({ allowed: true, delay: 0, retryAfter: 0 });
  });
  it('holds for any rate, burst, start time and pace of 1,000 rejected requests (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, EPOCH),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 1, max: 5 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        (origin, offset, limit, period, burst, pace) => {
          const backend = new InMemoryBackend();
          const p = P(limit, period, burst);
          const t0 = origin + offset;
          // The burst passes at t0, the next request is the first rejection.
          let first = backend.reserveSync('c', p, { now: t0, maxDelay: 0 });
          while (first.allowed) first = backend.reserveSync('c', p, { now: t0, maxDelay: 0 });
          const due = t0 + first.retryAfter;
          // 1,000 more, spread over a random fraction of the wait, all at least 1 µs before
          // it is due (the resolution this promises; at epoch ms a double resolves ~0.24 µs).
          let admitted = 0;
          for (let i = 0; i < 1000; i++) {
            const at =
              t0 + Math.min((first.retryAfter * pace * i) / 1000, first.retryAfter - 0.001);
            if (backend.reserveSync('c', p, { now: at, maxDelay: 0 }).allowed) admitted++;
          }
          expect(admitted).toBe(0);
          expect(backend.reserveSync('c', p, { now: due - 0.001, maxDelay: 0 }).allowed).toBe(
            false,
          );
          expect(backend.reserveSync('c', p, { now: due, maxDelay: 0 }).allowed).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('multiple limits', () => {
  const fast = P(10, 1000); // T = 100
  const slow = P(1, 1000); // T = 1000

  it('a request held by the slower limit is accounted at its emission time on the faster one', () => {
    let tats: Array<number | undefined> = [undefined, undefined];
    const entries = [{ params: fast }, { params: slow }];
    const first = gcraReserveMany(0, tats, entries);
    expect(first.reservation.delay).toBe(0);
    tats = first.tats;
    const held = gcraReserveMany(0, tats, entries);
    expect(held.reservation).toMatchObject({ allowed: true, delay: 1000 });
    // Emitted at 1000, so the fast limit is busy until 1100 — not until 200, as accounting
    // at the fast limit's own time (now + its 100 ms delay) would say.
    expect(held.tats).toEqual([1100, 2000]);
    tats = held.tats;
    // A later request on the fast limit alone is emitted one fast interval after the held
    // one (at 1100); accounted at its own time, the fast TAT would be 200 and let it pass then.
    const alone = gcraReserve(1, tats[0], fast);
    expect(alone.reservation.delay).toBe(1099);
    expect(gcraReserve(200, tats[0], fast, 1, 0).reservation).toMatchObject({
      allowed: false,
      retryAfter: 900,
    });
    expect(gcraReserve(1099, tats[0], fast, 1, 0).reservation.allowed).toBe(false);
    expect(gcraReserve(1100, tats[0], fast, 1, 0).reservation.allowed).toBe(true);
  });

  it('per-entry results: each limit’s own delay, remaining and resetAfter', () => {
    const burst = P(10, 1000, 5); // T = 100, tau = 400
    const { reservation } = gcraReserveMany(
      0,
      [undefined, 1500],
      [{ params: burst, cost: 2 }, { params: slow }],
    );
    expect(reservation.allowed).toBe(true);
    expect(reservation.delay).toBe(1500);
    expect(reservation.each).toEqual([
      // The burst limit needed no wait itself but is accounted at 1500: TAT 1500 + 2·100.
      { allowed: true, delay: 0, retryAfter: 0, remaining: 0, resetAfter: 1700 },
      { allowed: true, delay: 1500, retryAfter: 0, remaining: 0, resetAfter: 2500 },
    ]);
  });

  it('all or nothing: a rejection reserves on no limit', async () => {
    const backend = new InMemoryBackend();
    const entries = [
      { key: 'fast', params: fast },
      { key: 'slow', params: slow },
    ];
    await backend.reserveMany(entries, { now: 0 });
    const r = await backend.reserveMany(entries, { now: 0, maxDelay: 999 });
    expect(r).toMatchObject({ allowed: false, delay: 1000, retryAfter: 1 });
    expect(r.each.map((e) => [e.allowed, e.delay, e.retryAfter, e.remaining])).toEqual([
      [false, 100, 0, 0],
      [false, 1000, 1, 0],
    ]);
    expect(backend.size).toBe(2);
    expect((await backend.reserve('fast', fast, { now: 0 })).delay).toBe(100);
    expect((await backend.reserve('slow', slow, { now: 0 })).delay).toBe(1000);
  });

  it('cost > burst on one limit rejects the whole request with retryAfter Infinity', async () => {
    const backend = new InMemoryBackend();
    const wide = P(10, 1000, 5);
    const narrow = P(10, 1000, 2);
    const r = await backend.reserveMany(
      [
        { key: 'wide', params: wide, cost: 3 },
        { key: 'narrow', params: narrow, cost: 3 },
      ],
      { now: 0 },
    );
    expect(r.allowed).toBe(false);
    expect(r.delay).toBe(Number.POSITIVE_INFINITY);
    expect(r.retryAfter).toBe(Number.POSITIVE_INFINITY);
    expect(r.each[0]).toMatchObject({ allowed: false, delay: 0, retryAfter: 0, remaining: 0 });
    expect(r.each[1]).toMatchObject({
      allowed: false,
      delay: Number.POSITIVE_INFINITY,
      retryAfter: Number.POSITIVE_INFINITY,
    });
    expect(backend.size).toBe(0);
    expect((await backend.reserve('wide', wide, { now: 0 })).remaining).toBe(4);
  });
});

describe('one rounding rule for delay and remaining', () => {
  it('repro (issue 10): an epoch-ms reservation that leaves a free cell reports it', () => {
    const p = P(40, 2462.5443689445183, 3);
    const now = 1700803288859.031;
    const { reservation, tat } = gcraReserve(now, now + p.interval, p);
    expect(reservation).toMatchObject({ allowed: true, delay: 0 });
    // The next unit-cost request passes with no delay, so one is remaining (was 0).
    expect(gcraStep(now, tat, p).delay).toBe(0);
    expect(reservation.remaining).toBe(1);
  });

  /** Params with arbitrary float periods, where absolute epoch times leave rounding noise. */
  const params = fc
    .record({
      limit: fc.integer({ min: 1, max: 1000 }),
      period: fc.double({ min: 0.01, max: 3_600_000, noNaN: true }),
      burst: fc.integer({ min: 1, max: 20 }),
    })
    .map((init) => new FreqLimitParams(init));

  it.each([
    ['small clocks', 0],
    ['epoch-ms clocks', EPOCH],
  ])('remaining > 0 exactly when a unit-cost request would pass with no delay (%s)', (_, t0) => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e7, noNaN: true }),
        params,
        // TATs a whole number of intervals ahead (the boundary), give or take float noise.
        fc.option(
          fc.tuple(
            fc.integer({ min: -2, max: 25 }),
            fc.double({ min: -1e-3, max: 1e-3, noNaN: true }),
          ),
          { nil: undefined },
        ),
        fc.oneof(fc.constant(1), fc.double({ min: 1e-3, max: 20, noNaN: true })),
        (offset, p, ahead, cost) => {
          const now = t0 + offset;
          const tat = ahead === undefined ? undefined : now + ahead[0] * p.interval + ahead[1];
          const { reservation, tat: next } = gcraReserve(now, tat, p, cost);
          if (!reservation.allowed) return; // cost > burst
          const passes = gcraStep(now, next, p, 1).delay === 0;
          expect(reservation.remaining > 0).toBe(passes);
          // And the count: unit requests one after the other pass `remaining` times (give or
          // take one where the chained absolute TATs round across the boundary; intervals
          // below 10 µs at epoch ms are within a few ulps of the clock, too fine to chain).
          if (p.interval < 0.01) return;
          let t = next;
          let passed = 0;
          while (passed <= p.burst && gcraStep(now, t, p, 1).delay === 0) {
            t = gcraStep(now, t, p, 1).tat;
            passed++;
          }
          expect(Math.abs(passed - reservation.remaining)).toBeLessThanOrEqual(1);
          expect(reservation.remaining).toBeLessThanOrEqual(p.burst);
          // The same for the multi-limit form.
          const many = gcraReserveMany(now, [tat], [{ params: p, cost }]);
          expect(many.reservation.each[0]!.remaining).toBe(reservation.remaining);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('plain params in the pure functions', () => {
  const plain = { limit: 1, period: 1000 };

  it('repro (issue 10): a plain object is validated and used, never NaN', () => {
    expect(gcraStep(0, undefined, plain)).toEqual({ tat: 1000, delay: 0 });
    const { reservation, tat } = gcraReserve(0, undefined, plain);
    expect(reservation).toEqual({
      allowed: true,
      delay: 0,
      retryAfter: 0,
      remaining: 0,
      resetAfter: 1000,
    });
    expect(tat).toBe(1000);
    expect(gcraReserve(0, 1000, { ...plain, burst: 2 }).reservation.remaining).toBe(0);
    expect(gcraReserveMany(0, [undefined], [{ params: plain }]).tats).toEqual([1000]);
    expect(gcraRefund(0, 3000, plain)).toBe(2000);
  });

  it.each([
    [{ limit: 1 }, TypeError, /`period`/],
    [{ limit: Number.NaN, period: 1000 }, RangeError, /`limit`/],
    [{ limit: 1, period: 1000, burst: 0 }, RangeError, /`burst`/],
    [{ limit: 1, period: -5 }, RangeError, /`period`/],
    [null, TypeError, /expected an object/],
  ])('invalid plain params %j throw, naming the field', (bad, type, message) => {
    const p = bad as unknown as FreqLimitParams;
    for (const call of [
      () => gcraStep(0, undefined, p),
      () => gcraReserve(0, undefined, p),
      () => gcraReserveMany(0, [undefined], [{ params: p }]),
      () => gcraRefund(0, 10, p),
    ]) {
      expect(call).toThrow(type);
      expect(call).toThrow(message);
    }
  });

  it('now and tat must be finite numbers', () => {
    const p = P(1, 1000);
    expect(() => gcraStep(Number.NaN, undefined, p)).toThrow(/`now`/);
    expect(() => gcraStep(0, Number.NaN, p)).toThrow(/`tat`/);
    expect(() => gcraReserve(0, Number.POSITIVE_INFINITY, p)).toThrow(/`tat`/);
    expect(() =>
      gcraReserveMany(0, [undefined, Number.NaN], [{ params: p }, { params: p }]),
    ).toThrow(/`tat`/);
    expect(() => gcraReserveMany(0, [], [{ params: p }])).toThrow(/`tats`/);
    expect(() => gcraRefund(Number.NaN, 5, p)).toThrow(/`now`/);
  });
});

describe('gcraRefund', () => {
  it.each([
    // now, tat, limit, period, cost → tat
    [0, undefined, 1, 1000, 1, undefined],
    [0, 3000, 1, 1000, 1, 2000],
    [0, 3000, 1, 1000, 2.5, 500],
    [0, 3000, 1, 1000, 3, undefined],
    [2500, 3000, 1, 1000, 1, undefined],
    [4000, 3000, 1, 1000, 1, undefined],
  ])('now %d, tat %s, %d/%d, cost %d → %s', (now, tat, limit, period, cost, want) => {
    expect(gcraRefund(now, tat, P(limit, period), cost)).toBe(want);
  });
});

describe('gcraPeek', () => {
  it.each([
    // now, tat, limit, period, burst → remaining, resetAfter, retryAfter
    [0, undefined, 10, 1000, 4, 4, 0, 0],
    [0, 100, 10, 1000, 4, 3, 100, 0],
    [0, 300, 10, 1000, 4, 1, 300, 0],
    [0, 400, 10, 1000, 4, 0, 400, 100],
    [0, 450, 10, 1000, 4, 0, 450, 150],
    [500, 450, 10, 1000, 4, 4, 0, 0],
    [0, 2000, 1, 1000, 1, 0, 2000, 2000],
  ])(
    'now %d, tat %s, %d/%d burst %d → remaining %d, resetAfter %d, retryAfter %d',
    (now, tat, limit, period, burst, remaining, resetAfter, retryAfter) => {
      expect(gcraPeek(now, tat, P(limit, period, burst))).toEqual({
        remaining,
        resetAfter,
        retryAfter,
      });
    },
  );

  it('agrees with what a reservation at the same now would see (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, EPOCH),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc
          .record({
            limit: fc.integer({ min: 1, max: 100 }),
            period: fc.double({ min: 1, max: 100_000, noNaN: true }),
            burst: fc.integer({ min: 1, max: 10 }),
          })
          .map((init) => new FreqLimitParams(init)),
        fc.option(fc.double({ min: -1e5, max: 1e5, noNaN: true }), { nil: undefined }),
        (origin, offset, p, ahead) => {
          const now = origin + offset;
          const tat = ahead === undefined ? undefined : now + ahead;
          const status = gcraPeek(now, tat, p);
          const step = gcraStep(now, tat, p, 1);
          expect(status.retryAfter).toBe(step.delay);
          expect(status.remaining > 0).toBe(status.retryAfter === 0);
          expect(status.resetAfter).toBe(tat !== undefined && tat > now ? tat - now : 0);
          expect(status.remaining).toBeLessThanOrEqual(p.burst);
          // A reservation after it leaves one fewer (a unit request took one).
          const r = gcraReserve(now, tat, p, 1, 0).reservation;
          expect(r.allowed).toBe(status.remaining > 0);
          if (r.allowed)
            expect(Math.abs(r.remaining - (status.remaining - 1))).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('validates plain params, now and tat', () => {
    expect(gcraPeek(0, undefined, { limit: 2, period: 1000, burst: 3 })).toEqual({
      remaining: 3,
      resetAfter: 0,
      retryAfter: 0,
    });
    expect(() => gcraPeek(0, undefined, { limit: 2 } as never)).toThrow(/`period`/);
    expect(() => gcraPeek(Number.NaN, undefined, P(1, 1))).toThrow(/`now`/);
  });
});

describe('gcraBlock', () => {
  it.each([
    // now, tat, limit, period, burst, ms → tat
    [0, undefined, 1, 1000, 1, 5000, 5000],
    [0, undefined, 10, 1000, 5, 5000, 5400],
    [0, 9000, 1, 1000, 1, 5000, 9000],
    [0, 3000, 1, 1000, 1, 5000, 5000],
    [7000, 3000, 1, 1000, 1, 5000, 12000],
    [0, undefined, 1, 1000, 1, 0, undefined],
    [0, undefined, 10, 1000, 3, 0, 200],
  ])('now %d, tat %s, %d/%d burst %d, ms %d → %s', (now, tat, limit, period, burst, ms, want) => {
    expect(gcraBlock(now, tat, P(limit, period, burst), ms)).toBe(want);
  });

  it('never shortens a wait; nothing passes before now + ms, one passes at it (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, EPOCH),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 5 }),
        fc.option(fc.integer({ min: -10_000, max: 100_000 }), { nil: undefined }),
        fc.integer({ min: 0, max: 100_000 }),
        (now, limit, period, burst, ahead, ms) => {
          const p = P(limit, period, burst);
          const tat = ahead === undefined ? undefined : now + ahead;
          const blocked = gcraBlock(now, tat, p, ms);
          const before = gcraPeek(now, tat, p).retryAfter;
          const after = gcraPeek(now, blocked, p).retryAfter;
          expect(after).toBeGreaterThanOrEqual(before);
          // Within float noise of epoch-ms absolute times.
          expect(after).toBeGreaterThanOrEqual(ms - 1e-3);
          if (ms > 0 && before <= ms) {
            expect(gcraReserve(now + ms - 0.01, blocked, p, 1, 0).reservation.allowed).toBe(false);
            expect(gcraReserve(now + ms, blocked, p, 1, 0).reservation.allowed).toBe(true);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it.each([Number.NaN, -1, Number.POSITIVE_INFINITY, 1e13, '5', undefined])(
    'ms %s is a RangeError naming `ms`',
    (ms) => {
      expect(() => gcraBlock(0, undefined, P(1, 1000), ms as number)).toThrow(RangeError);
      expect(() => gcraBlock(0, undefined, P(1, 1000), ms as number)).toThrow(/`ms`/);
    },
  );
});
