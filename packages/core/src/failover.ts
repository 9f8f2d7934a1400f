/**
 * @module failover
 * What happens while a backend is failing: a cool-down during which it is not asked again, an
 * optional fallback backend, and error reports limited to one a minute.
 */

import type { FreqLimitBackend, MultiReservation, Reservation } from './backend.js';
import { FreqLimitError } from './errors.js';
import type { FreqLimitParams } from './params.js';
import { reserveAll } from './reservations.js';

/** How long (ms) a failing backend is left alone before it is asked again. */
export const BACKEND_COOL_DOWN_MS = 5_000;
/** At most one backend error report per this many ms. */
export const REPORT_EVERY_MS = 60_000;

/**
 * What happens when the backend throws or times out: `'allow'` the request unlimited,
 * `'reject'` it (503), or ask a fallback backend instead.
 */
export type BackendErrorMode = 'allow' | 'reject' | FreqLimitBackend;

/** A reservation, and the backend that made it (where a refund must go). */
export interface Reserved {
  reservation: Reservation | MultiReservation;
  backend: FreqLimitBackend;
  /** Set when the primary failed (or is cooling down) and the fallback answered: its error. */
  error?: unknown;
}

/** No backend could answer; `error` is the primary's (or the fallback's) failure. */
export interface Unreserved {
  reservation: undefined;
  error: unknown;
}

/**
 * A mistake in the set-up, not an outage: the same request fails the same way every time, so
 * it is passed on (the middleware answers 500) instead of `onBackendError` quietly letting
 * requests through unlimited. Today: several limits whose Redis Cluster keys are in different
 * slots.
 */
export function isConfigurationError(error: unknown): boolean {
  return error instanceof FreqLimitError && error.code === 'REDIS_CROSS_SLOT';
}

/** Whether `value` has the two methods every backend must have. */
export function isBackend(value: unknown): value is FreqLimitBackend {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as FreqLimitBackend).reserve === 'function' &&
    typeof (value as FreqLimitBackend).refund === 'function'
  );
}

/**
 * Guards a primary backend. While it fails it is skipped for {@link BACKEND_COOL_DOWN_MS}
 * (so an outage costs one timeout, not one per request) and, when there is one, the fallback
 * answers instead. Failures are reported through `report` at most once a minute. The only
 * rejection is a configuration error (see {@link isConfigurationError}).
 */
export class BackendFailover {
  readonly #primary: FreqLimitBackend;
  readonly #fallback: FreqLimitBackend | undefined;
  readonly #report: (error: unknown) => void;
  #failedUntil = Number.NEGATIVE_INFINITY;
  #reportedAt = Number.NEGATIVE_INFINITY;
  #lastError: unknown;
  /** After a cool-down one request asks the primary again; the others keep off it meanwhile. */
  #probing = false;

  constructor(
    primary: FreqLimitBackend,
    fallback: FreqLimitBackend | undefined,
    report: (error: unknown) => void,
  ) {
    this.#primary = primary;
    this.#fallback = fallback;
    this.#report = report;
  }

  /** Whether the primary is cooling down after a failure. */
  get coolingDown(): boolean {
    // No clock read on the healthy path: it runs on every request.
    return this.#failedUntil !== Number.NEGATIVE_INFINITY && performance.now() < this.#failedUntil;
  }

  /** The backends behind this guard: the primary, then the fallback if there is one. */
  get backends(): FreqLimitBackend[] {
    return this.#fallback === undefined ? [this.#primary] : [this.#primary, this.#fallback];
  }

  /**
   * Reserve on the primary, else (failing or cooling down) on the fallback. Rejects only with a
   * configuration error of the primary.
   */
  async reserve(
    keys: readonly string[],
    params: readonly FreqLimitParams[],
    cost: number,
    maxDelay: number,
  ): Promise<Reserved | Unreserved> {
    if (!this.coolingDown && !this.#probing) {
      // Once the primary has failed, a single request finds out whether it is back, so the end
      // of each cool-down costs one timeout, not one per request in flight.
      const probe = this.#failedUntil !== Number.NEGATIVE_INFINITY;
      this.#probing = probe;
      try {
        const reservation = await reserveAll(this.#primary, keys, params, cost, maxDelay);
        if (probe) this.#failedUntil = Number.NEGATIVE_INFINITY;
        return { reservation, backend: this.#primary };
      } catch (error) {
        if (isConfigurationError(error)) throw error;
        this.failed(error);
      } finally {
        if (probe) this.#probing = false;
      }
    }
    const fallback = this.#fallback;
    const failure = this.#lastError;
    if (fallback === undefined) return { reservation: undefined, error: failure };
    try {
      return {
        reservation: await reserveAll(fallback, keys, params, cost, maxDelay),
        backend: fallback,
        error: failure,
      };
    } catch (error) {
      this.#reportLimited(error);
      return { reservation: undefined, error };
    }
  }

  /** Record a failure of the primary: start the cool-down and report (rate-limited). */
  failed(error: unknown): void {
    this.#failedUntil = performance.now() + BACKEND_COOL_DOWN_MS;
    this.#lastError = error;
    this.#reportLimited(error);
  }

  #reportLimited(error: unknown): void {
    const now = performance.now();
    if (now - this.#reportedAt < REPORT_EVERY_MS) return;
    this.#reportedAt = now;
    try {
      this.#report(error);
    } catch {
      // A reporter that throws must not turn a backend failure into a failed request.
    }
  }
}
