/**
 * @module limiter
 * `FreqLimit`: rate limiting outside HTTP — wait for your turn, then act.
 */

import type { FreqLimitBackend, LimitStatus, MultiReservation, Reservation } from './backend.js';
import { InMemoryBackend } from './backends/memory.js';
import { RateLimitedError } from './errors.js';
import { BACKEND_COOL_DOWN_MS, BackendFailover, isBackend } from './failover.js';
import { createInstructor, type DecisionEvent } from './instruction.js';
import { createObserver } from './observer.js';
import { checkCost, checkMaxDelay, FreqLimitParams, type FreqLimitParamsLike } from './params.js';
import {
  type AbortSignalLike,
  abortReason,
  backendMethod,
  keyPrefix,
  refundAll,
  reserveAll,
  sleepUntil,
} from './reservations.js';

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
  /**
   * Called synchronously once per `acquire` decision (`'pass'`, `'hold'`, `'reject'`,
   * `'backend-error'`), e.g. for metrics. A throw is reported, never fails the call.
   */
  onDecision?: (event: DecisionEvent) => void;
}

/** Options of {@link FreqLimit.acquire}. */
export interface AcquireOptions {
  /** Cells this call consumes; finite, > 0. Default 1. */
  cost?: number;
  /** Overrides the limiter's `maxDelay` (ms) for this call. */
  maxDelay?: number;
  /**
   * Aborting while waiting rejects with `signal.reason` and refunds the reservation. Any
   * `AbortSignal` (or a polyfilled one, such as grammY's).
   */
  signal?: AbortSignalLike;
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
  readonly #observe: ((event: DecisionEvent) => void) | undefined;
  readonly #describe: ReturnType<typeof createInstructor>;

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
    const count = this.params.length;
    this.#prefixes = this.params.map((_, i) => keyPrefix(name, i, count));
    if (options.onDecision !== undefined && typeof options.onDecision !== 'function') {
      throw new TypeError('FreqLimit: `onDecision` must be a function');
    }
    const observe = createObserver(options.onDecision, `FreqLimit "${name}"`);
    this.#observe = observe && ((event) => observe(event, undefined));
    this.#describe = createInstructor(
      this.params.map((params, i) => ({ policy: count === 1 ? name : `${name}-${i + 1}`, params })),
      false,
    );
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
    let backend = this.#backend;
    let reservation: Reservation | MultiReservation;
    let failure: { error: unknown } | undefined;
    // The wait is counted from just after the backend was called: an in-process backend has
    // read its clock by then (so the release is never early), a remote one has only been sent
    // the call (so its round trip is not added on top).
    let calledAt: number;
    if (this.#failover === undefined) {
      try {
        const pending = reserveAll(backend, keys, this.params, cost, maxDelay);
        calledAt = performance.now();
        reservation = await pending;
      } catch (error) {
        this.#report(keys, cost, undefined, { error });
        throw error;
      }
    } else {
      const pending = this.#failover.reserve(keys, this.params, cost, maxDelay);
      calledAt = performance.now();
      const result = await pending;
      if (result.reservation === undefined) {
        this.#report(keys, cost, undefined, { error: result.error });
        throw result.error;
      }
      reservation = result.reservation;
      backend = result.backend;
      if ('error' in result) failure = { error: result.error };
    }
    this.#report(keys, cost, reservation, failure, String(key));
    if (!reservation.allowed) throw new RateLimitedError(reservation, String(key));
    if (reservation.delay > 0 || signal?.aborted) {
      try {
        await sleepUntil(calledAt + reservation.delay, signal);
      } catch (reason) {
        refundAll(backend, keys, this.params, cost, ignore);
        throw reason;
      }
    }
    return reservation;
  }

  /**
   * What `key` (omitted: the global bucket) looks like right now: a `LimitStatus`, or one per
   * limit, in order, for several. Reserves and changes nothing.
   */
  async peek(key: FreqLimitKey = ''): Promise<LimitStatus | LimitStatus[]> {
    const keys = this.#keys(key, 'peek');
    const peek = backendMethod(this.#backend, 'peek', 'FreqLimit');
    const all = await Promise.all(keys.map((k, i) => peek(k, this.params[i]!)));
    return all.length === 1 ? all[0]! : all;
  }

  /** Forgets `key` (omitted: the global bucket) on every limit: it sees a full burst again. */
  async reset(key: FreqLimitKey = ''): Promise<void> {
    const keys = this.#keys(key, 'reset');
    await Promise.all(
      this.#backends().flatMap((b) => keys.map((k) => backendMethod(b, 'reset', 'FreqLimit')(k))),
    );
  }

  /**
   * Lets nothing of `key` pass before `ms` from now, on every limit, never shortening a longer
   * wait: for an upstream's 429 `retry_after`, or an abuse signal. Through a shared backend
   * every host respects it.
   */
  async block(key: FreqLimitKey, ms: number): Promise<void> {
    const keys = this.#keys(key, 'block');
    await Promise.all(
      this.#backends().flatMap((b) =>
        keys.map((k, i) => backendMethod(b, 'block', 'FreqLimit')(k, this.params[i]!, ms)),
      ),
    );
  }

  #keys(key: unknown, what: string): string[] {
    if (typeof key !== 'string' && typeof key !== 'number') {
      throw new TypeError(
        `FreqLimit.${what}: \`key\` must be a string or number, got ${typeof key}`,
      );
    }
    return this.#prefixes.map((prefix) => prefix + key);
  }

  #backends(): FreqLimitBackend[] {
    return this.#failover?.backends ?? [this.#backend];
  }

  #report(
    keys: string[],
    cost: number,
    reservation: Reservation | MultiReservation | undefined,
    failure: { error: unknown } | undefined,
    key = '',
  ): void {
    const observe = this.#observe;
    if (observe === undefined) return;
    const info =
      reservation &&
      this.#describe({
        reservation,
        applied: this.params.map((_, i) => i),
        clientKeys: keys.map(() => key),
        sentAt: 0,
        refund: { backend: this.#backend, keys, params: this.params, cost },
      }).info;
    const name = this.name;
    if (failure !== undefined) {
      const mode = info === undefined ? 'throw' : 'fallback';
      observe({ outcome: 'backend-error', name, info, error: failure.error, mode, dryRun: false });
    } else if (info !== undefined) {
      const outcome = !info.allowed ? 'reject' : info.delay > 0 ? 'hold' : 'pass';
      observe({ outcome, name, info, dryRun: false });
    }
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
