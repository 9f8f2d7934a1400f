/**
 * @module @freqlimit/express
 * Express 4 and 5 middleware that holds a request for exactly the delay GCRA reserved for it,
 * and answers 429 with `Retry-After` only when that delay would exceed `maxDelay`.
 */

import type { FreqLimitInfo, FreqLimitMiddlewareOptions } from '@freqlimit/core';
import {
  type AdapterSpec,
  type Instruction,
  type LimiterControls,
  RequestLimiter,
  withControls,
  writeHeaders,
} from '@freqlimit/core/adapter';
import type { Request, RequestHandler, Response } from 'express';

export * from '@freqlimit/core';

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

/**
 * Options of {@link freqLimit} (see `docs/options.md`). The default key is `req.ip`, so
 * Express's `trust proxy` setting applies.
 */
export type FreqLimitOptions = FreqLimitMiddlewareOptions<Request, OnRejected>;

/** The middleware, with `reset(key)`, `peek(key, req?)` and `block(key, ms, req?)`. */
export type FreqLimitMiddleware = RequestHandler & LimiterControls<Request>;

const EXPRESS: AdapterSpec<Request> = {
  name: '@freqlimit/express',
  clientAddress: (req) => req.ip,
  noAddress: 'the request has no client address (req.ip is empty); pass `keyFn` to key it',
};

/**
 * Creates the middleware. Options are validated here; a bad option throws a `TypeError` or
 * `RangeError` naming it. The decision is on `req.freqLimit`.
 *
 * @example
 * import express from 'express';
 * import { freqLimit } from '@freqlimit/express';
 *
 * const app = express();
 * app.use(freqLimit({ limit: 10, period: 1_000, burst: 5, maxDelay: 2_000 }));
 * app.post('/login', freqLimit({ name: 'login', limit: 5, period: 60_000 }), login);
 */
export function freqLimit(options: FreqLimitOptions): FreqLimitMiddleware {
  const limiter = new RequestLimiter(options, EXPRESS);
  const { onRejected } = limiter.config;

  /** Writes what every instruction carries; `true` when the request goes on now. */
  function begin(req: Request, res: Response, step: Instruction): boolean {
    if (step.kind === 'next') return true;
    if (step.kind !== 'unavailable') req.freqLimit = step.info;
    writeHeaders(step.headers, res);
    return step.kind === 'pass';
  }

  /** Holds or answers; resolves `true` when the next handler should run. */
  async function finish(req: Request, res: Response, step: Instruction): Promise<boolean> {
    if (step.kind === 'hold') {
      const timing = await limiter.holdResponse(step, res);
      if (timing !== undefined) writeHeaders([timing], res);
      return timing !== undefined;
    }
    if (step.kind !== 'reject' && step.kind !== 'unavailable') return true;
    res.status(step.status);
    if (step.kind === 'reject' && onRejected) await onRejected(req, res, step.info);
    else res.set('Content-Type', step.body.type).end(step.body.text);
    return false;
  }

  const middleware: RequestHandler = (req, res, next) => {
    const step = limiter.decide(req);
    // The in-memory fast path: a request that passes goes on synchronously, with no promise.
    if (!(step instanceof Promise) && begin(req, res, step)) return next();
    const settled =
      step instanceof Promise
        ? step.then((s) => begin(req, res, s) || finish(req, res, s))
        : finish(req, res, step);
    settled.then((proceed) => proceed && next(), next);
  };

  return withControls(middleware, limiter);
}
