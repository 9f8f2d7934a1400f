/**
 * @module limiter
 * `FreqLimit`: rate limiting outside HTTP — wait for your turn, then act.
 */

import type { FreqLimitBackend, MultiReservation, Reservation } from './backend.js';
import { InMemoryBackend } from './backends/memory.js';
import { RateLimitedError } from './errors.js';
import { checkCost, checkMaxDelay, FreqLimitParams, type FreqLimitParamsLike } from './params.js';

/** Options of {@link FreqLimit}. */
export interface FreqLimitOptions {
  /** Where state lives. Default: a new `InMemoryBackend` for this limiter. */
  backend?: FreqLimitBackend;
  /** Namespace inside the backend; limiters with different names never share state. Default `'default'`. */
  name?: string;
  /** Longest wait (ms) before `acquire` rejects with `RateLimitedError` instead. Default `Infinity`. */
  maxDelay?: number;
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

/** Checks a namespace name; shared with the middleware. */
export function checkName(name: unknown, where: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`${where}: \`name\` must be a non-empty string, got ${String(name)}`);
  }
  return name;
}

/** The backend key of limit `index` of `count` under `name`: `name:key`, or `name-<i>:key`. */
export function backendKeyPrefix(name: string, index: number, count: number): string {
  return count === 1 ? `${name}:` : `${name}-${index + 1}:`;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Waits until `ms` have passed (scheduled once, rounded up to whole ms so it never fires
 * early), or rejects with the signal's reason.
 */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.ceil(ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

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
    this.name = checkName(options.name ?? 'default', 'FreqLimit');
    this.#maxDelay = checkMaxDelay(options.maxDelay ?? Number.POSITIVE_INFINITY, 'FreqLimit');
    this.#backend = options.backend ?? new InMemoryBackend();
    if (this.params.length > 1 && typeof this.#backend.reserveMany !== 'function') {
      throw new TypeError(
        `FreqLimit: backend ${this.#backend.constructor?.name ?? 'object'} has no reserveMany(), so it cannot enforce several limits`,
      );
    }
    this.#prefixes = this.params.map((_, i) => backendKeyPrefix(this.name, i, this.params.length));
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
    const reservation: Reservation | MultiReservation =
      keys.length === 1
        ? await this.#backend.reserve(keys[0]!, this.params[0]!, { cost, maxDelay })
        : await this.#backend.reserveMany!(
            keys.map((k, i) => ({ key: k, params: this.params[i]!, cost })),
            { maxDelay },
          );
    if (!reservation.allowed) throw new RateLimitedError(reservation, String(key));
    if (reservation.delay > 0 || signal?.aborted) {
      try {
        await sleep(reservation.delay, signal);
      } catch (reason) {
        for (let i = 0; i < keys.length; i++) {
          this.#backend.refund(keys[i]!, this.params[i]!, { cost }).catch(() => {});
        }
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
