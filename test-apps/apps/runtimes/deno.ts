// Deno.serve calls handler(request, info): Hono gets info as env, and the middleware's default
// key is info.remoteAddr.hostname.
import { createApp } from './app.mjs';

Deno.serve(
  {
    hostname: '127.0.0.1',
    port: 0,
    onListen: ({ port }) => console.log(`listening ${port} deno ${Deno.version.deno}`),
  },
  createApp().fetch,
);
