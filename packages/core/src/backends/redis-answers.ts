/**
 * @module backends/redis-answers
 * The scripts of `redis-scripts.ts` reply with integers only: a key's TAT relative to the
 * script's now, in whole µs. These functions turn such a reply into the answer of the
 * backend, repeating the script's arithmetic in the same order (so JS and Lua get the same
 * doubles), with the rounding rule of `gcra.ts`.
 */

import type { LimitStatus, MultiReservation, Reservation } from '../backend.js';
import { noiseAt, remainingAt } from '../gcra.js';
import type { FreqLimitParams } from '../params.js';

/** An injected `now` (ms) as the scripts see it: whole µs. */
export function nowUs(now: number): number {
  return Math.floor(now * 1000 + 0.5);
}

/**
 * The noise threshold of the script that answered: at its now (an injected one, in µs), or,
 * on the server's clock, at this host's wall clock (the threshold only depends on the
 * magnitude of the epoch time, which two clocks share).
 */
export function scriptNoise(injectedNowUs: number | undefined): number {
  return noiseAt(injectedNowUs === undefined ? Date.now() : injectedNowUs / 1000);
}

/** The stored TAT (relative, µs) after reserving `ahead` ms on a key `relUs` µs ahead. */
export function nextRelUs(ahead: number, relUs: number): number {
  const next = Math.floor(ahead * 1000 + 0.5);
  // A reservation always moves the TAT forward, even when cost·interval is below 1 µs.
  return next <= relUs ? relUs + 1 : next;
}

/** The answer of `RESERVE_SCRIPT` for one reservation whose reply was `code`. */
export function reservationOf(
  code: number,
  p: FreqLimitParams,
  cost: number,
  maxDelay: number,
  noise: number,
): Reservation {
  return code >= 0
    ? allowedOf(code, p, cost, noise)
    : rejectedOf(-code - 1, p, cost, maxDelay, noise);
}

/** A reservation made on a key `relUs` µs ahead (before it). */
function allowedOf(relUs: number, p: FreqLimitParams, cost: number, noise: number): Reservation {
  const ahead = relUs / 1000 + cost * p.interval;
  const wait = ahead - (p.tau + p.interval);
  const next = nextRelUs(ahead, relUs) / 1000;
  return {
    allowed: true,
    delay: wait <= noise ? 0 : wait,
    retryAfter: 0,
    remaining: remainingAt(next, p, noise),
    resetAfter: next,
  };
}

/** The rejection of a request on a key `relUs` µs ahead (state unchanged). */
export function rejectedOf(
  relUs: number,
  p: FreqLimitParams,
  cost: number,
  maxDelay: number,
  noise: number,
): Reservation {
  const rel = relUs / 1000;
  if (cost > p.burst) {
    return {
      allowed: false,
      delay: Number.POSITIVE_INFINITY,
      retryAfter: Number.POSITIVE_INFINITY,
      remaining: 0,
      resetAfter: rel,
    };
  }
  const wait = rel + cost * p.interval - (p.tau + p.interval);
  const delay = wait <= noise ? 0 : wait;
  return { allowed: false, delay, retryAfter: delay - maxDelay, remaining: 0, resetAfter: rel };
}

/**
 * Whether a request of `cost` on a key `relUs` µs ahead is rejected, decided as
 * `RESERVE_SCRIPT` decides it.
 */
export function rejects(
  relUs: number,
  p: FreqLimitParams,
  cost: number,
  maxDelay: number,
  noise: number,
): boolean {
  if (cost > p.burst) return true;
  const wait = relUs / 1000 + cost * p.interval - (p.tau + p.interval);
  return wait > noise && wait > maxDelay;
}

/** The stored TAT (relative, µs) after the reservation answered with `code` ≥ 0. */
export function reservedRelUs(code: number, p: FreqLimitParams, cost: number): number {
  return nextRelUs(code / 1000 + cost * p.interval, code);
}

/** One limit of a multi-limit reservation, as sent. */
export interface SentEntry {
  params: FreqLimitParams;
  cost: number;
}

/** The common delay of several limits (`Infinity`: an entry's cost exceeds its burst). */
function commonDelay(
  relsUs: ReadonlyArray<number>,
  entries: ReadonlyArray<SentEntry>,
  noise: number,
  delays?: number[],
): number {
  let delay = 0;
  let impossible = false;
  for (let i = 0; i < entries.length; i++) {
    const { params: p, cost } = entries[i]!;
    if (cost > p.burst) {
      impossible = true;
      if (delays) delays[i] = Number.POSITIVE_INFINITY;
      continue;
    }
    const wait = relsUs[i]! / 1000 + cost * p.interval - (p.tau + p.interval);
    if (delays) delays[i] = wait <= noise ? 0 : wait;
    if (wait > noise && wait > delay) delay = wait;
  }
  return impossible ? Number.POSITIVE_INFINITY : delay;
}

/** Whether `RESERVE_MANY_SCRIPT` rejects a request on keys `relsUs` µs ahead. */
export function rejectsMany(
  relsUs: ReadonlyArray<number>,
  entries: ReadonlyArray<SentEntry>,
  maxDelay: number,
  noise: number,
): boolean {
  return commonDelay(relsUs, entries, noise) > maxDelay;
}

/**
 * The answer of `RESERVE_MANY_SCRIPT`: `reserved` and each key's relative TAT before it. When
 * reserved and `nextRelsUs` is given, it receives each key's stored relative TAT after it.
 */
export function multiReservationOf(
  reserved: boolean,
  relsUs: ReadonlyArray<number>,
  entries: ReadonlyArray<SentEntry>,
  maxDelay: number,
  noise: number,
  nextRelsUs?: number[],
): MultiReservation {
  const count = entries.length;
  const delays: number[] = new Array(count);
  const delay = commonDelay(relsUs, entries, noise, delays);
  const each: Reservation[] = new Array(count);
  if (!reserved) {
    const impossible = delay === Number.POSITIVE_INFINITY;
    for (let i = 0; i < count; i++) {
      const d = delays[i]!;
      each[i] = {
        allowed: false,
        delay: d,
        retryAfter: d === Number.POSITIVE_INFINITY ? d : d > maxDelay ? d - maxDelay : 0,
        remaining: 0,
        resetAfter: relsUs[i]! / 1000,
      };
    }
    const retryAfter = impossible ? Number.POSITIVE_INFINITY : delay - maxDelay;
    return { allowed: false, delay, retryAfter, each };
  }
  for (let i = 0; i < count; i++) {
    const { params: p, cost } = entries[i]!;
    const rel = relsUs[i]! / 1000;
    const from = Math.max(rel, delay);
    const nextUs = nextRelUs(from + cost * p.interval, relsUs[i]!);
    if (nextRelsUs) nextRelsUs[i] = nextUs;
    const next = nextUs / 1000;
    each[i] = {
      allowed: true,
      delay: delays[i]!,
      retryAfter: 0,
      remaining: remainingAt(next, p, noise),
      resetAfter: next,
    };
  }
  return { allowed: true, delay, retryAfter: 0, each };
}

/** The answer of `PEEK_SCRIPT` (`relUs`: the key's relative TAT), as `gcraPeek` gives it. */
export function statusOf(relUs: number, p: FreqLimitParams, noise: number): LimitStatus {
  const rel = relUs / 1000;
  const wait = rel + p.interval - (p.tau + p.interval);
  return {
    remaining: remainingAt(rel, p, noise),
    resetAfter: rel,
    retryAfter: wait <= noise ? 0 : wait,
  };
}
