/**
 * @module server
 * Serves the app on 127.0.0.1:$PORT (default 3000) with @hono/node-server, which gives the
 * middleware the socket address as its default key.
 */

import { serve } from '@hono/node-server';
import { app } from './app.js';

const port = Number(process.env.PORT ?? 3000);

serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info) => {
  console.log(`hono-basic listening on http://127.0.0.1:${info.port}`);
});
