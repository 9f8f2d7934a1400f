import { afterEach, describe, expect, it, vi } from 'vitest';
import { FreqLimitParams } from '../params.js';
import { InMemoryBackend } from './memory.js';

const P = (limit: number, period: number, burst = 1) =>
  new FreqLimitParams({ limit, period, burst });

/**
 * A read-only probe of a key: a request with cost > burst is always rejected and changes
 * nothing, yet reports the key's `resetAfter` (0 when the key is not stored).
 */
function probe(backend: InMemoryBackend, key: string, now: number): number {
  return backend.reserveSync(key, P(1, 1), { cost: 2, now }).resetAfter;
}

/** A deterministic shuffle (LCG), so the insertion order is not the expiry order. */
function shuffled<T>(items: T[], seed = 7): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('InMemoryBackend options', () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '10'])(
    'maxKeys %s is rejected',
    (maxKeys) => {
      expect(() => new InMemoryBackend({ maxKeys: maxKeys as number })).toThrow(RangeError);
      expect(() => new InMemoryBackend({ maxKeys: maxKeys as number })).toThrow(/`maxKeys`/);
    },
  );

  it('clock must be a function', () => {
    expect(() => new InMemoryBackend({ clock: 5 as unknown as () => number })).toThrow(/`clock`/);
  });

  it.each([Number.NaN, -1, '5'])(
    'maxDelay %s is a RangeError, not "wait forever"',
    async (maxDelay) => {
      const backend = new InMemoryBackend();
      const p = P(1, 1000);
      await expect(backend.reserve('k', p, { maxDelay: maxDelay as number })).rejects.toThrow(
        /`maxDelay`/,
      );
      await expect(
        backend.reserveMany([{ key: 'k', params: p }], { maxDelay: maxDelay as number }),
      ).rejects.toThrow(/`maxDelay`/);
      expect(backend.size).toBe(0);
    },
  );

  it('uses the injected clock when no `now` is given', async () => {
    let now = 10_000;
    const backend = new InMemoryBackend({ clock: () => now });
    const p = P(1, 1000);
    await backend.reserve('k', p);
    expect((await backend.reserve('k', p)).delay).toBe(1000);
    now += 400;
    expect((await backend.reserve('k', p, { maxDelay: 0 })).retryAfter).toBe(1600);
    // `now` overrides the clock.
    expect((await backend.reserve('k', p, { now: 12_000, maxDelay: 0 })).allowed).toBe(true);
  });

  it('defaults to performance.now() (faked by vitest 4 fake timers)', async () => {
    vi.useFakeTimers();
    const backend = new InMemoryBackend();
    const p = P(1, 1000);
    await backend.reserve('k', p);
    expect((await backend.reserve('k', p, { maxDelay: 0 })).retryAfter).toBe(1000);
    vi.advanceTimersByTime(250);
    expect((await backend.reserve('k', p, { maxDelay: 0 })).retryAfter).toBe(750);
  });
});

describe('InMemoryBackend state', () => {
  it('a rejected request stores nothing; an emptied key is dropped', async () => {
    const backend = new InMemoryBackend();
    const p = P(1, 1000);
    await backend.reserve('a', p, { now: 0, cost: 5 });
    expect(backend.size).toBe(0);
    await backend.reserve('a', p, { now: 0 });
    expect(backend.size).toBe(1);
    await backend.refund('a', p, { now: 0 });
    expect(backend.size).toBe(0);
    await backend.refund('never-seen', p, { now: 0 });
    expect(backend.size).toBe(0);
  });

  it('refund moves the TAT back by cost·T, never below now', async () => {
    const backend = new InMemoryBackend();
    const p = P(10, 1000); // T = 100
    for (let i = 0; i < 5; i++) await backend.reserve('a', p, { now: 0 });
    expect(probe(backend, 'a', 0)).toBe(500);
    await backend.refund('a', p, { now: 0, cost: 2 });
    expect(probe(backend, 'a', 0)).toBe(300);
    await backend.refund('a', p, { now: 250, cost: 1 });
    expect(probe(backend, 'a', 250)).toBe(0);
  });
});

