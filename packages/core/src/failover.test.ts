import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RecordingBackend } from '../test/test-backends.js';
import type { FreqLimitBackend, Reservation } from './backend.js';
import { InMemoryBackend } from './backends/memory.js';
import {
  BACKEND_COOL_DOWN_MS,
  BackendFailover,
  type Reserved,
  type Unreserved,
} from './failover.js';
import { FreqLimitParams } from './params.js';

/** A primary whose every reservation waits until the test settles it (a slow Redis, say). */
function pendingPrimary() {
  const inner = new InMemoryBackend();
  const waiting: Array<{ settle: (ok: boolean) => void }> = [];
  const backend: FreqLimitBackend = {
    reserve: (key, params, options) =>
      new Promise<Reservation>((resolve, reject) => {
        waiting.push({
          settle: (ok) =>
            ok ? resolve(inner.reserve(key, params, options)) : reject(new Error('timed out')),
        });
      }),
    refund: () => Promise.resolve(),
    clear: () => Promise.resolve(),
  };
  /** Settles every call waiting now; resolves how many there were. */
  const settleAll = async (ok: boolean): Promise<number> => {
    const calls = waiting.splice(0);
    for (const call of calls) call.settle(ok);
    await vi.advanceTimersByTimeAsync(0);
    return calls.length;
  };
  return { backend, waiting, settleAll };
}

const params = [new FreqLimitParams({ limit: 100, period: 1_000 })];

/** The backend that answered (undefined: none could). */
const via = (result: Reserved | Unreserved) => ('backend' in result ? result.backend : undefined);

describe('BackendFailover', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('after a cool-down one request probes the primary; the others use the fallback meanwhile', async () => {
    const primary = pendingPrimary();
    const fallback = new RecordingBackend();
    const failover = new BackendFailover(primary.backend, fallback, () => {});
    const reserve = (key: string) => failover.reserve([key], params, 1, 0);

    // Before any failure nothing is known: every request in flight asks the primary.
    const first = [reserve('a'), reserve('b'), reserve('c')];
    expect(await primary.settleAll(false)).toBe(3);
    for (const result of await Promise.all(first)) expect(via(result)).toBe(fallback);

    // The cool-down is over: one request probes, the others are answered by the fallback at once.
    await vi.advanceTimersByTimeAsync(BACKEND_COOL_DOWN_MS);
    const probe = reserve('d');
    const others = [reserve('e'), reserve('f')];
    await vi.advanceTimersByTimeAsync(0);
    expect(primary.waiting).toHaveLength(1);
    for (const result of await Promise.all(others)) expect(via(result)).toBe(fallback);
    expect(await primary.settleAll(false)).toBe(1);
    expect(via(await probe)).toBe(fallback);

    // The next probe finds the primary back: from then on every request asks it again.
    await vi.advanceTimersByTimeAsync(BACKEND_COOL_DOWN_MS);
    const back = reserve('g');
    expect(primary.waiting).toHaveLength(1);
    expect(await primary.settleAll(true)).toBe(1);
    expect(via(await back)).toBe(primary.backend);
    const after = [reserve('h'), reserve('i'), reserve('j')];
    expect(primary.waiting).toHaveLength(3);
    await primary.settleAll(true);
    for (const result of await Promise.all(after)) expect(via(result)).toBe(primary.backend);
    expect(fallback.reserved).toEqual(['a', 'b', 'c', 'e', 'f', 'd']);
  });
});
