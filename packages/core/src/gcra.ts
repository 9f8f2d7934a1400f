/**
 * @module gcra
 * The Generic Cell Rate Algorithm, pure: every backend is this arithmetic around a store.
 * Times are ms; `tat` (theoretical arrival time) is `undefined` for an empty key.
 */

import type { MultiReservation, Reservation } from './backend.js';
import { checkCost, checkMaxDelay, type FreqLimitParams } from './params.js';

/**
 * Delays below this (1 ns) are float noise from summing intervals, not a real wait. At
 * epoch-ms magnitudes a double only resolves ~0.24 µs, so the threshold grows to about one
 * ulp of `now` there (see gcraStep); still well below 1 µs.
 */
const NOISE = 1e-6;

/** Result of one GCRA step: the key's new TAT and the wait before the request may proceed. */
export interface GcraStepResult {
  /** The TAT after accounting this request, in ms. */
  tat: number;
  /** Ms to wait before proceeding (0: at once). */
  delay: number;
}

/**
 * One GCRA step for a request of `cost` cells arriving at `now` on a key whose TAT is `tat`.
 * Pure; does not decide admission (see {@link gcraReserve}).
 *
 * @example
 * const p = new FreqLimitParams({ limit: 1, period: 1000 });
 * gcraStep(0, undefined, p); // { tat: 1000, delay: 0 }
 * gcraStep(0, 1000, p);      // { tat: 2000, delay: 1000 }
 */
export function gcraStep(
  now: number,
  tat: number | undefined,
  params: FreqLimitParams,
  cost = 1,
): GcraStepResult {
  checkCost(cost, 'gcraStep');
  const base = tat === undefined || tat < now ? now : tat;
  const ahead = base - now + cost * params.interval;
  const delay = ahead - (params.tau + params.interval);
  // A retry at `now + retryAfter` rounds to the resolution of `now`; that rounding must not
  // turn an exact fit into a tiny positive delay (a rejection under maxDelay = 0).
  const noise = Math.max(NOISE, Math.abs(now) * Number.EPSILON);
  return { tat: base + cost * params.interval, delay: delay > noise ? delay : 0 };
}

function remainingAfter(ahead: number, params: FreqLimitParams): number {
  const r = Math.floor((params.tau + params.interval - ahead) / params.interval + 1e-9);
  return Math.max(r, 0);
}

/** A reservation and the key's state after it (`undefined`: empty, drop the key). */
export interface GcraDecision {
  reservation: Reservation;
  tat: number | undefined;
}

function live(tat: number | undefined, now: number): number | undefined {
  return tat !== undefined && tat > now ? tat : undefined;
}

function rejected(
  delay: number,
  retryAfter: number,
  tat: number | undefined,
  now: number,
): Reservation {
  return {
    allowed: false,
    delay,
    retryAfter,
    remaining: 0,
    resetAfter: tat === undefined ? 0 : tat - now,
  };
}

/**
 * The conditional reservation of the spec: reserve `cost` cells unless the delay exceeds
 * `maxDelay` (ms), in which case the state is left unchanged.
 */
export function gcraReserve(
  now: number,
  tat: number | undefined,
  params: FreqLimitParams,
  cost = 1,
  maxDelay = Number.POSITIVE_INFINITY,
): GcraDecision {
  checkCost(cost, 'reserve');
  // NaN would silently mean "wait forever" (no delay is > NaN).
  checkMaxDelay(maxDelay, 'reserve');
  const current = live(tat, now);
  if (cost > params.burst) {
    return {
      reservation: rejected(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, current, now),
      tat: current,
    };
  }
  const step = gcraStep(now, current, params, cost);
  if (step.delay > maxDelay) {
    return { reservation: rejected(step.delay, step.delay - maxDelay, current, now), tat: current };
  }
  const ahead = (current === undefined ? 0 : current - now) + cost * params.interval;
  return {
    reservation: {
      allowed: true,
      delay: step.delay,
      retryAfter: 0,
      remaining: remainingAfter(ahead, params),
      resetAfter: ahead,
    },
    tat: step.tat,
  };
}

/** One limit of {@link gcraReserveMany}. */
export interface GcraManyEntry {
  params: FreqLimitParams;
  cost?: number;
}

/**
 * Several limits, all or nothing: the request is emitted at `E = now + max(delay_i)` and every
 * limit is accounted at `E`, so a later request on one limit alone cannot slip in before it.
 */
export function gcraReserveMany(
  now: number,
  tats: ReadonlyArray<number | undefined>,
  entries: ReadonlyArray<GcraManyEntry>,
  maxDelay = Number.POSITIVE_INFINITY,
): { reservation: MultiReservation; tats: Array<number | undefined> } {
  checkMaxDelay(maxDelay, 'reserveMany');
  const current = tats.map((t) => live(t, now));
  const delays: number[] = [];
  let delay = 0;
  let impossible = false;
  for (let i = 0; i < entries.length; i++) {
    const { params, cost = 1 } = entries[i]!;
    checkCost(cost, `reserveMany entry ${i}`);
    if (cost > params.burst) {
      impossible = true;
      delays.push(Number.POSITIVE_INFINITY);
      continue;
    }
    const d = gcraStep(now, current[i], params, cost).delay;
    delays.push(d);
    if (d > delay) delay = d;
  }
  if (impossible) delay = Number.POSITIVE_INFINITY;
  if (impossible || delay > maxDelay) {
    const retryAfter = impossible ? Number.POSITIVE_INFINITY : delay - maxDelay;
    return {
      reservation: {
        allowed: false,
        delay,
        retryAfter,
        // An entry with cost > burst can never pass (retryAfter Infinity, as for a single
        // reservation), even under maxDelay = Infinity where `d > maxDelay` is false.
        each: delays.map((d, i) =>
          rejected(
            d,
            d === Number.POSITIVE_INFINITY ? d : d > maxDelay ? d - maxDelay : 0,
            current[i],
            now,
          ),
        ),
      },
      tats: current,
    };
  }
  const each: Reservation[] = [];
  const next: number[] = [];
  for (let i = 0; i < entries.length; i++) {
    const { params, cost = 1 } = entries[i]!;
    const t = current[i];
    // Accounted at the emission time E = now + delay, expressed relative to now.
    const ahead = (t !== undefined && t - now > delay ? t - now : delay) + cost * params.interval;
    next.push(now + ahead);
    each.push({
      allowed: true,
      delay: delays[i]!,
      retryAfter: 0,
      remaining: remainingAfter(ahead, params),
      resetAfter: ahead,
    });
  }
  return { reservation: { allowed: true, delay, retryAfter: 0, each }, tats: next };
}

/** The state after giving back `cost` cells: TAT moves back by `cost·T`, never below `now`. */
export function gcraRefund(
  now: number,
  tat: number | undefined,
  params: FreqLimitParams,
  cost = 1,
): number | undefined {
  checkCost(cost, 'refund');
  const current = live(tat, now);
  if (current === undefined) return undefined;
  const back = current - cost * params.interval;
  return back > now ? back : undefined;
}
