/**
 * One small app per framework (Express, Koa, Hono on @hono/node-server), served over real HTTP
 * on 127.0.0.1, the same routes in each:
 *
 * - `/` (any method) — behind `freqLimit(options)`; answers 200 JSON `{ key, delay }` with the
 *   key and delay of the decision it sees;
 * - `/health` — not limited; answers 200 `ok`.
 *
 * Every decision sets the response header `x-decision` (`pass`, `hold`, `reject`, or
 * `backend-error/<mode>`), so a client can tell which backend answered. Key functions see a
 * framework-neutral {@link RequestView}, so one test can drive all three adapters.
 */

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  DecisionEvent,
  FreqLimitMiddlewareOptions,
  KeyResult,
  LimiterControls,
} from '@freqlimit/core';
import { freqLimit as expressLimit } from '@freqlimit/express';
import { freqLimit as honoLimit } from '@freqlimit/hono';
import { freqLimit as koaLimit } from '@freqlimit/koa';
import { getRequestListener } from '@hono/node-server';
import express, { type NextFunction, type Request, type Response } from 'express';
import { type Context, Hono } from 'hono';
import Koa from 'koa';

/** The three adapters. */
export type AdapterName = 'express' | 'koa' | 'hono';
export const ADAPTERS: readonly AdapterName[] = ['express', 'koa', 'hono'];

/** What a key function sees of a request, whatever the framework. */
export interface RequestView {
  /** A request header (as the framework gives it). */
  header(name: string): string | undefined;
  /** A query parameter, decoded by the framework. */
  query(name: string): string | undefined;
  /** The raw request body (only with `readBody`). */
  body(): Promise<Buffer | undefined>;
}

/** The options of `freqLimit` that are the same in every framework (no function of the request). */
export type SharedOptions = Omit<
  FreqLimitMiddlewareOptions<unknown>,
  'keyFn' | 'skip' | 'cost' | 'limits' | 'onRejected' | 'onDecision' | 'limit' | 'period' | 'burst'
> & { limit: number; period: number; burst?: number; cost?: number };

/** How to build and serve one app. */
export interface AppSpec {
  options: SharedOptions;
  /** The key function, over a {@link RequestView}; omitted: the framework's default (client address). */
  key?: (view: RequestView) => KeyResult | Promise<KeyResult>;
  /** Called for every decision, after the `x-decision` header is set. */
  onDecision?: (event: DecisionEvent) => void;
  /** Express only: the `trust proxy` setting. */
  trustProxy?: boolean | number | string;
  /** Koa only: `app.proxy = true`, with this `app.maxIpsCount` (0: Koa's default, all entries). */
  koaProxy?: { maxIpsCount: number };
  /** Read the raw body before the limiter, for key functions that need it (up to 4 MB). */
  readBody?: boolean;
  /** The HTTP server's `maxHeaderSize` (bytes); Node's default is 16 KiB. */
  maxHeaderSize?: number;
  /** The listen backlog; Node's default is 511. */
  backlog?: number;
  /** Called when each response has been sent: its path, status, server time (ms), Server-Timing. */
  onResponse?: (response: ServedResponse) => void;
}

/** A response as the server sent it (see `onResponse`). */
export interface ServedResponse {
  path: string;
  status: number;
  /** From the request's arrival at the server to the end of its response, ms. */
  ms: number;
  /** `performance.now()` at the end of the response. */
  end: number;
  serverTiming: string | undefined;
}

/** A served app. */
export interface App {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  port: number;
  server: Server;
  /** Errors that reached the framework's error path (answered 500). */
  errors: unknown[];
  /** The middleware's `reset`, `peek`, `block`. */
  controls: LimiterControls<never>;
  /** Stops the server, dropping its connections. Idempotent. */
  close(): Promise<void>;
}

const BODY_LIMIT = 4 * 1024 * 1024;

function decisionLabel(event: DecisionEvent): string {
  return event.outcome === 'backend-error' ? `backend-error/${event.mode}` : event.outcome;
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT) req.destroy(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function handlerBody(info: { limits: Array<{ key: string }>; delay: number } | undefined) {
  return { key: info?.limits[0]?.key ?? null, delay: info?.delay ?? null };
}

function expressApp(spec: AppSpec, errors: unknown[]) {
  const { key, onDecision } = spec;
  const app = express();
  if (spec.trustProxy !== undefined) app.set('trust proxy', spec.trustProxy);
  const view = (req: Request): RequestView => ({
    header: (name) => req.get(name),
    query: (name) => {
      const value = req.query[name];
      return typeof value === 'string' ? value : undefined;
    },
    body: async () => (Buffer.isBuffer(req.body) ? req.body : undefined),
  });
  const limiter = expressLimit({
    ...spec.options,
    ...(key && { keyFn: (req: Request) => key(view(req)) }),
    onDecision: (event, req) => {
      req.res?.setHeader('x-decision', decisionLabel(event));
      onDecision?.(event);
    },
  });
  app.get('/health', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  const body = spec.readBody ? [express.raw({ type: () => true, limit: BODY_LIMIT })] : [];
  app.all('/', ...body, limiter, (req: Request, res: Response) => {
    res.json(handlerBody(req.freqLimit));
  });
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(error);
    res.status(500).json({ error: error.message });
  });
  return { listener: app, controls: limiter };
}

