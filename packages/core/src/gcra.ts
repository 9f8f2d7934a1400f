/**
 * @module gcra
 * The Generic Cell Rate Algorithm, pure: every backend is this arithmetic around a store.
 * Times are ms; `tat` (theoretical arrival time) is `undefined` for an empty key.
 */

import type { LimitStatus, MultiReservation, Reservation } from './backend.js';
import { checkCost, checkMaxDelay, FreqLimitParams, type FreqLimitParamsLike } from './params.js';

/**
 * Delays below this (1 ns) are float noise from summing intervals, not a real wait. At
 * epoch-ms magnitudes a double only resolves ~0.24 µs, so the threshold grows to about one
 * ulp of `now` there (see {@link noiseAt}); still well below 1 µs.
 */
const NOISE = 1e-6;

/**
 * The one rounding rule of the algorithm: a wait of at most this many ms at `now` is float
 * noise, not a wait. It decides both whether a request needs a delay and how many requests
 * `remaining` counts, so the two can never disagree. A retry at `now + retryAfter` rounds to
 * the resolution of `now`; that rounding must not turn an exact fit into a tiny positive
 * delay (a rejection under `maxDelay: 0`). Shared with the backends (not a public export).
 */
export function noiseAt(now: number): number {
  return Math.max(NOISE, Math.abs(now) * Number.EPSILON);
}

/** `params` as validated `FreqLimitParams` (a plain object is checked like the constructor does). */
function toParams(params: FreqLimitParamsLike, where: string): FreqLimitParams {
  return params instanceof FreqLimitParams ? params : new FreqLimitParams(params, where);
}

function checkTime(now: unknown, tat: unknown, where: string): void {
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw new RangeError(`${where}: \`now\` must be a finite number of ms, got ${String(now)}`);
  }
  if (tat !== undefined && (typeof tat !== 'number' || !Number.isFinite(tat))) {
    throw new RangeError(
      `${where}: \`tat\` must be a finite number of ms or undefined, got ${String(tat)}`,
    );
  }
}

/** Result of one GCRA step: the key's new TAT and the wait before the request may proceed. */
export interface GcraStepResult {
  /** The TAT after accounting this request, in ms. */
  tat: number;
  /** Ms to wait before proceeding (0: at once). */
  delay: number;
}

/**
 * One GCRA step for a request of `cost` cells arriving at `now` on a key whose TAT is `tat`.
 * Pure; does not decide admission (see {@link gcraReserve}). `params` may be a plain
 * `{ limit, period, burst }`, validated like `new FreqLimitParams`; `now` and `tat` must be
 * finite. A delay within float noise of `now` (at most `max(1e-6, |now|·2⁻⁵²)` ms) is 0.
 *
 * @example
 * const p = new FreqLimitParams({ limit: 1, period: 1000 });
 * gcraStep(0, undefined, p); // { tat: 1000, delay: 0 }
 * gcraStep(0, 1000, p);      // { tat: 2000, delay: 1000 }
 */
export function gcraStep(
  now: number,
  tat: number | undefined,
  params: FreqLimitParamsLike,
  cost = 1,
): GcraStepResult {
  checkCost(cost, 'gcraStep');
  checkTime(now, tat, 'gcraStep');
  return step(now, tat, toParams(params, 'gcraStep'), cost);
}

function step(
  now: number,
  tat: number | undefined,
  params: FreqLimitParams,
  cost: number,
): GcraStepResult {
  const base = tat === undefined || tat < now ? now : tat;
  const ahead = base - now + cost * params.interval;
  const delay = ahead - (params.tau + params.interval);
  return { tat: base + cost * params.interval, delay: delay > noiseAt(now) ? delay : 0 };
}

/**
 * Unit-cost requests that could pass at `now` with no delay on a key `rel` ms ahead of now
 * (`tat − now`, 0 for an empty key). The first one is decided by exactly gcraStep's test, with
 * the same noise, so `remaining > 0` exactly when a unit-cost request would pass with no delay.
 * Shared with the backends (not a public export).
 */
