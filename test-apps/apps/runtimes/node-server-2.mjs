// @hono/node-server 2.x (installed under the alias @hono/node-server-2): the same app.
import { serve } from '@hono/node-server-2';
import { createApp } from './app.mjs';

serve({ fetch: createApp().fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  console.log(`listening ${info.port} node ${process.version}`);
});
