/**
 * A backend wrapper that records every call reaching the backend it wraps — how often the
 * middleware asked a failing Redis, counted on the client side (Redis cannot count calls it
 * never received, and its `INFO commandstats` start from zero after a restart).
 */

import type {
  FreqLimitBackend,
  FreqLimitParams,
  LimitStatus,
  MultiReservation,
  RefundOptions,
  Reservation,
  ReserveManyEntry,
  ReserveManyOptions,
  ReserveOptions,
} from '@freqlimit/core';

/** One call: which method, when it was made and settled (`performance.now()`), and how. */
export interface Call {
  method: string;
  start: number;
  end: number;
  ok: boolean;
}

/** Forwards every method to `inner`, recording each call in {@link calls}. */
export class CountingBackend implements FreqLimitBackend {
  readonly calls: Call[] = [];
  constructor(readonly inner: Required<FreqLimitBackend>) {}

  async #record<T>(method: string, call: () => Promise<T>): Promise<T> {
    const entry: Call = { method, start: performance.now(), end: Number.NaN, ok: false };
    this.calls.push(entry);
    try {
      const result = await call();
      entry.ok = true;
      return result;
    } finally {
      entry.end = performance.now();
    }
  }

  reserve(key: string, params: FreqLimitParams, options?: ReserveOptions): Promise<Reservation> {
    return this.#record('reserve', () => this.inner.reserve(key, params, options));
  }
  reserveMany(
    entries: ReadonlyArray<ReserveManyEntry>,
    options?: ReserveManyOptions,
  ): Promise<MultiReservation> {
    return this.#record('reserveMany', () => this.inner.reserveMany(entries, options));
  }
  refund(key: string, params: FreqLimitParams, options?: RefundOptions): Promise<void> {
    return this.#record('refund', () => this.inner.refund(key, params, options));
  }
  clear(): Promise<void> {
    return this.#record('clear', () => this.inner.clear());
  }
  peek(key: string, params: FreqLimitParams): Promise<LimitStatus> {
    return this.#record('peek', () => this.inner.peek(key, params));
  }
  reset(key: string): Promise<void> {
    return this.#record('reset', () => this.inner.reset(key));
  }
  block(key: string, params: FreqLimitParams, ms: number): Promise<void> {
    return this.#record('block', () => this.inner.block(key, params, ms));
  }
}