export function remainingAt(rel: number, params: FreqLimitParams, noise: number): number {
  const { interval, tau } = params;
  if (rel + interval - (tau + interval) > noise) return 0;
  return Math.max(1, Math.floor((tau + interval - rel + noise) / interval));
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
 * `maxDelay` (ms), in which case the state is left unchanged. `params` may be a plain
 * `{ limit, period, burst }`, validated like `new FreqLimitParams` (errors name the field).
 *
 * @example
 * const { reservation, tat } = gcraReserve(0, undefined, { limit: 1, period: 1000 }, 1, 0);
 * // reservation: { allowed: true, delay: 0, retryAfter: 0, remaining: 0, resetAfter: 1000 }
 */
export function gcraReserve(
  now: number,
  tat: number | undefined,
  paramsLike: FreqLimitParamsLike,
  cost = 1,
  maxDelay = Number.POSITIVE_INFINITY,
): GcraDecision {
  const out: TatOut = { tat: Number.NaN };
  const reservation = reserveInto(now, tat, toParams(paramsLike, 'reserve'), cost, maxDelay, out);
  return { reservation, tat: Number.isNaN(out.tat) ? undefined : out.tat };
}

/**
 * Where {@link reserveInto} puts the key's state after the call: a TAT in ms, `NaN` when empty
 * (always a number, so a reused object stores it without allocating).
 */
export interface TatOut {
  tat: number;
}

/** The detailed argument checks of {@link reserveInto}, with their messages (a cold path). */
function checkReserveArgs(now: unknown, tat: unknown, cost: unknown, maxDelay: unknown): void {
  checkCost(cost, 'reserve');
  checkMaxDelay(maxDelay, 'reserve');
  checkTime(now, tat, 'reserve');
}

/**
 * {@link gcraReserve} for backends on a hot path: validated params, the state after the call
 * written to `out.tat` (a reusable object of the caller) instead of a new decision object.
 * Validates `cost`, `maxDelay`, `now` and `tat` like `gcraReserve`. Not a public export.
 */
export function reserveInto(
  now: number,
  tat: number | undefined,
  params: FreqLimitParams,
  cost: number,
  maxDelay: number,
  out: TatOut,
): Reservation {
  // One cheap test for the usual case; the detailed checks (and their messages) only when it
  // fails. NaN would silently mean "wait forever" for maxDelay (no delay is > NaN).
  if (
    typeof cost !== 'number' ||
    typeof maxDelay !== 'number' ||
    typeof now !== 'number' ||
    !(cost > 0 && cost < Number.POSITIVE_INFINITY && maxDelay >= 0) ||
    !(now > Number.NEGATIVE_INFINITY && now < Number.POSITIVE_INFINITY) ||
    (tat !== undefined &&
      (typeof tat !== 'number' ||
        !(tat > Number.NEGATIVE_INFINITY && tat < Number.POSITIVE_INFINITY)))
  ) {
    checkReserveArgs(now, tat, cost, maxDelay);
  }
  // The step of gcraStep, inline: this is the hot path of every backend.
  const { interval, tau } = params;
  const live = tat !== undefined && tat > now;
  const base = live ? tat : now;
  const ahead = base - now + cost * interval;
  const wait = ahead - (tau + interval);
  const noise = noiseAt(now);
  const delay = wait > noise ? wait : 0;
  if (delay > maxDelay || cost > params.burst) {
    out.tat = live ? tat : Number.NaN;
    const current = live ? tat : undefined;
    return cost > params.burst
      ? rejected(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, current, now)
      : rejected(delay, delay - maxDelay, current, now);
  }
  const next = base + cost * interval;
  out.tat = next;
  return {
    allowed: true,
    delay,
    retryAfter: 0,
    // Counted on the TAT as stored, the one the next call will see.
    remaining: remainingAt(next - now, params, noise),
    resetAfter: ahead,
  };
}

/** One limit of {@link gcraReserveMany}. */
export interface GcraManyEntry {
  /** The limit; a plain `{ limit, period, burst }` is validated like `new FreqLimitParams`. */
  params: FreqLimitParamsLike;
  /** Cells for this limit. Default 1. */
  cost?: number;
}

/**
 * Several limits, all or nothing: the request is emitted at `E = now + max(delay_i)` and every
 * limit is accounted at `E`, so a later request on one limit alone cannot slip in before it.
 * `tats[i]` is the TAT of entry `i` (`undefined`: empty).
 */
export function gcraReserveMany(
  now: number,
  tats: ReadonlyArray<number | undefined>,
  entries: ReadonlyArray<GcraManyEntry>,
  maxDelay = Number.POSITIVE_INFINITY,
): { reservation: MultiReservation; tats: Array<number | undefined> } {
  checkMaxDelay(maxDelay, 'reserveMany');
  checkTime(now, undefined, 'reserveMany');
  if (tats.length !== entries.length) {
    throw new RangeError(
      `reserveMany: \`tats\` must hold one TAT per entry (${entries.length}), got ${tats.length}`,
    );
  }
  const current = tats.map((t, i) => {
    checkTime(now, t, `reserveMany entry ${i}`);
    return live(t, now);
  });
  const params = entries.map((e, i) => toParams(e.params, `reserveMany entry ${i}`));
  const delays: number[] = [];
  let delay = 0;
  let impossible = false;
  for (let i = 0; i < entries.length; i++) {
    const { cost = 1 } = entries[i]!;
    const p = params[i]!;
    checkCost(cost, `reserveMany entry ${i}`);
    if (cost > p.burst) {
      impossible = true;
      delays.push(Number.POSITIVE_INFINITY);
      continue;
    }
    const d = step(now, current[i], p, cost).delay;
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
  const noise = noiseAt(now);
  for (let i = 0; i < entries.length; i++) {
    const { cost = 1 } = entries[i]!;
    const p = params[i]!;
    const t = current[i];
    // Accounted at the emission time E = now + delay, expressed relative to now.
    const ahead = (t !== undefined && t - now > delay ? t - now : delay) + cost * p.interval;
    const tat = now + ahead;
    next.push(tat);
    each.push({
      allowed: true,
      delay: delays[i]!,
      retryAfter: 0,
      remaining: remainingAt(tat - now, p, noise),
      resetAfter: ahead,
    });
  }
  return { reservation: { allowed: true, delay, retryAfter: 0, each }, tats: next };
}

/**
 * The state after giving back `cost` cells: TAT moves back by `cost·T`, never below `now`
 * (`undefined`: the key is empty).
 */
export function gcraRefund(
  now: number,
  tat: number | undefined,
  params: FreqLimitParamsLike,
  cost = 1,
): number | undefined {
  checkCost(cost, 'refund');
  checkTime(now, tat, 'refund');
  const p = toParams(params, 'refund');
  const current = live(tat, now);
  if (current === undefined) return undefined;
  const back = current - cost * p.interval;
  return back > now ? back : undefined;
}

/** The longest `block` accepted, in ms (10¹² ms, about 31.7 years): "for good", in practice. */
export const MAX_BLOCK_MS = 1e12;

/** Validates the `ms` of a `block`: a finite number of ms, 0 ≤ ms ≤ {@link MAX_BLOCK_MS}. */
export function checkBlockMs(ms: unknown, where = 'block'): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_BLOCK_MS) {
    throw new RangeError(
      `${where}: \`ms\` must be a finite number of ms, 0 ≤ ms ≤ ${MAX_BLOCK_MS}, got ${String(ms)}`,
    );
  }
  return ms;
}

