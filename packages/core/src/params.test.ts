import { describe, expect, it } from 'vitest';
import { InMemoryBackend } from './backends/memory.js';
import { gcraStep } from './gcra.js';
import { FreqLimit } from './limiter.js';
import { checkCost, checkMaxDelay, FreqLimitParams } from './params.js';

type Bad = [field: 'limit' | 'period' | 'burst', init: unknown, error: typeof Error];

const invalid: Bad[] = [
  // limit
  ['limit', { limit: Number.NaN, period: 1000 }, RangeError],
  ['limit', { limit: Number.POSITIVE_INFINITY, period: 1000 }, RangeError],
  ['limit', { limit: Number.NEGATIVE_INFINITY, period: 1000 }, RangeError],
  ['limit', { limit: 0, period: 1000 }, RangeError],
  ['limit', { limit: -1, period: 1000 }, RangeError],
  ['limit', { limit: 1.5, period: 1000 }, RangeError],
  ['limit', { limit: 0.5, period: 1000 }, RangeError],
  ['limit', { limit: '10', period: 1000 }, TypeError],
  ['limit', { limit: null, period: 1000 }, TypeError],
  ['limit', { limit: 10n, period: 1000 }, TypeError],
  ['limit', { period: 1000 }, TypeError],
  // period
  ['period', { limit: 1, period: Number.NaN }, RangeError],
  ['period', { limit: 1, period: Number.POSITIVE_INFINITY }, RangeError],
  ['period', { limit: 1, period: 0 }, RangeError],
  ['period', { limit: 1, period: -0 }, RangeError],
  ['period', { limit: 1, period: -1000 }, RangeError],
  ['period', { limit: 1, period: '1000' }, TypeError],
  ['period', { limit: 1, period: true }, TypeError],
  ['period', { limit: 1 }, TypeError],
  // burst
  ['burst', { limit: 1, period: 1000, burst: Number.NaN }, RangeError],
  ['burst', { limit: 1, period: 1000, burst: Number.POSITIVE_INFINITY }, RangeError],
  ['burst', { limit: 1, period: 1000, burst: 0 }, RangeError],
  ['burst', { limit: 1, period: 1000, burst: -2 }, RangeError],
  ['burst', { limit: 1, period: 1000, burst: 2.5 }, RangeError],
  ['burst', { limit: 1, period: 1000, burst: '3' }, TypeError],
  ['burst', { limit: 1, period: 1000, burst: null }, TypeError],
];

describe('FreqLimitParams validation', () => {
  const label = (init: unknown): string =>
    JSON.stringify(init, (_, v) =>
      typeof v === 'bigint' ? `${v}n` : Number.isFinite(v) || typeof v !== 'number' ? v : String(v),
    );
  it.each(invalid.map(([field, init, error]) => [field, label(init), init, error] as const))(
    '`%s` rejected in %s',
    (field, _label, init, error) => {
      const make = () => new FreqLimitParams(init as never);
      expect(make).toThrow(error);
      expect(make).toThrow(`\`${field}\``);
    },
  );

  it.each([undefined, null, 42, 'limit=1'])(
    'a missing or non-object init (%j) is a TypeError',
    (init) => {
      expect(() => new FreqLimitParams(init as never)).toThrow(TypeError);
      expect(() => new FreqLimitParams(init as never)).toThrow(/limit, period/);
    },
  );

  it('names where the error came from', () => {
    expect(() => new FreqLimitParams({ limit: 0, period: 1 }, 'my-middleware')).toThrow(
      /^my-middleware: `limit`/,
    );
  });

  it('accepts valid params and defaults burst to 1', () => {
    const p = new FreqLimitParams({ limit: 20, period: 60_000 });
    expect(p).toMatchObject({ limit: 20, period: 60_000, burst: 1, interval: 3000, tau: 0 });
    expect(new FreqLimitParams({ limit: 3, period: 0.5, burst: 7 }).period).toBe(0.5);
  });
});

