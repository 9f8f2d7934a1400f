// @hono/node-server 1.x: the default key is the Node socket's remote address.
import { serve } from '@hono/node-server';
import { createApp } from './app.mjs';

serve({ fetch: createApp().fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  console.log(`listening ${info.port} node ${process.version}`);
});
