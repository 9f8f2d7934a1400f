/**
 * @module @freqlimit/hono
 * GCRA rate limiting for Hono 4 that holds a request for exactly the time reserved for it and
 * answers 429 only when that would exceed `maxDelay`. Web-standard APIs only, so it runs on
 * Cloudflare Workers, Bun, Deno and Node (`@hono/node-server`).
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
import type { Context, Env, MiddlewareHandler } from 'hono';

export {
  type BackendErrorMode,
  type FreqLimitBackend,
  type FreqLimitInfo,
  FreqLimitParams,
  type HeadersMode,
  InMemoryBackend,
  ipKey,
  type KeyResult,
  type LimitOption,
  type LimitState,
  type MultiReservation,
  type Reservation,
} from '@freqlimit/core';

/** The variable this middleware sets for later handlers: `c.get('freqLimit')`. */
export interface FreqLimitVariables {
  /** The decision on this request; `undefined` when it was not limited (skipped, no key…). */
  freqLimit?: FreqLimitInfo;
}

/**
 * Add to your app's env to type `c.get('freqLimit')`, e.g. `new Hono<FreqLimitEnv>()` or
 * `new Hono<{ Bindings: B; Variables: FreqLimitVariables }>()`. (The package also augments
 * Hono's `ContextVariableMap`, so `c.get('freqLimit')` is typed without this.)
 */
export interface FreqLimitEnv {
  Variables: FreqLimitVariables;
}

declare module 'hono' {
  interface ContextVariableMap {
    freqLimit?: FreqLimitInfo;
  }
}

/**
 * Replaces the default 429 response. Called after the rate-limit headers and `Retry-After`
 * are set on `c`; `info.retryAfter` holds the `Retry-After` seconds.
 */
export type OnRejected<E extends Env = Env> = (
  c: Context<E>,
  info: FreqLimitInfo,
) => Response | Promise<Response>;

/** Options of {@link freqLimit}. Durations are in milliseconds. */
export interface FreqLimitOptions<E extends Env = Env>
  extends FreqLimitMiddlewareOptions<Context<E>, OnRejected<E>> {
  /**
   * The client's key (string or number, maybe async); `null`/`undefined` → not limited.
   * Default: the client address the runtime exposes (`@hono/node-server`'s socket, Bun's
   * `server.requestIP`, Deno's `remoteAddr`, `cf-connecting-ip` on Workers), IPv6 by its /56;
   * where none is found the request fails (500), asking for a `keyFn`.
   */
  keyFn?: (c: Context<E>) => KeyResult | Promise<KeyResult>;
  /** Replaces the default 429 JSON response. Default: none. */
  onRejected?: OnRejected<E>;
}

interface RuntimeEnv {
  /** `@hono/node-server`: the Node `IncomingMessage`. */
  incoming?: { socket?: { remoteAddress?: string } };
  /** Bun (`{ server }` form) and node-server behind some hosts. */
  server?: RuntimeEnv;
  /** Bun: the `Server` itself is passed as env. */
  requestIP?: (request: Request) => { address?: string } | null;
  /** Deno: `Deno.serve`'s handler info. */
  remoteAddr?: { hostname?: string };
}

/** Sets the decision's fields; list fields add to what another freqLimit already set. */
function setHeaders(headers: Headers, pairs: HeaderPair[], withType: boolean): void {
  for (const [name, value] of pairs) {
    if (!withType && name === 'Content-Type') continue;
    if (LIST_HEADER_FIELDS.has(name)) headers.append(name, value);
    else headers.set(name, value);
  }
}

function runtimeAddress(c: Context): string | undefined {
  const env = c.env as RuntimeEnv | undefined;
  if (typeof env !== 'object' || env === null) return undefined;
  const incoming = env.incoming ?? env.server?.incoming;
  if (incoming?.socket) return incoming.socket.remoteAddress;
  const server = env.server ?? env;
  if (typeof server.requestIP === 'function') return server.requestIP(c.req.raw)?.address;
  return env.remoteAddr?.hostname;
}

const NO_ADDRESS =
  '@freqlimit/hono: cannot find the client address on this runtime, so there is no default key. Pass `keyFn`, e.g. `keyFn: (c) => getConnInfo(c).remote.address` with getConnInfo from hono/bun, hono/deno, hono/cloudflare-workers or @hono/node-server/conninfo';

/** A client that left while held never sees this; it only tells outer middleware (loggers). */
const CLIENT_CLOSED = 499;

/**
 * Hono middleware that holds each request for the delay GCRA reserved for it, then runs the
 * next handler (`Server-Timing: freqlimit;dur=<ms>` tells how long); past `maxDelay` it answers
 * 429 with `Retry-After`. The decision is `c.get('freqLimit')`.
 *
 * @example
 * import { Hono } from 'hono';
 * import { freqLimit } from '@freqlimit/hono';
 *
 * const app = new Hono();
 * app.use('/api/*', freqLimit({ limit: 10, period: 1_000, burst: 5, maxDelay: 2_000 }));
 * app.post('/login', freqLimit({ name: 'login', limit: 5, period: 60_000 }), (c) => c.text('ok'));
 */
export function freqLimit<E extends Env = Env>(options: FreqLimitOptions<E>): MiddlewareHandler<E> {
  // Workers put the client address in a header; anywhere else that header is client-supplied.
  const onWorkers =
    typeof navigator !== 'undefined' && navigator.userAgent === 'Cloudflare-Workers';
  const defaultKey = (c: Context<E>): KeyResult => {
    const address = onWorkers ? c.req.header('cf-connecting-ip') : runtimeAddress(c);
    if (!address) throw new Error(NO_ADDRESS);
    return ipKey(address) ?? address;
  };
  const limiter = new RequestLimiter<Context<E>, OnRejected<E>>(options, {
    name: '@freqlimit/hono',
    defaultKey,
  });
  const onRejected = limiter.onRejected;

  return async (c, next) => {
    const decision = await limiter.decide(c);
    if (decision.action === 'next') return next();
    c.set('freqLimit', decision.info);
    // Through `c.res`, so the headers survive a handler that returns a `new Response(...)`.
    const headers = c.res.headers;
    if (decision.action === 'reject') {
      if (onRejected === undefined || decision.info === undefined) {
        setHeaders(headers, decision.headers, true);
        return c.body(decision.body, decision.status);
      }
      setHeaders(headers, decision.headers, false);
      return onRejected(c, decision.info);
    }
    if (decision.action === 'hold') {
      const held = await limiter.hold(decision, c.req.raw.signal);
      if (held === undefined) return new Response(null, { status: CLIENT_CLOSED });
      headers.append('Server-Timing', serverTiming(held));
    }
    setHeaders(headers, decision.headers, true);
    return next();
  };
}
