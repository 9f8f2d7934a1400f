/**
 * @module app
 * An Express app with a limit for every client that depends on its plan, a stricter one on
 * `/login` that a successful login resets, and Prometheus metrics of every decision.
 */

import {
  type DecisionEvent,
  type FreqLimitBackend,
  freqLimit,
  ipKey,
  NoClientAddressError,
} from '@freqlimit/express';
import express, { type Express as ExpressApp, type Request } from 'express';
import { Counter, Registry } from 'prom-client';

/** A plan: requests per second and how many may come back to back. */
export interface Plan {
  limit: number;
  burst: number;
}

/** The plans. Clients without an API key are on `free`, keyed by their address. */
export const PLANS = {
  free: { limit: 5, burst: 3 },
  pro: { limit: 50, burst: 20 },
} as const satisfies Record<string, Plan>;

/** A user of the API. */
export interface User {
  id: string;
  plan: keyof typeof PLANS;
  /** Sent in `X-API-Key`. */
  apiKey: string;
  /** For `POST /login` (a demo: store a hash in real life). */
  password: string;
}

/** Demo users. */
export const USERS: readonly User[] = [
  { id: 'alice', plan: 'free', apiKey: 'free-key-alice', password: 'alice-secret' },
  { id: 'bob', plan: 'pro', apiKey: 'pro-key-bob', password: 'bob-secret' },
];

declare global {
  namespace Express {
    interface Request {
      /** The user of the request's `X-API-Key`; absent for anonymous clients. */
      user?: User;
    }
  }
}

/** Options of {@link createApp}. */
export interface AppOptions {
  /**
   * Where the limits keep their state. Default: one in-memory backend per limit (one
   * process). Pass a `RedisBackend` to share the limits between several app processes.
   */
  backend?: FreqLimitBackend;
  /** Express `trust proxy` setting, e.g. `'loopback'` behind a reverse proxy on this host. Default `false`. */
  trustProxy?: boolean | number | string;
  /** The users; default {@link USERS}. */
  users?: readonly User[];
}

/**
 * The client's address as a rate-limit key — what the middleware uses by default (IPv6 by its
 * /56 prefix). Used as `keyFn` and for `reset`, so both always name the same key.
 */
function clientKey(req: Request): string {
  if (!req.ip) throw new NoClientAddressError('express-basic: the request has no client address');
  return ipKey(req.ip) ?? req.ip;
}

/**
 * Builds the app:
 * - `X-API-Key` names a user, whose plan sets the limit of every request (free: 5 per second,
 *   3 back to back; pro: 50 per second, 20 back to back), held up to 1 s. Anonymous clients
 *   are on the free plan, keyed by their address; an unknown key gets 401.
 * - `POST /login` (`{ user, password }`) in addition: 5 attempts per minute per address, 3 back
 *   to back, never held. Failed attempts count; a successful login resets the count.
 * - `GET /metrics`: every decision of both limits, counted by `name` and `outcome` (Prometheus
 *   text format). Not limited itself: keep it on an internal network.
 *
 * @example
 * createApp({ trustProxy: 'loopback' }).listen(3000, '127.0.0.1');
 */
export function createApp(options: AppOptions = {}): ExpressApp {
  const { backend, trustProxy = false, users = USERS } = options;
  const byKey = new Map(users.map((user) => [user.apiKey, user]));
  const app = express();
  app.set('trust proxy', trustProxy);

  const registry = new Registry();
  const decisions = new Counter({
    name: 'freqlimit_decisions_total',
    help: 'Rate-limit decisions, by limit name and outcome (pass, hold, reject, backend-error).',
    labelNames: ['name', 'outcome'] as const,
    registers: [registry],
  });
  const onDecision = (event: DecisionEvent): void => {
    decisions.inc({ name: event.name, outcome: event.outcome });
  };

  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });

  app.use((req, res, next) => {
    const apiKey = req.get('x-api-key');
    if (apiKey === undefined) return next();
    const user = byKey.get(apiKey);
    if (user === undefined) return void res.status(401).json({ error: 'Unknown API key' });
    req.user = user;
    next();
  });

  const planOf = (req: Request): Plan => PLANS[req.user?.plan ?? 'free'];
  app.use(
    freqLimit({
      name: 'api',
      limit: (req) => planOf(req).limit,
      burst: (req) => planOf(req).burst,
      period: 1_000,
      maxDelay: 1_000,
      keyFn: (req) => (req.user ? `user:${req.user.id}` : clientKey(req)),
      backend,
      onDecision,
    }),
  );

  const login = freqLimit({
    name: 'login',
    limit: 5,
    period: 60_000,
    burst: 3,
    maxDelay: 0,
    keyFn: clientKey,
    backend,
    onDecision,
    onRejected: (_req, res, info) => {
      res.json({ error: 'Too many login attempts', retryAfter: info.retryAfter });
    },
  });

  app.get('/', (req, res) => {
    res.json({
      hello: req.user?.id ?? 'world',
      remaining: req.freqLimit?.limits[0]?.remaining ?? null,
    });
  });

  app.post('/login', express.json(), login, async (req, res) => {
    const { user: id, password } = (req.body ?? {}) as { user?: unknown; password?: unknown };
    const user = users.find((u) => u.id === id);
    if (user === undefined || user.password !== password) {
      res.status(401).json({
        error: 'Wrong user or password',
        attemptsLeft: req.freqLimit?.limits[0]?.remaining ?? null, // the login limit's decision
      });
      return;
    }
    // The failed attempts before this one no longer count. A store that is down must not fail
    // the login itself.
    await login.reset(clientKey(req)).catch((error: unknown) => {
      console.error('express-basic: could not reset the login limit:', error);
    });
    res.json({ loggedIn: user.id, apiKey: user.apiKey });
  });

  return app;
}
