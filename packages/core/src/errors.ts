/**
 * @module errors
 * The error classes thrown by freqlimit. Configuration mistakes are plain `RangeError` /
 * `TypeError`s whose message names the field at fault; runtime conditions are
 * `FreqLimitError`s with a stable `code` (every code is listed in `docs/errors.md`).
 */

import type { MultiReservation, Reservation } from './backend.js';

/**
 * Every `code` a {@link FreqLimitError} can carry. Stable across versions: match on these,
 * never on messages.
 */
export type FreqLimitErrorCode =
  | 'RATE_LIMITED'
  | 'BACKEND_TIMEOUT'
  | 'NO_CLIENT_ADDRESS'
  | 'REDIS_BAD_REPLY'
  | 'REDIS_CROSS_SLOT';

/** Base class of the errors freqlimit raises at run time; `code` is stable across versions. */
export class FreqLimitError extends Error {
  /** Stable machine-readable code, e.g. `'RATE_LIMITED'`. */
  readonly code: FreqLimitErrorCode;

  constructor(code: FreqLimitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FreqLimitError';
    this.code = code;
  }
}

/** The needed delay exceeded `maxDelay`: nothing was reserved. */
export class RateLimitedError extends FreqLimitError {
  /** Milliseconds until a retry would be allowed (`Infinity` when `cost > burst`). */
  readonly retryAfter: number;
  /** The rejected reservation as the backend returned it. */
  readonly reservation: Reservation | MultiReservation;

  constructor(reservation: Reservation | MultiReservation, key?: string) {
    const where = key === undefined ? '' : ` for key "${key}"`;
    super(
      'RATE_LIMITED',
      Number.isFinite(reservation.retryAfter)
        ? `Rate limited${where}: retry after ${Math.ceil(reservation.retryAfter)} ms`
        : `Rate limited${where}: cost exceeds burst, it can never be admitted`,
    );
    this.name = 'RateLimitedError';
    this.retryAfter = reservation.retryAfter;
    this.reservation = reservation;
  }
}

/** A backend call took longer than its `timeout` (ms); nothing is known about its outcome. */
export class BackendTimeoutError extends FreqLimitError {
  /** The timeout that elapsed, in ms. */
  readonly timeout: number;

  constructor(timeout: number, what = 'backend call') {
    super('BACKEND_TIMEOUT', `freqlimit: ${what} did not answer within ${timeout} ms`);
    this.name = 'BackendTimeoutError';
    this.timeout = timeout;
  }
}

/**
 * The middleware's default key found no client address on the request (e.g. Express `req.ip`
 * is empty, or a Hono runtime exposes none). Pass `keyFn` to say how requests are keyed.
 */
export class NoClientAddressError extends FreqLimitError {
  constructor(message: string) {
    super('NO_CLIENT_ADDRESS', message);
    this.name = 'NoClientAddressError';
  }
}
