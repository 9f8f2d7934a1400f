/**
 * @module @freqlimit/koa
 * Koa 2 and 3 middleware that holds a request for exactly the delay GCRA reserved for it, and
 * answers 429 with `Retry-After` only when that delay would exceed `maxDelay`.
 */

import type { FreqLimitInfo, FreqLimitMiddlewareOptions } from '@freqlimit/core';
import {
  type AdapterSpec,
  type LimiterControls,
  RequestLimiter,
  withControls,
  writeHeaders,
} from '@freqlimit/core/adapter';
import type { DefaultContext, DefaultState, Middleware, ParameterizedContext } from 'koa';

export * from '@freqlimit/core';

/**
 * What the middleware adds to `ctx.state`. Add it to your app's state type to read
 * `ctx.state.freqLimit` typed, e.g. `new Koa<DefaultState & FreqLimitState>()`.
 */
export interface FreqLimitState {
  /** The decision for this request; `undefined` when it was skipped or not limited. */
  freqLimit?: FreqLimitInfo;
}

/** Replaces the default 429 response; status 429 and the rate-limit headers are already set. May be async. */
export type OnRejected<StateT = DefaultState, ContextT = DefaultContext> = (
  ctx: ParameterizedContext<StateT & FreqLimitState, ContextT>,
  info: FreqLimitInfo,
) => unknown;

/**
 * Options of {@link freqLimit} (see `docs/options.md`). The default key is `ctx.ip`, so Koa's
 * `app.proxy` setting applies.
 */
export type FreqLimitOptions<
  StateT = DefaultState,
  ContextT = DefaultContext,
> = FreqLimitMiddlewareOptions<
  ParameterizedContext<StateT, ContextT>,
  OnRejected<StateT, ContextT>
>;

/** The middleware, with `reset(key)`, `peek(key, ctx?)` and `block(key, ms, ctx?)`. */
export type FreqLimitMiddleware<StateT = DefaultState, ContextT = DefaultContext> = Middleware<
  StateT & FreqLimitState,
  ContextT
> &
  LimiterControls<ParameterizedContext<StateT, ContextT>>;

const KOA: AdapterSpec<{ ip: string }> = {
  name: '@freqlimit/koa',
  clientAddress: (ctx) => ctx.ip,
  noAddress: 'this request has no client address (ctx.ip is empty); pass `keyFn` to key it',
};

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
): FreqLimitMiddleware<StateT, ContextT> {
  const limiter = new RequestLimiter(options, KOA);
  const { onRejected } = limiter.config;

  const middleware: Middleware<StateT & FreqLimitState, ContextT> = async (ctx, next) => {
    const decided = limiter.decide(ctx);
    // Awaited only off the in-memory fast path, where the decision is synchronous.
    const step = decided instanceof Promise ? await decided : decided;
    if (step.kind === 'next') return next();
    if (step.kind !== 'unavailable') ctx.state.freqLimit = step.info;
    writeHeaders(step.headers, ctx.res);
    if (step.kind === 'hold') {
      const timing = await limiter.holdResponse(step, ctx.res);
      if (timing === undefined) return;
      writeHeaders([timing], ctx.res);
    } else if (step.kind !== 'pass') {
      ctx.status = step.status;
      if (step.kind === 'reject' && onRejected) return onRejected(ctx, step.info);
      ctx.set('Content-Type', step.body.type);
      ctx.body = step.body.text;
      return;
    }
    return next();
  };
  return withControls(middleware, limiter);
}
