/**
 * @module bench/http/server
 * One HTTP server for the throughput bench: `node server.mjs <framework> <variant> <mode>`.
 *
 * - `framework`: `express` | `koa` | `hono` (Hono on @hono/node-server).
 * - `variant`: `bare`, `freqlimit`, or a peer (see `variants.mjs`).
 * - `mode`: `open` — limits so high that nothing is ever held or rejected, so limited ÷ bare
 *   is the limiter's pure overhead; `tight` — a limit of one or two requests a minute, used
 *   by the orchestrator to prove the variant really limits.
 *
 * Every variant of a framework uses the same framework modules, the same route and the same
 * handler; the limiter is mounted the way its docs show, with its defaults (headers included)
 * except the numbers. The server listens on 127.0.0.1 on a free port, reports it over IPC, and
 * answers `{ type: 'stats' }` with how many requests its handler served, how many of them had
 * been held, and the CPU time (µs, user + system) the process has used.
 */

import { createServer } from 'node:http';
import { send } from '../lib/child.mjs';
import { SLOW_DOWN_DELAY_MS, VARIANTS } from './variants.mjs';

/** No limit is ever reached at this count (per window or per second). */
const HUGE = 1_000_000_000;
/** Long windows for the peers' counters (ms). */
const WINDOW_MS = 60_000;

/**
 * freqlimit's options: in `open` mode a million per second with an equal burst (the TAT moves
 * 1 µs per request and never gets near the tolerance); in `tight` mode one request a minute
 * and no holding, so the second request gets 429.
 *
 * @param {'open' | 'tight'} mode
 */
function freqlimitOptions(mode) {
  return mode === 'open'
    ? { limit: 1_000_000, period: 1_000, burst: 1_000_000 }
    : { limit: 1, period: 60_000, maxDelay: 0 };
}

const stats = { served: 0, held: 0 };

/** @param {{ delay?: number } | undefined} info */
function note(info) {
  stats.served++;
  if (info !== undefined && info.delay > 0) stats.held++;
}

/**
 * @param {string} variant
 * @param {'open' | 'tight'} mode
 */
async function expressApp(variant, mode) {
  const { default: express } = await import('express');
  const app = express();
  const open = mode === 'open';
  /** @type {(req: any) => { delay?: number } | undefined} */
  let info = () => undefined;
  if (variant === 'express-rate-limit') {
    const { rateLimit } = await import('express-rate-limit');
    app.use(rateLimit({ windowMs: WINDOW_MS, limit: open ? HUGE : 2 }));
  } else if (variant === 'express-slow-down') {
    const { slowDown } = await import('express-slow-down');
    app.use(
      slowDown({
        windowMs: WINDOW_MS,
        delayAfter: open ? HUGE : 1,
        delayMs: () => SLOW_DOWN_DELAY_MS,
      }),
    );
    info = (req) => req.slowDown;
  } else if (variant === 'rate-limiter-flexible') {
    // rate-limiter-flexible ships no Express middleware; its docs show this one.
    const { RateLimiterMemory } = await import('rate-limiter-flexible');
    const limiter = new RateLimiterMemory({ points: open ? HUGE : 2, duration: WINDOW_MS / 1000 });
    app.use((req, res, next) => {
      limiter.consume(req.ip).then(
        () => next(),
        () => res.status(429).send('Too Many Requests'),
      );
    });
  } else if (variant === 'freqlimit') {
    const { freqLimit } = await import('@freqlimit/express');
    app.use(freqLimit(freqlimitOptions(mode)));
    info = (req) => req.freqLimit;
  } else if (variant !== 'bare') {
    throw new Error(`unknown express variant ${variant}`);
  }
  if (open) {
    app.get('/', (req, res) => {
      note(info(req));
      res.send('ok');
    });
  } else {
    // Tight mode: the delay the limiter says it applied, for the check to compare.
    app.get('/', (req, res) => {
      note(info(req));
      res.json({ delay: info(req)?.delay ?? null });
    });
  }
  return app;
}

/**
 * @param {string} variant
 * @param {'open' | 'tight'} mode
 */
async function koaApp(variant, mode) {
  const { default: Koa } = await import('koa');
  const app = new Koa();
  const open = mode === 'open';
  let held = false;
  if (variant === 'koa-ratelimit') {
    const { default: ratelimit } = await import('koa-ratelimit');
    app.use(
      ratelimit({ driver: 'memory', db: new Map(), duration: WINDOW_MS, max: open ? HUGE : 2 }),
    );
  } else if (variant === 'freqlimit') {
    const { freqLimit } = await import('@freqlimit/koa');
    app.use(freqLimit(freqlimitOptions(mode)));
    held = true;
  } else if (variant !== 'bare') {
    throw new Error(`unknown koa variant ${variant}`);
  }
  app.use((ctx) => {
    note(held ? ctx.state.freqLimit : undefined);
    ctx.body = 'ok';
  });
  return app.callback();
}

/**
 * @param {string} variant
 * @param {'open' | 'tight'} mode
 */
async function honoApp(variant, mode) {
  const { Hono } = await import('hono');
  const app = new Hono();
  const open = mode === 'open';
  let held = false;
  if (variant === 'hono-rate-limiter') {
    const { rateLimiter } = await import('hono-rate-limiter');
    const { getConnInfo } = await import('@hono/node-server/conninfo');
    app.use(
      rateLimiter({
        windowMs: WINDOW_MS,
        limit: open ? HUGE : 2,
        // hono-rate-limiter has no default key; the client address as its docs suggest.
        keyGenerator: (c) => getConnInfo(c).remote.address ?? '',
      }),
    );
  } else if (variant === 'freqlimit') {
    const { freqLimit } = await import('@freqlimit/hono');
    app.use(freqLimit(freqlimitOptions(mode)));
    held = true;
  } else if (variant !== 'bare') {
    throw new Error(`unknown hono variant ${variant}`);
  }
  app.get('/', (c) => {
    note(held ? c.get('freqLimit') : undefined);
    return c.text('ok');
  });
  return app;
}

async function listen(framework, variant, mode) {
  if (framework === 'hono') {
    const app = await honoApp(variant, mode);
    const { serve } = await import('@hono/node-server');
    const server = await new Promise((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    return server.address().port;
  }
  const handler =
    framework === 'express' ? await expressApp(variant, mode) : await koaApp(variant, mode);
  const server = createServer(handler);
  await new Promise((resolve) =>
    server.listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, resolve),
  );
  return server.address().port;
}

const [framework, variant, mode] = process.argv.slice(2);
if (!VARIANTS[framework]?.includes(variant) || (mode !== 'open' && mode !== 'tight')) {
  throw new Error(`usage: server.mjs <${Object.keys(VARIANTS).join('|')}> <variant> <open|tight>`);
}
process.on('message', (message) => {
  if (message?.type === 'stats') {
    const { user, system } = process.cpuUsage();
    send({ type: 'stats', ...stats, cpu: user + system });
  }
});
listen(framework, variant, mode).then(
  (port) => send({ type: 'ready', port }),
  (error) => {
    send({ type: 'error', message: error.stack ?? String(error) });
    process.exit(1);
  },
);
