/**
 * @module request-limiter
 * The middleware engine every adapter shares: key → skip → cost → one reservation → an
 * {@link Instruction}, then the hold. An adapter reads its request, calls {@link
 * RequestLimiter.decide}, and writes what the instruction says.
 */

import { BACKEND_COOL_DOWN_MS, BackendFailover } from './failover.js';
import type { HeaderPair } from './headers.js';
import {
  createInstructor,
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
  resolveMiddlewareOptions,
} from './middleware-options.js';
import type { ClosableResponse } from './node-response.js';
import { checkCost, type FreqLimitParams } from './params.js';
import { refundAll, sleepUntil } from './reservations.js';

function toKey(value: KeyResult, where: string, label: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new TypeError(
    `${where}: ${label} must return a string, a number, null or undefined, got ${typeof value}`,
  );
}

/**
 * The request logic of one middleware instance. Options are validated and resolved once, in
 * the constructor; {@link decide} and {@link hold} do the per-request work.
 */
export class RequestLimiter<Ctx, OnRejected = never> {
  /** The resolved, frozen options. */
  readonly config: MiddlewareConfig<Ctx, OnRejected>;
  readonly #failover: BackendFailover;
  readonly #instruct: ReturnType<typeof createInstructor>;
  /** Requests being held now. */
  #held = 0;
  /** Reservations under way that may still turn into holds (counted against `maxHeld`). */
  #pending = 0;

  constructor(options: FreqLimitMiddlewareOptions<Ctx, OnRejected>, adapter: AdapterSpec<Ctx>) {
    const config = resolveMiddlewareOptions(options, adapter);
    this.config = config;
    const mode = config.onBackendError;
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
    this.#instruct = createInstructor(config.limits, config.headers);
  }

  /** Requests currently held by this middleware. */
  get held(): number {
    return this.#held;
  }

  /**
   * Decides what to do with a request. Rejects (so the framework's error path runs, with
   * nothing reserved) when `keyFn`, `skip` or `cost` throws or returns something invalid.
   * Every `'hold'` instruction must be passed to {@link hold}.
   */
  async decide(ctx: Ctx): Promise<Instruction> {
    const config = this.config;
    if (config.skip !== undefined && (await config.skip(ctx)) === true) return NEXT;
    const limits = config.limits;
    const keys: string[] = [];
    const clientKeys: string[] = [];
    const params: FreqLimitParams[] = [];
    const applied: number[] = [];
    for (let i = 0; i < limits.length; i++) {
      const limit = limits[i]!;
      const key = toKey(await limit.key(ctx), config.where, limit.keyLabel);
      if (key === undefined) continue;
      clientKeys.push(key);
      keys.push(limit.prefix + key);
      params.push(limit.params);
      applied.push(i);
    }
    if (keys.length === 0) return NEXT;
    const cost =
      typeof config.cost === 'number'
        ? config.cost
        : checkCost(await config.cost(ctx), `${config.where}: cost(ctx)`);

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
    if (result.reservation === undefined) {
      return config.onBackendError === 'reject' ? UNAVAILABLE : NEXT;
    }
    const instruction = this.#instruct({
      reservation: result.reservation,
      applied,
      clientKeys,
      sentAt,
      wallNow: Date.now(),
      refund: { backend: result.backend, keys, params, cost },
    });
    if (instruction.kind === 'hold') this.#held++;
    return instruction;
  }

  /**
   * Holds a request until its emission time. Resolves with the `Server-Timing` field to add
   * (how long the request was held), or `undefined` when `signal` aborted first — the client
   * left: the reservation has been refunded and the next handler must not run. Never rejects.
   */
  async hold(instruction: HoldInstruction, signal?: AbortSignal): Promise<HeaderPair | undefined> {
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
}
