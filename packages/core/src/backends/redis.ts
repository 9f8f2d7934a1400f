/**
 * @module backends/redis
 * `RedisBackend`: GCRA state in Redis (or Redis Cluster), shared by every host that uses the
 * same Redis and prefix. One Lua script, one round trip per reservation.
 */

import { createHash } from 'node:crypto';
import type {
  FreqLimitBackend,
  MultiReservation,
  RefundOptions,
  Reservation,
  ReserveManyEntry,
  ReserveManyOptions,
  ReserveOptions,
} from '../backend.js';
import { BackendTimeoutError, FreqLimitError } from '../errors.js';
import { checkCost, checkMaxDelay, FreqLimitParams, type FreqLimitParamsLike } from '../params.js';
import { GCRA_SCRIPT } from './redis-script.js';

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
}

/** An entry of `reserveMany`; `params` may be a plain `{ limit, period, burst }` object. */
export interface RedisReserveManyEntry extends Omit<ReserveManyEntry, 'params'> {
  params: FreqLimitParamsLike;
}

/** Keys longer than this many UTF-8 bytes are replaced by a hash of themselves. */
export const MAX_KEY_BYTES = 128;

/** The longest delay `setTimeout` honours. */
const MAX_TIMEOUT = 2_147_483_647;

const SCRIPT_SHA = createHash('sha1').update(GCRA_SCRIPT).digest('hex');

/**
 * GCRA state in Redis: one limit shared by many processes and hosts.
 *
 * - Each reservation is one `EVALSHA` of {@link GCRA_SCRIPT}; after `NOSCRIPT` (restart,
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
      throw new TypeError('RedisBackend: `options` must be an object { prefix?, timeout? }');
    }
    const { prefix = 'freqlimit:', timeout = 1000 } = options;
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
    const many = await this.#reserve(
      [{ key, params, cost: options.cost }],
      options.maxDelay,
      options.now,
      'reserve',
    );
    const each = many.each[0]!;
    return {
      allowed: many.allowed,
      delay: many.delay,
      retryAfter: many.retryAfter,
      remaining: each.remaining,
      resetAfter: each.resetAfter,
    };
  }

  async reserveMany(
    entries: ReadonlyArray<RedisReserveManyEntry>,
    options: ReserveManyOptions = {},
  ): Promise<MultiReservation> {
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new TypeError('RedisBackend.reserveMany: `entries` must be a non-empty array');
    }
    return this.#reserve(entries, options.maxDelay, options.now, 'reserveMany');
  }

  async refund(
    key: string,
    params: FreqLimitParamsLike,
    options: RefundOptions = {},
  ): Promise<void> {
    const p = FreqLimitParams.from(params, 'RedisBackend.refund');
    const cost = checkCost(options.cost ?? 1, 'RedisBackend.refund');
    const now = checkNow(options.now, 'RedisBackend.refund');
    const args = [
      'refund',
      now,
      '',
      String(p.interval),
      String(p.tau),
      String(p.burst),
      String(cost),
    ];
    await this.#run('refund', [this.redisKey(key)], args);
  }

  /**
   * Deletes every key under `prefix` (SCAN + UNLINK; on a Cluster, on every master), and
   * nothing else. Not atomic: keys written meanwhile may survive.
   */
  async clear(): Promise<void> {
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

  async #reserve(
    entries: ReadonlyArray<RedisReserveManyEntry>,
    maxDelay: number | undefined,
    now: number | undefined,
    what: 'reserve' | 'reserveMany',
  ): Promise<MultiReservation> {
    const where = `RedisBackend.${what}`;
    const cap = checkMaxDelay(maxDelay ?? Number.POSITIVE_INFINITY, where);
    const args: string[] = [
      'reserve',
      checkNow(now, where),
      cap === Number.POSITIVE_INFINITY ? '' : String(cap),
    ];
    const keys: string[] = [];
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const label = what === 'reserve' ? where : `${where} entry ${i}`;
      const p = FreqLimitParams.from(entry.params, label);
      const cost = checkCost(entry.cost ?? 1, label);
      keys.push(this.redisKey(entry.key));
      args.push(String(p.interval), String(p.tau), String(p.burst), String(cost));
    }
    if (this.#cluster && keys.length > 1) checkOneSlot(keys);
    const reply = await this.#run(what, keys, args);
    return decode(reply, keys.length);
  }

  /** EVALSHA, falling back to EVAL after NOSCRIPT, all within `timeout`. */
  #run(what: string, keys: string[], args: string[]): Promise<unknown> {
    const redis = this.#redis;
    const call = async (): Promise<unknown> => {
      try {
        return await redis.evalsha(SCRIPT_SHA, keys.length, ...keys, ...args);
      } catch (error) {
        if (!isNoScript(error)) throw error;
        return redis.eval(GCRA_SCRIPT, keys.length, ...keys, ...args);
      }
    };
    return withTimeout(call, this.timeout, `RedisBackend.${what}`);
  }
}

