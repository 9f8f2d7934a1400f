/**
 * @module middleware-options
 * The options every freqlimit middleware takes, and their resolution, once per middleware
 * instance, into a frozen {@link MiddlewareConfig}. This is the one place that knows every
 * option: its default, its validation and its error message.
 */

import type { FreqLimitBackend } from './backend.js';
import { InMemoryBackend } from './backends/memory.js';
import { NoClientAddressError } from './errors.js';
import { type BackendErrorMode, isBackend } from './failover.js';
import { HEADER_MODES, type HeadersMode } from './headers.js';
import type { DecisionEvent } from './instruction.js';
import { ipKey } from './ip.js';
import { checkCost, checkMaxDelay, FreqLimitParams } from './params.js';
import { keyPrefix } from './reservations.js';

/** A value, or a promise of it: user functions may be sync or async. */
export type MaybePromise<T> = T | Promise<T>;

/** What a key function returns: a key, or `null`/`undefined` for "not limited". */
export type KeyResult = string | number | null | undefined;

/**
 * A number, or a function of the request giving it (maybe async): a dynamic limit, e.g.
 * `limit: (req) => plans[req.user.plan]`. A function that throws or gives an invalid value
 * fails the request (500), reserving nothing.
 */
export type Dynamic<Ctx> = number | ((ctx: Ctx) => MaybePromise<number>);

/** One limit of the `limits` option. */
export interface LimitOption<Ctx> {
  /** Events per `period`; integer ≥ 1, or a function of the request. */
  limit: Dynamic<Ctx>;
  /** Length of the period in ms; finite, > 0, or a function of the request. */
  period: Dynamic<Ctx>;
  /** Events that may pass back to back on an idle key; integer ≥ 1 (or a function). Default 1. */
  burst?: Dynamic<Ctx>;
  /** Key of this limit (overrides `keyFn`); `null`/`undefined` → this limit does not apply. */
  key?: (ctx: Ctx) => MaybePromise<KeyResult>;
}

/** Options shared by the Express, Koa and Hono middleware; `Ctx` is the framework's context. */
export interface FreqLimitMiddlewareOptions<Ctx, OnRejected = never> {
  /**
   * Events per `period` (one limit); integer ≥ 1, or a function of the request (maybe async).
   * Use either `limit`/`period`/`burst` or `limits`.
   */
  limit?: Dynamic<Ctx>;
  /** Length of the period in ms (one limit); finite, > 0, or a function of the request. */
  period?: Dynamic<Ctx>;
  /** Events that may pass back to back on an idle key (one limit), or a function. Default 1. */
  burst?: Dynamic<Ctx>;
  /** Several limits at once, all of which must allow a request. */
  limits?: ReadonlyArray<LimitOption<Ctx>>;
  /** The client's key; `null`/`undefined` → not limited. Default: the client IP address. */
  keyFn?: (ctx: Ctx) => MaybePromise<KeyResult>;
  /** Cells a request consumes (finite, > 0), or a function of the request. Default 1. */
  cost?: number | ((ctx: Ctx) => MaybePromise<number>);
  /** Ms a request may be held before it is rejected instead. Default 1000. */
  maxDelay?: number;
  /** Where state lives. Default: one `InMemoryBackend` per middleware instance. */
  backend?: FreqLimitBackend;
  /** Namespace in the backend and policy name in headers (printable ASCII). Default `'default'`. */
  name?: string;
  /** `true` (maybe async) → this request is not limited. */
  skip?: (ctx: Ctx) => MaybePromise<boolean>;
  /** Rate-limit header fields to send. Default `'draft-10'`. */
  headers?: HeadersMode;
  /** Replaces the default 429 response (the signature depends on the framework). */
  onRejected?: OnRejected;
  /** `'allow'` (default), `'reject'` (503), or a fallback backend. */
  onBackendError?: BackendErrorMode;
  /** Requests this middleware may hold at once; at the cap, `maxDelay` is 0. Default 1000. */
  maxHeld?: number;
  /**
   * `true`: decide and record every request as usual, but never hold or reject one and send no
   * rate-limit headers; the decision (with `dryRun: true`) is still on the request and passed
   * to `onDecision`. For rolling a limit out on live traffic. Default `false`.
   */
  dryRun?: boolean;
  /**
   * Called synchronously once per decision (`'pass'`, `'hold'`, `'reject'`, `'backend-error'`)
   * with the request, e.g. to count them in Prometheus. A throw is reported, never fails the
   * request. Not called for requests that were skipped or had no key.
   */
  onDecision?: (event: DecisionEvent, ctx: Ctx) => void;
}

