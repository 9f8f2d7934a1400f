/**
 * @module http
 * The framework-neutral request logic every adapter shares: key → skip → cost → reserve →
 * pass / hold / reject, with headers, IP keying, `maxHeld` and backend failures. An adapter
 * only reads its request, calls {@link RequestLimiter.decide}, and applies the decision.
 */

import type { FreqLimitBackend, MultiReservation, Reservation } from './backend.js';
import { InMemoryBackend } from './backends/memory.js';
import {
  ceilSeconds,
  createHeaderBuilder,
  HEADER_MODES,
  type HeaderPair,
  type HeadersMode,
} from './headers.js';
import { backendKeyPrefix } from './limiter.js';
import { checkCost, checkMaxDelay, FreqLimitParams } from './params.js';

type MaybePromise<T> = T | Promise<T>;

/** What a key function returns: a key, or `null`/`undefined` for "not limited". */
export type KeyResult = string | number | null | undefined;

/** One limit of the `limits` option. */
export interface LimitOption<Ctx> {
  /** Events per `period`; integer ≥ 1. */
  limit: number;
  /** Period in ms. */
  period: number;
  /** Events that may pass back to back on an idle key. Default 1. */
  burst?: number;
  /** Key of this limit (overrides `keyFn`); `null`/`undefined` → this limit does not apply. */
  key?: (ctx: Ctx) => MaybePromise<KeyResult>;
}

/** What happens when the backend throws or times out. */
export type BackendErrorMode = 'allow' | 'reject' | FreqLimitBackend;

/** Options shared by the Express, Koa and Hono middleware; `Ctx` is the framework's context. */
export interface FreqLimitMiddlewareOptions<Ctx, OnRejected = never> {
  /** Events per `period` (one limit). Use either `limit`/`period`/`burst` or `limits`. */
  limit?: number;
  /** Period in ms (one limit). */
  period?: number;
  /** Events that may pass back to back on an idle key (one limit). Default 1. */
  burst?: number;
  /** Several limits at once, all of which must allow a request. */
  limits?: ReadonlyArray<LimitOption<Ctx>>;
  /** The client's key; `null`/`undefined` → not limited. Default: the client IP address. */
  keyFn?: (ctx: Ctx) => MaybePromise<KeyResult>;
  /** Cells a request consumes, or a function of the request. Default 1. */
  cost?: number | ((ctx: Ctx) => MaybePromise<number>);
  /** Ms a request may be held before it is rejected instead. Default 1000. */
  maxDelay?: number;
  /** Where state lives. Default: one `InMemoryBackend` per middleware instance. */
  backend?: FreqLimitBackend;
  /** Namespace in the backend and policy name in headers. Default `'default'`. */
  name?: string;
  /** `true` → this request is not limited. */
  skip?: (ctx: Ctx) => MaybePromise<boolean>;
  /** Rate-limit header fields to send. Default `'draft-10'`. */
  headers?: HeadersMode;
  /** Replaces the default 429 response. */
  onRejected?: OnRejected;
  /** `'allow'` (default), `'reject'` (503), or a fallback backend. */
  onBackendError?: BackendErrorMode;
  /** Requests this middleware may hold at once; at the cap, `maxDelay` is 0. Default 1000. */
  maxHeld?: number;
}

/** The state of one applied limit after a decision. */
export interface LimitState {
  /** Policy name, as in headers. */
  name: string;
  /** The client key (before namespacing). */
  key: string;
  limit: number;
  /** Ms. */
  period: number;
  burst: number;
  /** Unit-cost requests that could still pass right now. */
  remaining: number;
  /** Ms until this limit is back to a full burst. */
  resetAfter: number;
}

/** The decision, available to later handlers and to `onRejected`. */
export interface FreqLimitInfo {
  /** Whether the request was admitted. */
  allowed: boolean;
  /** Ms the request is held (0: passed at once); when rejected, the delay it would have needed. */
  delay: number;
  /** The `Retry-After` value in whole seconds on a 429; `undefined` otherwise (and when `cost > burst`). */
  retryAfter: number | undefined;
  /** The backend's answer. */
  reservation: Reservation | MultiReservation;
  /** The limits that applied to this request. */
  limits: LimitState[];
}

/** Where a held reservation is given back if the client leaves. */
export interface RefundTicket {
  backend: FreqLimitBackend;
  keys: string[];
  params: FreqLimitParams[];
  cost: number;
}

/** What an adapter must do with a request. */
export type Decision =
  | { action: 'next' }
  | { action: 'pass'; info: FreqLimitInfo; headers: HeaderPair[] }
  | {
      action: 'hold';
      info: FreqLimitInfo;
      headers: HeaderPair[];
      /** Ms to hold the request before running the next handler. */
      delay: number;
      refund: RefundTicket;
    }
  | {
      action: 'reject';
      status: 429 | 503;
      info: FreqLimitInfo | undefined;
      headers: HeaderPair[];
      /** The default JSON body. */
      body: string;
    };

