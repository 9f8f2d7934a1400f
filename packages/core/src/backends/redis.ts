/**
 * @module backends/redis
 * `RedisBackend`: GCRA state in Redis (or Redis Cluster), shared by every host that uses the
 * same Redis and prefix. One Lua script per operation, one round trip per call.
 */

import type {
  BlockOptions,
  FreqLimitBackend,
  LimitStatus,
  MultiReservation,
  PeekOptions,
  RefundOptions,
  Reservation,
  ReserveManyEntry,
  ReserveManyOptions,
  ReserveOptions,
} from '../backend.js';
import { BackendTimeoutError, FreqLimitError } from '../errors.js';
import { checkBlockMs } from '../gcra.js';
import { checkCost, checkMaxDelay, FreqLimitParams, type FreqLimitParamsLike } from '../params.js';
import {
  multiReservationOf,
  nowUs,
  rejectedOf,
  rejects,
  rejectsMany,
  reservationOf,
  reservedRelUs,
  type SentEntry,
  scriptNoise,
  statusOf,
} from './redis-answers.js';
import { RejectionCache } from './redis-cache.js';
import { checkOneSlot, escapeGlob, shortKey } from './redis-keys.js';
import {
  BLOCK_SCRIPT,
  PEEK_SCRIPT,
  REFUND_SCRIPT,
  RESERVE_MANY_SCRIPT,
  RESERVE_SCRIPT,
  RESET_SCRIPT,
  type RedisScript,
} from './redis-scripts.js';

/**
 * The commands `RedisBackend` sends to one Redis node. ioredis `Redis` (5 and 6) and iovalkey
 * fit this shape; it is typed narrowly so no client library is loaded or required.
 */
export interface RedisNodeLike {
  evalsha(sha1: string, numkeys: number, ...args: Array<string | number>): Promise<unknown>;
  eval(script: string, numkeys: number, ...args: Array<string | number>): Promise<unknown>;
  scan(
    cursor: string,
    matchToken: 'MATCH',
    pattern: string,
    countToken: 'COUNT',
    count: number,
  ): Promise<[cursor: string, elements: string[]]>;
  unlink(...keys: string[]): Promise<number>;
}

/**
 * The client `RedisBackend` takes: an ioredis `Redis` or `Cluster` (5 or 6), or an iovalkey
 * one. A Cluster is recognised by `isCluster: true` and `nodes('master')`.
 */
export interface RedisClientLike extends Pick<RedisNodeLike, 'evalsha' | 'eval'> {
  /** `true` on an ioredis/iovalkey `Cluster`. */
  readonly isCluster?: boolean;
  /** A Cluster's master nodes (used by `clear()` to scan each of them). */
  nodes?(role: 'master'): RedisNodeLike[];
  scan?: RedisNodeLike['scan'];
  unlink?: RedisNodeLike['unlink'];
}

/** Options of {@link RedisBackend}. */
export interface RedisBackendOptions {
  /**
   * Prepended to every key: the Redis key is `prefix + key` (the key already holds the
   * limiter's `name:`). `clear()` deletes exactly the keys under it. Default `'freqlimit:'`.
   */
  prefix?: string;
  /**
   * Ms a call may take before it rejects with `BackendTimeoutError` (ioredis queues commands
   * while it reconnects; a request must not wait on that queue). Finite, > 0. Default 1000.
   */
  timeout?: number;
  /**
   * The local rejection cache: once Redis has rejected a key, this process knows a floor under
   * its TAT, and answers every reservation that floor alone already rejects itself, exactly as
   * Redis would, with no round trip. So a flood on an over-limit key costs Redis a handful of
   * calls, not one per request. `maxKeys` (integer ≥ 1) bounds the floors kept, the least
   * recently refreshed dropped first. `false` turns it off. Default `{ maxKeys: 10_000 }`.
   * See "Failure modes" in the README for what it may keep rejecting.
   */
  localCache?: { maxKeys?: number } | boolean;
}

/** An entry of `reserveMany`; `params` may be a plain `{ limit, period, burst }` object. */
export interface RedisReserveManyEntry extends Omit<ReserveManyEntry, 'params'> {
  params: FreqLimitParamsLike;
}

/** The longest delay `setTimeout` honours. */
const MAX_TIMEOUT = 2_147_483_647;

