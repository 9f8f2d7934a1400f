/**
 * @module test/model
 * An independent reference model of the rate limiter, for the property tests only (not
 * exported by the package). It is written in the leaky-bucket form — a per-key backlog
 * `level` (ms of work still queued) drained by elapsed time — instead of gcra.ts's
 * theoretical-arrival-time form, and counts `remaining` by trying unit requests one by one
 * instead of with a division, so a shared mistake is unlikely.
 */

import type { MultiReservation, Reservation } from '../src/backend.js';

/** The plain numbers the model needs of a limit. */
export interface ModelLimit {
  limit: number;
  period: number;
  burst: number;
}

interface Bucket {
  /** Backlog in ms at time `at`. */
  level: number;
  at: number;
}

const T = (p: ModelLimit): number => p.period / p.limit;
/** Backlog a bucket may hold after admitting a request with no delay. */
const capacity = (p: ModelLimit): number => p.burst * T(p);

/** How many unit requests could pass at once on a bucket holding `level` ms. */
function countRemaining(level: number, p: ModelLimit): number {
  let k = 0;
  while (k <= p.burst && level + (k + 1) * T(p) <= capacity(p)) k++;
  return k;
}

/** A model of one backend: per-key buckets. */
export class ModelBackend {
  readonly #buckets = new Map<string, Bucket>();

  /** The backlog of `key` drained to `now`. */
  level(key: string, now: number): number {
    const b = this.#buckets.get(key);
    return b === undefined ? 0 : Math.max(0, b.level - (now - b.at));
  }

  /** The delay a request of `cost` on `key` would need at `now` (Infinity: never). */
  #need(key: string, p: ModelLimit, cost: number, now: number): number {
    if (cost > p.burst) return Number.POSITIVE_INFINITY;
    return Math.max(0, this.level(key, now) + cost * T(p) - capacity(p));
  }

  reserve(key: string, p: ModelLimit, cost: number, maxDelay: number, now: number): Reservation {
    const many = this.reserveMany([{ key, p, cost }], maxDelay, now);
    return many.each[0] as Reservation;
  }

  reserveMany(
    entries: ReadonlyArray<{ key: string; p: ModelLimit; cost: number }>,
    maxDelay: number,
    now: number,
  ): MultiReservation {
    const needs = entries.map((e) => this.#need(e.key, e.p, e.cost, now));
    const emit = Math.max(0, ...needs);
    if (emit === Number.POSITIVE_INFINITY || emit > maxDelay) {
      const retryAfter = emit === Number.POSITIVE_INFINITY ? emit : emit - maxDelay;
      return {
        allowed: false,
        delay: emit,
        retryAfter,
        each: entries.map((e, i) => {
          const need = needs[i] as number;
          return {
            allowed: false,
            delay: need,
            retryAfter:
              need === Number.POSITIVE_INFINITY ? need : need > maxDelay ? need - maxDelay : 0,
            remaining: 0,
            resetAfter: this.level(e.key, now),
          };
        }),
      };
    }
    const each = entries.map((e, i): Reservation => {
      // Drain the bucket until the emission time, pour the cost in then, and express the
      // backlog relative to now again.
      const atEmission = Math.max(0, this.level(e.key, now) - emit) + e.cost * T(e.p);
      const level = atEmission + emit;
      this.#buckets.set(e.key, { level, at: now });
      return {
        allowed: true,
        delay: needs[i] as number,
        retryAfter: 0,
        remaining: countRemaining(level, e.p),
        resetAfter: level,
      };
    });
    return { allowed: true, delay: emit, retryAfter: 0, each };
  }
}
