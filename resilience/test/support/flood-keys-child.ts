/**
 * A child process (run with `--expose-gc`, so heap figures are after a full GC and belong to
 * this flood alone): one app of the given adapter with two limited routes sharing one
 * `InMemoryBackend({ maxKeys })`:
 *
 * - `/single`: one limit on the default key, the client address — Express `trust proxy: 1` and
 *   Koa `app.proxy` with `maxIpsCount: 1` read it from `X-Forwarded-For`; Hono (no proxy
 *   setting) gets it the way `@hono/node-server` exposes it, on the request's socket;
 * - `/multi`: four limits at once (one `reserveMany` per request): per client address (as
 *   above), and per `x-user`, `x-org` and `x-device` through per-limit key functions.
 *
 * `count` requests are dispatched in process through the framework's own app and request
 * objects, every key distinct: one in five on `/single` (one address each), the others on
 * `/multi` (four keys each) — 3.4 × count distinct keys in all. Every 5 % of them, two known
 * clients that used up their burst ask again over real HTTP and must still get 429.
 *
 * Usage: `node --expose-gc --import tsx flood-keys-child.ts <adapter> <count> <maxKeys>`.
 * Prints progress lines, then one JSON line with the figures.
 */

import { once } from 'node:events';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemoryBackend } from '@freqlimit/core';
import { freqLimit as expressLimit } from '@freqlimit/express';
import { freqLimit as honoLimit } from '@freqlimit/hono';
import { freqLimit as koaLimit } from '@freqlimit/koa';
import { getRequestListener } from '@hono/node-server';
import express from 'express';
import { type Context, Hono } from 'hono';
import Koa from 'koa';
import { nodeDispatcher } from './in-process.js';

const [adapter, countArg, maxKeysArg] = process.argv.slice(2);
const count = Number(countArg);
const maxKeys = Number(maxKeysArg);
if (!['express', 'koa', 'hono'].includes(adapter ?? '') || !(count > 0) || !(maxKeys > 0)) {
  throw new Error('usage: flood-keys-child.ts <express|koa|hono> <count> <maxKeys>');
}
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('flood-keys-child.ts needs node --expose-gc');
const heap = (): number => {
  gc();
  return process.memoryUsage().heapUsed;
};

/**
 * One request an hour per key, two back to back: each flood key uses one cell, so it stays
 * stored for the hour (nothing expires during the test: only `maxKeys` bounds memory); each
 * known client uses both, so its state lies an hour further than any flood key's and the
 * eviction (closest to expiry first) takes flood keys before it.
 */
const backend = new InMemoryBackend({ maxKeys });
const hourly = { limit: 1, period: 3_600_000, burst: 2 } as const;
const base = { ...hourly, maxDelay: 0, backend } as const;
const KNOWN_IP = '198.51.100.77';
const KNOWN_USER = 'legit-user';

/** The four limits of `/multi`, given a header reader of the framework. */
function multiOptions<Ctx>(header: (ctx: Ctx, name: string) => string | undefined) {
  return {
    name: 'multi',
    maxDelay: 0,
    backend,
    limits: [
      hourly, // the client address: the default key
      { ...hourly, key: (ctx: Ctx) => header(ctx, 'x-user') },
      { ...hourly, key: (ctx: Ctx) => header(ctx, 'x-org') },
      { ...hourly, key: (ctx: Ctx) => header(ctx, 'x-device') },
    ],
  };
}

let listener: RequestListener;
/** Whether the client address comes from `X-Forwarded-For` (else from the socket). */
let viaProxy = true;

