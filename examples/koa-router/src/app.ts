/**
 * @module app
 * A Koa API with per-route limits through @koa/router: a relaxed limit on `/api/*` that holds
 * short bursts instead of refusing them, a strict `/login` limit under its own name that
 * refuses at once, and `/health` with no limit at all.
 */

import {
  type FreqLimitBackend,
  type FreqLimitState,
  freqLimit,
  InMemoryBackend,
} from '@freqlimit/koa';
import Router from '@koa/router';
import Koa, { type DefaultState } from 'koa';

/** The app's state type: `ctx.state.freqLimit` is typed in every handler. */
export type AppState = DefaultState & FreqLimitState;

/** Options of {@link createApp}. */
export interface AppOptions {
  /** Where rate-limit state lives. Default: a new `InMemoryBackend`. */
  backend?: FreqLimitBackend;
}

const ITEMS = [
  { id: 1, name: 'kettle' },
  { id: 2, name: 'teapot' },
];

/** Builds the app; tests pass their own backend. */
export function createApp({ backend = new InMemoryBackend() }: AppOptions = {}): Koa<AppState> {
  const app = new Koa<AppState>();
  // Behind a reverse proxy, set `app.proxy = true` so the limits key by the real client address.

  // Not limited: a health check must answer however busy the API is.
  const root = new Router<AppState>();
  root.get('/health', (ctx) => {
    ctx.body = 'ok';
  });

  // 5 calls/s per client, 10 back to back. Past that a call waits its turn (200 ms per call)
  // for up to 2 s before it gets a 429. An export costs as much as 5 calls.
  const api = new Router<AppState>({ prefix: '/api' });
  api.use(
    freqLimit({
      name: 'api',
      limit: 5,
      period: 1_000,
      burst: 10,
      maxDelay: 2_000,
      cost: (ctx) => (ctx.path === '/api/export' ? 5 : 1),
      backend,
    }),
  );
  api.get('/items', (ctx) => {
    const info = ctx.state.freqLimit;
    ctx.body = { items: ITEMS, heldMs: info?.delay ?? 0, remaining: info?.limits[0]?.remaining };
  });
  api.get('/export', (ctx) => {
    ctx.body = ITEMS.map((item) => `${item.id},${item.name}`).join('\n');
  });

  // 5 attempts/min per client, never held: guessing passwords should not merely be slowed down.
  root.post(
    '/login',
    freqLimit({
      name: 'login',
      limit: 5,
      period: 60_000,
      burst: 5,
      maxDelay: 0,
      backend,
      onRejected: (ctx, info) => {
        ctx.body = { error: 'Too many login attempts', retryAfter: info.retryAfter };
      },
    }),
    (ctx) => {
      ctx.body = { welcome: true };
    },
  );

  app.use(root.routes()).use(root.allowedMethods());
  app.use(api.routes()).use(api.allowedMethods());
  return app;
}
