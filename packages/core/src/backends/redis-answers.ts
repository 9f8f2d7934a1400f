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
  if (code >= 0) {
    const ahead = code / 1000 + cost * p.interval;
    const wait = ahead - (p.tau + p.interval);
    const next = nextRelUs(ahead, code) / 1000;
    return {
      allowed: true,
      delay: wait <= noise ? 0 : wait,
      retryAfter: 0,
      remaining: remainingAt(next, p, noise),
      resetAfter: next,
    };
  }
  const rel = (-code - 1) / 1000;
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

/** One limit of a multi-limit reservation, as sent. */
export interface SentEntry {
  params: FreqLimitParams;
  cost: number;
}

/** The answer of `RESERVE_MANY_SCRIPT`: `reserved` and each key's relative TAT before it. */
export function multiReservationOf(
  reserved: boolean,
  relsUs: ReadonlyArray<number>,
  entries: ReadonlyArray<SentEntry>,
  maxDelay: number,
  noise: number,
): MultiReservation {
  const count = entries.length;
  const delays: number[] = new Array(count);
  let delay = 0;
  let impossible = false;
  for (let i = 0; i < count; i++) {
    const { params: p, cost } = entries[i]!;
    if (cost > p.burst) {
      impossible = true;
      delays[i] = Number.POSITIVE_INFINITY;
      continue;
    }
    const wait = relsUs[i]! / 1000 + cost * p.interval - (p.tau + p.interval);
    delays[i] = wait <= noise ? 0 : wait;
    if (wait > noise && wait > delay) delay = wait;
  }
  const each: Reservation[] = new Array(count);
  if (!reserved) {
    if (impossible) delay = Number.POSITIVE_INFINITY;
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
    const next = nextRelUs(from + cost * p.interval, relsUs[i]!) / 1000;
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
