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
import {
  checkCost,
  checkMaxDelay,
  FreqLimitParams,
  type FreqLimitParamsLike,
  ParamsResolver,
} from '../params.js';
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
import { DeadlineQueue, type Expirable } from './redis-deadlines.js';
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
  /** `EVALSHA sha1 numkeys ...keysAndArgs` (the array is sent as separate arguments). */
  evalsha(sha1: string, numkeys: number, keysAndArgs: string[]): Promise<unknown>;
  /** `EVAL script numkeys ...keysAndArgs`. */
  eval(script: string, numkeys: number, keysAndArgs: string[]): Promise<unknown>;
  /** `SCAN cursor MATCH pattern COUNT count` (used by `clear()`). */
  scan(
    cursor: string,
    matchToken: 'MATCH',
    pattern: string,
    countToken: 'COUNT',
    count: number,
  ): Promise<[cursor: string, elements: string[]]>;
  /** `UNLINK ...keys` (used by `clear()`). */
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
  /** See {@link RedisNodeLike.scan}. */
  scan?: RedisNodeLike['scan'];
  /** See {@link RedisNodeLike.unlink}. */
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
/** Most reservations sent in one script call (each is still decided on its own). */
const MAX_BATCH = 32;

/** The argument strings of one set of params, computed once. */
interface ParamStrings {
  interval: string;
  tau: string;
  burst: string;
}

/** A reservation waiting to be sent, then for its answer. */
interface ReserveCall {
  redisKey: string;
  p: FreqLimitParams;
  cost: number;
  maxDelay: number;
  /** The injected now, or undefined on the server's clock. */
  now: number | undefined;
  /** The six script arguments. */
  nowArg: string;
  maxDelayArg: string;
  strings: ParamStrings;
  costArg: string;
  /** The cache generation when the call was made (see `RejectionCache.set`). */
  generation: number;
  resolve: (reservation: Reservation) => void;
  reject: (error: unknown) => void;
}

