import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  FailingBackend,
  PausedAsyncBackend,
  RecordingBackend,
  SingleLimitBackend,
} from '../test/test-backends.js';
import { InMemoryBackend } from './backends/memory.js';
import { FreqLimitError, RateLimitedError } from './errors.js';
import { FreqLimit } from './limiter.js';

// vitest 4's fake timers fake `performance` as well as `setTimeout`/`Date` (checked by the
// first test below), so the limiter's default InMemoryBackend reads the fake clock.
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const now = (): number => performance.now();

/** Starts `count` calls of `limiter.run` at once; records when (fake ms since start) each ran. */
function startCalls(limiter: FreqLimit, count: number, key?: string) {
  const t0 = now();
  const ran: Array<{ i: number; at: number }> = [];
  const done = Array.from({ length: count }, (_, i) =>
    limiter.run(key, () => {
      ran.push({ i, at: now() - t0 });
      return i;
    }),
  );
  return { ran, done: Promise.all(done) };
}

describe('FreqLimit scheduling', () => {
  it('vitest fakes performance.now()', () => {
    const before = performance.now();
    vi.advanceTimersByTime(1234);
    expect(performance.now() - before).toBe(1234);
  });

  it('held calls run in order, each at its reserved time', async () => {
    const limiter = new FreqLimit({ limit: 1, period: 1000 });
    const { ran, done } = startCalls(limiter, 5, 'chat');
    await vi.advanceTimersByTimeAsync(0);
    expect(ran).toEqual([{ i: 0, at: 0 }]);
    await vi.advanceTimersByTimeAsync(999);
    expect(ran).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(ran).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(3000);
    expect(await done).toEqual([0, 1, 2, 3, 4]);
    expect(ran).toEqual([0, 1000, 2000, 3000, 4000].map((at, i) => ({ i, at })));
  });

  it('the wait is counted from after the backend call: a pause before its clock read never releases early', async () => {
    // e.g. a GC pause before the backend reads its clock
    const backend = new PausedAsyncBackend(() => vi.advanceTimersByTime(30));
    const limiter = new FreqLimit({ limit: 1, period: 1000 }, { backend });
    await limiter.acquire('k');
    let released = -1;
    const acquiring = limiter.acquire('k').then((r) => {
      released = now();
      return r;
    });
    await vi.advanceTimersByTimeAsync(0);
    const due = backend.stamp + 1000 - 30; // the second reservation: delay 970 at the stamp
    await vi.advanceTimersByTimeAsync(due - now() - 1);
    expect(released).toBe(-1);
    await vi.advanceTimersByTimeAsync(1);
    expect((await acquiring).delay).toBe(970);
    expect(released).toBeGreaterThanOrEqual(due);
  });

  it('fractional delays are rounded up once each, never accumulated', async () => {
    const limiter = new FreqLimit({ limit: 3, period: 1000 }); // T = 333.3 ms
    const { ran, done } = startCalls(limiter, 4);
    await vi.advanceTimersByTimeAsync(2000);
    await done;
    // ceil(333.3), ceil(666.7), 1000 — not 334, 668, 1002.
    expect(ran.map((r) => r.at)).toEqual([0, 334, 667, 1000]);
  });

  it('a burst passes at once, then one per interval', async () => {
    const limiter = new FreqLimit({ limit: 10, period: 1000, burst: 3 });
    const { ran, done } = startCalls(limiter, 5);
    await vi.advanceTimersByTimeAsync(1000);
    await done;
    expect(ran.map((r) => r.at)).toEqual([0, 0, 0, 100, 200]);
  });

  it('several params (array) are enforced together', async () => {
    const limiter = new FreqLimit([
      { limit: 2, period: 1000, burst: 2 },
      { limit: 3, period: 10_000, burst: 3 },
    ]);
    const { ran, done } = startCalls(limiter, 4);
    await vi.advanceTimersByTimeAsync(10_000);
    await done;
    // Third: the per-second limit (500 ms). Fourth: the 10 s limit, counting the third at
    // its emission time 500: TAT 10,000 − tau 6,666.7 → 3,333.3 ms, rounded up.
    expect(ran.map((r) => r.at)).toEqual([0, 0, 500, 3334]);
  });

  it('run returns what fn returns (sync or async) and passes its errors on', async () => {
    const limiter = new FreqLimit({ limit: 100, period: 1000, burst: 10 });
    expect(await limiter.run('k', () => 42)).toBe(42);
    expect(await limiter.run('k', async () => 'async')).toBe('async');
    await expect(
      limiter.run('k', () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(limiter.run('k', 5 as never)).rejects.toThrow(/`fn`/);
  });

  it('acquire resolves with the reservation', async () => {
    const limiter = new FreqLimit({ limit: 1, period: 1000, burst: 2 });
    expect(await limiter.acquire('k')).toEqual({
      allowed: true,
      delay: 0,
      retryAfter: 0,
      remaining: 1,
      resetAfter: 1000,
    });
  });
});

describe('FreqLimit keys and names', () => {
  it('key omitted is one global bucket, separate from named keys', async () => {
    const limiter = new FreqLimit({ limit: 1, period: 1000 }, { maxDelay: 0 });
    await limiter.acquire();
    await expect(limiter.acquire()).rejects.toBeInstanceOf(RateLimitedError);
    await expect(limiter.run(undefined, () => 1)).rejects.toBeInstanceOf(RateLimitedError);
    expect((await limiter.acquire('someone')).delay).toBe(0);
  });

  it('numbers and their strings are the same key', async () => {
    const limiter = new FreqLimit({ limit: 1, period: 1000 }, { maxDelay: 0 });
    await limiter.acquire(42);
    await expect(limiter.acquire('42')).rejects.toBeInstanceOf(RateLimitedError);
  });

  it('passes name:key to the backend, with the limit index for several limits', async () => {
    const backend = new RecordingBackend();
    await new FreqLimit({ limit: 1, period: 1000 }, { backend }).acquire(42);
    await new FreqLimit({ limit: 1, period: 1000 }, { backend, name: 'tg' }).acquire('x');
    await new FreqLimit({ limit: 1, period: 1000 }, { backend, name: 'tg' }).acquire();
    await new FreqLimit(
      [
        { limit: 1, period: 1000 },
        { limit: 20, period: 60_000 },
      ],
      { backend, name: 'chat' },
    ).acquire(7);
    expect(backend.reserved).toEqual(['default:42', 'tg:x', 'tg:', 'chat-1:7 + chat-2:7']);
  });

  it('different names never share state on one backend; the same name does', async () => {
    const backend = new InMemoryBackend();
    const p = { limit: 1, period: 1000 };
    const a = new FreqLimit(p, { backend, name: 'a', maxDelay: 0 });
    const b = new FreqLimit(p, { backend, name: 'b', maxDelay: 0 });
    const a2 = new FreqLimit(p, { backend, name: 'a', maxDelay: 0 });
    await a.acquire('k');
    expect((await b.acquire('k')).delay).toBe(0);
    await expect(a2.acquire('k')).rejects.toBeInstanceOf(RateLimitedError);
  });
});

describe('FreqLimit rejections', () => {
  it('over maxDelay rejects with RateLimitedError carrying retryAfter, reserving nothing', async () => {
    const limiter = new FreqLimit({ limit: 1, period: 1000 }, { maxDelay: 300 });
    await limiter.acquire('k');
    const error = await limiter.acquire('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toBeInstanceOf(FreqLimitError);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 700 });
    expect((error as Error).message).toMatch(/"k"/);
    expect((error as RateLimitedError).reservation).toMatchObject({ allowed: false, delay: 1000 });
    // The per-call maxDelay overrides the limiter's.
    await expect(limiter.acquire('k', { maxDelay: 0 })).rejects.toMatchObject({
      retryAfter: 1000,
    });
    // Nothing was reserved by the rejections: the wait is still 1000 ms.
    const held = limiter.acquire('k', { maxDelay: 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    expect((await held).delay).toBe(1000);
  });

  it('cost > burst rejects with retryAfter Infinity', async () => {
    const limiter = new FreqLimit({ limit: 1, period: 1000, burst: 2 });
    await expect(limiter.acquire('k', { cost: 3 })).rejects.toMatchObject({
      code: 'RATE_LIMITED',
      retryAfter: Number.POSITIVE_INFINITY,
    });
  });

  it('abort while waiting rejects with the signal’s reason and refunds the slot', async () => {
    const limiter = new FreqLimit({ limit: 1, period: 1000 });
    await limiter.acquire('k'); // t = 0, the slot until 1000 is taken
    const controller = new AbortController();
    const waiting = limiter.acquire('k', { signal: controller.signal });
    const outcome = waiting.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await vi.advanceTimersByTimeAsync(100);
    const reason = new Error('client went away');
    controller.abort(reason);
    expect(await outcome).toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
    // The next caller gets the refunded slot: at 1000, not 2000.
    const t = now();
    const next = limiter.run('k', () => now() - t);
    await vi.advanceTimersByTimeAsync(900);
    expect(await next).toBe(900);
  });

  it('abort without a reason rejects with an AbortError', async () => {
    const limiter = new FreqLimit({ limit: 1, period: 1000 });
    await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(undefined, { signal: controller.signal }).catch((e) => e);
    controller.abort();
    expect(await waiting).toMatchObject({ name: 'AbortError' });
  });

  it('a signal aborted before the call rejects and reserves nothing', async () => {
    const backend = new RecordingBackend();
    const limiter = new FreqLimit({ limit: 1, period: 1000 }, { backend });
    const reason = new Error('already gone');
    await expect(limiter.acquire('k', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(backend.reserved).toEqual([]);
  });

  it('abort refunds every limit of a multi-limit acquire', async () => {
    const backend = new RecordingBackend();
    const limiter = new FreqLimit(
      [
        { limit: 1, period: 1000 },
        { limit: 10, period: 60_000, burst: 10 },
      ],
      { backend },
    );
    await limiter.acquire('k');
    const controller = new AbortController();
    const waiting = limiter.acquire('k', { signal: controller.signal }).catch((e) => e);
    controller.abort('bye');
    expect(await waiting).toBe('bye');
    expect(backend.refunded).toEqual(['default-1:k', 'default-2:k']);
  });
});

describe('FreqLimit validation', () => {
  it('several limits on a backend without reserveMany fail at construction, naming it', () => {
    const backend = new SingleLimitBackend();
    expect(
      () =>
        new FreqLimit(
          [
            { limit: 1, period: 1000 },
            { limit: 5, period: 60_000 },
          ],
          { backend },
        ),
    ).toThrow(/SingleLimitBackend.*reserveMany/);
    // A single limit works on it.
    expect(new FreqLimit({ limit: 1, period: 1000 }, { backend })).toBeInstanceOf(FreqLimit);
  });

  it.each([
    ['an empty name', { name: '' }, TypeError, /`name`/],
    ['a non-string name', { name: 5 }, TypeError, /`name`/],
    ['a negative maxDelay', { maxDelay: -1 }, RangeError, /`maxDelay`/],
    ['a NaN maxDelay', { maxDelay: Number.NaN }, RangeError, /`maxDelay`/],
    ['a bad onBackendError', { onBackendError: 'allow' }, TypeError, /`onBackendError`/],
  ])('constructor: %s', (_label, options, error, message) => {
    const make = () => new FreqLimit({ limit: 1, period: 1000 }, options as never);
    expect(make).toThrow(error);
    expect(make).toThrow(message);
  });

  it('constructor: empty params array', () => {
    expect(() => new FreqLimit([])).toThrow(/`params`/);
  });

  it.each([
    ['an object key', [{}], TypeError, /`key`/],
    ['a boolean key', [true], TypeError, /`key`/],
    ['cost 0', ['k', { cost: 0 }], RangeError, /`cost`/],
    ['cost NaN', ['k', { cost: Number.NaN }], RangeError, /`cost`/],
    ['maxDelay −5', ['k', { maxDelay: -5 }], RangeError, /`maxDelay`/],
  ])('acquire: %s', async (_label, args, error, message) => {
    const backend = new RecordingBackend();
    const limiter = new FreqLimit({ limit: 1, period: 1000 }, { backend });
    const call = (limiter.acquire as (...a: unknown[]) => Promise<unknown>)(...args);
    await expect(call).rejects.toThrow(error);
    await expect(call).rejects.toThrow(message);
    expect(backend.reserved).toEqual([]);
  });
});

describe('FreqLimit onBackendError', () => {
  it("'throw' (default): acquire rejects with the backend's error, every time", async () => {
    const backend = new FailingBackend();
    const limiter = new FreqLimit({ limit: 1, period: 1000 }, { backend });
    await expect(limiter.acquire('k')).rejects.toThrow('backend down');
    await expect(limiter.acquire('k')).rejects.toThrow('backend down');
    expect(backend.calls).toBe(2);
  });

  it('a fallback backend limits while the main one fails, which rests for the cool-down', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const backend = new FailingBackend();
    const fallback = new RecordingBackend();
    const limiter = new FreqLimit(
      { limit: 1, period: 1000 },
      { backend, onBackendError: fallback, maxDelay: 0, name: 'bot' },
    );
    await limiter.acquire('chat');
    await expect(limiter.acquire('chat')).rejects.toBeInstanceOf(RateLimitedError);
    expect(backend.calls).toBe(1);
    expect(fallback.reserved).toEqual(['bot:chat', 'bot:chat']);
    expect(error).toHaveBeenCalledTimes(1);
    expect(String(error.mock.calls[0]?.[0])).toMatch(/FreqLimit "bot"/);
    await vi.advanceTimersByTimeAsync(5_000);
    // After the cool-down the main backend is asked again (and fails again): the fallback answers.
    expect(await limiter.acquire('chat')).toMatchObject({ allowed: true, delay: 0 });
    expect(backend.calls).toBe(2);
    expect(fallback.reserved).toHaveLength(3);
    vi.restoreAllMocks();
  });

  it('an abort refunds on the backend that made the reservation', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const fallback = new RecordingBackend();
    const limiter = new FreqLimit(
      { limit: 1, period: 1000 },
      { backend: new FailingBackend(), onBackendError: fallback },
    );
    await limiter.acquire('k');
    const controller = new AbortController();
    const waiting = limiter.acquire('k', { signal: controller.signal }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    controller.abort('gone');
    expect(await waiting).toBe('gone');
    expect(fallback.refunded).toEqual(['default:k']);
    vi.restoreAllMocks();
  });
});

describe('FreqLimit peek, reset, block', () => {
  it('peek changes nothing; reset gives a full burst; block waits it out, never shorter', async () => {
    const limiter = new FreqLimit({ limit: 1, period: 1000, burst: 2 }, { maxDelay: 0 });
    await limiter.acquire('chat');
    await limiter.acquire('chat');
    const status = await limiter.peek('chat');
    expect(status).toEqual({ remaining: 0, resetAfter: 2000, retryAfter: 1000 });
    expect(await limiter.peek('chat')).toEqual(status);
    await limiter.reset('chat');
    expect(await limiter.peek('chat')).toEqual({ remaining: 2, resetAfter: 0, retryAfter: 0 });
    await limiter.block('chat', 5000);
    await limiter.block('chat', 100); // never shortens the longer wait
    await expect(limiter.acquire('chat')).rejects.toMatchObject({ retryAfter: 5000 });
    await vi.advanceTimersByTimeAsync(5000);
    await expect(limiter.acquire('chat')).resolves.toMatchObject({ allowed: true, delay: 0 });
  });

  it('several limits: one status per limit; reset and block apply to each; key omitted is global', async () => {
    const backend = new RecordingBackend();
    const limiter = new FreqLimit(
      [
        { limit: 1, period: 1000 },
        { limit: 20, period: 60_000, burst: 20 },
      ],
      { backend, name: 'tg' },
    );
    await limiter.acquire();
    expect(await limiter.peek()).toEqual([
      { remaining: 0, resetAfter: 1000, retryAfter: 1000 },
      { remaining: 19, resetAfter: 3000, retryAfter: 0 },
    ]);
    await limiter.block(42, 10_000);
    await limiter.reset(42);
    expect(backend.controlled).toEqual([
      'peek tg-1:',
      'peek tg-2:',
      'block tg-1:42',
      'block tg-2:42',
      'reset tg-1:42',
      'reset tg-2:42',
    ]);
  });

  it('a backend without them says so; a bad key or ms is a clear error', async () => {
    const limiter = new FreqLimit(
      { limit: 1, period: 1000 },
      { backend: new SingleLimitBackend() },
    );
    await expect(limiter.peek('k')).rejects.toThrow(/SingleLimitBackend has no peek\(\)/);
    await expect(limiter.reset('k')).rejects.toThrow(/has no reset\(\)/);
    const memory = new FreqLimit({ limit: 1, period: 1000 });
    await expect(memory.block({} as never, 1)).rejects.toThrow(/`key`/);
    await expect(memory.block('k', Number.NaN)).rejects.toThrow(RangeError);
  });
});

describe('FreqLimit onDecision', () => {
  it('reports pass, hold, reject and backend-error once each, with the decision', async () => {
    const events: Array<[string, number | undefined, string | undefined]> = [];
    const limiter = new FreqLimit(
      { limit: 1, period: 1000 },
      {
        name: 'chat',
        maxDelay: 1000,
        onDecision: (e) => events.push([e.outcome, e.info?.delay, e.info?.limits[0]?.key]),
      },
    );
    await limiter.acquire(7);
    const held = limiter.acquire(7);
    await expect(limiter.acquire(7)).rejects.toBeInstanceOf(RateLimitedError);
    await vi.advanceTimersByTimeAsync(1000);
    await held;
    expect(events).toEqual([
      ['pass', 0, '7'],
      ['hold', 1000, '7'],
      ['reject', 2000, '7'],
    ]);
    const failures: string[] = [];
    const down = new FreqLimit(
      { limit: 1, period: 1000 },
      { backend: new FailingBackend(), onDecision: (e) => failures.push(`${e.outcome} ${e.mode}`) },
    );
    await expect(down.acquire()).rejects.toThrow('backend down');
    expect(failures).toEqual(['backend-error throw']);
  });

  it('a throwing onDecision is reported, never fails acquire', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const limiter = new FreqLimit(
      { limit: 10, period: 1000, burst: 10 },
      {
        onDecision: () => {
          throw new Error('metrics down');
        },
      },
    );
    await expect(limiter.acquire()).resolves.toMatchObject({ allowed: true });
    expect(error).toHaveBeenCalledTimes(1);
    vi.restoreAllMocks();
  });
});

describe('FreqLimit signals', () => {
  it('takes any AbortSignal-like object (e.g. a polyfill such as grammY types its own)', async () => {
    const listeners = new Set<() => void>();
    const signal = {
      aborted: false,
      reason: undefined as unknown,
      addEventListener: (_type: 'abort', listener: () => void) => listeners.add(listener),
      removeEventListener: (_type: 'abort', listener: () => void) => listeners.delete(listener),
    };
    const limiter = new FreqLimit({ limit: 1, period: 1000 });
    await limiter.acquire('k', { signal });
    const waiting = limiter.acquire('k', { signal }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    signal.aborted = true;
    signal.reason = 'polyfilled abort';
    for (const listener of listeners) listener();
    expect(await waiting).toBe('polyfilled abort');
    expect(await limiter.peek('k')).toMatchObject({ retryAfter: 990 });
  });
});
