/**
 * @module server
 * Serves the app on 127.0.0.1:$PORT (default 3000).
 */

import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const server = createApp().listen(port, '127.0.0.1', () => {
  console.log(`koa-router listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