/**
 * GCRA state in Redis: one limit shared by many processes and hosts.
 *
 * - Each call is one `EVALSHA` of a script of `REDIS_SCRIPTS`; after `NOSCRIPT` (restart,
 *   failover, `SCRIPT FLUSH`) the script is sent once with `EVAL` and cached again.
 * - The clock is the Redis server's `TIME` unless `now` is passed.
 * - The TAT is stored in integer µs; a key expires (`PX`) exactly when its state is empty.
 * - On Redis Cluster, single-key calls work on any key. `reserveMany` is atomic, in one
 *   script, so its keys must hash to one slot (use a hash tag, e.g. keys `{user42}`, or a
 *   prefix such as `'{freqlimit}:'`); otherwise it throws a `FreqLimitError` with code
 *   `'REDIS_CROSS_SLOT'` before sending anything.
 *
 * @example
 * import { Redis } from 'ioredis';
 * import { RedisBackend } from '@freqlimit/core/redis';
 *
 * const backend = new RedisBackend(new Redis(process.env.REDIS_URL), { timeout: 500 });
 * const r = await backend.reserve('api:1.2.3.4', { limit: 10, period: 1000 }, { maxDelay: 0 });
 */
export class RedisBackend implements FreqLimitBackend {
  /** The key prefix. */
  readonly prefix: string;
  /** The per-call timeout in ms. */
  readonly timeout: number;
  readonly #redis: RedisClientLike;
  readonly #cluster: boolean;
  readonly #cache: RejectionCache | undefined;

  constructor(redis: RedisClientLike, options: RedisBackendOptions = {}) {
    if (
      redis === null ||
      typeof redis !== 'object' ||
      typeof redis.evalsha !== 'function' ||
      typeof redis.eval !== 'function'
    ) {
      throw new TypeError(
        'RedisBackend: `redis` must be an ioredis (or iovalkey) Redis or Cluster client',
      );
    }
    if (options === null || typeof options !== 'object') {
      throw new TypeError(
        'RedisBackend: `options` must be an object { prefix?, timeout?, localCache? }',
      );
    }
    const { prefix = 'freqlimit:', timeout = 1000, localCache = true } = options;
    if (typeof prefix !== 'string') {
      throw new TypeError(`RedisBackend: \`prefix\` must be a string, got ${typeof prefix}`);
    }
    if (typeof timeout !== 'number' || !(timeout > 0 && timeout <= MAX_TIMEOUT)) {
      throw new RangeError(
        `RedisBackend: \`timeout\` must be a number of ms > 0 and ≤ ${MAX_TIMEOUT}, got ${String(timeout)}`,
      );
    }
    this.#redis = redis;
    this.#cluster = redis.isCluster === true && typeof redis.nodes === 'function';
    this.prefix = prefix;
    this.timeout = timeout;
    this.#cache = cacheOf(localCache);
  }

  /** The Redis key that holds `key`'s state (after prefixing and, for long keys, hashing). */
  redisKey(key: string): string {
    if (typeof key !== 'string') {
      throw new TypeError(`RedisBackend: \`key\` must be a string, got ${typeof key}`);
    }
    return this.prefix + shortKey(key, this.prefix.includes('{'));
  }

