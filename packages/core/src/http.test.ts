import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RecordingBackend, SingleLimitBackend } from '../test/test-backends.js';
import type { FreqLimitBackend, Reservation } from './backend.js';
import { InMemoryBackend } from './backends/memory.js';
import { BackendTimeoutError } from './errors.js';
import {
  type AdapterSpec,
  BACKEND_COOL_DOWN_MS,
  type Decision,
  type FreqLimitMiddlewareOptions,
  RequestLimiter,
  retryAfterSeconds,
  serverTiming,
} from './http.js';

/** The plain-object request context of these tests. */
interface Ctx {
  ip?: string;
  user?: string | null;
  cost?: number;
}

const adapter: AdapterSpec<Ctx> = { name: 'test', defaultKey: (ctx) => ctx.ip };

const limiter = (options: FreqLimitMiddlewareOptions<Ctx>) => new RequestLimiter(options, adapter);

type Hold = Extract<Decision, { action: 'hold' }>;
type Reject = Extract<Decision, { action: 'reject' }>;

function asHold(d: Decision): Hold {
  if (d.action !== 'hold') throw new Error(`expected hold, got ${d.action}`);
  return d;
}
function asReject(d: Decision): Reject {
  if (d.action !== 'reject') throw new Error(`expected reject, got ${d.action}`);
  return d;
}
const header = (d: Decision, name: string): string | undefined =>
  'headers' in d ? d.headers.find(([n]) => n === name)?.[1] : undefined;

/** A backend that is down: every call fails (asynchronously, or synchronously if asked). */
class FailingBackend implements FreqLimitBackend {
  calls = 0;
  constructor(readonly mode: 'reject' | 'throw' = 'reject') {}
  #fail(): Promise<never> {
    this.calls++;
    const error = new BackendTimeoutError(1000, 'reservation');
    if (this.mode === 'throw') throw error;
    return Promise.reject(error);
  }
  reserve(): Promise<Reservation> {
    return this.#fail();
  }
  refund(): Promise<void> {
    return this.#fail();
  }
  reserveMany(): Promise<never> {
    return this.#fail();
  }
  clear(): Promise<void> {
    return Promise.resolve();
  }
}

const A = { ip: '192.0.2.1' };
const B = { ip: '192.0.2.2' };

let errorSpy: ReturnType<typeof vi.spyOn>;
let warnSpy: ReturnType<typeof vi.spyOn>;

