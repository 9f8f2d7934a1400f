/**
 * @module @freqlimit/koa
 * Koa 2 and 3 middleware that holds a request for exactly the delay GCRA reserved for it, and
 * answers 429 with `Retry-After` only when that delay would exceed `maxDelay`.
 */

import {
  type FreqLimitInfo,
  type FreqLimitMiddlewareOptions,
  type HeaderPair,
  ipKey,
  type KeyResult,
  LIST_HEADER_FIELDS,
  RequestLimiter,
  serverTiming,
} from '@freqlimit/core';
import type { DefaultContext, DefaultState, Middleware, ParameterizedContext } from 'koa';

export {
  type BackendErrorMode,
  type FreqLimitBackend,
  type FreqLimitInfo,
  type HeadersMode,
  InMemoryBackend,
  type InMemoryBackendOptions,
  type KeyResult,
  type LimitOption,
  type LimitState,
  type MultiReservation,
  type Reservation,
} from '@freqlimit/core';

/**
 * What the middleware adds to `ctx.state`. Add it to your app's state type to read
 * `ctx.state.freqLimit` typed, e.g. `new Koa<DefaultState & FreqLimitState>()`.
 */
export interface FreqLimitState {
  /** The decision for this request; `undefined` when it was skipped or not limited. */
  freqLimit?: FreqLimitInfo;
}

/** Replaces the default 429 response; status 429 and the rate-limit headers are already set. May be async. */
export type KoaOnRejected<StateT = DefaultState, ContextT = DefaultContext> = (
  ctx: ParameterizedContext<StateT & FreqLimitState, ContextT>,
  info: FreqLimitInfo,
) => void | Promise<void>;

/** Options of {@link freqLimit}; every duration is in ms. */
export interface FreqLimitOptions<StateT = DefaultState, ContextT = DefaultContext>
  extends FreqLimitMiddlewareOptions<
    ParameterizedContext<StateT, ContextT>,
    KoaOnRejected<StateT, ContextT>
  > {
  /**
   * The client's key (string or number, maybe async); `null`/`undefined` → not limited.
   * Default: `ctx.ip` (so `app.proxy` applies), IPv6 by its /56 prefix, IPv4-mapped IPv6 as IPv4.
   */
  keyFn?: (ctx: ParameterizedContext<StateT, ContextT>) => KeyResult | Promise<KeyResult>;
  /**
   * Replaces the default 429 response (`ctx.body` = `{"error":"Too Many Requests","retryAfter":<s>}`).
   * Called with status 429, the rate-limit headers and `Retry-After` already set. Default: none.
   */
  onRejected?: KoaOnRejected<StateT, ContextT>;
}

function defaultKey(ctx: { ip: string }): string {
  const ip = ctx.ip;
  if (!ip) {
    throw new TypeError(
      '@freqlimit/koa: this request has no client address (ctx.ip is empty); pass `keyFn` to key requests yourself',
    );
  }
  // A non-IP value (e.g. a proxy header that is not an address) is used as it is.
  return ipKey(ip) ?? ip;
}

function setHeaders(
  ctx: { set(field: string, value: string): void; response: { get(field: string): unknown } },
  headers: HeaderPair[],
  withType: boolean,
): void {
  for (const [name, value] of headers) {
    if (!withType && name === 'Content-Type') continue;
    // Another freqLimit on this request (e.g. a global one) may have set the list already.
    const existing = LIST_HEADER_FIELDS.has(name) ? ctx.response.get(name) : undefined;
    ctx.set(
      name,
      typeof existing === 'string' && existing !== '' ? `${existing}, ${value}` : value,
    );
  }
}

/**
 * Koa middleware limiting requests with GCRA: a request within the limit passes, one a little
 * over it is held for the reserved delay (then `Server-Timing: freqlimit;dur=<ms>`), one that
 * would wait longer than `maxDelay` gets 429 with `Retry-After`. The decision is on
 * `ctx.state.freqLimit`.
 *
 * @example
 * const app = new Koa();
 * app.use(freqLimit({ limit: 10, period: 1_000, burst: 5, maxDelay: 2_000 }));
 * router.post('/login', freqLimit({ name: 'login', limit: 5, period: 60_000 }), login);
 */
export function freqLimit<StateT = DefaultState, ContextT = DefaultContext>(
  options: FreqLimitOptions<StateT, ContextT>,
): Middleware<StateT & FreqLimitState, ContextT> {
  const limiter = new RequestLimiter(options, { name: '@freqlimit/koa', defaultKey });
  const onRejected = limiter.onRejected;

  return async (ctx, next) => {
    const decision = await limiter.decide(ctx);
    if (decision.action === 'next') return next();
    ctx.state.freqLimit = decision.info;
    if (decision.action === 'reject') {
      ctx.status = decision.status;
      if (onRejected !== undefined && decision.info !== undefined) {
        setHeaders(ctx, decision.headers, false);
        return onRejected(ctx, decision.info);
      }
      setHeaders(ctx, decision.headers, true);
      ctx.body = decision.body;
      return;
    }
    setHeaders(ctx, decision.headers, true);
    if (decision.action === 'hold') {
      // `close` on the response before it finished means the connection went away.
      const { res } = ctx;
      const controller = new AbortController();
      const onClose = (): void => {
        if (!res.writableFinished) controller.abort();
      };
      res.once('close', onClose);
      if (res.destroyed || ctx.req.socket?.destroyed) controller.abort();
      let held: number | undefined;
      try {
        held = await limiter.hold(decision, controller.signal);
      } finally {
        res.off('close', onClose);
      }
      if (held === undefined) return;
      ctx.append('Server-Timing', serverTiming(held));
    }
    return next();
  };
}