/** Any other call waiting to be sent: one script call, its reply handled by `answer`. */
interface ScriptCall {
  what: string;
  script: RedisScript;
  keys: string[];
  args: string[];
  /** Turns the reply into the answer; `sentUs` is when it was sent (see `timelineUs`). */
  answer: (reply: unknown, sentUs: number) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type QueuedCall = ReserveCall | ScriptCall;

/**
 * GCRA state in Redis: one limit shared by many processes and hosts.
 *
 * - Each call is one `EVALSHA` of a script of `REDIS_SCRIPTS`; after `NOSCRIPT` (restart,
 *   failover, `SCRIPT FLUSH`) the script is sent once with `EVAL` and cached again.
 * - On a standalone Redis, the single-key reservations made in one tick of the event loop go
 *   out as one script call (each decided on its own, in order): under load that is a fraction
 *   of a round trip per reservation, on the client and on the server. Calls are sent, and run,
 *   in the order they were made.
 * - The clock is the Redis server's `TIME` unless `now` is passed.
 * - The TAT is stored in integer µs; a key expires (`PX`) exactly when its state is empty.
 * - The local rejection cache (`localCache`) answers what Redis has already rejected.
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
  readonly #braced: boolean;
  readonly #cache: RejectionCache | undefined;
  readonly #deadlines: DeadlineQueue;
  readonly #params = new ParamsResolver();
  #strings = new WeakMap<FreqLimitParams, ParamStrings>();
  #lastParams: FreqLimitParams | undefined;
  #lastStrings: ParamStrings | undefined;
  /** Calls made in this tick, sent together at its end (`#flush`). */
  #queue: QueuedCall[] = [];
  #spare: QueuedCall[] = [];
  #flushing = false;
  readonly #flush = (): void => this.#sendQueued();
  /** Scripts sent with EVAL on this client since it last answered NOSCRIPT. */
  readonly #loaded = new Set<RedisScript>();

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
    this.#braced = prefix.includes('{');
    this.prefix = prefix;
    this.timeout = timeout;
    this.#cache = cacheOf(localCache);
    this.#deadlines = new DeadlineQueue(timeout);
  }

  /** The Redis key that holds `key`'s state (after prefixing and, for long keys, hashing). */
  redisKey(key: string): string {
    if (typeof key !== 'string') {
      throw new TypeError(`RedisBackend: \`key\` must be a string, got ${typeof key}`);
    }
    return this.prefix + shortKey(key, this.#braced);
  }

  reserve(
    key: string,
    params: FreqLimitParamsLike,
    options?: ReserveOptions,
  ): Promise<Reservation> {
    const where = 'RedisBackend.reserve';
    let redisKey: string;
    let p: FreqLimitParams;
    let cost = 1;
    let maxDelay = Number.POSITIVE_INFINITY;
    let now: number | undefined;
    try {
      p = this.#params.resolve(params, where);
      if (options !== undefined) {
        if (options.cost !== undefined) cost = checkCost(options.cost, where);
        if (options.maxDelay !== undefined) maxDelay = checkMaxDelay(options.maxDelay, where);
        now = checkNow(options.now, where);
      }
      redisKey = this.redisKey(key);
    } catch (error) {
      return Promise.reject(error);
    }
    const cache = this.#cache;
    if (cache !== undefined) {
      const floor = cache.floor(redisKey, now !== undefined);
      if (floor !== undefined) {
        const relUs = Math.max(0, floor - timelineUs(now));
        const noise = scriptNoise(now === undefined ? undefined : nowUs(now));
        if (rejects(relUs, p, cost, maxDelay, noise)) {
          return Promise.resolve(rejectedOf(relUs, p, cost, maxDelay, noise));
        }
      }
    }
    return new Promise<Reservation>((resolve, reject) => {
      this.#enqueue({
        redisKey,
        p,
        cost,
        maxDelay,
        now,
        nowArg: now === undefined ? '' : String(now),
        maxDelayArg: maxDelay === Number.POSITIVE_INFINITY ? '' : String(maxDelay),
        strings: this.#stringsOf(p),
        costArg: cost === 1 ? '1' : String(cost),
        generation: cache === undefined ? 0 : cache.generation,
        resolve,
        reject,
      });
    });
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
      const strings = this.#stringsOf(p);
      keys.push(this.redisKey(entry.key));
      sent.push({ params: p, cost });
      args.push(strings.interval, strings.tau, strings.burst, String(cost));
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
    const generation = cache?.generation ?? 0;
    return this.#call('reserveMany', RESERVE_MANY_SCRIPT, keys, args, (reply, sentUs) => {
      const relsUs: number[] = [];
      for (let i = 0; i < keys.length; i++) relsUs.push(integerAt(reply, i + 1, keys.length + 1));
      const reserved = integerAt(reply, 0, keys.length + 1) === 1;
      const nextRelsUs: number[] = [];
      const answer = multiReservationOf(reserved, relsUs, sent, maxDelay, noise, nextRelsUs);
      if (cache !== undefined) {
        const base = injected ? nowUs(now) : sentUs;
        for (let i = 0; i < keys.length; i++) {
          if (!reserved) cache.set(keys[i]!, base + relsUs[i]!, injected, generation);
          else cache.refresh(keys[i]!, base + nextRelsUs[i]!, injected, generation);
        }
      }
      return answer;
    });
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
    await this.#call(
      'refund',
      REFUND_SCRIPT,
      [redisKey],
      [now === undefined ? '' : String(now), this.#stringsOf(p).interval, String(cost)],
      () => undefined,
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
    const cache = this.#cache;
    const generation = cache?.generation ?? 0;
    return this.#call(
      'peek',
      PEEK_SCRIPT,
      [redisKey],
      [now === undefined ? '' : String(now)],
      (reply, sentUs) => {
        const relUs = integerAt(reply, 0, 1);
        const injected = now !== undefined;
        cache?.refresh(redisKey, (injected ? nowUs(now) : sentUs) + relUs, injected, generation);
        return statusOf(relUs, p, scriptNoise(injected ? nowUs(now) : undefined));
      },
    );
  }

  /** Forget `key` on every host: the next request sees a full burst. */
  async reset(key: string): Promise<void> {
    const redisKey = this.redisKey(key);
    this.#cache?.drop(redisKey);
    await this.#call('reset', RESET_SCRIPT, [redisKey], [], () => undefined);
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
    const cache = this.#cache;
    const generation = cache?.generation ?? 0;
    await this.#call(
      'block',
      BLOCK_SCRIPT,
      [redisKey],
      [now === undefined ? '' : String(now), String(ms), this.#stringsOf(p).tau],
      (reply, sentUs) => {
        const relUs = integerAt(reply, 0, 1);
        const injected = now !== undefined;
        // A blocked key rejects everything until then: answer that here from now on.
        cache?.set(redisKey, (injected ? nowUs(now) : sentUs) + relUs, injected, generation);
      },
    );
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

  /** The argument strings of `p` (exact: `String` of a double reads back as the same double). */
  #stringsOf(p: FreqLimitParams): ParamStrings {
    if (p === this.#lastParams) return this.#lastStrings!;
    let strings = this.#strings.get(p);
    if (strings === undefined) {
      strings = { interval: String(p.interval), tau: String(p.tau), burst: String(p.burst) };
      this.#strings.set(p, strings);
    }
    this.#lastParams = p;
    this.#lastStrings = strings;
    return strings;
  }

  /** One script call, queued so that calls go out in the order they were made. */
  #call<T>(
    what: string,
    script: RedisScript,
    keys: string[],
    args: string[],
    answer: (reply: unknown, sentUs: number) => T,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#enqueue({
        what,
        script,
        keys,
        args,
        answer,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
    });
  }

  #enqueue(call: QueuedCall): void {
    this.#queue.push(call);
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(this.#flush);
    }
  }

  /** Sends what was queued in this tick: runs of reservations as one script call each. */
  #sendQueued(): void {
    const queue = this.#queue;
    this.#queue = this.#spare;
    this.#spare = queue;
    this.#flushing = false;
    const batching = !this.#cluster;
    let i = 0;
    while (i < queue.length) {
      const call = queue[i]!;
      if ('script' in call) {
        this.#sendScript(call);
        i++;
        continue;
      }
      let end = i + 1;
      if (batching) {
        const last = Math.min(queue.length, i + MAX_BATCH);
        while (end < last && !('script' in queue[end]!)) end++;
      }
      this.#sendReserves(queue as ReserveCall[], i, end);
      i = end;
    }
    queue.length = 0;
  }

  #sendScript(call: ScriptCall): void {
    const sentUs = performance.now() * 1000;
    const what = `RedisBackend.${call.what}`;
    const timeout = this.timeout;
    const pending: Expirable = {
      deadline: 0,
      done: false,
      expire: () => call.reject(new BackendTimeoutError(timeout, what)),
    };
    this.#deadlines.add(pending);
    this.#send(call.script, call.keys.length, call.keys.concat(call.args), (error, reply) => {
      if (!this.#deadlines.settle(pending)) return;
      if (error !== undefined) return call.reject(error);
      try {
        call.resolve(call.answer(reply, sentUs));
      } catch (failure) {
        call.reject(failure);
      }
    });
  }

  /** Reservations `from` … `to − 1` of `queue`, in one `RESERVE_SCRIPT` call. */
  #sendReserves(queue: ReserveCall[], from: number, to: number): void {
    const count = to - from;
    const calls = queue.slice(from, to);
    const flat: string[] = new Array(count * 7);
    for (let k = 0; k < count; k++) {
      const call = calls[k]!;
      flat[k] = call.redisKey;
      const base = count + k * 6;
      flat[base] = call.nowArg;
      flat[base + 1] = call.maxDelayArg;
      flat[base + 2] = call.strings.interval;
      flat[base + 3] = call.strings.tau;
      flat[base + 4] = call.strings.burst;
      flat[base + 5] = call.costArg;
    }
    const sentUs = performance.now() * 1000;
    const timeout = this.timeout;
    const pending: Expirable = {
      deadline: 0,
      done: false,
      expire: () => {
        for (const call of calls) {
          call.reject(new BackendTimeoutError(timeout, 'RedisBackend.reserve'));
        }
      },
    };
    this.#deadlines.add(pending);
    this.#send(RESERVE_SCRIPT, count, flat, (error, reply) => {
      if (!this.#deadlines.settle(pending)) return;
      if (error === undefined && !(Array.isArray(reply) && reply.length === count)) {
        error = badReply(reply, `${count} integers`);
      }
      if (error !== undefined) {
        for (const call of calls) call.reject(error);
        return;
      }
      this.#answerReserves(calls, reply as unknown[], sentUs);
    });
  }

  #answerReserves(calls: ReserveCall[], reply: unknown[], sentUs: number): void {
    const cache = this.#cache;
    let clockNoise = Number.NaN;
    for (let k = 0; k < calls.length; k++) {
      const call = calls[k]!;
      const code = reply[k];
      if (typeof code !== 'number' || !Number.isInteger(code)) {
        call.reject(badReply(reply, `${calls.length} integers`));
        continue;
      }
      const { p, cost, now } = call;
      let noise: number;
      if (now === undefined) {
        if (Number.isNaN(clockNoise)) clockNoise = scriptNoise(undefined);
        noise = clockNoise;
      } else noise = scriptNoise(nowUs(now));
      if (cache !== undefined) {
        const injected = now !== undefined;
        const base = injected ? nowUs(now) : sentUs;
        if (code < 0) cache.set(call.redisKey, base - code - 1, injected, call.generation);
        else if (cache.has(call.redisKey)) {
          cache.refresh(
            call.redisKey,
            base + reservedRelUs(code, p, cost),
            injected,
            call.generation,
          );
        }
      }
      call.resolve(reservationOf(code, p, cost, call.maxDelay, noise));
    }
  }

  /**
   * One script call; `done` gets the error or the reply. The first call of a script goes out
   * as EVAL (which also caches it in Redis), later ones as EVALSHA, so calls run in the order
   * they were sent. After NOSCRIPT (Redis restarted, failed over or flushed its scripts) the
   * call is sent again with EVAL; calls already in flight then may run before it.
   */
  #send(
    script: RedisScript,
    numKeys: number,
    keysAndArgs: string[],
    done: (error: unknown, reply?: unknown) => void,
  ): void {
    const redis = this.#redis;
    const failed = (error: unknown): void => done(error ?? new Error('Redis call failed'));
    const answered = (reply: unknown): void => done(undefined, reply);
    const loaded = this.#loaded;
    try {
      if (!loaded.has(script)) {
        loaded.add(script);
        redis.eval(script.lua, numKeys, keysAndArgs).then(answered, failed);
        return;
      }
      redis.evalsha(script.sha1, numKeys, keysAndArgs).then(answered, (error: unknown) => {
        if (!isNoScript(error)) return failed(error);
        loaded.delete(script);
        try {
          loaded.add(script);
          redis.eval(script.lua, numKeys, keysAndArgs).then(answered, failed);
        } catch (failure) {
          failed(failure);
        }
      });
    } catch (error) {
      failed(error);
    }
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

function badReply(reply: unknown, expected: string): FreqLimitError {
  let shown: string;
  try {
    shown = JSON.stringify(reply)?.slice(0, 200) ?? String(reply);
  } catch {
    shown = String(reply);
  }
  return new FreqLimitError(
    'REDIS_BAD_REPLY',
    `RedisBackend: unexpected script reply ${shown} (expected ${expected})`,
  );
}

/** Element `index` of a script reply that must be `length` integers (a bare integer for 1). */
function integerAt(reply: unknown, index: number, length: number): number {
  const value = Array.isArray(reply) ? (reply.length === length ? reply[index] : undefined) : reply;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw badReply(reply, length === 1 ? 'an integer' : `${length} integers`);
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
