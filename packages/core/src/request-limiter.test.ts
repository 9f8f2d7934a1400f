import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  FailingBackend,
  manualClock,
  PausedAsyncBackend,
  PausedBackend,
  RecordingBackend,
  SingleLimitBackend,
} from '../test/test-backends.js';
import type { FreqLimitBackend } from './backend.js';
import { InMemoryBackend } from './backends/memory.js';
import { BackendTimeoutError, FreqLimitError } from './errors.js';
import { BACKEND_COOL_DOWN_MS } from './failover.js';
import type {
  DecisionEvent,
  HoldInstruction,
  Instruction,
  RejectInstruction,
} from './instruction.js';
import type { AdapterSpec, FreqLimitMiddlewareOptions } from './middleware-options.js';
import { RequestLimiter } from './request-limiter.js';

/** The plain-object request context of these tests. */
interface Ctx {
  ip?: string;
  user?: string | null;
  cost?: number;
}

const adapter: AdapterSpec<Ctx> = {
  name: 'test',
  clientAddress: (ctx) => ctx.ip,
  noAddress: 'no ctx.ip; pass `keyFn`',
};

const limiter = (options: FreqLimitMiddlewareOptions<Ctx>) => new RequestLimiter(options, adapter);

function asHold(d: Instruction): HoldInstruction {
  if (d.kind !== 'hold') throw new Error(`expected hold, got ${d.kind}`);
  return d;
}
function asReject(d: Instruction): RejectInstruction {
  if (d.kind !== 'reject') throw new Error(`expected reject, got ${d.kind}`);
  return d;
}
const header = (d: Instruction, name: string): string | undefined =>
  'headers' in d ? d.headers.find(([n]) => n === name)?.[1] : undefined;
const timeout = () => new BackendTimeoutError(1000, 'reservation');

const A = { ip: '192.0.2.1' };
const B = { ip: '192.0.2.2' };

let errorSpy: ReturnType<typeof vi.spyOn>;

