/**
 * @module @freqlimit/express
 * Express 4 and 5 middleware that holds a request for exactly the delay GCRA reserved for it,
 * and answers 429 with `Retry-After` only when that delay would exceed `maxDelay`.
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
import type { Request, RequestHandler, Response } from 'express';

export {
  type BackendErrorMode,
  type FreqLimitBackend,
  type FreqLimitInfo,
  type HeadersMode,
  InMemoryBackend,
  type InMemoryBackendOptions,
  ipKey,
  type KeyResult,
  type LimitOption,
  type LimitState,
  type Reservation,
} from '@freqlimit/core';

declare global {
  namespace Express {
    interface Request {
      /** The rate-limit decision for this request, set by `freqLimit()` (absent when not limited). */
      freqLimit?: FreqLimitInfo;
    }
  }
}

/**
 * Replaces the default 429 response. Called after the status (429), the rate-limit headers and
 * `Retry-After` are set; it must send the response. May be async; a throw goes to `next(err)`.
 */
export type OnRejected = (req: Request, res: Response, info: FreqLimitInfo) => unknown;

/** Options of {@link freqLimit}: see the package README for every field with examples. */
export interface FreqLimitOptions extends FreqLimitMiddlewareOptions<Request, OnRejected> {
  /**
   * The client's key (string or number, maybe async); `null`/`undefined` → this request is not
   * limited. Default: `req.ip` (so Express `trust proxy` applies), IPv6 by its /56 prefix,
   * IPv4-mapped IPv6 as IPv4.
   */
  keyFn?: (req: Request) => KeyResult | Promise<KeyResult>;
  /** `true` (maybe async) → this request is not limited. Default: every request is limited. */
  skip?: (req: Request) => boolean | Promise<boolean>;
  /** Cells a request consumes (finite, > 0), or a function of the request. Default 1. */
  cost?: number | ((req: Request) => number | Promise<number>);
  /** Replaces the default 429 JSON response: `(req, res, info)`. Default: none. */
  onRejected?: OnRejected;
}

const NAME = '@freqlimit/express';

function setHeaders(res: Response, headers: HeaderPair[], withContentType: boolean): void {
  for (const [name, value] of headers) {
    if (!withContentType && name === 'Content-Type') continue;
    const existing = LIST_HEADER_FIELDS.has(name) ? res.getHeader(name) : undefined;
    res.setHeader(name, typeof existing === 'string' ? `${existing}, ${value}` : value);
  }
}

function defaultKey(req: Request): KeyResult {
  const ip = req.ip;
  if (typeof ip !== 'string' || ip === '') {
    throw new Error(
      `${NAME}: the request has no client address (req.ip is empty); pass \`keyFn\` to say how to key it`,
    );
  }
  // A non-IP value (e.g. a trusted proxy's opaque client id) is still a usable key.
  return ipKey(ip) ?? ip;
}

/**
 * Creates the middleware. Options are validated here; a bad option throws a `TypeError` or
 * `RangeError` naming it.
 *
 * @example
 * import express from 'express';
 * import { freqLimit } from '@freqlimit/express';
 *
 * const app = express();
 * app.use(freqLimit({ limit: 10, period: 1_000, burst: 5, maxDelay: 2_000 }));
 * app.post('/login', freqLimit({ name: 'login', limit: 5, period: 60_000 }), login);
 */
export function freqLimit(options: FreqLimitOptions): RequestHandler {
  const limiter = new RequestLimiter<Request, OnRejected>(options, { name: NAME, defaultKey });
  const onRejected = limiter.onRejected;

  /** Resolves `true` when the next handler should run. */
  async function handle(req: Request, res: Response): Promise<boolean> {
    const decision = await limiter.decide(req);
    if (decision.action === 'next') return true;
    req.freqLimit = decision.info;
    if (decision.action === 'reject') {
      if (decision.status === 429 && onRejected !== undefined && decision.info !== undefined) {
        setHeaders(res, decision.headers, false);
        res.status(429);
        await onRejected(req, res, decision.info);
      } else {
        setHeaders(res, decision.headers, true);
        res.status(decision.status).end(decision.body);
      }
      return false;
    }
    setHeaders(res, decision.headers, false);
    if (decision.action === 'hold') {
      // `res` 'close' before the response is sent means the client went away.
      const controller = new AbortController();
      const abort = (): void => controller.abort();
      res.once('close', abort);
      if (req.socket.destroyed) abort();
      const held = await limiter.hold(decision, controller.signal);
      res.off('close', abort);
      if (held === undefined) return false;
      res.setHeader('Server-Timing', serverTiming(held));
    }
    return true;
  }

  return (req, res, next) => {
    handle(req, res).then((proceed) => {
      if (proceed) next();
    }, next);
  };
}
