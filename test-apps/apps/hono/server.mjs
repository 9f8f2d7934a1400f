// Hono 4 on @hono/node-server, ESM JavaScript; the default key comes from the socket.

import { freqLimit } from '@freqlimit/hono';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
app.use(freqLimit({ name: 'hono', limit: 1, period: 2000, maxDelay: 2900 }));
app.get('/', (c) => c.json({ ok: true, delay: c.get('freqLimit').delay }));
serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  console.log(`listening ${info.port}`);
});
