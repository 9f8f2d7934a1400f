/**
 * @module bench/memory/stores
 * The in-process stores the memory bench compares, each behind the same small interface:
 * `create(mode)` → `{ loop(keys, n, offset), fill(keys), limited(key), size?(), close?() }`.
 *
 * Modes choose limits that never hold or reject during a measurement, so every store does its
 * normal "count and allow" work:
 * - `hot`: one key taking millions of calls — GCRA 10⁹ per minute with an equal burst (the TAT
 *   moves 60 ns per call, far below the 60 s tolerance); the peers' counters 10⁹ per minute;
 * - `many`: 100,000 keys taken in turn — GCRA 1,000 per minute with an equal burst, so every
 *   key stays live between its turns; the peers 10⁹ per minute;
 * - `alive`: each key reserved once and kept for ten minutes (heap per live key);
 * - `tight`: a limit of one, to prove the store limits.
 *
 * The floor is a minimal hand-written GCRA on a `Map` — the same arithmetic as freqlimit's
 * `gcraStep`, with no expiry, no eviction and no validation: what no store can beat.
 */

import { FreqLimitParams, InMemoryBackend } from '@freqlimit/core';
import { MemoryStore as ErlMemoryStore } from 'express-rate-limit';
import { MemoryStore as HonoMemoryStore } from 'hono-rate-limiter';
import { RateLimiterMemory } from 'rate-limiter-flexible';

const GCRA = {
  hot: { limit: 1_000_000_000, period: 60_000, burst: 1_000_000_000 },
  many: { limit: 1_000, period: 60_000, burst: 1_000 },
  alive: { limit: 10, period: 600_000, burst: 10 },
  tight: { limit: 1, period: 60_000, burst: 1 },
};
/** Window (ms) and count of the peers' fixed-window counters, per mode. */
const WINDOW = {
  hot: { ms: 60_000, points: 1_000_000_000 },
  many: { ms: 60_000, points: 1_000_000_000 },
  alive: { ms: 600_000, points: 10 },
  tight: { ms: 60_000, points: 1 },
};

/** A sync store's loop. */
function syncLoop(op) {
  return {
    loop(keys, n, offset) {
      const len = keys.length;
      for (let i = offset; i < offset + n; i++) op(keys[i % len]);
    },
    fill(keys) {
      for (const key of keys) op(key);
    },
  };
}

/** An async store's loop: every call awaited, as a middleware does. */
function asyncLoop(op) {
  return {
    async loop(keys, n, offset) {
      const len = keys.length;
      for (let i = offset; i < offset + n; i++) await op(keys[i % len]);
    },
    async fill(keys) {
      for (const key of keys) await op(key);
    },
  };
}

/**
 * The floor: GCRA on a `Map<string, number>` (key → TAT in ms), on `performance.now()`.
 *
 * @param {{ limit: number, period: number, burst: number }} p
 */
function mapGcra(p) {
  const map = new Map();
  const interval = p.period / p.limit;
  const tolerance = (p.burst - 1) * interval;
  const maxDelay = Number.POSITIVE_INFINITY;
  const reserve = (key) => {
    const now = performance.now();
    const tat = map.get(key);
    const ahead = tat !== undefined && tat > now ? tat - now : 0;
    const delay = ahead + interval - (tolerance + interval);
    if (delay > maxDelay) return { allowed: false, delay };
    map.set(key, now + ahead + interval);
    return { allowed: true, delay: Math.max(0, delay) };
  };
  return { map, reserve };
}

/** @type {Record<string, { label: string, awaited: boolean, create(mode: string): any }>} */
export const STORES = {
  'map-sync': {
    label: 'hand-written GCRA on a Map (sync) — floor',
    awaited: false,
    create(mode) {
      const { map, reserve } = mapGcra(GCRA[mode]);
      return {
        ...syncLoop(reserve),
        limited: (key) => reserve(key).delay > 0,
        size: () => map.size,
      };
    },
  },
  'map-await': {
    label: 'hand-written GCRA on a Map (awaited) — floor',
    awaited: true,
    create(mode) {
      const { map, reserve } = mapGcra(GCRA[mode]);
      const op = async (key) => reserve(key);
      return {
        ...asyncLoop(op),
        limited: async (key) => (await op(key)).delay > 0,
        size: () => map.size,
      };
    },
  },
  'freqlimit-sync': {
    label: 'freqlimit InMemoryBackend.reserveSync',
    awaited: false,
    create(mode) {
      const backend = new InMemoryBackend();
      const params = new FreqLimitParams(GCRA[mode]);
      const maxDelay = mode === 'tight' ? { maxDelay: 0 } : undefined;
      const op = (key) => backend.reserveSync(key, params, maxDelay);
      return { ...syncLoop(op), limited: (key) => !op(key).allowed, size: () => backend.size };
    },
  },
  'freqlimit-await': {
    label: 'freqlimit InMemoryBackend.reserve (awaited)',
    awaited: true,
    create(mode) {
      const backend = new InMemoryBackend();
      const params = new FreqLimitParams(GCRA[mode]);
      const maxDelay = mode === 'tight' ? { maxDelay: 0 } : undefined;
      const op = (key) => backend.reserve(key, params, maxDelay);
      return {
        ...asyncLoop(op),
        limited: async (key) => !(await op(key)).allowed,
        size: () => backend.size,
      };
    },
  },
  'express-rate-limit': {
    label: 'express-rate-limit MemoryStore.increment (awaited)',
    awaited: true,
    create(mode) {
      const store = new ErlMemoryStore();
      store.init({ windowMs: WINDOW[mode].ms });
      const op = (key) => store.increment(key);
      return {
        ...asyncLoop(op),
        // The store counts; the middleware rejects past `limit` (here 1).
        limited: async (key) => (await op(key)).totalHits > WINDOW[mode].points,
        close: () => store.shutdown(),
      };
    },
  },
  'hono-rate-limiter': {
    label: 'hono-rate-limiter MemoryStore.increment (awaited)',
    awaited: true,
    create(mode) {
      const store = new HonoMemoryStore();
      store.init({ windowMs: WINDOW[mode].ms });
      // Synchronous, but the middleware awaits it: so does the loop.
      const op = (key) => store.increment(key);
      return {
        ...asyncLoop(op),
        limited: async (key) => (await op(key)).totalHits > WINDOW[mode].points,
        close: () => store.shutdown(),
      };
    },
  },
  'rate-limiter-flexible': {
    label: 'rate-limiter-flexible RateLimiterMemory.consume (awaited)',
    awaited: true,
    create(mode) {
      const limiter = new RateLimiterMemory({
        points: WINDOW[mode].points,
        duration: WINDOW[mode].ms / 1000,
      });
      const op = (key) => limiter.consume(key);
      return {
        ...asyncLoop(op),
        limited: (key) =>
          op(key).then(
            () => false,
            () => true,
          ),
      };
    },
  },
};