  async reserve(
    key: string,
    params: FreqLimitParamsLike,
    options: ReserveOptions = {},
  ): Promise<Reservation> {
    const where = 'RedisBackend.reserve';
    const p = FreqLimitParams.from(params, where);
    const cost = checkCost(options.cost ?? 1, where);
    const maxDelay = checkMaxDelay(options.maxDelay ?? Number.POSITIVE_INFINITY, where);
    const now = checkNow(options.now, where);
    const redisKey = this.redisKey(key);
    const cache = this.#cache;
    const injected = now !== undefined;
    const noise = scriptNoise(injected ? nowUs(now) : undefined);
    if (cache !== undefined) {
      const floor = cache.floor(redisKey, injected);
      if (floor !== undefined) {
        const relUs = Math.max(0, floor - timelineUs(now));
        if (rejects(relUs, p, cost, maxDelay, noise)) {
          return rejectedOf(relUs, p, cost, maxDelay, noise);
        }
      }
    }
    const sentUs = timelineUs(now);
    const generation = cache?.generation ?? 0;
    const reply = await this.#run(
      'reserve',
      RESERVE_SCRIPT,
      [redisKey],
      [
        injected ? String(now) : '',
        maxDelay === Number.POSITIVE_INFINITY ? '' : String(maxDelay),
        String(p.interval),
        String(p.tau),
        String(p.burst),
        String(cost),
      ],
    );
    const code = integerAt(reply, 0, 1);
    if (cache !== undefined) {
      if (code < 0) cache.set(redisKey, sentUs - code - 1, injected, generation);
      else if (cache.has(redisKey)) {
        cache.refresh(redisKey, sentUs + reservedRelUs(code, p, cost), injected, generation);
      }
    }
    return reservationOf(code, p, cost, maxDelay, noise);
  }

  async reserveMany(
    entries: ReadonlyArray<RedisReserveManyEntry>,
    options: ReserveManyOptions = {},
  ): Promise<MultiReservation> {
    const where = 'RedisBackend.reserveMany';
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new TypeError(`${where}: \`entries\` must be a non-empty array`);
    }
    const maxDelay = checkMaxDelay(options.maxDelay ?? Number.POSITIVE_INFINITY, where);
    const now = checkNow(options.now, where);
    const injected = now !== undefined;
    const args: string[] = [
      injected ? String(now) : '',
      maxDelay === Number.POSITIVE_INFINITY ? '' : String(maxDelay),
    ];
    const keys: string[] = [];
    const sent: SentEntry[] = [];
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const label = `${where} entry ${i}`;
      const p = FreqLimitParams.from(entry.params, label);
      const cost = checkCost(entry.cost ?? 1, label);
      keys.push(this.redisKey(entry.key));
      sent.push({ params: p, cost });
      args.push(String(p.interval), String(p.tau), String(p.burst), String(cost));
    }
    if (this.#cluster && keys.length > 1) checkOneSlot(keys);
    const noise = scriptNoise(injected ? nowUs(now) : undefined);
    const cache = this.#cache;
    if (cache !== undefined) {
      // Answered here only when every key has a floor: each entry's figures need its state.
      const at = timelineUs(now);
      const relsUs: number[] = [];
      for (const redisKey of keys) {
        const floor = cache.floor(redisKey, injected);
        if (floor === undefined) break;
        relsUs.push(Math.max(0, floor - at));
      }
      if (relsUs.length === keys.length && rejectsMany(relsUs, sent, maxDelay, noise)) {
        return multiReservationOf(false, relsUs, sent, maxDelay, noise);
      }
    }
    const sentUs = timelineUs(now);
    const generation = cache?.generation ?? 0;
    const reply = await this.#run('reserveMany', RESERVE_MANY_SCRIPT, keys, args);
    const relsUs: number[] = [];
    for (let i = 0; i < keys.length; i++) relsUs.push(integerAt(reply, i + 1, keys.length + 1));
    const reserved = integerAt(reply, 0, keys.length + 1) === 1;
    const nextRelsUs: number[] = [];
    const answer = multiReservationOf(reserved, relsUs, sent, maxDelay, noise, nextRelsUs);
    if (cache !== undefined) {
      for (let i = 0; i < keys.length; i++) {
        if (!reserved) cache.set(keys[i]!, sentUs + relsUs[i]!, injected, generation);
        else cache.refresh(keys[i]!, sentUs + nextRelsUs[i]!, injected, generation);
      }
    }
    return answer;
  }

  async refund(
    key: string,
    params: FreqLimitParamsLike,
    options: RefundOptions = {},
  ): Promise<void> {
    const where = 'RedisBackend.refund';
    const p = FreqLimitParams.from(params, where);
    const cost = checkCost(options.cost ?? 1, where);
    const now = checkNow(options.now, where);
    const redisKey = this.redisKey(key);
    this.#cache?.drop(redisKey);
    await this.#run(
      'refund',
      REFUND_SCRIPT,
      [redisKey],
      [now === undefined ? '' : String(now), String(p.interval), String(cost)],
    );
  }

  /** What `key` looks like under `params` right now; reserves and changes nothing. */
  async peek(
    key: string,
    params: FreqLimitParamsLike,
    options: PeekOptions = {},
  ): Promise<LimitStatus> {
    const where = 'RedisBackend.peek';
    const p = FreqLimitParams.from(params, where);
    const now = checkNow(options.now, where);
    const redisKey = this.redisKey(key);
    const sentUs = timelineUs(now);
    const generation = this.#cache?.generation ?? 0;
    const reply = await this.#run(
      'peek',
      PEEK_SCRIPT,
      [redisKey],
      [now === undefined ? '' : String(now)],
    );
    const relUs = integerAt(reply, 0, 1);
    this.#cache?.refresh(redisKey, sentUs + relUs, now !== undefined, generation);
    return statusOf(relUs, p, scriptNoise(now === undefined ? undefined : nowUs(now)));
  }

  /** Forget `key` on every host: the next request sees a full burst. */
  async reset(key: string): Promise<void> {
    const redisKey = this.redisKey(key);
    this.#cache?.drop(redisKey);
    await this.#run('reset', RESET_SCRIPT, [redisKey], []);
  }

  /**
   * Nothing passes on `key` before `now + ms`, on every host that shares this Redis (never
   * shortens a longer wait).
   */
  async block(
    key: string,
    params: FreqLimitParamsLike,
    ms: number,
    options: BlockOptions = {},
  ): Promise<void> {
    const where = 'RedisBackend.block';
    const p = FreqLimitParams.from(params, where);
    checkBlockMs(ms, where);
    const now = checkNow(options.now, where);
    const redisKey = this.redisKey(key);
    const sentUs = timelineUs(now);
    const generation = this.#cache?.generation ?? 0;
    const reply = await this.#run(
      'block',
      BLOCK_SCRIPT,
      [redisKey],
      [now === undefined ? '' : String(now), String(ms), String(p.tau)],
    );
    // A blocked key rejects everything until then: answer that here from now on.
    this.#cache?.set(redisKey, sentUs + integerAt(reply, 0, 1), now !== undefined, generation);
  }

  /**
   * Deletes every key under `prefix` (SCAN + UNLINK; on a Cluster, on every master), and
   * nothing else. Not atomic: keys written meanwhile may survive.
   */
  async clear(): Promise<void> {
    this.#cache?.clear();
    const pattern = `${escapeGlob(this.prefix)}*`;
    if (this.#cluster) {
      const masters = this.#redis.nodes!('master');
      await Promise.all(masters.map((node) => clearNode(node, pattern, true)));
      return;
    }
    const { scan, unlink } = this.#redis;
    if (typeof scan !== 'function' || typeof unlink !== 'function') {
      throw new TypeError('RedisBackend.clear: the `redis` client has no scan()/unlink()');
    }
    await clearNode(this.#redis as RedisNodeLike, pattern, false);
  }

  /** EVALSHA, falling back to EVAL after NOSCRIPT, all within `timeout`. */
  #run(what: string, script: RedisScript, keys: string[], args: string[]): Promise<unknown> {
    const redis = this.#redis;
    const call = async (): Promise<unknown> => {
      try {
        return await redis.evalsha(script.sha1, keys.length, ...keys, ...args);
      } catch (error) {
        if (!isNoScript(error)) throw error;
        return redis.eval(script.lua, keys.length, ...keys, ...args);
      }
    };
    return withTimeout(call, this.timeout, `RedisBackend.${what}`);
  }
}

