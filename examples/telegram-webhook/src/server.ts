/**
 * @module server
 * Serves the webhook on 127.0.0.1:$PORT (default 8080); put it behind your HTTPS proxy and
 * register it with setWebhook (with `secret_token` = $TELEGRAM_SECRET_TOKEN).
 */

import { serve } from '@hono/node-server';
import { createBot } from './app.js';

const port = Number(process.env.PORT ?? 8080);
const app = createBot({ secretToken: process.env.TELEGRAM_SECRET_TOKEN || undefined });

serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info) => {
  console.log(`telegram-webhook listening on http://127.0.0.1:${info.port}/webhook`);
});