/** What an adapter tells the core about its framework. */
export interface AdapterSpec<Ctx> {
  /** Used in error messages, e.g. `'@freqlimit/express'`. */
  name: string;
  /** The default key: the client address of the request. */
  defaultKey: (ctx: Ctx) => KeyResult;
}

/** How long (ms) a failing backend is left alone before it is asked again. */
export const BACKEND_COOL_DOWN_MS = 5_000;
/** At most one backend error report per this many ms. */
const REPORT_EVERY_MS = 60_000;
const DEFAULT_MAX_HELD = 1000;

const NEXT: Decision = { action: 'next' };
const UNAVAILABLE_BODY = '{"error":"Service Unavailable"}';
const JSON_TYPE: HeaderPair = ['Content-Type', 'application/json; charset=utf-8'];

const OPTION_NAMES = new Set([
  'limit',
  'period',
  'burst',
  'limits',
  'keyFn',
  'cost',
  'maxDelay',
  'backend',
  'name',
  'skip',
  'headers',
  'onRejected',
  'onBackendError',
  'maxHeld',
]);

/**
 * Names seen per backend, to warn when two middleware instances would share state by accident:
 * `false` once a name is in use, `true` once the warning for it has been given (only once).
 */
const namesByBackend = new WeakMap<object, Map<string, boolean>>();

function isBackend(value: unknown): value is FreqLimitBackend {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as FreqLimitBackend).reserve === 'function' &&
    typeof (value as FreqLimitBackend).refund === 'function'
  );
}

function checkFunction(value: unknown, field: string, where: string): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(`${where}: \`${field}\` must be a function, got ${typeof value}`);
  }
}

function toKey(value: KeyResult, where: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new TypeError(
    `${where} must return a string, a number, null or undefined, got ${typeof value}`,
  );
}

/** Milliseconds to whole `Retry-After` seconds: at least 1, rounded up (ignoring float noise). */
export function retryAfterSeconds(ms: number): number | undefined {
  return Number.isFinite(ms) ? Math.max(1, ceilSeconds(ms)) : undefined;
}

/** The `Server-Timing` value for a request held `ms`. */
export function serverTiming(ms: number): string {
  return `freqlimit;dur=${Math.round(ms)}`;
}

/**
 * The request logic of one middleware instance. Options are validated and resolved here, once;
 * {@link decide} then does the per-request work.
 */
export class RequestLimiter<Ctx, OnRejected = never> {
  /** The user's `onRejected`, for the adapter to call on a 429. */
  readonly onRejected: OnRejected | undefined;
  /** The namespace (policy name). */
  readonly name: string;
  readonly #adapter: AdapterSpec<Ctx>;
  readonly #params: FreqLimitParams[];
  readonly #prefixes: string[];
  readonly #policyNames: string[];
  readonly #keyFns: Array<(ctx: Ctx) => MaybePromise<KeyResult>>;
  readonly #cost: number | ((ctx: Ctx) => MaybePromise<number>);
  readonly #skip: ((ctx: Ctx) => MaybePromise<boolean>) | undefined;
  readonly #maxDelay: number;
  readonly #maxHeld: number;
  readonly #backend: FreqLimitBackend;
  readonly #onBackendError: BackendErrorMode;
  readonly #headers: ReturnType<typeof createHeaderBuilder>;
  #held = 0;
  #failedUntil = Number.NEGATIVE_INFINITY;
  #reportedAt = Number.NEGATIVE_INFINITY;