/**
 * Every option name, checked by the compiler against {@link FreqLimitMiddlewareOptions}: adding
 * an option to the interface without listing it here (or the reverse) does not compile.
 */
const KNOWN_OPTIONS: {
  readonly [K in keyof Required<FreqLimitMiddlewareOptions<unknown, unknown>>]: true;
} = {
  limit: true,
  period: true,
  burst: true,
  limits: true,
  keyFn: true,
  cost: true,
  maxDelay: true,
  backend: true,
  name: true,
  skip: true,
  headers: true,
  onRejected: true,
  onBackendError: true,
  maxHeld: true,
  dryRun: true,
  onDecision: true,
};

/** Every field of a `limits` entry, checked by the compiler against {@link LimitOption}. */
const KNOWN_LIMIT_FIELDS: { readonly [K in keyof Required<LimitOption<unknown>>]: true } = {
  limit: true,
  period: true,
  burst: true,
  key: true,
};

/** What an adapter tells the core about its framework. */
export interface AdapterSpec<Ctx> {
  /** The package name, used in every error message, e.g. `'@freqlimit/express'`. */
  name: string;
  /** The client address of a request, as the framework exposes it (empty: none). */
  clientAddress: (ctx: Ctx) => string | null | undefined;
  /** Says where the address was looked for and how to key requests instead (no address found). */
  noAddress: string;
}

/** How a limit gets its params: fixed at factory time, or resolved per request. */
export type ParamsSource<Ctx> = FreqLimitParams | ((ctx: Ctx) => MaybePromise<FreqLimitParams>);

/** One limit, resolved. */
export interface ResolvedLimit<Ctx> {
  /** Policy name in headers: the middleware `name`, or `name-1`, `name-2`… for several limits. */
  readonly policy: string;
  /** Prepended to the client key to make the backend key. */
  readonly prefix: string;
  /** The key function of this limit. */
  readonly key: (ctx: Ctx) => MaybePromise<KeyResult>;
  /** How `key` is named in error messages. */
  readonly keyLabel: string;
  /**
   * The client key `reset`/`peek`/`block` are given, as this limit's key function would have
   * keyed it: for the default key the address through `ipKey` (so `reset(req.ip)` reaches an
   * IPv6 client's /56), unchanged for a `keyFn`.
   */
  readonly controlKey: (key: string) => string;
  /** The params: static (precomputed), or a function of the request for dynamic limits. */
  readonly params: ParamsSource<Ctx>;
}

/** Every option of one middleware instance, validated, defaulted and frozen. */
export interface MiddlewareConfig<Ctx, OnRejected = never> {
  /** The adapter's package name, for messages. */
  readonly where: string;
  readonly name: string;
  readonly limits: readonly ResolvedLimit<Ctx>[];
  readonly cost: number | ((ctx: Ctx) => MaybePromise<number>);
  readonly skip: ((ctx: Ctx) => MaybePromise<boolean>) | undefined;
  readonly maxDelay: number;
  readonly maxHeld: number;
  readonly backend: FreqLimitBackend;
  readonly onBackendError: BackendErrorMode;
  readonly headers: HeadersMode;
  readonly onRejected: OnRejected | undefined;
  readonly dryRun: boolean;
  readonly onDecision: ((event: DecisionEvent, ctx: Ctx) => void) | undefined;
}

/** Default `maxHeld`: requests one middleware instance may hold at once. */
export const DEFAULT_MAX_HELD = 1000;
/** Default `maxDelay` of the middleware, in ms. */
export const DEFAULT_MAX_DELAY = 1000;

/**
 * Names in use per backend, to warn when two middleware instances share state by accident:
 * `false` once a name is in use, `true` once the warning for it has been given (only once).
 */
const namesByBackend = new WeakMap<object, Map<string, boolean>>();

function checkFunction(value: unknown, field: string, where: string): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(`${where}: \`${field}\` must be a function, got ${typeof value}`);
  }
}

/** A client address as the default key keys it (a non-IP value is used as it is). */
const addressKey = (address: string): string => ipKey(address) ?? address;
const sameKey = (key: string): string => key;

/** The default key of an adapter: the client address, IPv6 by its /56, IPv4-mapped as IPv4. */
function defaultKey<Ctx>(adapter: AdapterSpec<Ctx>): (ctx: Ctx) => string {
  return (ctx) => {
    const address = adapter.clientAddress(ctx);
    if (typeof address !== 'string' || address === '') {
      throw new NoClientAddressError(`${adapter.name}: ${adapter.noAddress}`);
    }
    // A non-IP value (e.g. a trusted proxy's opaque client id) is still a usable key.
    return addressKey(address);
  };
}

