/**
 * @module bench/hold/server
 * The hold-precision server: `node server.mjs <framework> <requests> <spreadMs> <primeMs>`. One
 * freqlimit middleware whose limit spreads `requests` requests from one client over
 * `spreadMs` (burst 1, maxDelay and maxHeld large enough to hold them all at once). The
 * handler notes how late it runs against the request's emission time: the moment its
 * reservation was made (stamped by a thin subclass of InMemoryBackend) plus the delay the
 * middleware reports (`req.freqLimit`, `ctx.state.freqLimit`, `c.get('freqLimit')`).
 * `{ type: 'stats' }` over IPC answers every lateness in ms.
 */

import { createServer } from 'node:http';
import { InMemoryBackend } from '@freqlimit/core';
import { send } from '../lib/child.mjs';

/**
 * An InMemoryBackend that stamps each reservation with the clock reading it was made at, and
 * primes each key on first sight: it reserves it ahead until the next request would wait
 * `primeMs`, so that every request of the burst arrives (and is held) before the first one is
 * due, and lateness measures holding, not the time it takes to accept 1,000 connections.
 */
class StampedBackend extends InMemoryBackend {
  #primed = new Set();

  constructor(primeMs) {
    super();
    this.primeMs = primeMs;
  }

  reserveSync(key, params, options = {}) {
    const now = options.now ?? performance.now();
    if (!this.#primed.has(key)) {
      this.#primed.add(key);
      for (let i = 0; i < 1_000_000; i++) {
        if (super.reserveSync(key, params, { now }).delay >= this.primeMs) break;
      }
    }
    const reservation = super.reserveSync(key, params, { ...options, now });
    reservation.reservedAt = now;
    return reservation;
  }
  // `reserve` is InMemoryBackend's own (it calls reserveSync), so the middleware keeps its
  // synchronous fast path: what an app on the default backend runs.
}

const [framework, requestsArg, spreadArg, primeArg] = process.argv.slice(2);
const requests = Number(requestsArg);
const spreadMs = Number(spreadArg);
const options = {
  limit: requests,
  period: spreadMs,
  burst: 1,
  maxDelay: Number(primeArg) + spreadMs + 10_000,
  maxHeld: requests + 100,
  backend: new StampedBackend(Number(primeArg)),
};

const lateness = [];
let unstamped = 0;
let held = 0;
/** Handler starts before the last request arrived (the burst was not all held at once). */
let early = 0;
let lastArrival = 0;
const starts = [];

/**
 * @param {number} start when the handler runs (performance.now())
 * @param {number} arrivedAt when the first middleware saw the request
 * @param {{ delay: number, reservation: { reservedAt?: number } } | undefined} info
 */
function note(start, arrivedAt, info) {
  if (info === undefined) throw new Error('the freqlimit decision is missing from the request');
  let reservedAt = info.reservation.reservedAt;
  if (reservedAt === undefined) {
    // The core copied the reservation: fall back to the arrival time (an upper bound).
    unstamped++;
    reservedAt = arrivedAt;
  }
  if (info.delay > 0) held++;
  lateness.push(start - (reservedAt + info.delay));
  starts.push(start);
}

async function handler() {
  if (framework === 'express') {
    const { default: express } = await import('express');
    const { freqLimit } = await import('@freqlimit/express');
    const app = express();
    app.use((req, _res, next) => {
      lastArrival = performance.now();
      req.arrivedAt = lastArrival;
      next();
    });
    app.use(freqLimit(options));
    app.get('/', (req, res) => {
      note(performance.now(), req.arrivedAt, req.freqLimit);
      res.send('ok');
    });
    return app;
  }
  if (framework === 'koa') {
    const { default: Koa } = await import('koa');
    const { freqLimit } = await import('@freqlimit/koa');
    const app = new Koa();
    app.use((ctx, next) => {
      lastArrival = performance.now();
      ctx.state.arrivedAt = lastArrival;
      return next();
    });
    app.use(freqLimit(options));
    app.use((ctx) => {
      note(performance.now(), ctx.state.arrivedAt, ctx.state.freqLimit);
      ctx.body = 'ok';
    });
    return app.callback();
  }
  if (framework === 'hono') {
    const { Hono } = await import('hono');
    const { freqLimit } = await import('@freqlimit/hono');
    const app = new Hono();
    app.use(async (c, next) => {
      lastArrival = performance.now();
      c.set('arrivedAt', lastArrival);
      await next();
    });
    app.use(freqLimit(options));
    app.get('/', (c) => {
      note(performance.now(), c.get('arrivedAt'), c.get('freqLimit'));
      return c.text('ok');
    });
    const { getRequestListener } = await import('@hono/node-server');
    return getRequestListener(app.fetch);
  }
  throw new Error(`unknown framework ${framework}`);
}

process.on('message', (message) => {
  if (message?.type === 'stats') {
    early = starts.filter((t) => t < lastArrival).length;
    send({ type: 'stats', lateness, unstamped, held, early });
  }
});
handler().then(
  (listener) => {
    const server = createServer(listener);
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () =>
      send({ type: 'ready', port: server.address().port }),
    );
  },
  (error) => {
    send({ type: 'error', message: error.stack ?? String(error) });
    process.exit(1);
  },
);
