/** The adapter suite's harness for Hono on @hono/node-server. */

import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import type { AdapterHarness } from '../../core/test/adapter-suite.js';
import { listening } from '../../core/test/listen.js';
import * as adapter from '../src/index.js';
import { freqLimit, type OnRejected } from '../src/index.js';

/** Serves the middleware with Hono through @hono/node-server. */
export function honoHarness(): AdapterHarness<Context, OnRejected, MiddlewareHandler> {
  return {
    name: '@freqlimit/hono',
    proxySetting: undefined,
    exports: adapter,
    freqLimit,
    header: (c, name) => c.req.header(name),
    respondWith: (status, body) => (c) => c.text(body, status as 418),
    throwing: (error) => async () => {
      throw error;
    },
    async serve(middleware, settings = {}) {
      const app = new Hono();
      let ran = 0;
      const errors: unknown[] = [];
      app.onError((error, c) => {
        errors.push(error);
        return c.text('Internal Server Error', 500);
      });
      for (const m of middleware) app.use(m);
      app.get('/', (c) => {
        ran++;
        return c.json({ freqLimit: c.get('freqLimit') ?? null });
      });
      // Without an env, the app sees no runtime and so no client address.
      const fetch = settings.noAddress ? (req: Request) => app.fetch(req, {}) : app.fetch;
      const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }) as Server;
      return listening(server, () => ran, errors);
    },
  };
}
