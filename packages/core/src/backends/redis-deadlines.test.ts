import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadlineQueue, type Expirable } from './redis-deadlines.js';

afterEach(() => {
  vi.useRealTimers();
});

function call(log: string[], name: string): Expirable {
  return { deadline: 0, done: false, expire: () => log.push(name) };
}

describe('DeadlineQueue', () => {
  it('expires what is still pending after the timeout, in order, with one timer', () => {
    vi.useFakeTimers();
    const queue = new DeadlineQueue(1000);
    const log: string[] = [];
    const calls = Array.from({ length: 100 }, (_, i) => call(log, `c${i}`));
    // Added over 10 ms: deadlines from 1000 to 1009.
    for (const [i, c] of calls.entries()) {
      queue.add(c);
      vi.advanceTimersByTime(i % 10 === 9 ? 1 : 0);
    }
    expect(vi.getTimerCount()).toBe(1);
    for (let i = 0; i < 100; i += 2) expect(queue.settle(calls[i]!)).toBe(true);
    vi.advanceTimersByTime(980);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(20);
    expect(log).toEqual(calls.filter((_, i) => i % 2 === 1).map((_, k) => `c${2 * k + 1}`));
    expect(vi.getTimerCount()).toBe(0);
    // A late answer is refused: the call already failed.
    expect(queue.settle(calls[1]!)).toBe(false);
    expect(queue.size).toBe(0);
  });

  it('calls answered in time never expire, and the queue empties as they settle', () => {
    vi.useFakeTimers();
    const queue = new DeadlineQueue(50);
    const log: string[] = [];
    for (let round = 0; round < 1000; round++) {
      const batch = Array.from({ length: 10 }, (_, i) => call(log, `r${round}.${i}`));
      for (const c of batch) queue.add(c);
      vi.advanceTimersByTime(5);
      for (const c of batch) queue.settle(c);
      expect(queue.size).toBe(0);
    }
    vi.advanceTimersByTime(1000);
    expect(log).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a call added while older ones are pending gets its own full timeout', () => {
    vi.useFakeTimers();
    const queue = new DeadlineQueue(100);
    const log: string[] = [];
    const a = call(log, 'a');
    const b = call(log, 'b');
    queue.add(a);
    vi.advanceTimersByTime(60);
    queue.add(b);
    queue.settle(a);
    vi.advanceTimersByTime(60); // a's deadline passes: nothing to expire, re-armed for b
    expect(log).toEqual([]);
    vi.advanceTimersByTime(40);
    expect(log).toEqual(['b']);
  });
});