/** Resolved params met before, per limit: a few plans give a few params objects, not one per request. */
const PARAMS_CACHE_SIZE = 64;

/**
 * The params of one limit: precomputed when `limit`, `period` and `burst` are numbers (the
 * fast path), else a function resolving them per request. Static parts are checked here.
 */
function paramsSource<Ctx>(l: LimitOption<Ctx>, where: string): ParamsSource<Ctx> {
  const { limit, period, burst } = l;
  if (typeof limit !== 'function' && typeof period !== 'function' && typeof burst !== 'function') {
    return new FreqLimitParams({ limit, period, burst }, where);
  }
  // Check the static parts now, with placeholders for the dynamic ones.
  const one = (v: Dynamic<Ctx> | undefined) => (typeof v === 'function' ? 1 : v);
  new FreqLimitParams({ limit: one(limit)!, period: one(period)!, burst: one(burst) }, where);
  const cache = new Map<string, FreqLimitParams>();
  const build = (limit: unknown, period: unknown, burst: unknown): FreqLimitParams => {
    const id = `${limit}|${period}|${burst}`;
    let params = cache.get(id);
    if (params === undefined) {
      const init = { limit, period, burst } as { limit: number; period: number; burst?: number };
      params = new FreqLimitParams(init, `${where} (resolved for this request)`);
      if (cache.size >= PARAMS_CACHE_SIZE) cache.clear();
      cache.set(id, params);
    }
    return params;
  };
  const value = (v: Dynamic<Ctx> | undefined, ctx: Ctx) => (typeof v === 'function' ? v(ctx) : v);
  const isThenable = (v: unknown): v is Promise<unknown> =>
    typeof v === 'object' && v !== null && typeof (v as Promise<unknown>).then === 'function';
  return (ctx) => {
    const l = value(limit, ctx);
    const p = value(period, ctx);
    const b = value(burst, ctx);
    if (!isThenable(l) && !isThenable(p) && !isThenable(b)) return build(l, p, b);
    return Promise.all([l, p, b]).then(([l2, p2, b2]) => build(l2, p2, b2));
  };
}

function resolveLimits<Ctx>(
  options: FreqLimitMiddlewareOptions<Ctx, unknown>,
  where: string,
): ReadonlyArray<LimitOption<Ctx>> {
  if (options.limits === undefined) {
    if (options.limit === undefined || options.period === undefined) {
      throw new TypeError(
        `${where}: \`limit\` and \`period\` (ms) are required (or pass \`limits\`)`,
      );
    }
    return [{ limit: options.limit, period: options.period, burst: options.burst }];
  }
  if (options.limit !== undefined || options.period !== undefined || options.burst !== undefined) {
    throw new TypeError(
      `${where}: pass either \`limits\` or \`limit\`/\`period\`/\`burst\`, not both`,
    );
  }
  if (!Array.isArray(options.limits) || options.limits.length === 0) {
    throw new TypeError(
      `${where}: \`limits\` must be a non-empty array of { limit, period, burst?, key? }`,
    );
  }
  return options.limits;
}

function checkBackends(config: MiddlewareConfig<unknown, unknown>, explicit: boolean): void {
  const { where, backend, onBackendError, limits } = config;
  if (explicit && !isBackend(backend)) {
    throw new TypeError(`${where}: \`backend\` must implement reserve() and refund()`);
  }
  if (onBackendError !== 'allow' && onBackendError !== 'reject' && !isBackend(onBackendError)) {
    throw new TypeError(`${where}: \`onBackendError\` must be 'allow', 'reject' or a backend`);
  }
  if (limits.length < 2) return;
  for (const b of [backend, onBackendError]) {
    if (isBackend(b) && typeof b.reserveMany !== 'function') {
      throw new TypeError(
        `${where}: backend ${b.constructor?.name ?? 'object'} has no reserveMany(), so it cannot enforce several limits`,
      );
    }
  }
}

/** Warns (once per backend and name) when a second middleware takes a name already in use. */
function warnSharedName(backend: FreqLimitBackend, name: string, where: string): void {
  let names = namesByBackend.get(backend);
  if (names === undefined) {
    names = new Map();
    namesByBackend.set(backend, names);
  }
  const warned = names.get(name);
  if (warned === false) {
    console.warn(
      `${where}: another middleware already uses name "${name}" on this backend, so the two share their limits. Give each its own \`name\` unless that is intended.`,
    );
  }
  names.set(name, warned !== undefined);
}