if (adapter === 'express') {
  const app = express();
  app.set('trust proxy', 1);
  app.set('etag', false);
  const ok = (_req: express.Request, res: express.Response) => {
    res.end('ok');
  };
  app.get('/single', expressLimit({ ...base, name: 'single' }), ok);
  app.get('/multi', expressLimit(multiOptions<express.Request>((req, n) => req.get(n))), ok);
  listener = app;
} else if (adapter === 'koa') {
  const app = new Koa();
  app.proxy = true;
  app.maxIpsCount = 1;
  const single = koaLimit({ ...base, name: 'single' });
  const multi = koaLimit(multiOptions<Koa.Context>((ctx, n) => ctx.get(n) || undefined));
  app.use((ctx, next) => (ctx.path === '/single' ? single(ctx, next) : multi(ctx, next)));
  app.use((ctx) => {
    ctx.body = 'ok';
  });
  listener = app.callback();
} else {
  const app = new Hono();
  app.get('/single', honoLimit({ ...base, name: 'single' }), (c) => c.text('ok'));
  app.get('/multi', honoLimit(multiOptions<Context>((c, n) => c.req.header(n))), (c) =>
    c.text('ok'),
  );
  listener = getRequestListener(app.fetch);
  viaProxy = false;
}
const dispatch = nodeDispatcher(listener);

const server = createServer(listener);
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** Headers carrying the client address `ip`, where the app reads it from a header. */
const from = (ip: string): Record<string, string> => (viaProxy ? { 'x-forwarded-for': ip } : {});

let checkNo = 0;
/**
 * The known clients, over real HTTP: [status of the known address on `/single`, status of the
 * known user on `/multi` coming from a fresh address, org and device each time].
 */
async function known(): Promise<[number, number]> {
  checkNo++;
  const single = await fetch(`${url}/single`, { headers: from(KNOWN_IP) });
  const multi = await fetch(`${url}/multi`, {
    headers: {
      ...from(`192.0.2.${checkNo % 250}`),
      'x-user': KNOWN_USER,
      'x-org': `known-org-${checkNo}`,
      'x-device': `known-device-${checkNo}`,
    },
  });
  await Promise.all([single.arrayBuffer(), multi.arrayBuffer()]);
  return [single.status, multi.status];
}

/** Distinct keys the first `n` requests carry: one per `/single`, four per `/multi` request. */
function keysAfter(n: number): number {
  const single = Math.ceil(n / 5);
  return single + 4 * (n - single);
}

/** Request i's distinct address: 10.x.y.z, a bijection of i on 24 bits (so no repeats). */
function floodIp(i: number): string {
  const x = Math.imul(i, 2_654_435_761) & 0xff_ffff;
  return `10.${x >>> 16}.${(x >>> 8) & 255}.${x & 255}`;
}

try {
  const warmUp = [await known(), await known(), await known()];
  const baselineHeap = heap();
  const statuses: Record<number, number> = {};
  const checks: Array<{
    after: number;
    keysSoFar: number;
    single: number;
    multi: number;
    size: number;
    heapMB: number;
  }> = [];
  const checkEvery = Math.max(1, Math.floor(count / 20));
  const BATCH = 500;
  const started = performance.now();
  for (let done = 0; done < count; ) {
    const n = Math.min(BATCH, count - done);
    const batch: Array<Promise<number>> = [];
    for (let j = 0; j < n; j++) {
      const i = done + j;
      const ip = floodIp(i);
      batch.push(
        i % 5 === 0
          ? dispatch('/single', from(ip), ip)
          : dispatch(
              '/multi',
              { ...from(ip), 'x-user': `user-${i}`, 'x-org': `org-${i}`, 'x-device': `dev-${i}` },
              ip,
            ),
      );
    }
    for (const status of await Promise.all(batch)) statuses[status] = (statuses[status] ?? 0) + 1;
    const before = done;
    done += n;
    if (Math.floor(done / checkEvery) > Math.floor(before / checkEvery) || done === count) {
      const [single, multi] = await known();
      const heapMB = Math.round(process.memoryUsage().heapUsed / 1e5) / 10;
      checks.push({
        after: done,
        keysSoFar: keysAfter(done),
        single,
        multi,
        size: backend.size,
        heapMB,
      });
      process.stdout.write(`${JSON.stringify({ progress: done, single, multi })}\n`);
    }
  }
  const ms = performance.now() - started;
  const finalHeap = heap();
  process.stdout.write(
    `${JSON.stringify({
      adapter,
      count,
      distinctKeys: keysAfter(count),
      maxKeys,
      warmUp,
      statuses,
      checks,
      size: backend.size,
      baselineHeap,
      finalHeap,
      ms,
    })}\n`,
  );
} finally {
  server.closeAllConnections();
  server.close();
}