describe('InMemoryBackend memory bounds', () => {
  it('2,000,000 distinct keys keep the live key count bounded', () => {
    let now = 0;
    const backend = new InMemoryBackend({ clock: () => now });
    const p = P(1, 1000); // a new key lives (TAT − now) = T = 1000 ms
    const keys = 2_000_000;
    const perMs = 100; // clock advances 0.01 ms per request: 100 new keys per ms
    const ttl = 1000;
    const bucket = 100;
    // A key is live for `ttl` ms. Once expired it is reclaimed when its 100 ms expiry bucket
    // lies wholly in the past — at most one bucket (100 ms) after it expired — plus the time
    // the sweep needs to get through that bucket at 4 references per call, i.e. a quarter
    // of the calls that filled it (25 ms here). So at most perMs · (ttl + 100 + 25) keys are
    // stored; we allow perMs · (ttl + 2 · bucket) = 120,000, against 2,000,000 without sweeping.
    const bound = perMs * (ttl + 2 * bucket);
    let peak = 0;
    for (let i = 0; i < keys; i++) {
      now = i / perMs;
      backend.reserveSync(`client:${i}`, p);
      if (i % 1000 === 0 && backend.size > peak) peak = backend.size;
    }
    expect(peak).toBeLessThanOrEqual(bound);
    // And the keys that should be live are: the bound is not met by forgetting live state.
    expect(backend.size).toBeGreaterThanOrEqual(perMs * ttl);
    expect(probe(backend, `client:${keys - 1}`, now)).toBe(ttl);
    expect(probe(backend, `client:${keys - perMs * ttl + perMs}`, now)).toBeGreaterThan(0);
  });

  it('expired keys are reclaimed by later calls, with no timer', async () => {
    vi.useFakeTimers();
    let now = 0;
    const backend = new InMemoryBackend({ clock: () => now });
    const p = P(1, 1000);
    for (let i = 0; i < 10_000; i++) await backend.reserve(`k${i}`, p);
    expect(backend.size).toBe(10_000);
    expect(vi.getTimerCount()).toBe(0);
    now = 1000;
    // A saturated key: its requests are rejected and store nothing, but each call sweeps a
    // few expired references — 10,000 of them need 2,500 calls.
    await backend.reserve('hot', P(1, 1_000_000));
    for (let i = 0; i < 100; i++) await backend.reserve('hot', P(1, 1_000_000), { maxDelay: 0 });
    expect(backend.size).toBe(10_001); // the bucket ending at 1000 is not wholly past yet
    now = 1100;
    for (let i = 0; i < 2600; i++) await backend.reserve('hot', P(1, 1_000_000), { maxDelay: 0 });
    expect(backend.size).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('maxKeys is a hard cap, even for keys that all expire together', () => {
    const backend = new InMemoryBackend({ maxKeys: 10 });
    for (let i = 0; i < 1000; i++) {
      backend.reserveSync(`k${i}`, P(1, 60_000), { now: 0 });
      expect(backend.size).toBeLessThanOrEqual(10);
    }
    expect(backend.size).toBe(10);
  });

  it('maxKeys evicts the entries closest to expiry first (by 100 ms buckets)', () => {
    const backend = new InMemoryBackend({ maxKeys: 100 });
    // Key j expires at 100·(j + 1) + 50 ms: one 100 ms bucket each, inserted out of order.
    const ttl = (j: number) => 100 * (j + 1) + 50;
    const order = shuffled(Array.from({ length: 100 }, (_, j) => j));
    for (const j of order) backend.reserveSync(`short:${j}`, P(1, ttl(j)), { now: 0 });
    expect(backend.size).toBe(100);
    // 40 long-lived keys push out the 40 that expire soonest.
    for (let i = 0; i < 40; i++) {
      backend.reserveSync(`long:${i}`, P(1, 3_600_000), { now: 0 });
      expect(backend.size).toBe(100);
    }
    const kept = order.filter((j) => probe(backend, `short:${j}`, 0) > 0).sort((a, b) => a - b);
    expect(kept).toEqual(Array.from({ length: 60 }, (_, j) => j + 40));
    for (const j of kept) expect(probe(backend, `short:${j}`, 0)).toBe(ttl(j));
    for (let i = 0; i < 40; i++) expect(probe(backend, `long:${i}`, 0)).toBe(3_600_000);
  });

  it('a key whose TAT moved to a later bucket is evicted by its current expiry', () => {
    const backend = new InMemoryBackend({ maxKeys: 3 });
    const p = P(1, 1000);
    backend.reserveSync('a', p, { now: 0 }); // expires 1000
    backend.reserveSync('b', p, { now: 0 }); // 1000
    backend.reserveSync('c', P(1, 1500), { now: 0 }); // 1500
    // `a` is pushed to 3000: its reference in the 1000 bucket is stale.
    backend.reserveSync('a', p, { now: 0 });
    backend.reserveSync('a', p, { now: 0 });
    backend.reserveSync('d', P(1, 5000), { now: 0 }); // evicts b (1000), not a
    expect(probe(backend, 'a', 0)).toBe(3000);
    expect(probe(backend, 'b', 0)).toBe(0);
    expect(probe(backend, 'c', 0)).toBe(1500);
    expect(probe(backend, 'd', 0)).toBe(5000);
  });
});

describe('InMemoryBackend slots', () => {
  it('a reset or refunded-to-empty key is forgotten at once, and can come back', () => {
    const backend = new InMemoryBackend();
    const p = P(1, 1000);
    backend.reserveSync('a', p, { now: 0 });
    backend.resetSync('a');
    expect(backend.size).toBe(0);
    expect(probe(backend, 'a', 0)).toBe(0);
    expect(backend.reserveSync('a', p, { now: 0 })).toMatchObject({ allowed: true, delay: 0 });
    expect(backend.reserveSync('a', p, { now: 0 }).delay).toBe(1000);
    expect(backend.size).toBe(1);
  });

  it('slots of dropped keys count against maxKeys until reused, never beyond it', () => {
    const backend = new InMemoryBackend({ maxKeys: 3 });
    const p = P(1, 60_000);
    for (let i = 0; i < 10_000; i++) {
      backend.reserveSync(`k${i}`, p, { now: 0 });
      if (i % 2 === 0) backend.resetSync(`k${i}`);
      expect(backend.size).toBeLessThanOrEqual(3);
    }
    // The newest odd key is kept; a dropped key is empty.
    expect(probe(backend, 'k9999', 0)).toBe(60_000);
    expect(probe(backend, 'k9998', 0)).toBe(0);
  });

  it('a hot key filed long ago is re-filed, not reclaimed, when its first bucket passes', () => {
    let now = 0;
    const backend = new InMemoryBackend({ clock: () => now });
    const p = P(10, 1000, 1_000); // T = 100 ms, a deep burst: nothing is held
    for (let i = 0; i < 50; i++) {
      now = i * 20;
      backend.reserveSync('hot', p);
    }
    // Filed at its first TAT (100); now its TAT is 5000, and the clock is far past 100.
    now = 2000;
    for (let i = 0; i < 20; i++) backend.reserveSync('other', P(1, 1), { cost: 2 });
    expect(probe(backend, 'hot', now)).toBe(3000);
    // Reclaimed once the bucket of its real TAT (5000–5100) lies wholly in the past.
    now = 5050;
    for (let i = 0; i < 20; i++) backend.reserveSync('other', P(1, 1), { cost: 2 });
    expect(backend.size).toBe(1);
    now = 5100;
    for (let i = 0; i < 20; i++) backend.reserveSync('other', P(1, 1), { cost: 2 });
    expect(backend.size).toBe(0);
  });

  it('plain params are validated again when the same object changes', () => {
    const backend = new InMemoryBackend();
    const params = { limit: 1, period: 1000 };
    expect(backend.reserveSync('k', params, { now: 0 }).resetAfter).toBe(1000);
    params.period = 2000;
    expect(backend.reserveSync('j', params, { now: 0 }).resetAfter).toBe(2000);
    params.limit = 0;
    expect(() => backend.reserveSync('j', params, { now: 0 })).toThrow(/`limit`/);
  });
});
