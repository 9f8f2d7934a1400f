/**
 * @module bench/http/variants
 * The variants of the HTTP bench, per framework (the first is always `bare`).
 */

/** @type {Record<'express' | 'koa' | 'hono', string[]>} */
export const VARIANTS = {
  express: [
    'bare',
    'express-rate-limit',
    'express-slow-down',
    'rate-limiter-flexible',
    'freqlimit',
  ],
  koa: ['bare', 'koa-ratelimit', 'freqlimit'],
  hono: ['bare', 'hono-rate-limiter', 'freqlimit'],
};

/** How long express-slow-down delays a request in `tight` mode (ms). */
export const SLOW_DOWN_DELAY_MS = 300;
