// One Hono app, served by every runtime under test (Bun, Deno, workerd, @hono/node-server 1
// and 2). It uses the default key (no keyFn), so each route shows which client address the
// middleware found on that runtime.

import { freqLimit } from '@freqlimit/hono';
import { Hono } from 'hono';
import { measureAcquire } from './acquire.mjs';

/** What the handlers report about the decision; the test compares it with the headers. */
function decision(c) {
  const info = c.get('freqLimit');
  return { ok: true, delay: info?.delay, key: info?.limits?.[0]?.key };
}

export function createApp() {
  const app = new Hono();
  // Pass, hold, 429: one unit per 2 s, a request may wait up to 2.9 s.
  app.get('/hold', freqLimit({ name: 'hold', limit: 1, period: 2000, maxDelay: 2900 }), (c) =>
    c.json(decision(c)),
  );
  // Two clients: one request per minute each, nothing is held.
  app.get('/pair', freqLimit({ name: 'pair', limit: 1, period: 60_000, maxDelay: 0 }), (c) =>
    c.json(decision(c)),
  );
  // A client that leaves while held: one unit per 3 s, a request may wait up to 4 s.
  app.get('/gone', freqLimit({ name: 'gone', limit: 1, period: 3000, maxDelay: 4000 }), (c) =>
    c.json(decision(c)),
  );
  // The RateLimit header of a held response (see the known-bug test).
  app.get('/late', freqLimit({ name: 'late', limit: 1, period: 2000, maxDelay: 2900 }), (c) =>
    c.json(decision(c)),
  );
  // FreqLimit from @freqlimit/core's main entry, inside a request (Workers have no CLI).
  app.get('/acquire', async (c) => c.json(await measureAcquire()));
  return app;
}