function checkNow(now: unknown, where: string): string {
  if (now === undefined) return '';
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw new RangeError(`${where}: \`now\` must be a finite number of ms, got ${String(now)}`);
  }
  return String(now);
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

function parseNumber(value: unknown): number {
  if (value === 'inf') return Number.POSITIVE_INFINITY;
  const n = typeof value === 'string' ? Number(value) : Number.NaN;
  if (Number.isNaN(n)) {
    throw new FreqLimitError(
      'REDIS_BAD_REPLY',
      `RedisBackend: unexpected script reply value ${JSON.stringify(value)}`,
    );
  }
  return n;
}

function decode(reply: unknown, count: number): MultiReservation {
  if (!Array.isArray(reply) || reply.length !== 3 + 5 * count) {
    throw new FreqLimitError(
      'REDIS_BAD_REPLY',
      `RedisBackend: unexpected script reply (expected ${3 + 5 * count} strings)`,
    );
  }
  const each: Reservation[] = [];
  for (let i = 0; i < count; i++) {
    const b = 3 + 5 * i;
    each.push({
      allowed: reply[b] === '1',
      delay: parseNumber(reply[b + 1]),
      retryAfter: parseNumber(reply[b + 2]),
      remaining: parseNumber(reply[b + 3]),
      resetAfter: parseNumber(reply[b + 4]),
    });
  }
  return {
    allowed: reply[0] === '1',
    delay: parseNumber(reply[1]),
    retryAfter: parseNumber(reply[2]),
    each,
  };
}

/**
 * `key`, or for a key over {@link MAX_KEY_BYTES} UTF-8 bytes `#` + its SHA-256 (base64url).
 * A hash tag `{…}` of the key is kept in front of the hash (unless the prefix already has
 * one), so hashing never moves a key to another Cluster slot than its tag chose.
 */
function shortKey(key: string, prefixHasBrace: boolean): string {
  if (key.length * 3 <= MAX_KEY_BYTES || Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES) {
    return key;
  }
  const digest = createHash('sha256').update(key, 'utf8').digest('base64url');
  const tag = prefixHasBrace ? undefined : hashTag(key);
  return tag === undefined || tag.length > 64 ? `#${digest}` : `{${tag}}#${digest}`;
}

/** The Redis Cluster hash tag of a key: what lies between its first `{` and the next `}`. */
function hashTag(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return undefined;
  return key.slice(open + 1, close);
}

/** CRC16/XMODEM, the checksum Redis Cluster uses for key slots. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/** The Redis Cluster slot (0–16383) of a key. */
export function clusterSlot(key: string): number {
  const tag = hashTag(key);
  return crc16(Buffer.from(tag ?? key, 'utf8')) % 16384;
}

function checkOneSlot(keys: string[]): void {
  const slots = keys.map(clusterSlot);
  if (slots.every((s) => s === slots[0])) return;
  const list = keys.map((k, i) => `"${k}" (slot ${slots[i]})`).join(', ');
  throw new FreqLimitError(
    'REDIS_CROSS_SLOT',
    `RedisBackend.reserveMany: on Redis Cluster the keys of several limits must share one slot, because they are reserved atomically in one script; got ${list}. Put a hash tag in the key (e.g. a key function returning "{user42}") or in the prefix (e.g. "{freqlimit}:")`,
  );
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
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
