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

/** A place that stores GCRA state. */
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
}