describe('FreqLimitParams derived values', () => {
  it.each([
    [{ limit: 20, period: 60_000, burst: 3 }, 3000, 6000],
    [{ limit: 10, period: 1000, burst: 1 }, 100, 0],
    [{ limit: 3, period: 1000, burst: 4 }, 1000 / 3, 1000],
    [{ limit: 1, period: 1500, burst: 2 }, 1500, 1500],
  ])('%j → interval %d, tau %d', (init, interval, tau) => {
    const p = new FreqLimitParams(init);
    expect(p.interval).toBeCloseTo(interval, 9);
    expect(p.tau).toBeCloseTo(tau, 9);
  });
});

describe('FreqLimitParams immutability', () => {
  it('is frozen: assignments throw in strict mode and change nothing', () => {
    const p = new FreqLimitParams({ limit: 2, period: 1000, burst: 2 });
    expect(Object.isFrozen(p)).toBe(true);
    const loose = p as unknown as Record<string, number>;
    expect(() => {
      loose.limit = 100;
    }).toThrow(TypeError);
    expect(() => {
      loose.interval = 1;
    }).toThrow(TypeError);
    expect(p).toMatchObject({ limit: 2, period: 1000, burst: 2, interval: 500, tau: 500 });
  });

  it('does not keep or mutate the caller’s object', () => {
    const init = { limit: 2, period: 1000, burst: 2 };
    const p = new FreqLimitParams(init);
    init.limit = 50;
    expect(p.limit).toBe(2);
    expect(Object.isFrozen(init)).toBe(false);
  });

  it('from() returns the same instance, or validates a plain object', () => {
    const p = new FreqLimitParams({ limit: 1, period: 1 });
    expect(FreqLimitParams.from(p)).toBe(p);
    expect(FreqLimitParams.from({ limit: 4, period: 100 })).toBeInstanceOf(FreqLimitParams);
    expect(() => FreqLimitParams.from({ limit: 4, period: -1 })).toThrow(/`period`/);
  });
});

describe('plain objects are accepted wherever params are taken', () => {
  it('InMemoryBackend.reserve / refund / reserveMany', async () => {
    const backend = new InMemoryBackend();
    const plain = { limit: 1, period: 1000 };
    expect((await backend.reserve('a', plain, { now: 0 })).delay).toBe(0);
    expect((await backend.reserve('a', plain, { now: 0 })).delay).toBe(1000);
    await backend.refund('a', plain, { now: 0 });
    expect((await backend.reserve('a', plain, { now: 0 })).delay).toBe(1000);
    const many = await backend.reserveMany([{ key: 'b', params: plain as never }], { now: 0 });
    expect(many.allowed).toBe(true);
    await expect(backend.reserve('a', { limit: 0, period: 1 }, { now: 0 })).rejects.toThrow(
      /`limit`/,
    );
  });

  it('FreqLimit, single and array', async () => {
    expect(new FreqLimit({ limit: 1, period: 1000 }).params[0]).toBeInstanceOf(FreqLimitParams);
    const two = new FreqLimit([
      { limit: 1, period: 1000 },
      { limit: 10, period: 60_000, burst: 2 },
    ]);
    expect(two.params.map((p) => p.interval)).toEqual([1000, 6000]);
    expect(() => new FreqLimit({ limit: 1, period: 1000, burst: 0 })).toThrow(/`burst`/);
    expect(
      () =>
        new FreqLimit([
          { limit: 1, period: 1000 },
          { limit: 1, period: Number.NaN },
        ]),
    ).toThrow(/params\[1\].*`period`/);
  });
});

describe('checkCost / checkMaxDelay', () => {
  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, '1', null])(
    'cost %s is a RangeError',
    (c) => {
      expect(() => checkCost(c)).toThrow(RangeError);
      expect(() => checkCost(c)).toThrow(/`cost`/);
      expect(() =>
        gcraStep(0, undefined, new FreqLimitParams({ limit: 1, period: 1 }), c as number),
      ).toThrow(/`cost`/);
    },
  );

  it('accepts fractional costs', () => {
    expect(checkCost(0.25)).toBe(0.25);
  });

  it.each([-1, Number.NaN, '0', null])('maxDelay %s is a RangeError', (m) => {
    expect(() => checkMaxDelay(m)).toThrow(RangeError);
    expect(() => checkMaxDelay(m)).toThrow(/`maxDelay`/);
  });

  it('accepts 0 and Infinity as maxDelay', () => {
    expect(checkMaxDelay(0)).toBe(0);
    expect(checkMaxDelay(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  });
});
