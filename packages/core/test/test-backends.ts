/**
 * Backends and clocks for tests, shared by every package (import by relative path): real
 * in-memory state that records its calls, one without reserveMany, one that is down, one that
 * pauses before it reads its clock.
 */

import type {
  FreqLimitBackend,
  LimitStatus,
  RefundOptions,
  Reservation,
  ReserveManyEntry,
  ReserveManyOptions,
  ReserveOptions,
} from '../src/backend.js';
import { InMemoryBackend } from '../src/backends/memory.js';
import type { FreqLimitParams } from '../src/params.js';

/** Forwards to an InMemoryBackend, recording the keys it is asked about. */
export class RecordingBackend implements FreqLimitBackend {
  constructor(readonly inner: InMemoryBackend = new InMemoryBackend()) {}
  readonly reserved: string[] = [];
  readonly refunded: string[] = [];
  reserve(key: string, params: FreqLimitParams, options?: ReserveOptions): Promise<Reservation> {
    this.reserved.push(key);
    return this.inner.reserve(key, params, options);
  }
  refund(key: string, params: FreqLimitParams, options?: RefundOptions): Promise<void> {
    this.refunded.push(key);
    return this.inner.refund(key, params, options);
  }
  reserveMany(entries: ReadonlyArray<ReserveManyEntry>, options?: ReserveManyOptions) {
    this.reserved.push(entries.map((e) => e.key).join(' + '));
    return this.inner.reserveMany(entries, options);
  }
  clear(): Promise<void> {
    return this.inner.clear();
  }
  /** State-control calls, as `method key`. */
  readonly controlled: string[] = [];
  peek(key: string, params: FreqLimitParams): Promise<LimitStatus> {
    this.controlled.push(`peek ${key}`);
    return this.inner.peek(key, params);
  }
  reset(key: string): Promise<void> {
    this.controlled.push(`reset ${key}`);
    return this.inner.reset(key);
  }
  block(key: string, params: FreqLimitParams, ms: number): Promise<void> {
    this.controlled.push(`block ${key}`);
    return this.inner.block(key, params, ms);
  }
}

/** A custom backend with single-limit support only. */
export class SingleLimitBackend implements FreqLimitBackend {
  readonly #inner = new InMemoryBackend();
  reserve(key: string, params: FreqLimitParams, options?: ReserveOptions): Promise<Reservation> {
    return this.#inner.reserve(key, params, options);
  }
  refund(key: string, params: FreqLimitParams, options?: RefundOptions): Promise<void> {
    return this.#inner.refund(key, params, options);
  }
  clear(): Promise<void> {
    return this.#inner.clear();
  }
}

/**
 * A backend that is down, like a Redis that does not answer: every call fails, asynchronously
 * (`'reject'`) or synchronously (`'throw'`). `calls` counts the reservations it was asked for.
 */
export class FailingBackend implements FreqLimitBackend {
  calls = 0;
  refunds = 0;
  constructor(
    readonly mode: 'reject' | 'throw' = 'reject',
    readonly error: () => Error = () => new Error('backend down'),
  ) {}
  #fail(): Promise<never> {
    const error = this.error();
    if (this.mode === 'throw') throw error;
    return Promise.reject(error);
  }
  reserve(): Promise<Reservation> {
    this.calls++;
    return this.#fail();
  }
  reserveMany(): Promise<never> {
    this.calls++;
    return this.#fail();
  }
  refund(): Promise<void> {
    this.refunds++;
    return this.#fail();
  }
  clear(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * An InMemoryBackend that runs `pause` (e.g. advancing fake timers: a GC pause) just before it
 * reads its clock, and keeps that reading in `stamp`. Synchronous, so the middleware's fast
 * path takes it.
 */
export class PausedBackend extends InMemoryBackend {
  stamp = Number.NaN;
  constructor(readonly pause: () => void) {
    super();
  }
  override reserveSync(...args: Parameters<InMemoryBackend['reserveSync']>): Reservation {
    this.pause();
    this.stamp = performance.now();
    return super.reserveSync(...args);
  }
}

/** {@link PausedBackend} behind its own `reserve`: every caller goes the asynchronous way. */
export class PausedAsyncBackend extends PausedBackend {
  override async reserve(...args: Parameters<InMemoryBackend['reserve']>): Promise<Reservation> {
    return this.reserveSync(...args);
  }
}

/** A clock the test sets by hand (ms), for backends: `new InMemoryBackend({ clock })`. */
export function manualClock(start = 0): { clock: () => number; set(ms: number): void } {
  let now = start;
  return {
    clock: () => now,
    set(ms) {
      now = ms;
    },
  };
}
