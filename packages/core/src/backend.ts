/**
 * @module backend
 * The backend contract every storage (memory, Redis, custom) implements.
 */

import type { FreqLimitParams } from './params.js';

/** Options of a single reservation. */
export interface ReserveOptions {
  /** Cells this request consumes; finite, > 0, fractions allowed. Default 1. */
  cost?: number;
  /** Longest delay (ms) the caller accepts; beyond it nothing is reserved. Default `Infinity`. */
  maxDelay?: number;
  /** The current time in ms, for tests and replays; default: the backend's own clock. */
  now?: number;
}

/** Options of a refund. */
export interface RefundOptions {
  /** Cells to give back. Default 1. */
  cost?: number;
  /** The current time in ms; default: the backend's own clock. */
  now?: number;
}

/** What a backend answers for one key. All durations in ms. */
export interface Reservation {
  /** `false`: nothing was reserved and the key's state is unchanged. */
  allowed: boolean;
  /** Ms to wait before proceeding; when rejected, the delay that would have been needed. */
  delay: number;
  /** 0 when allowed; when rejected, ms until a retry would be allowed (`Infinity`: never). */
  retryAfter: number;
  /** Unit-cost requests that could still pass right now with no delay. */
  remaining: number;
  /** Ms until the key is back to a full burst (its state is then empty). */
  resetAfter: number;
}

/** One limit of a multi-limit reservation. */
export interface ReserveManyEntry {
  key: string;
  params: FreqLimitParams;
  /** Cells for this limit. Default 1. */
  cost?: number;
}

/** Options of a multi-limit reservation. */
export interface ReserveManyOptions {
  /** Longest delay (ms) the caller accepts. Default `Infinity`. */
  maxDelay?: number;
  /** The current time in ms; default: the backend's own clock. */
  now?: number;
}

/** The answer for a request bound by several limits (all-or-nothing). */
export interface MultiReservation {
  /** `false`: no limit was reserved. */
  allowed: boolean;
  /** Ms until the request is emitted: the largest delay any limit needs. */
  delay: number;
  /** 0 when allowed; otherwise ms until a retry would be allowed. */
  retryAfter: number;
  /** Per entry, in order. */
  each: Reservation[];
}

/** What a key looks like right now (see {@link FreqLimitBackend.peek}). All durations in ms. */
export interface LimitStatus {
  /** Unit-cost requests that could pass right now with no delay (0 … burst). */
  remaining: number;
  /** Ms until the key is back to a full burst (0: it is already). */
  resetAfter: number;
  /** Ms until a unit-cost request would pass with no delay (0: now). */
  retryAfter: number;
}

/** Options of `peek`. */
export interface PeekOptions {
  /** The current time in ms; default: the backend's own clock. */
  now?: number;
}

/** Options of `block`. */
export interface BlockOptions {
  /** The current time in ms; default: the backend's own clock. */
  now?: number;
}

/**
 * A place that stores GCRA state. `reserve`, `refund` and `clear` are required; the bundled
 * backends implement every method. A caller that needs an optional method a custom backend
 * lacks fails with an error naming the backend and the method.
 */
export interface FreqLimitBackend {
  /** Reserve `cost` cells on `key`, unless that needs more than `maxDelay` ms of waiting. */
  reserve(key: string, params: FreqLimitParams, options?: ReserveOptions): Promise<Reservation>;
  /** Give back cells of a reservation that was not used. */
  refund(key: string, params: FreqLimitParams, options?: RefundOptions): Promise<void>;
  /** Reserve on several limits at once, all or nothing, accounted at the common emission time. */
  reserveMany?(
    entries: ReadonlyArray<ReserveManyEntry>,
    options?: ReserveManyOptions,
  ): Promise<MultiReservation>;
  /** Forget every key. */
  clear(): Promise<void>;
  /**
   * What `key` looks like under `params` right now. Reserves nothing and changes nothing
   * (not even an expiry). Like express-rate-limit's `get` or rate-limiter-flexible's `get`.
   */
  peek?(key: string, params: FreqLimitParams, options?: PeekOptions): Promise<LimitStatus>;
  /**
   * Forget `key` (e.g. after a successful login): the next request sees a full burst. Like
   * express-rate-limit's `resetKey` and rate-limiter-flexible's `delete`. Resolves when done;
   * a key that holds nothing is not an error.
   */
  reset?(key: string): Promise<void>;
  /**
   * Make sure nothing passes on `key` before `now + ms` (ms, finite, 0 … 10¹²): the TAT becomes
   * `max(tat ?? now, now + ms + tau)`, so an existing longer wait is never shortened. At
   * `now + ms` one unit-cost request passes, then the limit applies as usual. Use it when an
   * upstream answered 429 with a `retry_after`, or on an abuse signal. Like
   * rate-limiter-flexible's `block`, except that it never shortens a wait.
   */
  block?(key: string, params: FreqLimitParams, ms: number, options?: BlockOptions): Promise<void>;
}
