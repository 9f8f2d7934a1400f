import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InMemoryBackend } from './backends/memory.js';
import {
  type AdapterSpec,
  DEFAULT_MAX_DELAY,
  DEFAULT_MAX_HELD,
  type FreqLimitMiddlewareOptions,
  resolveMiddlewareOptions,
} from './middleware-options.js';

interface Ctx {
  ip?: string;
}

const adapter: AdapterSpec<Ctx> = {
  name: 'test',
  clientAddress: (ctx) => ctx.ip,
  noAddress: 'no ctx.ip',
};
const resolve = (options: FreqLimitMiddlewareOptions<Ctx>) =>
  resolveMiddlewareOptions(options, adapter);

let warnSpy: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  warnSpy = vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('resolveMiddlewareOptions', () => {
  it('warns once when two instances share a name on one backend', () => {
    const backend = new InMemoryBackend();
    resolve({ limit: 1, period: 1000, backend, name: 'login' });
    resolve({ limit: 1, period: 1000, backend, name: 'signup' });
    resolve({ limit: 1, period: 1000, name: 'login' }); // own backend
    expect(warnSpy).not.toHaveBeenCalled();
    resolve({ limit: 1, period: 1000, backend, name: 'login' });
    expect(warnSpy).toHaveBeenCalledTimes(1);
    expect(String(warnSpy.mock.calls[0]?.[0])).toMatch(/"login"/);
    // Once per name and backend, not once per further instance.
    resolve({ limit: 1, period: 1000, backend, name: 'login' });
    expect(warnSpy).toHaveBeenCalledTimes(1);
    resolve({ limit: 1, period: 1000, backend, name: 'signup' });
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
    [
      'a misspelt field in a limits entry',
      {
        limits: [
          { limit: 1, period: 1000 },
          { limit: 5, period: 1000, bursts: 2 },
        ],
      },
      TypeError,
      /`limits\[1\]\.bursts`/,
    ],
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
    const make = () => resolve(options as never);
    expect(make).toThrow(error);
    expect(make).toThrow(message);
    expect(make).toThrow(/^test[: ]/);
  });

  it('does not mutate the caller’s options, and gives a frozen config', () => {
    const limits = [{ limit: 1, period: 1000 }];
    const options = Object.freeze({ limits: Object.freeze(limits), maxDelay: 0 });
    const config = resolve(options);
    expect(options).toEqual({ limits: [{ limit: 1, period: 1000 }], maxDelay: 0 });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
    expect(Object.isFrozen(config.limits[0])).toBe(true);
  });

  it('resolves the defaults: draft-10, maxDelay 1000, maxHeld 1000, allow, a backend each', () => {
    const a = resolve({ limit: 2, period: 1000, burst: 2 });
    const b = resolve({ limit: 2, period: 1000 });
    expect(a).toMatchObject({
      name: 'default',
      headers: 'draft-10',
      maxDelay: DEFAULT_MAX_DELAY,
      maxHeld: DEFAULT_MAX_HELD,
      onBackendError: 'allow',
      cost: 1,
    });
    expect([DEFAULT_MAX_DELAY, DEFAULT_MAX_HELD]).toEqual([1000, 1000]);
    expect(a.backend).toBeInstanceOf(InMemoryBackend);
    expect(a.backend).not.toBe(b.backend);
    expect(a.limits[0]).toMatchObject({
      policy: 'default',
      prefix: 'default:',
      keyLabel: 'the default key',
    });
    expect(a.limits[0]?.params).toMatchObject({ limit: 2, period: 1000, burst: 2, interval: 500 });
  });

  it('names several limits name-1, name-2…, each with its key function', () => {
    const own = () => 'all';
    const keyFn = () => 'k';
    const config = resolve({
      name: 'bot',
      keyFn,
      limits: [
        { limit: 1, period: 1 },
        { limit: 2, period: 1, key: own },
      ],
    });
    expect(config.limits.map((l) => [l.policy, l.prefix, l.key, l.keyLabel])).toEqual([
      ['bot-1', 'bot-1:', keyFn, 'keyFn'],
      ['bot-2', 'bot-2:', own, 'limits[1].key'],
    ]);
  });
});