beforeEach(() => {
  vi.useFakeTimers();
  errorSpy = vi.spyOn(console, 'error').mockImplementation(() => {});
  warnSpy = vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('RequestLimiter decisions', () => {
  it('pass: allowed at once, with the decision and draft-10 headers', async () => {
    const rl = limiter({ limit: 10, period: 1000, burst: 2 });
    const d = await rl.decide(A);
    expect(d).toEqual({
      action: 'pass',
      info: {
        allowed: true,
        delay: 0,
        retryAfter: undefined,
        reservation: { allowed: true, delay: 0, retryAfter: 0, remaining: 1, resetAfter: 100 },
        limits: [
          {
            name: 'default',
            key: '192.0.2.1',
            limit: 10,
            period: 1000,
            burst: 2,
            remaining: 1,
            resetAfter: 100,
          },
        ],
      },
      headers: [
        ['RateLimit-Policy', '"default";q=10;w=1'],
        ['RateLimit', '"default";r=1;t=0'],
      ],
    });
  });

  it('hold: delayed within maxDelay; hold() resolves with the ms held', async () => {
    const rl = limiter({ limit: 10, period: 1000, burst: 2, name: 'api' });
    await rl.decide(A);
    await rl.decide(A);
    const d = asHold(await rl.decide(A));
    expect(d.delay).toBeCloseTo(100, 9);
    expect(d.info).toMatchObject({ allowed: true, delay: d.delay, retryAfter: undefined });
    expect(header(d, 'RateLimit')).toBe('"api";r=0;t=1');
    expect(d.refund).toMatchObject({ keys: ['api:192.0.2.1'], cost: 1 });
    expect(rl.held).toBe(1);
    const held = rl.hold(d);
    await vi.advanceTimersByTimeAsync(99);
    expect(rl.held).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await held).toBe(100);
    expect(rl.held).toBe(0);
    expect(serverTiming(100)).toBe('freqlimit;dur=100');
  });

  it('reject: 429 with Retry-After, t = Retry-After, JSON body; nothing reserved', async () => {
    const rl = limiter({ limit: 1, period: 10_000, maxDelay: 1000, name: 'login' });
    await rl.decide(A);
    const d = asReject(await rl.decide(A));
    expect(d.status).toBe(429);
    expect(d.info).toMatchObject({ allowed: false, delay: 10_000, retryAfter: 9 });
    expect(d.headers).toEqual([
      ['RateLimit-Policy', '"login";q=1;w=10'],
      ['RateLimit', '"login";r=0;t=9'],
      ['Retry-After', '9'],
      ['Content-Type', 'application/json; charset=utf-8'],
    ]);
    expect(JSON.parse(d.body)).toEqual({ error: 'Too Many Requests', retryAfter: 9 });
    // The rejection reserved nothing: 9 s later the next request fits within maxDelay.
    await vi.advanceTimersByTimeAsync(9000);
    expect(asHold(await rl.decide(A)).delay).toBeCloseTo(1000, 6);
  });

  it('Retry-After is at least 1 and rounded up', async () => {
    const rl = limiter({ limit: 10, period: 1000, maxDelay: 0 });
    await rl.decide(A);
    const d = asReject(await rl.decide(A)); // retryAfter 100 ms
    expect(header(d, 'Retry-After')).toBe('1');
    expect(retryAfterSeconds(0.001)).toBe(1);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1000.5)).toBe(2);
    expect(retryAfterSeconds(1000.002)).toBe(2);
    expect(retryAfterSeconds(Number.POSITIVE_INFINITY)).toBeUndefined();
  });

  it.each(Array.from({ length: 30 }, (_, i) => i + 1))(
    'Retry-After is exact when the wait is whole seconds made of fractions (limit %d)',
    async (limit) => {
      // `limit` requests at once on a burst-1 limit of `limit`/s: the next waits exactly 1 s,
      // computed as a sum of `limit` fractional intervals.
      const backend = new InMemoryBackend();
      const fill = limiter({ limit, period: 1000, maxDelay: Number.POSITIVE_INFINITY, backend });
      for (let i = 0; i < limit; i++) await fill.decide(B);
      const noWait = limiter({ limit, period: 1000, maxDelay: 0, backend });
      const d = asReject(await noWait.decide(B));
      expect(d.info?.reservation.retryAfter).toBeCloseTo(1000, 6);
      expect(header(d, 'Retry-After')).toBe('1');
      expect(header(d, 'RateLimit')).toBe('"default";r=0;t=1');
    },
  );

  it('cost > burst: 429 without Retry-After', async () => {
    const rl = limiter({ limit: 10, period: 1000, burst: 2, cost: 3 });
    const d = asReject(await rl.decide(A));
    expect(d.status).toBe(429);
    expect(d.info?.retryAfter).toBeUndefined();
    expect(header(d, 'Retry-After')).toBeUndefined();
    expect(JSON.parse(d.body)).toEqual({ error: 'Too Many Requests' });
  });

  it('headers: false sends no rate-limit fields, but still Retry-After on a 429', async () => {
    const rl = limiter({ limit: 1, period: 1000, maxDelay: 0, headers: false });
    expect((await rl.decide(A)) as { headers: unknown }).toMatchObject({ headers: [] });
    const d = asReject(await rl.decide(A));
    expect(d.headers.map(([n]) => n)).toEqual(['Retry-After', 'Content-Type']);
  });

  it.each([
    ['draft-8', ['RateLimit-Policy', 'RateLimit']],
    ['draft-6', ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy']],
    ['legacy', ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']],
  ] as const)('headers: %s', async (mode, names) => {
    const rl = limiter({ limit: 1, period: 1000, headers: mode });
    const d = await rl.decide(A);
    expect('headers' in d && d.headers.map(([n]) => n)).toEqual(names);
  });
});

describe('RequestLimiter keys, skip and cost', () => {
  it.each([null, undefined])('keyFn returning %s → next, nothing reserved', async (value) => {
    const backend = new RecordingBackend();
    const rl = limiter({ limit: 1, period: 1000, backend, keyFn: () => value });
    expect(await rl.decide(A)).toEqual({ action: 'next' });
    expect(backend.reserved).toEqual([]);
  });

  it('the default key comes from the adapter; keyFn (maybe async, maybe a number) replaces it', async () => {
    const backend = new RecordingBackend();
    await limiter({ limit: 1, period: 1000, backend, name: 'a' }).decide(A);
    await limiter({
      limit: 1,
      period: 1000,
      backend,
      name: 'b',
      keyFn: async (c) => c.user,
    }).decide({ ...A, user: 'ann' });
    await limiter({ limit: 1, period: 1000, backend, name: 'c', keyFn: () => 42 }).decide(A);
    expect(backend.reserved).toEqual(['a:192.0.2.1', 'b:ann', 'c:42']);
  });

  it('skip → next; skip false or async false → limited', async () => {
    const backend = new RecordingBackend();
    const rl = limiter({
      limit: 1,
      period: 1000,
      backend,
      skip: async (ctx) => ctx.user === 'admin',
    });
    expect(await rl.decide({ ...A, user: 'admin' })).toEqual({ action: 'next' });
    expect(backend.reserved).toEqual([]);
    expect((await rl.decide({ ...A, user: 'ann' })).action).toBe('pass');
  });

  it('cost: a number or a function of the request', async () => {
    const rl = limiter({ limit: 10, period: 1000, burst: 5, cost: (ctx) => ctx.cost ?? 1 });
    const d = await rl.decide({ ...A, cost: 3 });
    expect(d.action === 'pass' && d.info.limits[0]?.remaining).toBe(2);
    const fixed = limiter({ limit: 10, period: 1000, burst: 5, cost: 2.5 });
    const e = await fixed.decide(A);
    expect(e.action === 'pass' && e.info.limits[0]?.resetAfter).toBe(250);
  });

  it('keyFn, skip or cost throwing or returning garbage rejects decide, reserving nothing', async () => {
    const backend = new RecordingBackend();
    const boom = () => {
      throw new Error('boom');
    };
    await expect(limiter({ limit: 1, period: 1, backend, keyFn: boom }).decide(A)).rejects.toThrow(
      'boom',
    );
    await expect(
      limiter({ limit: 1, period: 1, backend, skip: boom, name: 's' }).decide(A),
    ).rejects.toThrow('boom');
    await expect(
      limiter({ limit: 1, period: 1, backend, cost: boom, name: 'c' }).decide(A),
    ).rejects.toThrow('boom');
    await expect(
      limiter({ limit: 1, period: 1, backend, cost: () => 0, name: 'c0' }).decide(A),
    ).rejects.toThrow(/`cost`/);
    await expect(
      limiter({
        limit: 1,
        period: 1,
        backend,
        keyFn: () => ({}) as unknown as string,
        name: 'k',
      }).decide(A),
    ).rejects.toThrow(/keyFn/);
    expect(backend.reserved).toEqual([]);
  });
});

describe('RequestLimiter with several limits', () => {
  it('per-limit keys; a limit whose key is null does not apply', async () => {
    const backend = new RecordingBackend();
    const rl = limiter({
      name: 'bot',
      backend,
      limits: [
        { limit: 30, period: 1000, burst: 30, key: () => 'all' },
        { limit: 1, period: 1000, key: (ctx) => ctx.user },
        { limit: 20, period: 60_000, burst: 20 },
      ],
    });
    const d = await rl.decide({ ...A, user: 'ann' });
    expect(backend.reserved).toEqual(['bot-1:all + bot-2:ann + bot-3:192.0.2.1']);
    expect(d.action === 'pass' && d.info.limits.map((l) => [l.name, l.key, l.remaining])).toEqual([
      ['bot-1', 'all', 29],
      ['bot-2', 'ann', 0],
      ['bot-3', '192.0.2.1', 19],
    ]);
    expect(header(d, 'RateLimit')).toBe('"bot-1";r=29;t=0, "bot-2";r=0;t=1, "bot-3";r=19;t=0');
    expect(header(d, 'RateLimit-Policy')).toBe(
      '"bot-1";q=30;w=1, "bot-2";q=1;w=1, "bot-3";q=20;w=60',
    );
    // No user: the per-user limit does not apply (one key → a plain reserve).
    const anon = await rl.decide({ ...B, user: null });
    expect(backend.reserved[1]).toBe('bot-1:all + bot-3:192.0.2.2');
    expect(header(anon, 'RateLimit')).toBe('"bot-1";r=28;t=0, "bot-3";r=19;t=0');
    // Every key null → next.
    const none = limiter({ limits: [{ limit: 1, period: 1000, key: () => null }] });
    expect(await none.decide(A)).toEqual({ action: 'next' });
  });

  it('held by the slower limit; all or nothing on rejection', async () => {
    const backend = new RecordingBackend();
    const rl = limiter({
      backend,
      maxDelay: 1500,
      limits: [
        { limit: 10, period: 1000, key: () => 'global' },
        { limit: 1, period: 1000 },
      ],
    });
    expect((await rl.decide(A)).action).toBe('pass');
    const held = asHold(await rl.decide(A));
    expect(held.delay).toBe(1000);
    expect(held.refund.keys).toEqual(['default-1:global', 'default-2:192.0.2.1']);
    // Over maxDelay: 429, and the global limit was not charged either.
    asReject(await rl.decide(A));
    // Client B only shares the global limit, busy until 1100 (accounted at A's emission).
    expect(asHold(await rl.decide(B)).delay).toBeCloseTo(1100, 6);
  });

  it('a backend without reserveMany cannot take several limits (nor a fallback without it)', () => {
    const limits = [
      { limit: 1, period: 1000 },
      { limit: 5, period: 60_000 },
    ];
    expect(() => limiter({ limits, backend: new SingleLimitBackend() })).toThrow(
      /SingleLimitBackend.*reserveMany/,
    );
    expect(() => limiter({ limits, onBackendError: new SingleLimitBackend() })).toThrow(
      /SingleLimitBackend.*reserveMany/,
    );
    expect(limiter({ limit: 1, period: 1000, backend: new SingleLimitBackend() })).toBeInstanceOf(
      RequestLimiter,
    );
  });
});

describe('RequestLimiter maxHeld', () => {
  it('at the cap a request that would be held gets 429 and reserves nothing', async () => {
    const rl = limiter({ limit: 1, period: 1000, maxDelay: 5000, maxHeld: 1 });
    expect((await rl.decide(A)).action).toBe('pass');
    const first = asHold(await rl.decide(A)); // held until 1000
    expect(rl.held).toBe(1);
    const over = asReject(await rl.decide(A));
    expect(over.status).toBe(429);
    expect(over.info?.reservation).toMatchObject({ allowed: false, retryAfter: 2000 });
    expect(header(over, 'Retry-After')).toBe('2');
    // A request that can pass at once still passes at the cap.
    expect((await rl.decide(B)).action).toBe('pass');
    const released = rl.hold(first);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await released).toBe(1000);
    expect(rl.held).toBe(0);
    // The 429 reserved nothing: the next request waits one interval, not two.
    expect(asHold(await rl.decide(A)).delay).toBe(1000);
  });

  it('maxHeld: 0 never holds', async () => {
    const rl = limiter({ limit: 1, period: 1000, maxHeld: 0 });
    await rl.decide(A);
    expect(asReject(await rl.decide(A)).status).toBe(429);
  });
});