  constructor(options: FreqLimitMiddlewareOptions<Ctx, OnRejected>, adapter: AdapterSpec<Ctx>) {
    const where = adapter.name;
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`${where}: options must be an object, got ${String(options)}`);
    }
    for (const field of Object.keys(options)) {
      if (!OPTION_NAMES.has(field)) throw new TypeError(`${where}: unknown option \`${field}\``);
    }
    this.#adapter = adapter;
    const name = options.name ?? 'default';
    if (typeof name !== 'string' || !/^[\x20-\x7e]+$/.test(name)) {
      throw new TypeError(
        `${where}: \`name\` must be a non-empty string of printable ASCII, got ${String(name)}`,
      );
    }
    this.name = name;
    checkFunction(options.keyFn, 'keyFn', where);
    checkFunction(options.skip, 'skip', where);
    checkFunction(options.onRejected, 'onRejected', where);
    const keyFn = options.keyFn ?? adapter.defaultKey;

    let limits: ReadonlyArray<LimitOption<Ctx>>;
    if (options.limits !== undefined) {
      if (
        options.limit !== undefined ||
        options.period !== undefined ||
        options.burst !== undefined
      ) {
        throw new TypeError(
          `${where}: pass either \`limits\` or \`limit\`/\`period\`/\`burst\`, not both`,
        );
      }
      if (!Array.isArray(options.limits) || options.limits.length === 0) {
        throw new TypeError(
          `${where}: \`limits\` must be a non-empty array of { limit, period, burst?, key? }`,
        );
      }
      limits = options.limits;
    } else {
      if (options.limit === undefined || options.period === undefined) {
        throw new TypeError(
          `${where}: \`limit\` and \`period\` (ms) are required (or pass \`limits\`)`,
        );
      }
      limits = [{ limit: options.limit, period: options.period, burst: options.burst }];
    }
    const count = limits.length;
    this.#params = limits.map(
      (l, i) =>
        new FreqLimitParams(
          { limit: l.limit, period: l.period, burst: l.burst },
          count === 1 ? where : `${where} limits[${i}]`,
        ),
    );
    for (const [i, l] of limits.entries()) checkFunction(l.key, `limits[${i}].key`, where);
    this.#keyFns = limits.map((l) => l.key ?? keyFn);
    this.#prefixes = limits.map((_, i) => backendKeyPrefix(name, i, count));
    this.#policyNames = limits.map((_, i) => (count === 1 ? name : `${name}-${i + 1}`));

    const cost = options.cost ?? 1;
    if (typeof cost !== 'function') checkCost(cost, where);
    this.#cost = cost;
    this.#skip = options.skip;
    this.#maxDelay = checkMaxDelay(options.maxDelay ?? 1000, where);
    const maxHeld = options.maxHeld ?? DEFAULT_MAX_HELD;
    if (
      typeof maxHeld !== 'number' ||
      !(Number.isInteger(maxHeld) || maxHeld === Infinity) ||
      maxHeld < 0
    ) {
      throw new RangeError(
        `${where}: \`maxHeld\` must be an integer ≥ 0 (or Infinity), got ${String(maxHeld)}`,
      );
    }
    this.#maxHeld = maxHeld;

    const mode = options.headers === undefined ? 'draft-10' : options.headers;
    if (!HEADER_MODES.includes(mode)) {
      throw new TypeError(
        `${where}: \`headers\` must be 'draft-10', 'draft-8', 'draft-6', 'legacy' or false, got ${String(mode)}`,
      );
    }
    this.#headers = createHeaderBuilder(
      mode,
      this.#params.map((params, i) => ({ name: this.#policyNames[i]!, params })),
    );

    if (options.backend !== undefined && !isBackend(options.backend)) {
      throw new TypeError(`${where}: \`backend\` must implement reserve() and refund()`);
    }
    this.#backend = options.backend ?? new InMemoryBackend();
    const onBackendError = options.onBackendError ?? 'allow';
    if (onBackendError !== 'allow' && onBackendError !== 'reject' && !isBackend(onBackendError)) {
      throw new TypeError(`${where}: \`onBackendError\` must be 'allow', 'reject' or a backend`);
    }
    this.#onBackendError = onBackendError;
    for (const b of [this.#backend, onBackendError]) {
      if (count > 1 && isBackend(b) && typeof b.reserveMany !== 'function') {
        throw new TypeError(
          `${where}: backend ${b.constructor?.name ?? 'object'} has no reserveMany(), so it cannot enforce several limits`,
        );
      }
    }
    this.onRejected = options.onRejected;

    if (options.backend !== undefined) {
      let names = namesByBackend.get(options.backend);
      if (names === undefined) {
        names = new Map();
        namesByBackend.set(options.backend, names);
      }
      const warned = names.get(name);
      if (warned === false) {
        console.warn(
          `${where}: another middleware already uses name "${name}" on this backend, so the two share their limits. Give each its own \`name\` unless that is intended.`,
        );
      }
      names.set(name, warned !== undefined);
    }
  }

  /** Requests currently held by this middleware. */
  get held(): number {
    return this.#held;
  }

  /**
   * Decide what to do with a request. Rejects (so the framework's error path runs, with
   * nothing reserved) when `keyFn`, `skip` or `cost` throws or returns something invalid.
   */
  async decide(ctx: Ctx): Promise<Decision> {
    if (this.#skip !== undefined && (await this.#skip(ctx)) === true) return NEXT;
    const count = this.#params.length;
    const keys: string[] = [];
    const clientKeys: string[] = [];
    const params: FreqLimitParams[] = [];
    const applied: number[] = [];
    for (let i = 0; i < count; i++) {
      const fn = this.#keyFns[i]!;
      const key = toKey(
        await fn(ctx),
        fn === this.#adapter.defaultKey
          ? `${this.#adapter.name}: the default key`
          : `${this.#adapter.name}: keyFn`,
      );
      if (key === undefined) continue;
      clientKeys.push(key);
      keys.push(this.#prefixes[i]! + key);
      params.push(this.#params[i]!);
      applied.push(i);
    }
    if (keys.length === 0) return NEXT;
    const cost =
      typeof this.#cost === 'number'
        ? this.#cost
        : checkCost(await this.#cost(ctx), `${this.#adapter.name}: cost(ctx)`);
    const maxDelay = this.#held >= this.#maxHeld ? 0 : this.#maxDelay;

    let backend = this.#backend;
    let reservation: Reservation | MultiReservation | undefined;
    if (performance.now() >= this.#failedUntil) {
      try {
        reservation = await reserveOn(backend, keys, params, cost, maxDelay);
      } catch (error) {
        this.#backendFailed(error);
      }
    }
    if (reservation === undefined) {
      const mode = this.#onBackendError;
      if (mode === 'allow') return NEXT;
      if (mode === 'reject') {
        return {
          action: 'reject',
          status: 503,
          info: undefined,
          headers: [JSON_TYPE],
          body: UNAVAILABLE_BODY,
        };
      }
      backend = mode;
      try {
        reservation = await reserveOn(backend, keys, params, cost, maxDelay);
      } catch (error) {
        this.#backendFailed(error);
        return NEXT;
      }
    }

    const each = 'each' in reservation ? reservation.each : [reservation];
    const perLimit: Array<Reservation | undefined> = new Array(count);
    const limits: LimitState[] = [];
    for (let j = 0; j < applied.length; j++) {
      const i = applied[j]!;
      const r = each[j]!;
      const p = this.#params[i]!;
      perLimit[i] = r;
      limits.push({
        name: this.#policyNames[i]!,
        key: clientKeys[j]!,
        limit: p.limit,
        period: p.period,
        burst: p.burst,
        remaining: r.remaining,
        resetAfter: r.resetAfter,
      });
    }
    const retryAfter = reservation.allowed ? undefined : retryAfterSeconds(reservation.retryAfter);
    const info: FreqLimitInfo = {
      allowed: reservation.allowed,
      delay: reservation.delay,
      retryAfter,
      reservation,
      limits,
    };
    const headers = this.#headers(perLimit, retryAfter, Date.now());
    if (!reservation.allowed) {
      if (retryAfter !== undefined) headers.push(['Retry-After', String(retryAfter)]);
      headers.push(JSON_TYPE);
      const body =
        retryAfter === undefined
          ? '{"error":"Too Many Requests"}'
          : `{"error":"Too Many Requests","retryAfter":${retryAfter}}`;
      return { action: 'reject', status: 429, info, headers, body };
    }
    if (reservation.delay <= 0) return { action: 'pass', info, headers };
    this.#held++;
    return {
      action: 'hold',
      info,
      headers,
      delay: reservation.delay,
      refund: { backend, keys, params, cost },
    };
  }

  /**
   * Hold a request for its delay. Resolves with the ms actually held, or `undefined` when
   * `signal` aborted first (the client left): then the reservation has been refunded and the
   * next handler must not run. Never rejects.
   */
  hold(
    decision: Extract<Decision, { action: 'hold' }>,
    signal?: AbortSignal,
  ): Promise<number | undefined> {
    const start = performance.now();
    return new Promise((resolve) => {
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.#held--;
        resolve(performance.now() - start);
      };
      const onAbort = (): void => {
        clearTimeout(timer);
        this.#held--;
        const { backend, keys, params, cost } = decision.refund;
        for (let i = 0; i < keys.length; i++) {
          backend
            .refund(keys[i]!, params[i]!, { cost })
            .catch((error: unknown) => this.#backendFailed(error));
        }
        resolve(undefined);
      };
      const timer = setTimeout(done, Math.ceil(decision.delay));
      if (signal !== undefined) {
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  #backendFailed(error: unknown): void {
    const now = performance.now();
    this.#failedUntil = now + BACKEND_COOL_DOWN_MS;
    if (now - this.#reportedAt >= REPORT_EVERY_MS) {
      this.#reportedAt = now;
      const mode =
        typeof this.#onBackendError === 'string' ? this.#onBackendError : 'fallback backend';
      console.error(
        `${this.#adapter.name}: backend failed for "${this.name}" (onBackendError: ${mode}; not asked again for ${BACKEND_COOL_DOWN_MS} ms; reported at most once a minute):`,
        error,
      );
    }
  }
}

function reserveOn(
  backend: FreqLimitBackend,
  keys: string[],
  params: FreqLimitParams[],
  cost: number,
  maxDelay: number,
): Promise<Reservation | MultiReservation> {
  if (keys.length === 1) return backend.reserve(keys[0]!, params[0]!, { cost, maxDelay });
  return backend.reserveMany!(
    keys.map((key, i) => ({ key, params: params[i]!, cost })),
    { maxDelay },
  );
}
