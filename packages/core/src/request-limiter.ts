/**
 * @module request-limiter
 * The middleware engine every adapter shares: key → skip → params → cost → one reservation →
 * an {@link Instruction}, then the hold; and the state controls (`reset`, `peek`, `block`)
 * every adapter's middleware carries. An adapter reads its request, calls {@link
 * RequestLimiter.decide}, and writes what the instruction says.
 */

import type { LimitStatus } from './backend.js';
import { BACKEND_COOL_DOWN_MS, BackendFailover } from './failover.js';
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
import { type AbortSignalLike, backendMethod, refundAll, sleepUntil } from './reservations.js';

/** Whether a user function's result must be awaited (most are synchronous). */
const isThenable = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof value === 'object' && value !== null && typeof (value as Promise<T>).then === 'function';

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
  }

  /** Requests currently held by this middleware. */
  get held(): number {
    return this.#held;
  }

  /**
   * Decides what to do with a request. Rejects (so the framework's error path runs, with
   * nothing reserved) when `keyFn`, `skip`, `cost` or a dynamic param throws or gives something
   * invalid. Every `'hold'` instruction must be passed to {@link hold}.
   */
  async decide(ctx: Ctx): Promise<Instruction> {
    const config = this.config;
    if (config.skip !== undefined) {
      const skip = config.skip(ctx);
      if ((isThenable(skip) ? await skip : skip) === true) return NEXT;
    }
    const limits = config.limits;
    const keys: string[] = [];
    const clientKeys: string[] = [];
    const params: FreqLimitParams[] = [];
    const applied: number[] = [];
    for (let i = 0; i < limits.length; i++) {
      const limit = limits[i]!;
      const raw = limit.key(ctx);
      const key = toKey(isThenable(raw) ? await raw : raw, config.where, limit.keyLabel);
      if (key === undefined) continue;
      clientKeys.push(key);
      keys.push(limit.prefix + key);
      params.push(typeof limit.params === 'function' ? await limit.params(ctx) : limit.params);
      applied.push(i);
    }
    if (keys.length === 0) return NEXT;
    let cost: number;
    if (typeof config.cost === 'number') {
      cost = config.cost;
    } else {
      const raw = config.cost(ctx);
      cost = checkCost(isThenable(raw) ? await raw : raw, `${config.where}: cost(ctx)`);
    }

    // At the cap nothing more may be held: only a request that passes at once gets through.
    const capped = this.#held + this.#pending >= config.maxHeld;
    const sentAt = performance.now();
    if (!capped) this.#pending++;
    let result: Awaited<ReturnType<BackendFailover['reserve']>>;
    try {
      result = await this.#failover.reserve(keys, params, cost, capped ? 0 : config.maxDelay);
    } finally {
      if (!capped) this.#pending--;
    }
    const observe = this.#observe;
    if (result.reservation === undefined) {
      const mode = this.#mode;
      const dryRun = config.dryRun;
      observe?.(
        {
          outcome: 'backend-error',
          name: config.name,
          info: undefined,
          error: result.error,
          mode,
          dryRun,
        },
        ctx,
      );
      return mode === 'reject' && !dryRun ? UNAVAILABLE : NEXT;
    }
    const instruction = this.#instruct({
      reservation: result.reservation,
      applied,
      clientKeys,
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
          backendMethod(backend, 'reset', this.config.where)(limit.prefix + name),
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
        peek(limit.prefix + name, await this.#params(limit, ctx, 'peek')),
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
          backendMethod(backend, 'block', this.config.where)(limit.prefix + name, params[i]!, ms),
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
