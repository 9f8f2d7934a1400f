/**
 * @module app
 * An Express app with a limit for every client plus a stricter one on `/login`.
 */

import { type FreqLimitBackend, freqLimit } from '@freqlimit/express';
import express, { type Express } from 'express';

/** Options of {@link createApp}. */
export interface AppOptions {
  /**
   * Where the limits keep their state. Default: one in-memory backend per limit (one
   * process). Pass a `RedisBackend` to share the limits between several app processes.
   */
  backend?: FreqLimitBackend;
  /** Express `trust proxy` setting, e.g. `'loopback'` behind a reverse proxy on this host. Default `false`. */
  trustProxy?: boolean | number | string;
}

/**
 * Builds the app:
 * - every client (keyed by `req.ip`): 5 requests per second, 3 back to back, held up to 1 s;
 * - `POST /login` in addition: 5 per minute, 3 back to back, never held (429 at once).
 *
 * @example
 * createApp({ trustProxy: 'loopback' }).listen(3000, '127.0.0.1');
 */
export function createApp(options: AppOptions = {}): Express {
  const { backend, trustProxy = false } = options;
  const app = express();
  app.set('trust proxy', trustProxy);

  app.use(freqLimit({ name: 'api', limit: 5, period: 1_000, burst: 3, maxDelay: 1_000, backend }));

  const loginLimit = freqLimit({
    name: 'login',
    limit: 5,
    period: 60_000,
    burst: 3,
    maxDelay: 0,
    backend,
    onRejected: (_req, res, info) => {
      res.json({ error: 'Too many login attempts', retryAfter: info.retryAfter });
    },
  });

  app.get('/', (req, res) => {
    res.json({ hello: 'world', remaining: req.freqLimit?.limits[0]?.remaining ?? null });
  });

  app.post('/login', loginLimit, (req, res) => {
    res.json({ loggedIn: true, attemptsLeft: req.freqLimit?.limits[0]?.remaining ?? null });
  });

  return app;
}