function koaApp(spec: AppSpec, errors: unknown[]) {
  const { key, onDecision } = spec;
  type Ctx = Koa.ParameterizedContext<Koa.DefaultState & { body?: Buffer }>;
  const app = new Koa<Koa.DefaultState & { body?: Buffer }>();
  if (spec.koaProxy) {
    app.proxy = true;
    app.maxIpsCount = spec.koaProxy.maxIpsCount;
  }
  app.silent = true;
  app.on('error', (error: unknown) => errors.push(error));
  const view = (ctx: Ctx): RequestView => ({
    header: (name) => ctx.get(name) || undefined,
    query: (name) => {
      const value = ctx.query[name];
      return typeof value === 'string' ? value : undefined;
    },
    body: async () => ctx.state.body,
  });
  const limiter = koaLimit<Koa.DefaultState & { body?: Buffer }>({
    ...spec.options,
    ...(key && { keyFn: (ctx: Ctx) => key(view(ctx)) }),
    onDecision: (event, ctx) => {
      ctx.set('x-decision', decisionLabel(event));
      onDecision?.(event);
    },
  });
  app.use(async (ctx, next) => {
    if (ctx.path === '/health') {
      ctx.type = 'text/plain';
      ctx.body = 'ok';
      return;
    }
    if (ctx.path !== '/') return;
    if (spec.readBody) ctx.state.body = await readAll(ctx.req);
    await next();
  });
  app.use(limiter);
  app.use((ctx) => {
    ctx.body = handlerBody(ctx.state.freqLimit);
  });
  return { listener: app.callback(), controls: limiter };
}

function honoApp(spec: AppSpec, errors: unknown[]) {
  const { key, onDecision } = spec;
  const app = new Hono();
  const view = (c: Context): RequestView => ({
    header: (name) => c.req.header(name),
    query: (name) => c.req.query(name),
    body: async () => (spec.readBody ? Buffer.from(await c.req.arrayBuffer()) : undefined),
  });
  const limiter = honoLimit({
    ...spec.options,
    ...(key && { keyFn: (c: Context) => key(view(c)) }),
    onDecision: (event, c) => {
      c.header('x-decision', decisionLabel(event));
      onDecision?.(event);
    },
  });
  app.onError((error, c) => {
    errors.push(error);
    return c.json({ error: error.message }, 500);
  });
  app.get('/health', (c) => c.text('ok'));
  app.all('/', limiter, (c) => c.json(handlerBody(c.get('freqLimit'))));
  return { listener: getRequestListener(app.fetch), controls: limiter };
}

/**
 * Serves the app of `adapter` built from `spec` on a free port of 127.0.0.1.
 *
 * @example
 * const app = await serveApp('express', { options: { limit: 1, period: 60_000 } });
 * await fetch(app.url);
 * await app.close();
 */
export async function serveApp(adapter: AdapterName, spec: AppSpec): Promise<App> {
  const errors: unknown[] = [];
  const built =
    adapter === 'express'
      ? expressApp(spec, errors)
      : adapter === 'koa'
        ? koaApp(spec, errors)
        : honoApp(spec, errors);
  const server = createServer(
    spec.maxHeaderSize === undefined ? {} : { maxHeaderSize: spec.maxHeaderSize },
    built.listener,
  );
  const { onResponse } = spec;
  if (onResponse) {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const start = performance.now();
      res.once('finish', () => {
        const timing = res.getHeader('server-timing');
        const end = performance.now();
        onResponse({
          path: req.url ?? '',
          status: res.statusCode,
          ms: end - start,
          end,
          serverTiming: timing === undefined ? undefined : String(timing),
        });
      });
    });
  }
  server.listen({ port: 0, host: '127.0.0.1', backlog: spec.backlog ?? 511 });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    server,
    errors,
    controls: built.controls as unknown as LimiterControls<never>,
    close() {
      closing ??= (async () => {
        server.closeAllConnections();
        const closed = once(server, 'close');
        server.close();
        await closed;
      })();
      return closing;
    },
  };
}
