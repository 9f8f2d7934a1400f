// Bun.serve calls fetch(request, server): Hono gets the server as env, and the middleware's
// default key is server.requestIP(request).
import { createApp } from './app.mjs';

const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: createApp().fetch });
console.log(`listening ${server.port} bun ${Bun.version}`);
