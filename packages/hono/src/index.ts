/**
 * @module @freqlimit/hono
 * GCRA rate limiting for Hono 4 that holds a request for exactly the time reserved for it and
 * answers 429 only when that would exceed `maxDelay`. Web-standard APIs only, so it runs on
 * Cloudflare Workers, Bun, Deno and Node (`@hono/node-server`).
 */

import type { FreqLimitInfo, FreqLimitMiddlewareOptions } from '@freqlimit/core';
import {
  type AdapterSpec,
  type LimiterControls,
  RequestLimiter,
  withControls,
  writeHeaders,
} from '@freqlimit/core/adapter';
import type { Context, Env, MiddlewareHandler } from 'hono';
import * as runtime from './runtime.js';

export * from '@freqlimit/core';

/** The variable this middleware sets for later handlers: `c.get('freqLimit')`. */
export interface FreqLimitVariables {
  /** The decision on this request; `undefined` when it was not limited (skipped, no key…). */
  freqLimit?: FreqLimitInfo;
}

/** Add to your app's env to type `c.get('freqLimit')`, e.g. `new Hono<FreqLimitEnv>()`. */
export interface FreqLimitEnv {
  Variables: FreqLimitVariables;
}

declare module 'hono' {
  interface ContextVariableMap {
    freqLimit?: FreqLimitInfo;
  }
}

/** Replaces the default 429 response; the rate-limit headers and `Retry-After` are already set. */
export type OnRejected<E extends Env = Env> = (
  c: Context<E>,
  info: FreqLimitInfo,
) => Response | Promise<Response>;

/**
 * Options of {@link freqLimit} (see `docs/options.md`). The default key is the address the
 * runtime exposes; where there is none the request fails (500), asking for a `keyFn`.
 */
export type FreqLimitOptions<E extends Env = Env> = FreqLimitMiddlewareOptions<
  Context<E>,
  OnRejected<E>
>;

/** The middleware, with `reset(key)`, `peek(key, c?)` and `block(key, ms, c?)`. */
export type FreqLimitMiddleware<E extends Env = Env> = MiddlewareHandler<E> &
  LimiterControls<Context<E>>;

/** Tells outer middleware (loggers) that the client left while held; it never sees it. */
const CLIENT_CLOSED = 499;

/**
 * Hono middleware that holds each request for the delay GCRA reserved for it, then runs the
 * next handler (`Server-Timing: freqlimit;dur=<ms>` tells how long); past `maxDelay` it answers
 * 429 with `Retry-After`. The decision is `c.get('freqLimit')`.
 *
 * @example
 * const app = new Hono();
 * app.use('/api/*', freqLimit({ limit: 10, period: 1_000, burst: 5, maxDelay: 2_000 }));
 */
export function freqLimit<E extends Env = Env>(
  options: FreqLimitOptions<E>,
): FreqLimitMiddleware<E> {
  const limiter = new RequestLimiter(options, {
    name: '@freqlimit/hono',
    clientAddress: runtime.addressReader(),
    noAddress: runtime.NO_ADDRESS,
  } satisfies AdapterSpec<Context<E>>);
  const { onRejected } = limiter.config;

  const middleware: MiddlewareHandler<E> = async (c, next) => {
    const decided = limiter.decide(c);
    // Awaited only off the in-memory fast path, where the decision is synchronous.
    const step = decided instanceof Promise ? await decided : decided;
    if (step.kind === 'next') return next();
    if (step.kind !== 'unavailable') c.set('freqLimit', step.info);
    const out = runtime.headerTarget(c, step.kind === 'pass' || step.kind === 'hold');
    writeHeaders(step.headers, out);
    if (step.kind === 'hold') {
      const timing = await limiter.hold(step, runtime.leaveSignal(c));
      if (timing === undefined) return new Response(null, { status: CLIENT_CLOSED });
      writeHeaders([timing], out);
      step.headers.push(timing);
    } else if (step.kind !== 'pass') {
      if (step.kind === 'reject' && onRejected) return onRejected(c, step.info);
      return c.body(step.body.text, step.status, { 'Content-Type': step.body.type });
    }
    await next();
    runtime.keepHeaders(c, step.headers);
  };
  return withControls(middleware, limiter);
}