/**
 * Validates and resolves middleware options, once, at factory time. Throws a `TypeError` or
 * `RangeError` naming the option at fault. Never mutates `options`.
 */
export function resolveMiddlewareOptions<Ctx, OnRejected>(
  options: FreqLimitMiddlewareOptions<Ctx, OnRejected>,
  adapter: AdapterSpec<Ctx>,
): MiddlewareConfig<Ctx, OnRejected> {
  const where = adapter.name;
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${where}: options must be an object, got ${String(options)}`);
  }
  for (const field of Object.keys(options)) {
    if (!Object.hasOwn(KNOWN_OPTIONS, field)) {
      throw new TypeError(`${where}: unknown option \`${field}\``);
    }
  }
  const name = options.name ?? 'default';
  if (typeof name !== 'string' || !/^[\x20-\x7e]+$/.test(name)) {
    throw new TypeError(
      `${where}: \`name\` must be a non-empty string of printable ASCII, got ${String(name)}`,
    );
  }
  checkFunction(options.keyFn, 'keyFn', where);
  checkFunction(options.skip, 'skip', where);
  checkFunction(options.onRejected, 'onRejected', where);
  checkFunction(options.onDecision, 'onDecision', where);
  if (options.dryRun !== undefined && typeof options.dryRun !== 'boolean') {
    throw new TypeError(`${where}: \`dryRun\` must be a boolean, got ${typeof options.dryRun}`);
  }
  const keyFn = options.keyFn ?? defaultKey(adapter);
  const keyLabel = options.keyFn === undefined ? 'the default key' : 'keyFn';
  const list = resolveLimits(options, where);
  const count = list.length;
  const limits = list.map((l, i): ResolvedLimit<Ctx> => {
    // Entries of `limits` are named in messages, even when there is only one.
    const entry = options.limits === undefined ? where : `${where} limits[${i}]`;
    if (l === null || typeof l !== 'object') {
      throw new TypeError(
        `${where}: \`limits[${i}]\` must be an object { limit, period, burst?, key? }, got ${String(l)}`,
      );
    }
    for (const field of Object.keys(l)) {
      if (!Object.hasOwn(KNOWN_LIMIT_FIELDS, field)) {
        throw new TypeError(
          `${where}: unknown field \`limits[${i}].${field}\` (known: limit, period, burst, key)`,
        );
      }
    }
    checkFunction(l.key, `limits[${i}].key`, where);
    return Object.freeze({
      policy: count === 1 ? name : `${name}-${i + 1}`,
      prefix: keyPrefix(name, i, count),
      key: l.key ?? keyFn,
      keyLabel: l.key === undefined ? keyLabel : `limits[${i}].key`,
      controlKey: l.key === undefined && options.keyFn === undefined ? addressKey : sameKey,
      params: paramsSource(l, entry),
    });
  });

  const cost = options.cost ?? 1;
  if (typeof cost !== 'function') checkCost(cost, where);
  const maxHeld = options.maxHeld ?? DEFAULT_MAX_HELD;
  if (
    typeof maxHeld !== 'number' ||
    !(Number.isInteger(maxHeld) || maxHeld === Number.POSITIVE_INFINITY) ||
    maxHeld < 0
  ) {
    throw new RangeError(
      `${where}: \`maxHeld\` must be an integer ≥ 0 (or Infinity), got ${String(maxHeld)}`,
    );
  }
  const headers = options.headers === undefined ? 'draft-10' : options.headers;
  if (!HEADER_MODES.includes(headers)) {
    throw new TypeError(
      `${where}: \`headers\` must be 'draft-10', 'draft-8', 'draft-6', 'legacy' or false, got ${String(headers)}`,
    );
  }
  const config: MiddlewareConfig<Ctx, OnRejected> = {
    where,
    name,
    limits: Object.freeze(limits),
    cost,
    skip: options.skip,
    maxDelay: checkMaxDelay(options.maxDelay ?? DEFAULT_MAX_DELAY, where),
    maxHeld,
    backend: options.backend ?? new InMemoryBackend(),
    onBackendError: options.onBackendError ?? 'allow',
    headers,
    onRejected: options.onRejected,
    dryRun: options.dryRun === true,
    onDecision: options.onDecision,
  };
  // `null` means "not given", as for every option resolved with `??` above.
  const explicit = options.backend !== undefined && options.backend !== null;
  checkBackends(config as MiddlewareConfig<unknown, unknown>, explicit);
  if (explicit) warnSharedName(options.backend!, name, where);
  return Object.freeze(config);
}