beforeEach(() => {
  vi.useFakeTimers();
  errorSpy = vi.spyOn(console, 'error').mockImplementation(() => {});
  vi.spyOn(console, 'warn').mockImplementation(() => {});
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
      kind: 'pass',
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
        dryRun: false,
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
    expect(await held).toEqual(['Server-Timing', 'freqlimit;dur=100']);
    expect(rl.held).toBe(0);
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
    ]);
    expect(d.body.type).toBe('application/json; charset=utf-8');
    expect(JSON.parse(d.body.text)).toEqual({ error: 'Too Many Requests', retryAfter: 9 });
    // The rejection reserved nothing: 9 s later the next request fits within maxDelay.
    await vi.advanceTimersByTimeAsync(9000);
    expect(asHold(await rl.decide(A)).delay).toBeCloseTo(1000, 6);
  });

  it('Retry-After is at least 1 and rounded up', async () => {
    const rl = limiter({ limit: 10, period: 1000, maxDelay: 0 });
    await rl.decide(A);
    const d = asReject(await rl.decide(A)); // retryAfter 100 ms
    expect(header(d, 'Retry-After')).toBe('1');
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
    expect(JSON.parse(d.body.text)).toEqual({ error: 'Too Many Requests' });
  });

  it('headers: false sends no rate-limit fields, but still Retry-After on a 429', async () => {
    const rl = limiter({ limit: 1, period: 1000, maxDelay: 0, headers: false });
    expect((await rl.decide(A)) as { headers: unknown }).toMatchObject({ headers: [] });
    const d = asReject(await rl.decide(A));
    expect(d.headers.map(([n]) => n)).toEqual(['Retry-After']);
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
    expect(await rl.decide(A)).toEqual({ kind: 'next' });
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
    expect(await rl.decide({ ...A, user: 'admin' })).toEqual({ kind: 'next' });
    expect(backend.reserved).toEqual([]);
    expect((await rl.decide({ ...A, user: 'ann' })).kind).toBe('pass');
  });

  it('cost: a number or a function of the request', async () => {
    const rl = limiter({ limit: 10, period: 1000, burst: 5, cost: (ctx) => ctx.cost ?? 1 });
    const d = await rl.decide({ ...A, cost: 3 });
    expect(d.kind === 'pass' && d.info.limits[0]?.remaining).toBe(2);
    const fixed = limiter({ limit: 10, period: 1000, burst: 5, cost: 2.5 });
    const e = await fixed.decide(A);
    expect(e.kind === 'pass' && e.info.limits[0]?.resetAfter).toBe(250);
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
    expect(d.kind === 'pass' && d.info.limits.map((l) => [l.name, l.key, l.remaining])).toEqual([
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
    expect(await none.decide(A)).toEqual({ kind: 'next' });
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
    expect((await rl.decide(A)).kind).toBe('pass');
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
    expect((await rl.decide(A)).kind).toBe('pass');
    const first = asHold(await rl.decide(A)); // held until 1000
    expect(rl.held).toBe(1);
    const over = asReject(await rl.decide(A));
    expect(over.status).toBe(429);
    expect(over.info?.reservation).toMatchObject({ allowed: false, retryAfter: 2000 });
    expect(header(over, 'Retry-After')).toBe('2');
    // A request that can pass at once still passes at the cap.
    expect((await rl.decide(B)).kind).toBe('pass');
    const released = rl.hold(first);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await released).toEqual(['Server-Timing', 'freqlimit;dur=1000']);
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
      const rl = limiter({ limit: 1, period: 1000, backend: new FailingBackend(mode, timeout) });
      expect(await rl.decide(A)).toEqual({ kind: 'next' });
      expect(errorSpy).toHaveBeenCalledTimes(1);
      expect(String(errorSpy.mock.calls[0]?.[0])).toMatch(/backend failed/);
      expect(errorSpy.mock.calls[0]?.[1]).toBeInstanceOf(BackendTimeoutError);
    },
  );

  it("'reject': 503, with no reservation", async () => {
    const rl = limiter({
      limit: 1,
      period: 1000,
      backend: new FailingBackend(),
      onBackendError: 'reject',
    });
    const d = await rl.decide(A);
    expect(d.kind).toBe('unavailable');
    expect(d).not.toHaveProperty('info');
    expect(d.kind === 'unavailable' && JSON.parse(d.body.text)).toEqual({
      error: 'Service Unavailable',
    });
  });

  it('a fallback backend takes over, and is the one refunded', async () => {
    const fallback = new RecordingBackend();
    const rl = limiter({
      limit: 1,
      period: 1000,
      backend: new FailingBackend(),
      onBackendError: fallback,
    });
    expect((await rl.decide(A)).kind).toBe('pass');
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

/** A backend that answers only when the test opens its gate (a slow Redis, say). */
function gated(inner = new InMemoryBackend()) {
  let open: () => void = () => undefined;
  let gate = Promise.resolve();
  const backend: FreqLimitBackend = {
    reserve: async (k, p, o) => {
      await gate;
      return inner.reserve(k, p, o);
    },
    refund: (k, p, o) => inner.refund(k, p, o),
    clear: () => inner.clear(),
  };
  return {
    backend,
    close() {
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
    },
    open: () => open(),
  };
}

describe('RequestLimiter timing and concurrency', () => {
  it('a held request’s headers describe the state when it is released, not when decided', async () => {
    const rl = limiter({
      name: 'slow',
      limit: 1,
      period: 2000,
      maxDelay: 5000,
      burst: 2,
      headers: 'draft-10',
    });
    await rl.decide(A);
    await rl.decide(A);
    const held = asHold(await rl.decide(A)); // held 2000 ms; TAT 6000
    expect(held.delay).toBe(2000);
    // At release the next unit is one interval away (t=2), and the key resets in 4 s.
    expect(header(held, 'RateLimit')).toBe('"slow";r=0;t=2');
    const draft8 = limiter({
      name: 's8',
      limit: 1,
      period: 2000,
      maxDelay: 5000,
      headers: 'draft-8',
    });
    await draft8.decide(A);
    expect(header(asHold(await draft8.decide(A)), 'RateLimit')).toBe('"s8";r=0;t=2');
    const legacy = limiter({
      name: 'l',
      limit: 1,
      period: 2000,
      maxDelay: 5000,
      headers: 'draft-6',
    });
    await legacy.decide(A);
    expect(header(asHold(await legacy.decide(A)), 'RateLimit-Reset')).toBe('2');
  });

  it('releases a held request at its emission time, counted from when it was sent', async () => {
    // The backend decides at 0 (its clock), its answer arrives 300 ms later (a slow network).
    const slow = gated(new InMemoryBackend({ clock: manualClock(0).clock }));
    const rl = limiter({ limit: 1, period: 1000, maxDelay: 5000, backend: slow.backend });
    await rl.decide(A);
    slow.close();
    const deciding = rl.decide(A);
    await vi.advanceTimersByTimeAsync(300); // the backend takes 300 ms to answer
    slow.open();
    const d = asHold(await deciding);
    const held = rl.hold(d);
    await vi.advanceTimersByTimeAsync(699);
    expect(rl.held).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    // 1000 ms after it was sent, not 1000 ms after the backend answered.
    expect(await held).toEqual(['Server-Timing', 'freqlimit;dur=1000']);
  });

  it.each([
    ['a synchronous backend (the fast path)', PausedBackend, true],
    ['an asynchronous backend', PausedAsyncBackend, false],
  ] as const)(
    '%s: the hold counts from after the call, so a pause before its clock read never releases early',
    async (_, Backend, sync) => {
      // A GC pause between the middleware and the backend's clock read.
      const backend = new Backend(() => vi.advanceTimersByTime(30));
      const rl = limiter({ limit: 1, period: 1000, maxDelay: 5000, backend });
      expect((await rl.decide(A)).kind).toBe('pass');
      const decided = rl.decide(A);
      expect(decided instanceof Promise).toBe(!sync);
      const d = asHold(await decided);
      const due = backend.stamp + d.delay; // the emission time on the backend's clock
      let released = -1;
      const held = rl.hold(d).then(() => {
        released = performance.now();
      });
      await vi.advanceTimersByTimeAsync(due - performance.now() - 1);
      expect(released).toBe(-1);
      await vi.advanceTimersByTimeAsync(1);
      await held;
      expect(released).toBeGreaterThanOrEqual(due);
    },
  );

  it('maxHeld counts reservations under way, so concurrent requests never exceed it', async () => {
    const slow = gated();
    const rl = limiter({
      limit: 1,
      period: 1000,
      maxDelay: 5000,
      maxHeld: 1,
      backend: slow.backend,
    });
    expect((await rl.decide(A)).kind).toBe('pass');
    slow.close();
    const first = rl.decide(A);
    const second = rl.decide(A); // decided while the first may still become a hold
    slow.open();
    const [a, b] = await Promise.all([first, second]);
    expect(a.kind).toBe('hold');
    expect(asReject(b).info.reservation).toMatchObject({ allowed: false, retryAfter: 2000 });
    expect(rl.held).toBe(1);
    const released = rl.hold(asHold(a));
    await vi.advanceTimersByTimeAsync(1000);
    await released;
    expect(rl.held).toBe(0);
  });

  it('the default key: the adapter’s client address, IPv6 by /56; none → NoClientAddressError', async () => {
    const backend = new RecordingBackend(new InMemoryBackend({ clock: manualClock().clock }));
    const rl = limiter({ limit: 10, period: 1000, backend });
    await rl.decide({ ip: '2001:db8:abcd:12ff::1' });
    await rl.decide({ ip: 'opaque-client-id' });
    expect(backend.reserved).toEqual([
      'default:2001:db8:abcd:1200::/56',
      'default:opaque-client-id',
    ]);
    await expect(rl.decide({})).rejects.toMatchObject({
      code: 'NO_CLIENT_ADDRESS',
      message: 'test: no ctx.ip; pass `keyFn`',
    });
  });
});

describe('RequestLimiter configuration errors of the backend', () => {
  it('REDIS_CROSS_SLOT fails the request (500) instead of letting it through unlimited', async () => {
    let calls = 0;
    const crossSlot: FreqLimitBackend = {
      reserve: () => Promise.reject(new Error('unused')),
      reserveMany: () => {
        calls++;
        return Promise.reject(new FreqLimitError('REDIS_CROSS_SLOT', 'keys in two slots'));
      },
      refund: () => Promise.resolve(),
      clear: () => Promise.resolve(),
    };
    const rl = limiter({
      backend: crossSlot,
      onBackendError: new InMemoryBackend(),
      limits: [
        { limit: 1, period: 1000 },
        { limit: 9, period: 1000, key: () => 'all' },
      ],
    });
    await expect(rl.decide(A)).rejects.toMatchObject({ code: 'REDIS_CROSS_SLOT' });
    // Not an outage: no cool-down, no fallback, no report; the next request fails alike.
    await expect(rl.decide(A)).rejects.toMatchObject({ code: 'REDIS_CROSS_SLOT' });
    expect(calls).toBe(2);
    expect(errorSpy).not.toHaveBeenCalled();
  });
});

describe('RequestLimiter dynamic limits', () => {
  it('static params are resolved once; dynamic ones per request, cached per value', () => {
    const fixed = limiter({ limit: 2, period: 1000 });
    expect(fixed.config.limits[0]?.params).toMatchObject({ limit: 2, interval: 500 });
    const dynamic = limiter({ limit: (ctx) => (ctx.user === 'pro' ? 10 : 2), period: 1000 });
    expect(typeof dynamic.config.limits[0]?.params).toBe('function');
  });

  it('each request uses the params resolved for it; headers and info report them', async () => {
    const backend = new RecordingBackend(new InMemoryBackend({ clock: manualClock().clock }));
    const rl = limiter({
      name: 'plan',
      backend,
      maxDelay: 0,
      limit: async (ctx) => (ctx.user === 'pro' ? 10 : 2),
      period: 1000,
      burst: (ctx) => (ctx.user === 'pro' ? 5 : 1),
    });
    const pro = await rl.decide({ ...A, user: 'pro' });
    expect(header(pro, 'RateLimit-Policy')).toBe('"plan";q=10;w=1');
    expect(header(pro, 'RateLimit')).toBe('"plan";r=4;t=0');
    expect(pro.kind === 'pass' && pro.info.limits[0]).toMatchObject({ limit: 10, burst: 5 });
    const free = await rl.decide({ ...B, user: 'free' });
    expect(header(free, 'RateLimit-Policy')).toBe('"plan";q=2;w=1');
    expect(header(free, 'RateLimit')).toBe('"plan";r=0;t=1');
    expect(asReject(await rl.decide({ ...B, user: 'free' })).info.reservation.retryAfter).toBe(500);
    // The key's state is only its TAT: under the pro params the same history weighs less.
    expect(asReject(await rl.decide({ ...B, user: 'pro' })).info.reservation.retryAfter).toBe(100);
  });

  it.each([
    ['returns 0', { limit: () => 0, period: 1000 }, /limit/],
    ['returns a string', { limit: 1, period: () => '1000' as unknown as number }, /period/],
    ['returns a fraction', { limit: 1, period: 1000, burst: async () => 1.5 }, /burst/],
    [
      'throws',
      {
        limit: () => {
          throw new Error('no plan');
        },
        period: 1000,
      },
      /no plan/,
    ],
  ])('a dynamic param that %s fails the request, reserving nothing', async (_w, o, message) => {
    const backend = new RecordingBackend();
    const rl = limiter({ ...(o as FreqLimitMiddlewareOptions<Ctx>), backend });
    await expect(rl.decide(A)).rejects.toThrow(message);
    expect(backend.reserved).toEqual([]);
  });

  it('static parts of a dynamic limit are still checked at construction', () => {
    expect(() => limiter({ limit: () => 1, period: -5 })).toThrow(/period/);
    const limits = [
      { limit: 1, period: 1000 },
      { limit: 0, period: () => 1000 },
    ];
    expect(() => limiter({ limits })).toThrow(/limits\[1\].*`limit`/);
  });

  it('per entry of limits, mixed with static entries', async () => {
    const rl = limiter({
      name: 'm',
      limits: [
        { limit: 30, period: 1000, burst: 30, key: () => 'all' },
        { limit: (ctx) => (ctx.user === 'pro' ? 5 : 1), period: 1000 },
      ],
    });
    const d = await rl.decide({ ...A, user: 'pro' });
    expect(header(d, 'RateLimit-Policy')).toBe('"m-1";q=30;w=1, "m-2";q=5;w=1');
  });
});

describe('RequestLimiter dryRun and onDecision', () => {
  it('dryRun: reserved and decided as usual, never held or rejected, no headers', async () => {
    const backend = new RecordingBackend(new InMemoryBackend({ clock: manualClock().clock }));
    const rl = limiter({ limit: 1, period: 1000, maxDelay: 500, backend, dryRun: true });
    const first = await rl.decide(A);
    const wouldHold = await rl.decide(A); // maxDelay 500 < 1000: would be rejected
    expect(first).toMatchObject({
      kind: 'pass',
      headers: [],
      info: { allowed: true, dryRun: true },
    });
    expect(wouldHold).toMatchObject({
      kind: 'pass',
      headers: [],
      info: { allowed: false, delay: 1000, retryAfter: 1, dryRun: true },
    });
    const relaxed = limiter({
      limit: 1,
      period: 1000,
      maxDelay: 5000,
      backend,
      dryRun: true,
      name: 'r',
    });
    await relaxed.decide(A);
    expect(await relaxed.decide(A)).toMatchObject({ kind: 'pass', info: { delay: 1000 } });
    expect(relaxed.held).toBe(0);
    expect(backend.reserved).toHaveLength(4); // every request went to the backend
  });

  it("dryRun never answers 503, even with onBackendError: 'reject'", async () => {
    const rl = limiter({
      limit: 1,
      period: 1000,
      backend: new FailingBackend(),
      onBackendError: 'reject',
      dryRun: true,
    });
    expect(await rl.decide(A)).toEqual({ kind: 'next' });
  });

  it('onDecision: once per decision, synchronously, with the request; none when skipped', async () => {
    const events: Array<[string, unknown, Ctx]> = [];
    const rl = limiter({
      name: 'obs',
      limit: 1,
      period: 1000,
      maxDelay: 1000,
      skip: (ctx) => ctx.user === 'admin',
      onDecision: (event, ctx) => events.push([event.outcome, event.info?.delay, ctx]),
    });
    const admin = { ...A, user: 'admin' };
    const seen: number[] = [];
    for (const ctx of [A, A, admin, A]) {
      const d = await rl.decide(ctx);
      seen.push(events.length); // already reported when decide resolves
      if (d.kind === 'hold') void rl.hold(d);
    }
    expect(seen).toEqual([1, 2, 2, 3]);
    expect(events).toEqual([
      ['pass', 0, A],
      ['hold', 1000, A],
      ['reject', 2000, A],
    ]);
  });

  it("onDecision: 'backend-error' with the error and the mode applied (and the fallback's decision)", async () => {
    const events: DecisionEvent[] = [];
    const onDecision = (e: DecisionEvent) => events.push(e);
    const failing = new FailingBackend('reject', timeout);
    await limiter({ limit: 1, period: 1, backend: failing, onDecision }).decide(A);
    await limiter({
      limit: 1,
      period: 1,
      backend: failing,
      onBackendError: 'reject',
      onDecision,
    }).decide(A);
    const fallback = new InMemoryBackend();
    await limiter({
      limit: 1,
      period: 1,
      backend: failing,
      onBackendError: fallback,
      onDecision,
    }).decide(A);
    expect(events.map((e) => [e.outcome, e.mode, e.info?.allowed])).toEqual([
      ['backend-error', 'allow', undefined],
      ['backend-error', 'reject', undefined],
      ['backend-error', 'fallback', true],
    ]);
    expect(events.every((e) => e.error instanceof BackendTimeoutError)).toBe(true);
  });

  it('a throwing onDecision is reported (once a minute), never fails the request', async () => {
    const rl = limiter({
      limit: 10,
      period: 1000,
      burst: 10,
      onDecision: () => {
        throw new Error('metrics down');
      },
    });
    expect((await rl.decide(A)).kind).toBe('pass');
    expect((await rl.decide(A)).kind).toBe('pass');
    expect(errorSpy).toHaveBeenCalledTimes(1);
    expect(String(errorSpy.mock.calls[0]?.[0])).toMatch(/onDecision threw/);
  });
});

describe('RequestLimiter reset, peek, block', () => {
  it('peek changes nothing; reset gives a full burst; block holds the key back', async () => {
    const backend = new InMemoryBackend({ clock: manualClock().clock });
    const rl = limiter({ name: 'login', limit: 5, period: 60_000, burst: 2, maxDelay: 0, backend });
    await rl.decide(A);
    await rl.decide(A);
    expect(asReject(await rl.decide(A)).status).toBe(429);
    expect(await rl.peek('192.0.2.1')).toEqual({
      remaining: 0,
      resetAfter: 24_000,
      retryAfter: 12_000,
    });
    expect(await rl.peek('192.0.2.1')).toEqual({
      remaining: 0,
      resetAfter: 24_000,
      retryAfter: 12_000,
    });
    await rl.reset('192.0.2.1');
    expect(await rl.peek('192.0.2.1')).toEqual({ remaining: 2, resetAfter: 0, retryAfter: 0 });
    expect((await rl.decide(A)).kind).toBe('pass');
    await rl.block('192.0.2.2', 30_000);
    expect(asReject(await rl.decide(B)).info.reservation.retryAfter).toBe(30_000);
  });

  it('take the client address the way the default key does: IPv6 by /56', async () => {
    const backend = new RecordingBackend(new InMemoryBackend({ clock: manualClock().clock }));
    const rl = limiter({ limit: 1, period: 60_000, maxDelay: 0, backend });
    const v6 = { ip: '2001:db8:abcd:12ff::1' };
    await rl.decide(v6);
    expect(asReject(await rl.decide(v6)).status).toBe(429);
    await rl.reset('2001:db8:abcd:12ff::1');
    expect(backend.controlled).toEqual(['reset default:2001:db8:abcd:1200::/56']);
    expect((await rl.decide(v6)).kind).toBe('pass');
    // With a keyFn, the key given is the key used.
    const own = limiter({ limit: 1, period: 60_000, backend, keyFn: (c) => c.ip, name: 'own' });
    await own.reset('2001:db8:abcd:12ff::1');
    expect(backend.controlled.at(-1)).toBe('reset own:2001:db8:abcd:12ff::1');
  });

  it('work on every limit (namespaced); peek gives one status per limit', async () => {
    const backend = new RecordingBackend(new InMemoryBackend({ clock: manualClock().clock }));
    const rl = limiter({
      name: 'two',
      backend,
      limits: [
        { limit: 1, period: 1000 },
        { limit: 10, period: 1000, burst: 10 },
      ],
    });
    await rl.decide(A);
    expect(await rl.peek(A.ip!)).toEqual([
      { remaining: 0, resetAfter: 1000, retryAfter: 1000 },
      { remaining: 9, resetAfter: 100, retryAfter: 0 },
    ]);
    await rl.block(A.ip!, 5000);
    expect((await rl.peek(A.ip!)) as unknown[]).toMatchObject([
      { retryAfter: 5000 },
      { retryAfter: 5000 },
    ]);
    await rl.reset(A.ip!);
    expect((await rl.decide(A)).kind).toBe('pass');
  });

  it('dynamic params need the request for peek and block, not for reset', async () => {
    const rl = limiter({ limit: (ctx) => (ctx.user ? 10 : 1), period: 1000 });
    await expect(rl.peek('k')).rejects.toThrow(/dynamic params.*pass it as the last argument/);
    await expect(rl.block('k', 1000)).rejects.toThrow(/dynamic params/);
    expect(await rl.peek('k', { user: 'ann' })).toEqual({
      remaining: 1,
      resetAfter: 0,
      retryAfter: 0,
    });
    await expect(rl.reset('k')).resolves.toBeUndefined();
  });

  it('reset and block reach the fallback backend too; a backend without them says so', async () => {
    const fallback = new InMemoryBackend({ clock: manualClock().clock });
    const rl = limiter({ limit: 1, period: 60_000, maxDelay: 0, onBackendError: fallback });
    await rl.block('k', 10_000);
    expect(
      (await fallback.peek('default:k', rl.config.limits[0]!.params as never)).retryAfter,
    ).toBe(10_000);
    const custom = limiter({ limit: 1, period: 1000, backend: new SingleLimitBackend() });
    await expect(custom.reset('k')).rejects.toThrow(/SingleLimitBackend has no reset\(\)/);
    await expect(custom.peek('k')).rejects.toThrow(/has no peek\(\)/);
    await expect(custom.block('k', 1)).rejects.toThrow(/has no block\(\)/);
    await expect(custom.reset({} as never)).rejects.toThrow(/string or number/);
  });
});

describe('RequestLimiter synchronous fast path', () => {
  it('decides without a promise on a synchronous backend with synchronous functions', () => {
    const rl = limiter({ limit: 10, period: 1000, burst: 2, cost: () => 1, skip: () => false });
    const d = rl.decide(A);
    expect(d).not.toBeInstanceOf(Promise);
    expect((d as Instruction).kind).toBe('pass');
    const dynamic = limiter({ limit: () => 5, period: 1000, keyFn: () => 'k', name: 'dyn' });
    expect(dynamic.decide(A)).not.toBeInstanceOf(Promise);
  });

  it('becomes a promise at the first async function or backend, calling each function once', async () => {
    const calls: string[] = [];
    /** Records that `name` was called, then gives `value`. */
    const called = <T>(name: string, value: T): T => {
      calls.push(name);
      return value;
    };
    const rl = limiter({
      limits: [
        { limit: 10, period: 1000, key: () => called('key1', 'a') },
        { limit: 10, period: 1000, key: async () => called('key2', 'b') },
        { limit: 10, period: 1000, key: () => called('key3', 'c') },
      ],
      cost: async () => called('cost', 1),
    });
    const d = rl.decide(A);
    expect(d).toBeInstanceOf(Promise);
    expect((await d).kind).toBe('pass');
    expect(calls).toEqual(['key1', 'key2', 'key3', 'cost']);
    const asyncBackend = limiter({ limit: 1, period: 1000, backend: new RecordingBackend() });
    expect(asyncBackend.decide(A)).toBeInstanceOf(Promise);
  });

  it('a throwing function rejects (never throws), on the fast path too', async () => {
    const rl = limiter({
      limit: 1,
      period: 1000,
      keyFn: () => {
        throw new Error('sync boom');
      },
    });
    let result: unknown;
    expect(() => {
      result = rl.decide(A);
    }).not.toThrow();
    await expect(result).rejects.toThrow('sync boom');
  });

  it('a subclass that overrides reserve is always asked through it (never bypassed)', async () => {
    class Counting extends InMemoryBackend {
      count = 0;
      override reserve(...args: Parameters<InMemoryBackend['reserve']>) {
        this.count++;
        return super.reserve(...args);
      }
    }
    const backend = new Counting();
    const rl = limiter({ limit: 10, period: 1000, backend });
    expect(rl.decide(A)).toBeInstanceOf(Promise);
    await rl.decide(A);
    expect(backend.count).toBe(2);
  });

  it('a synchronous backend that throws goes through onBackendError like any other', async () => {
    const broken = new InMemoryBackend();
    broken.reserveSync = () => {
      throw new Error('memory gone');
    };
    const fallback = new RecordingBackend();
    const rl = limiter({ limit: 1, period: 1000, backend: broken, onBackendError: fallback });
    const d = await rl.decide(A);
    expect(d.kind).toBe('pass');
    expect(fallback.reserved).toEqual(['default:192.0.2.1']);
    expect(errorSpy).toHaveBeenCalledTimes(1);
  });
});
