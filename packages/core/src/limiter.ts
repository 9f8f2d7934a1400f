/**
 * @module limiter
 * `FreqLimit`: rate limiting outside HTTP — wait for your turn, then act.
 */

import type { FreqLimitBackend, MultiReservation, Reservation } from './backend.js';
import { InMemoryBackend } from './backends/memory.js';
import { RateLimitedError } from './errors.js';
import { BACKEND_COOL_DOWN_MS, BackendFailover, isBackend } from './failover.js';
import { checkCost, checkMaxDelay, FreqLimitParams, type FreqLimitParamsLike } from './params.js';
import { abortReason, keyPrefix, refundAll, reserveAll, sleepUntil } from './reservations.js';

/** Options of {@link FreqLimit}. */
export interface FreqLimitOptions {
  /** Where state lives. Default: a new `InMemoryBackend` for this limiter. */
  backend?: FreqLimitBackend;
  /** Namespace inside the backend; limiters with different names never share state. Default `'default'`. */
  name?: string;
  /** Longest wait (ms) before `acquire` rejects with `RateLimitedError` instead. Default `Infinity`. */
  maxDelay?: number;
  /**
   * When the backend throws or times out: `'throw'` (default) rejects `acquire` with the
   * backend's error; a fallback backend (e.g. `new InMemoryBackend()`) limits per process
   * instead, and the failing backend is not asked again for a 5 s cool-down.
   */
  onBackendError?: 'throw' | FreqLimitBackend;
}

/** Options of {@link FreqLimit.acquire}. */
export interface AcquireOptions {
  /** Cells this call consumes; finite, > 0. Default 1. */
  cost?: number;
  /** Overrides the limiter's `maxDelay` (ms) for this call. */
  maxDelay?: number;
  /** Aborting while waiting rejects with `signal.reason` and refunds the reservation. */
  signal?: AbortSignal;
}

/** A key of a limiter: strings and numbers (e.g. a chat id). */
export type FreqLimitKey = string | number;

const ignore = (): void => {};

/**
 * A rate limiter you wait on: `acquire` resolves when your request may proceed (after exactly
 * the delay GCRA reserved for it), or rejects with `RateLimitedError` past `maxDelay`.
 *
 * @example
 * // Telegram: at most 1 message per second per chat.
 * const perChat = new FreqLimit({ limit: 1, period: 1000 });
 * await perChat.run(chatId, () => bot.sendMessage(chatId, text));
 */
export class FreqLimit {
  /** The limits, one or several, validated. */
  readonly params: readonly FreqLimitParams[];
  /** The namespace inside the backend. */
  readonly name: string;
  readonly #backend: FreqLimitBackend;
  readonly #failover: BackendFailover | undefined;
  readonly #maxDelay: number;
  readonly #prefixes: readonly string[];

  constructor(
    params: FreqLimitParamsLike | readonly FreqLimitParamsLike[],
    options: FreqLimitOptions = {},
  ) {
    const list = Array.isArray(params) ? params : [params as FreqLimitParamsLike];
    if (list.length === 0) throw new RangeError('FreqLimit: `params` must not be an empty array');
    this.params = Object.freeze(
      list.map((p, i) =>
        FreqLimitParams.from(p, list.length === 1 ? 'FreqLimit' : `FreqLimit params[${i}]`),
      ),
    );
    const name = options.name ?? 'default';
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError(`FreqLimit: \`name\` must be a non-empty string, got ${String(name)}`);
    }
    this.name = name;
    this.#maxDelay = checkMaxDelay(options.maxDelay ?? Number.POSITIVE_INFINITY, 'FreqLimit');
    this.#backend = options.backend ?? new InMemoryBackend();
    const fallback = options.onBackendError ?? 'throw';
    if (fallback !== 'throw' && !isBackend(fallback)) {
      throw new TypeError("FreqLimit: `onBackendError` must be 'throw' or a backend");
    }
    for (const b of [this.#backend, fallback]) {
      if (this.params.length > 1 && isBackend(b) && typeof b.reserveMany !== 'function') {
        throw new TypeError(
          `FreqLimit: backend ${b.constructor?.name ?? 'object'} has no reserveMany(), so it cannot enforce several limits`,
        );
      }
    }
    this.#failover =
      fallback === 'throw'
        ? undefined
        : new BackendFailover(this.#backend, fallback, (error) => {
            console.error(
              `FreqLimit "${name}": backend failed, limiting on the fallback backend (not asked again for ${BACKEND_COOL_DOWN_MS} ms; reported at most once a minute):`,
              error,
            );
          });
    this.#prefixes = this.params.map((_, i) => keyPrefix(name, i, this.params.length));
  }

  /**
   * Reserve a slot for `key` (omitted: one global bucket) and wait for it.
   * Resolves with the reservation once the request may proceed.
   */
  async acquire(
    key: FreqLimitKey = '',
    options: AcquireOptions = {},
  ): Promise<Reservation | MultiReservation> {
    if (typeof key !== 'string' && typeof key !== 'number') {
      throw new TypeError(
        `FreqLimit.acquire: \`key\` must be a string or number, got ${typeof key}`,
      );
    }
    const { signal } = options;
    const cost = checkCost(options.cost ?? 1, 'FreqLimit.acquire');
    const maxDelay =
      options.maxDelay === undefined
        ? this.#maxDelay
        : checkMaxDelay(options.maxDelay, 'FreqLimit.acquire');
    if (signal?.aborted) throw abortReason(signal);
    const keys = this.#prefixes.map((prefix) => prefix + key);
    const sentAt = performance.now();
    let backend = this.#backend;
    let reservation: Reservation | MultiReservation;
    if (this.#failover === undefined) {
      reservation = await reserveAll(backend, keys, this.params, cost, maxDelay);
    } else {
      const result = await this.#failover.reserve(keys, this.params, cost, maxDelay);
      if (result.reservation === undefined) throw result.error;
      reservation = result.reservation;
      backend = result.backend;
    }
    if (!reservation.allowed) throw new RateLimitedError(reservation, String(key));
    if (reservation.delay > 0 || signal?.aborted) {
      try {
        await sleepUntil(sentAt + reservation.delay, signal);
      } catch (reason) {
        refundAll(backend, keys, this.params, cost, ignore);
        throw reason;
      }
    }
    return reservation;
  }

  /** `acquire(key)`, then call `fn` and return what it returns. */
  async run<T>(
    key: FreqLimitKey | undefined,
    fn: () => T | Promise<T>,
    options?: AcquireOptions,
  ): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError('FreqLimit.run: `fn` must be a function');
    await this.acquire(key, options);
    return fn();
  }
}
