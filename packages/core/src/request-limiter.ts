/**
 * @module request-limiter
 * The middleware engine every adapter shares: key → skip → params → cost → one reservation →
 * an {@link Instruction}, then the hold; and the state controls (`reset`, `peek`, `block`)
 * every adapter's middleware carries. An adapter reads its request, calls {@link
 * RequestLimiter.decide}, and writes what the instruction says.
 */

import type { LimitStatus } from './backend.js';
import {
  BACKEND_COOL_DOWN_MS,
  BackendFailover,
  isConfigurationError,
  type Reserved,
  type Unreserved,
} from './failover.js';
import type { HeaderPair } from './headers.js';
import {
  createInstructor,
  type DecisionEvent,
  type HoldInstruction,
  type Instruction,
  NEXT,
  serverTiming,
  UNAVAILABLE,
} from './instruction.js';
import {
  type AdapterSpec,
  type FreqLimitMiddlewareOptions,
  type KeyResult,
  type MiddlewareConfig,
  type ResolvedLimit,
  resolveMiddlewareOptions,
} from './middleware-options.js';
import type { ClosableResponse } from './node-response.js';
import { createObserver } from './observer.js';
import { checkCost, type FreqLimitParams } from './params.js';
import {
  type AbortSignalLike,
  backendMethod,
  refundAll,
  type SyncReserver,
  sleepUntil,
  syncReserver,
} from './reservations.js';

/** Whether a user function's result must be awaited (most are synchronous). */
const isThenable = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof value === 'object' && value !== null && typeof (value as Promise<T>).then === 'function';

/** A request's limits as resolved so far (parallel arrays, one entry per applied limit). */
interface Draft {
  keys: string[];
  clientKeys: string[];
  params: FreqLimitParams[];
  applied: number[];
}

const newDraft = (): Draft => ({ keys: [], clientKeys: [], params: [], applied: [] });

function toKey(value: KeyResult, where: string, label: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new TypeError(
    `${where}: ${label} must return a string, a number, null or undefined, got ${typeof value}`,
  );
}

/** The state controls every adapter's middleware carries (see `RequestLimiter`). */
export interface LimiterControls<Ctx> {
  /** Forgets `key` on every limit of the middleware: its next request sees a full burst. */
  reset(key: string | number): Promise<void>;
  /**
   * What `key` looks like on each limit right now (one `LimitStatus`; an array, in order, for
   * several limits). Changes nothing. Dynamic params need the request as `ctx`.
   */
  peek(key: string | number, ctx?: Ctx): Promise<LimitStatus | LimitStatus[]>;
  /**
   * Lets nothing of `key` pass for `ms` on every limit (never shortening a longer wait).
   * Dynamic params need the request as `ctx`.
   */
  block(key: string | number, ms: number, ctx?: Ctx): Promise<void>;
}

/**
 * The request logic of one middleware instance. Options are validated and resolved once, in
 * the constructor; {@link decide} and {@link hold} do the per-request work.
 */
export class RequestLimiter<Ctx, OnRejected = never> implements LimiterControls<Ctx> {
  /** The resolved, frozen options. */
  readonly config: MiddlewareConfig<Ctx, OnRejected>;
  readonly #failover: BackendFailover;
  readonly #instruct: ReturnType<typeof createInstructor>;
  readonly #observe: ((event: DecisionEvent, ctx: Ctx) => void) | undefined;
  readonly #mode: 'allow' | 'reject' | 'fallback';
  /** Requests being held now. */
  #held = 0;
  /** Reservations under way that may still turn into holds (counted against `maxHeld`). */
  #pending = 0;
  /** The backend's synchronous reservation, when it has one (`InMemoryBackend`): no promise. */
  readonly #reserveSync: SyncReserver | undefined;

