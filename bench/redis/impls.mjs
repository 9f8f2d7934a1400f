/**
 * @module bench/redis/impls
 * The Redis limiters the bench compares, each on the one ioredis connection it is given and
 * behind the same interface: `create(redis, mode)` → `{ op(clientKey), limited(result), }`.
 *
 * Modes:
 * - `hot`: one key — GCRA 10⁶ per minute with an equal burst (60 µs per call: the TAT stays
 *   far below the 60 s tolerance over a measurement); the peers 10⁹ per minute;
 * - `many`: 100,000 keys in turn — GCRA 1,000 per 100 minutes with an equal burst (each key
 *   stays live 6 s per call and takes up to 1,000 calls without waiting); the peers 10⁹ per
 *   minute;
 * - `memory`: each key once, kept ten minutes (used_memory per key);
 * - `tight`: a limit of one, to prove the limiter limits.
 *
 * Every limiter keeps its own default key prefix; freqlimit is given the key its middleware
 * would pass (`default:` + client key, under the backend's `freqlimit:` prefix).
 */

import { createHash } from 'node:crypto';
import { FreqLimitParams } from '@freqlimit/core';
import { RedisBackend } from '@freqlimit/core/redis';
import { RedisStore } from 'rate-limit-redis';
import { RateLimiterRedis } from 'rate-limiter-flexible';

/**
 * The floor: a minimal GCRA in Lua — the server's TIME, one GET, the arithmetic, one SET PX —
 * with the TAT in integer µs, answering `{allowed, delay µs}`. No validation, no cost, no
 * remaining/reset figures, no float care: what no Redis limiter can beat by much.
 * ARGV: interval µs, tolerance µs, max delay µs.
 */
export const MINIMAL_GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval
local delay = new_tat - tonumber(ARGV[2]) - interval - now
if delay < 0 then delay = 0 end
if delay > tonumber(ARGV[3]) then return {0, delay} end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, delay}
`;

/** SHA-1 of {@link MINIMAL_GCRA}, for EVALSHA (and redis-benchmark). */
export const MINIMAL_GCRA_SHA = createHash('sha1').update(MINIMAL_GCRA).digest('hex');

/** GCRA limits per mode: `{ limit, period (ms), burst }`. */
export const GCRA = {
  hot: { limit: 1_000_000, period: 60_000, burst: 1_000_000 },
  many: { limit: 1_000, period: 6_000_000, burst: 1_000 },
  memory: { limit: 1, period: 600_000, burst: 1 },
  tight: { limit: 1, period: 60_000, burst: 1 },
};
/** The peers' fixed windows per mode. */
const WINDOW = {
  hot: { ms: 60_000, points: 1_000_000_000 },
  many: { ms: 60_000, points: 1_000_000_000 },
  memory: { ms: 600_000, points: 1 },
  tight: { ms: 60_000, points: 1 },
};

/** The floor's ARGV for a mode: interval µs, tolerance µs, max delay µs. */
export function minimalArgs(mode) {
  const p = GCRA[mode];
  const interval = Math.round((p.period / p.limit) * 1000);
  const maxDelay = mode === 'tight' ? 0 : 1_000_000;
  return [String(interval), String((p.burst - 1) * interval), String(maxDelay)];
}

/** @type {Record<string, { label: string, create(redis: any, mode: string): Promise<any> }>} */
export const IMPLS = {
  script: {
    label: 'minimal GCRA Lua script by EVALSHA — floor',
    async create(redis, mode) {
      const sha = await redis.script('LOAD', MINIMAL_GCRA);
      if (sha !== MINIMAL_GCRA_SHA) throw new Error(`unexpected script sha ${sha}`);
      const [interval, tolerance, maxDelay] = minimalArgs(mode);
      return {
        op: (key) => redis.evalsha(sha, 1, `gcra:${key}`, interval, tolerance, maxDelay),
        limited: (r) => r[0] === 0 || r[1] > 0,
      };
    },
  },
  freqlimit: {
    label: 'freqlimit RedisBackend.reserve',
    async create(redis, mode) {
      const backend = new RedisBackend(redis);
      const params = new FreqLimitParams(GCRA[mode]);
      // What the middleware passes: its namespace, and its default maxDelay (tight: none).
      const options = { maxDelay: mode === 'tight' ? 0 : 1000 };
      return {
        op: (key) => backend.reserve(`default:${key}`, params, options),
        limited: (r) => !r.allowed || r.delay > 0,
      };
    },
  },
  'rate-limit-redis': {
    label: 'rate-limit-redis RedisStore.increment',
    async create(redis, mode) {
      // The ioredis form of sendCommand from rate-limit-redis's README.
      const store = new RedisStore({
        sendCommand: (command, ...args) => redis.call(command, ...args),
      });
      await store.init({ windowMs: WINDOW[mode].ms });
      return {
        op: (key) => store.increment(key),
        // The store counts; express-rate-limit rejects past its `limit`.
        limited: (r) => r.totalHits > WINDOW[mode].points,
      };
    },
  },
  'rate-limiter-flexible': {
    label: 'rate-limiter-flexible RateLimiterRedis.consume',
    async create(redis, mode) {
      const limiter = new RateLimiterRedis({
        storeClient: redis,
        points: WINDOW[mode].points,
        duration: WINDOW[mode].ms / 1000,
      });
      return {
        // consume() rejects when the points are used up: turn that into a result.
        op: (key) =>
          limiter.consume(key).then(
            () => false,
            (rejection) => {
              if (rejection instanceof Error) throw rejection;
              return true;
            },
          ),
        limited: (r) => r === true,
      };
    },
  },
};