function checkNow(now: unknown, where: string): number | undefined {
  if (now === undefined) return undefined;
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw new RangeError(`${where}: \`now\` must be a finite number of ms, got ${String(now)}`);
  }
  return now;
}

/**
 * Now on the timeline of the call, in µs: the injected `now` as the scripts round it, or this
 * process's monotonic clock (never the wall clock, which may disagree with Redis's).
 */
function timelineUs(now: number | undefined): number {
  return now === undefined ? performance.now() * 1000 : nowUs(now);
}

function cacheOf(option: unknown): RejectionCache | undefined {
  if (option === false) return undefined;
  if (option === true) return new RejectionCache(10_000);
  if (option === null || typeof option !== 'object') {
    throw new TypeError(
      `RedisBackend: \`localCache\` must be { maxKeys? } or false, got ${String(option)}`,
    );
  }
  const { maxKeys = 10_000 } = option as { maxKeys?: unknown };
  if (typeof maxKeys !== 'number' || !Number.isInteger(maxKeys) || maxKeys < 1) {
    throw new RangeError(
      `RedisBackend: \`localCache.maxKeys\` must be an integer ≥ 1, got ${String(maxKeys)}`,
    );
  }
  return new RejectionCache(maxKeys);
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** Rejects with `BackendTimeoutError` after `timeout` ms; the late outcome is swallowed. */
function withTimeout<T>(run: () => Promise<T>, timeout: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer: { unref?: () => void } | number = setTimeout(() => {
      reject(new BackendTimeoutError(timeout, what));
    }, timeout);
    // A timer must not keep a process alive that has nothing else to do.
    if (typeof timer === 'object') timer.unref?.();
    const settle = (): void => clearTimeout(timer as Parameters<typeof clearTimeout>[0]);
    let pending: Promise<T>;
    try {
      pending = run();
    } catch (error) {
      settle();
      reject(error);
      return;
    }
    pending.then(
      (value) => {
        settle();
        resolve(value);
      },
      (error: unknown) => {
        settle();
        reject(error);
      },
    );
  });
}

/** Element `index` of a script reply that must be `length` integers (a bare integer for 1). */
function integerAt(reply: unknown, index: number, length: number): number {
  const value = Array.isArray(reply) ? (reply.length === length ? reply[index] : undefined) : reply;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw new FreqLimitError(
    'REDIS_BAD_REPLY',
    `RedisBackend: unexpected script reply ${JSON.stringify(reply)} (expected ${length === 1 ? 'an integer' : `${length} integers`})`,
  );
}

async function clearNode(node: RedisNodeLike, pattern: string, cluster: boolean): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    // On a Cluster node one UNLINK may only name keys of one slot.
    if (cluster) await Promise.all(keys.map((k) => node.unlink(k)));
    else await node.unlink(...keys);
  } while (cursor !== '0');
}