describe('RequestLimiter hold() and refunds', () => {
  it('an aborted signal resolves undefined, clears the timer and refunds', async () => {
    const rl = limiter({ limit: 1, period: 1000, maxDelay: 5000 });
    await rl.decide(A);
    const d = asHold(await rl.decide(A));
    const controller = new AbortController();
    const held = rl.hold(d, controller.signal);
    await vi.advanceTimersByTimeAsync(300);
    controller.abort();
    expect(await held).toBeUndefined();
    expect(rl.held).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    // The slot is free again: the next request waits 700 ms (until 1000), not 1700.
    expect(asHold(await rl.decide(A)).delay).toBe(700);
  });

  it('a signal that is already aborted resolves undefined at once and refunds', async () => {
    const backend = new RecordingBackend();
    const rl = limiter({ limit: 1, period: 1000, backend });
    await rl.decide(A);
    const d = asHold(await rl.decide(A));
    expect(await rl.hold(d, AbortSignal.abort())).toBeUndefined();
    expect(backend.refunded).toEqual(['default:192.0.2.1']);
    expect(rl.held).toBe(0);
    expect(asHold(await rl.decide(A)).delay).toBe(1000);
  });
});

describe('RequestLimiter backend failures', () => {
  it.each(['reject', 'throw'] as const)(
    "'allow' (default): the request passes (backend that fails by %s)",
    async (mode) => {
      const rl = limiter({ limit: 1, period: 1000, backend: new FailingBackend(mode) });
      expect(await rl.decide(A)).toEqual({ action: 'next' });
      expect(errorSpy).toHaveBeenCalledTimes(1);
      expect(String(errorSpy.mock.calls[0]?.[0])).toMatch(/backend failed/);
      expect(errorSpy.mock.calls[0]?.[1]).toBeInstanceOf(BackendTimeoutError);
    },
  );

  it("'reject': 503", async () => {
    const rl = limiter({
      limit: 1,
      period: 1000,
      backend: new FailingBackend(),
      onBackendError: 'reject',
    });
    const d = asReject(await rl.decide(A));
    expect(d.status).toBe(503);
    expect(d.info).toBeUndefined();
    expect(JSON.parse(d.body)).toEqual({ error: 'Service Unavailable' });
  });

  it('a fallback backend takes over, and is the one refunded', async () => {
    const fallback = new RecordingBackend();
    const rl = limiter({
      limit: 1,
      period: 1000,
      backend: new FailingBackend(),
      onBackendError: fallback,
    });
    expect((await rl.decide(A)).action).toBe('pass');
    const d = asHold(await rl.decide(A));
    expect(d.refund.backend).toBe(fallback);
    expect(await rl.hold(d, AbortSignal.abort())).toBeUndefined();
    expect(fallback.refunded).toEqual(['default:192.0.2.1']);
    expect(fallback.reserved).toEqual(['default:192.0.2.1', 'default:192.0.2.1']);
  });

  it('a failing backend is not asked again during the cool-down', async () => {
    const backend = new FailingBackend();
    const rl = limiter({ limit: 1, period: 1000, backend, onBackendError: new InMemoryBackend() });
    await rl.decide(A);
    expect(backend.calls).toBe(1);
    for (let i = 0; i < 50; i++) await rl.decide(B);
    await vi.advanceTimersByTimeAsync(BACKEND_COOL_DOWN_MS - 1);
    await rl.decide(A);
    expect(backend.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await rl.decide(A);
    expect(backend.calls).toBe(2);
  });

  it('reports at most one console.error per minute', async () => {
    const rl = limiter({ limit: 1, period: 1000, backend: new FailingBackend() });
    // A failing request every cool-down for two minutes and a bit.
    for (let t = 0; t <= 125_000; t += BACKEND_COOL_DOWN_MS) {
      await rl.decide(A);
      await vi.advanceTimersByTimeAsync(BACKEND_COOL_DOWN_MS);
    }
    // At 0, 60 s and 120 s.
    expect(errorSpy).toHaveBeenCalledTimes(3);
  });

  it('a failing refund is reported, never unhandled', async () => {
    let fail = false;
    const inner = new InMemoryBackend();
    const flaky: FreqLimitBackend = {
      reserve: (k, p, o) => inner.reserve(k, p, o),
      refund: () => (fail ? Promise.reject(new Error('refund failed')) : Promise.resolve()),
      reserveMany: (e, o) => inner.reserveMany(e, o),
      clear: () => inner.clear(),
    };
    const rl = limiter({ limit: 1, period: 1000, backend: flaky });
    await rl.decide(A);
    const d = asHold(await rl.decide(A));
    fail = true;
    expect(await rl.hold(d, AbortSignal.abort())).toBeUndefined();
    await vi.advanceTimersByTimeAsync(0);
    expect(errorSpy).toHaveBeenCalledTimes(1);
  });
});

describe('RequestLimiter construction', () => {
  it('warns once when two instances share a name on one backend', () => {
    const backend = new InMemoryBackend();
    limiter({ limit: 1, period: 1000, backend, name: 'login' });
    limiter({ limit: 1, period: 1000, backend, name: 'signup' });
    limiter({ limit: 1, period: 1000, name: 'login' }); // own backend
    expect(warnSpy).not.toHaveBeenCalled();
    limiter({ limit: 1, period: 1000, backend, name: 'login' });
    expect(warnSpy).toHaveBeenCalledTimes(1);
    expect(String(warnSpy.mock.calls[0]?.[0])).toMatch(/"login"/);
    // Once per name and backend, not once per further instance.
    limiter({ limit: 1, period: 1000, backend, name: 'login' });
    expect(warnSpy).toHaveBeenCalledTimes(1);
    limiter({ limit: 1, period: 1000, backend, name: 'signup' });
    expect(warnSpy).toHaveBeenCalledTimes(2);
  });

  it.each([
    ['an unknown option', { limit: 1, period: 1000, windowMs: 1000 }, TypeError, /`windowMs`/],
    ['options not an object', null, TypeError, /options/],
    ['no limit', { period: 1000 }, TypeError, /`limit`/],
    [
      'limits and limit',
      { limit: 1, period: 1, limits: [{ limit: 1, period: 1 }] },
      TypeError,
      /`limits`/,
    ],
    ['empty limits', { limits: [] }, TypeError, /`limits`/],
    ['a bad limit', { limit: 0, period: 1000 }, RangeError, /`limit`/],
    [
      'a bad limits entry',
      {
        limits: [
          { limit: 1, period: 1 },
          { limit: 1, period: -1 },
        ],
      },
      RangeError,
      /limits\[1\].*`period`/,
    ],
    [
      'a bad per-limit key',
      { limits: [{ limit: 1, period: 1, key: 'x' }] },
      TypeError,
      /limits\[0\]\.key/,
    ],
    ['a bad keyFn', { limit: 1, period: 1, keyFn: 'ip' }, TypeError, /`keyFn`/],
    ['a bad skip', { limit: 1, period: 1, skip: true }, TypeError, /`skip`/],
    ['a bad cost', { limit: 1, period: 1, cost: -1 }, RangeError, /`cost`/],
    ['a bad maxDelay', { limit: 1, period: 1, maxDelay: -1 }, RangeError, /`maxDelay`/],
    ['a bad maxHeld', { limit: 1, period: 1, maxHeld: 1.5 }, RangeError, /`maxHeld`/],
    ['a bad headers', { limit: 1, period: 1, headers: 'draft-7' }, TypeError, /`headers`/],
    ['a bad name', { limit: 1, period: 1, name: '' }, TypeError, /`name`/],
    ['a non-ASCII name', { limit: 1, period: 1, name: 'café' }, TypeError, /`name`/],
    ['a bad backend', { limit: 1, period: 1, backend: {} }, TypeError, /`backend`/],
    [
      'a bad onBackendError',
      { limit: 1, period: 1, onBackendError: 'ignore' },
      TypeError,
      /`onBackendError`/,
    ],
    ['a bad onRejected', { limit: 1, period: 1, onRejected: 429 }, TypeError, /`onRejected`/],
  ])('%s throws', (_label, options, error, message) => {
    const make = () => limiter(options as never);
    expect(make).toThrow(error);
    expect(make).toThrow(message);
    expect(make).toThrow(/^test[: ]/);
  });

  it('does not mutate the caller’s options', async () => {
    const limits = [{ limit: 1, period: 1000 }];
    const options = Object.freeze({ limits: Object.freeze(limits), maxDelay: 0 });
    const rl = limiter(options);
    await rl.decide(A);
    expect(options).toEqual({ limits: [{ limit: 1, period: 1000 }], maxDelay: 0 });
  });
});
