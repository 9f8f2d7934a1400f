/**
 * @module app
 * A small Hono API with two limits: a generous one for every `/api/*` call that holds bursts
 * instead of refusing them, and a strict one for `/login` that refuses at once.
 */

import { type FreqLimitBackend, freqLimit, InMemoryBackend } from '@freqlimit/hono';
import { Hono } from 'hono';

/** Options of {@link createApp}. */
export interface AppOptions {
  /** Where rate-limit state lives. Default: a new `InMemoryBackend`. */
  backend?: FreqLimitBackend;
}

/** Builds the app; tests pass their own backend. */
export function createApp({ backend = new InMemoryBackend() }: AppOptions = {}): Hono {
  const app = new Hono();

  // 5 calls/s per client, 10 back to back. Past that a call waits its turn (200 ms per call)
  // for up to 2 s before it gets a 429.
  app.use(
    '/api/*',
    freqLimit({ name: 'api', limit: 5, period: 1_000, burst: 10, maxDelay: 2_000, backend }),
  );

  // 5 attempts/min per client, never held: guessing passwords should not just be slowed down.
  const loginLimit = freqLimit({
    name: 'login',
    limit: 5,
    period: 60_000,
    burst: 5,
    maxDelay: 0,
    backend,
    onRejected: (c, info) =>
      c.json({ error: 'Too many login attempts', retryAfter: info.retryAfter }, 429),
  });

  app.get('/health', (c) => c.text('ok')); // not limited

  app.get('/api/hello', (c) => {
    const info = c.get('freqLimit');
    return c.json({
      hello: 'world',
      heldMs: info?.delay ?? 0,
      remaining: info?.limits[0]?.remaining,
    });
  });

  app.post('/login', loginLimit, async (c) => {
    const { user } = await c.req.json<{ user?: string }>();
    return c.json({ welcome: user ?? 'anonymous' });
  });

  return app;
}

/** The app with in-memory state, as `src/server.ts` serves it. */
export const app = createApp();