  constructor(options: FreqLimitMiddlewareOptions<Ctx, OnRejected>, adapter: AdapterSpec<Ctx>) {
    const config = resolveMiddlewareOptions(options, adapter);
    this.config = config;
    const mode = config.onBackendError;
    this.#mode = typeof mode === 'string' ? mode : 'fallback';
    const label = typeof mode === 'string' ? mode : 'fallback backend';
    this.#failover = new BackendFailover(
      config.backend,
      typeof mode === 'string' ? undefined : mode,
      (error) => {
        console.error(
          `${config.where}: backend failed for "${config.name}" (onBackendError: ${label}; not asked again for ${BACKEND_COOL_DOWN_MS} ms; reported at most once a minute):`,
          error,
        );
      },
    );
    this.#instruct = createInstructor(config.limits, config.headers, config.dryRun);
    this.#observe = createObserver(config.onDecision, config.where);
    this.#reserveSync = syncReserver(config.backend);
  }

  /** Requests currently held by this middleware. */
  get held(): number {
    return this.#held;
  }

  /**
   * Decides what to do with a request. Synchronous (an {@link Instruction}) while every user
   * function and the backend are — the in-memory fast path — else a promise of it. Rejects
   * (never throws: so the framework's error path runs, with nothing reserved) when `keyFn`,
   * `skip`, `cost` or a dynamic param throws or gives something invalid. Every `'hold'`
   * instruction must be passed to {@link hold}.
   */
  decide(ctx: Ctx): Instruction | Promise<Instruction> {
    try {
      return this.#decide(ctx);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #decide(ctx: Ctx): Instruction | Promise<Instruction> {
    const skip = this.config.skip;
    if (skip !== undefined) {
      const skipped = skip(ctx);
      if (isThenable(skipped)) {
        return skipped.then((s) => (s === true ? NEXT : this.#limitsFrom(ctx, 0, newDraft())));
      }
      if (skipped === true) return NEXT;
    }
    return this.#limitsFrom(ctx, 0, newDraft());
  }

  /** Resolves the key and params of limits `i`… in order; synchronous while they are. */
  #limitsFrom(ctx: Ctx, i: number, draft: Draft): Instruction | Promise<Instruction> {
    const limits = this.config.limits;
    for (; i < limits.length; i++) {
      const raw = limits[i]!.key(ctx);
      const at = i;
      if (isThenable(raw)) return raw.then((value) => this.#keyed(ctx, at, draft, value));
      const pending = this.#add(ctx, at, draft, raw);
      if (pending !== undefined) return pending.then(() => this.#limitsFrom(ctx, at + 1, draft));
    }
    return this.#costed(ctx, draft);
  }

  #keyed(ctx: Ctx, i: number, draft: Draft, value: KeyResult): Instruction | Promise<Instruction> {
    const pending = this.#add(ctx, i, draft, value);
    if (pending !== undefined) return pending.then(() => this.#limitsFrom(ctx, i + 1, draft));
    return this.#limitsFrom(ctx, i + 1, draft);
  }

  /** Adds limit `i` under `value`, if it is a key; a promise while its params are resolved. */
  #add(ctx: Ctx, i: number, draft: Draft, value: KeyResult): Promise<void> | undefined {
    const limit = this.config.limits[i]!;
    const key = toKey(value, this.config.where, limit.keyLabel);
    if (key === undefined) return undefined;
    draft.clientKeys.push(key);
    draft.keys.push(limit.prefix + key);
    draft.applied.push(i);
    const params = typeof limit.params === 'function' ? limit.params(ctx) : limit.params;
    if (isThenable(params)) return params.then((p) => void draft.params.push(p));
    draft.params.push(params);
    return undefined;
  }

  #costed(ctx: Ctx, draft: Draft): Instruction | Promise<Instruction> {
    if (draft.keys.length === 0) return NEXT;
    const { cost, where } = this.config;
    if (typeof cost === 'number') return this.#reserve(ctx, draft, cost);
    const raw = cost(ctx);
    if (isThenable(raw)) {
      return raw.then((value) =>
        this.#reserve(ctx, draft, checkCost(value, `${where}: cost(ctx)`)),
      );
    }
    return this.#reserve(ctx, draft, checkCost(raw, `${where}: cost(ctx)`));
  }

  #reserve(ctx: Ctx, draft: Draft, cost: number): Instruction | Promise<Instruction> {
    const config = this.config;
    // At the cap nothing more may be held: only a request that passes at once gets through.
    const capped = this.#held + this.#pending >= config.maxHeld;
    const maxDelay = capped ? 0 : config.maxDelay;
    const sync = this.#reserveSync;
    if (
      sync !== undefined &&
      (draft.keys.length === 1 || sync.many) &&
      !this.#failover.coolingDown
    ) {
      try {
        const reservation = sync(draft.keys, draft.params, cost, maxDelay);
        // A hold is counted from after the call: the backend read its clock before that, so
        // the release is never early (a GC pause inside the call only makes it later), and a
        // request that is not held reads no clock here at all.
        const at = reservation.allowed && reservation.delay > 0 ? performance.now() : 0;
        return this.#conclude(ctx, draft, cost, at, { reservation, backend: config.backend });
      } catch (error) {
        if (isConfigurationError(error)) throw error;
        this.#failover.failed(error); // the fallback (or onBackendError) answers below
      }
    }
    if (!capped) this.#pending++;
    const pending = this.#failover.reserve(draft.keys, draft.params, cost, maxDelay);
    // Counted from just after the call: an in-process backend has read its clock by then (never
    // early), a remote one (Redis) has only been sent the call (its round trip is not added).
    const sentAt = performance.now();
    return pending.then(
      (result) => {
        if (!capped) this.#pending--;
        return this.#conclude(ctx, draft, cost, sentAt, result);
      },
      (error: unknown) => {
        if (!capped) this.#pending--;
        throw error;
      },
    );
  }

  /** The instruction for a reservation (or a backend failure), reported to `onDecision`. */
  #conclude(
    ctx: Ctx,
    draft: Draft,
    cost: number,
    sentAt: number,
    result: Reserved | Unreserved,
  ): Instruction {
    const config = this.config;
    const observe = this.#observe;
    if (result.reservation === undefined) {
      const mode = this.#mode;
      const dryRun = config.dryRun;
      const { name } = config;
      observe?.(
        { outcome: 'backend-error', name, info: undefined, error: result.error, mode, dryRun },
        ctx,
      );
      return mode === 'reject' && !dryRun ? UNAVAILABLE : NEXT;
    }
    const { keys, params } = draft;
    const instruction = this.#instruct({
      reservation: result.reservation,
      applied: draft.applied,
      clientKeys: draft.clientKeys,
      sentAt,
      refund: { backend: result.backend, keys, params, cost },
    });
    if (observe !== undefined) {
      const { info, kind } = instruction;
      const name = config.name;
      const dryRun = config.dryRun;
      observe(
        'error' in result
          ? { outcome: 'backend-error', name, info, error: result.error, mode: 'fallback', dryRun }
          : { outcome: kind, name, info, dryRun },
        ctx,
      );
    }
    if (config.dryRun) return { kind: 'pass', info: instruction.info, headers: [] };
    if (instruction.kind === 'hold') this.#held++;
    return instruction;
  }

  /**
   * Holds a request until its emission time. Resolves with the `Server-Timing` field to add
   * (how long the request was held), or `undefined` when `signal` aborted first — the client
   * left: the reservation has been refunded and the next handler must not run. Never rejects.
   */
  async hold(
    instruction: HoldInstruction,
    signal?: AbortSignalLike,
  ): Promise<HeaderPair | undefined> {
    try {
      await sleepUntil(instruction.deadline, signal);
    } catch {
      const { backend, keys, params, cost } = instruction.refund;
      refundAll(backend, keys, params, cost, (error) => this.#failover.failed(error));
      return undefined;
    } finally {
      this.#held--;
    }
    return serverTiming(performance.now() - instruction.deadline + instruction.delay);
  }

  /**
   * {@link hold}, for a request answered through a Node `ServerResponse` (Express, Koa): a
   * `close` of `res` before the response finished means the client left.
   */
  async holdResponse(
    instruction: HoldInstruction,
    res: ClosableResponse,
  ): Promise<HeaderPair | undefined> {
    const controller = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) controller.abort();
    };
    res.once('close', onClose);
    if (res.destroyed || res.socket?.destroyed === true) controller.abort();
    try {
      return await this.hold(instruction, controller.signal);
    } finally {
      res.off('close', onClose);
    }
  }

  /**
   * Forgets `key` (the client key, before namespacing) on every limit, on the backend and on a
   * fallback backend if there is one. Like express-rate-limit's `resetKey`.
   */
  async reset(key: string | number): Promise<void> {
    const name = this.#clientKey(key, 'reset');
    await Promise.all(
      this.#failover.backends.flatMap((backend) =>
        this.config.limits.map((limit) =>
          backendMethod(backend, 'reset', this.config.where)(limit.prefix + limit.controlKey(name)),
        ),
      ),
    );
  }

  /** What `key` looks like on each limit right now, on the backend. Changes nothing. */
  async peek(key: string | number, ctx?: Ctx): Promise<LimitStatus | LimitStatus[]> {
    const name = this.#clientKey(key, 'peek');
    const backend = this.config.backend;
    const peek = backendMethod(backend, 'peek', this.config.where);
    const limits = this.config.limits;
    const all = await Promise.all(
      limits.map(async (limit) =>
        peek(limit.prefix + limit.controlKey(name), await this.#params(limit, ctx, 'peek')),
      ),
    );
    return limits.length === 1 ? all[0]! : all;
  }

  /**
   * Lets nothing of `key` pass before `ms` from now, on every limit, on the backend and on a
   * fallback backend if there is one; a longer wait is never shortened.
   */
  async block(key: string | number, ms: number, ctx?: Ctx): Promise<void> {
    const name = this.#clientKey(key, 'block');
    const limits = this.config.limits;
    const params = await Promise.all(limits.map((limit) => this.#params(limit, ctx, 'block')));
    await Promise.all(
      this.#failover.backends.flatMap((backend) =>
        limits.map((limit, i) =>
          backendMethod(backend, 'block', this.config.where)(
            limit.prefix + limit.controlKey(name),
            params[i]!,
            ms,
          ),
        ),
      ),
    );
  }

  #clientKey(key: unknown, what: string): string {
    if (typeof key === 'number') return String(key);
    if (typeof key !== 'string') {
      throw new TypeError(
        `${this.config.where}: ${what}(key) needs a string or number key, got ${typeof key}`,
      );
    }
    return key;
  }

  #params(limit: ResolvedLimit<Ctx>, ctx: Ctx | undefined, what: string) {
    if (typeof limit.params !== 'function') return limit.params;
    if (ctx === undefined) {
      throw new TypeError(
        `${this.config.where}: limit "${limit.policy}" has dynamic params, so ${what}() needs the request: pass it as the last argument`,
      );
    }
    return limit.params(ctx);
  }
}

/**
 * `middleware` carrying the limiter's `reset`, `peek` and `block` as properties, e.g.
 * `const login = freqLimit({ name: 'login', … }); … await login.reset(req.ip);`.
 */
export function withControls<M extends object, Ctx>(
  middleware: M,
  limiter: LimiterControls<Ctx>,
): M & LimiterControls<Ctx> {
  const controls: LimiterControls<Ctx> = {
    reset: (key) => limiter.reset(key),
    peek: (key, ctx) => limiter.peek(key, ctx),
    block: (key, ms, ctx) => limiter.block(key, ms, ctx),
  };
  return Object.assign(middleware, controls);
}
