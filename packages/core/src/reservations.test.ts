import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FailingBackend, RecordingBackend } from '../test/test-backends.js';
import { FreqLimitParams } from './params.js';
import { keyPrefix, refundAll, reserveAll, sleepUntil } from './reservations.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const P = new FreqLimitParams({ limit: 1, period: 1000 });
const Q = new FreqLimitParams({ limit: 10, period: 1000 });

describe('keyPrefix', () => {
  it('is name: for one limit, name-<n>: for several', () => {
    expect(keyPrefix('api', 0, 1)).toBe('api:');
    expect([0, 1, 2].map((i) => keyPrefix('bot', i, 3))).toEqual(['bot-1:', 'bot-2:', 'bot-3:']);
  });
});

describe('reserveAll and refundAll', () => {
  it('one key: reserve; several: reserveMany with the cost on every entry', async () => {
    const backend = new RecordingBackend();
    expect(await reserveAll(backend, ['a'], [P], 1, 0)).toMatchObject({ allowed: true });
    const many = await reserveAll(backend, ['b', 'c'], [P, Q], 1, Number.POSITIVE_INFINITY);
    expect(many).toMatchObject({ allowed: true, each: [{}, {}] });
    expect(backend.reserved).toEqual(['a', 'b + c']);
    refundAll(backend, ['b', 'c'], [P, Q], 1, () => undefined);
    expect(backend.refunded).toEqual(['b', 'c']);
  });

  it('refundAll never rejects: sync and async failures go to onError', async () => {
    const errors: unknown[] = [];
    refundAll(new FailingBackend('throw'), ['a', 'b'], [P, P], 1, (e) => errors.push(e));
    refundAll(new FailingBackend('reject'), ['c'], [P], 1, (e) => errors.push(e));
    await vi.advanceTimersByTimeAsync(0);
    expect(errors).toHaveLength(3);
  });
});

describe('sleepUntil', () => {
  it('resolves at the deadline, not before', async () => {
    let done = false;
    const sleeping = sleepUntil(performance.now() + 250.4).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(250);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await sleeping;
    expect(done).toBe(true);
  });

  it('a deadline already passed resolves at once, with no timer', async () => {
    await sleepUntil(performance.now() - 5);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('aims at the deadline: time spent before the wait starts is not waited again', async () => {
    const start = performance.now();
    await vi.advanceTimersByTimeAsync(30); // e.g. the backend's round trip
    let woke = -1;
    const sleeping = sleepUntil(start + 100).then(() => {
      woke = performance.now() - start;
    });
    await vi.advanceTimersByTimeAsync(69);
    expect(woke).toBe(-1);
    await vi.advanceTimersByTimeAsync(1);
    await sleeping;
    expect(woke).toBe(100);
  });

  it('works under fake timers that leave performance.now() real', async () => {
    vi.useRealTimers();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let done = false;
    const sleeping = sleepUntil(performance.now() + 5_000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(5_000);
    await sleeping;
    expect(done).toBe(true);
  });

  it('an abort rejects with the signal’s reason and clears the timer', async () => {
    const controller = new AbortController();
    const sleeping = sleepUntil(performance.now() + 1000, controller.signal);
    await vi.advanceTimersByTimeAsync(300);
    controller.abort(new Error('client left'));
    await expect(sleeping).rejects.toThrow('client left');
    expect(vi.getTimerCount()).toBe(0);
    await expect(sleepUntil(0, AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
  });
});