/**
 * What a key looks like at `now`, without reserving anything: how many unit-cost requests
 * would pass at once, when the key is back to a full burst, and when the next unit-cost
 * request would pass with no delay. Uses the same rounding rule as {@link gcraReserve}, so
 * `remaining > 0` exactly when `retryAfter === 0`.
 *
 * @example
 * const p = new FreqLimitParams({ limit: 2, period: 1000, burst: 2 });
 * gcraPeek(0, undefined, p); // { remaining: 2, resetAfter: 0, retryAfter: 0 }
 * gcraPeek(0, 1000, p);      // { remaining: 0, resetAfter: 1000, retryAfter: 500 }
 */
export function gcraPeek(
  now: number,
  tat: number | undefined,
  params: FreqLimitParamsLike,
): LimitStatus {
  checkTime(now, tat, 'peek');
  const p = toParams(params, 'peek');
  const current = live(tat, now);
  const rel = current === undefined ? 0 : current - now;
  return {
    remaining: remainingAt(rel, p, noiseAt(now)),
    resetAfter: rel,
    retryAfter: step(now, current, p, 1).delay,
  };
}

/**
 * The state after blocking a key for `ms` ms: nothing passes before `now + ms`, and at
 * `now + ms` a unit-cost request passes. `tat = max(tat ?? now, now + ms + tau)`, so a block
 * never shortens a wait that is already longer. `undefined`: the key stays empty (`ms` and
 * `tau` both 0). `ms` is finite, 0 ≤ ms ≤ {@link MAX_BLOCK_MS}; anything else is a `RangeError`.
 *
 * @example
 * const p = new FreqLimitParams({ limit: 1, period: 1000 });
 * gcraBlock(0, undefined, p, 30_000); // 30000: the next request waits until then
 * gcraBlock(0, 60_000, p, 30_000);    // 60000: an existing longer wait is kept
 */
export function gcraBlock(
  now: number,
  tat: number | undefined,
  params: FreqLimitParamsLike,
  ms: number,
): number | undefined {
  checkBlockMs(ms, 'block');
  checkTime(now, tat, 'block');
  const p = toParams(params, 'block');
  const current = live(tat, now);
  const until = now + (ms + p.tau);
  const next = current !== undefined && current > until ? current : until;
  return next > now ? next : undefined;
}
