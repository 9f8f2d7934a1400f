/**
 * @module server
 * Serves the webhook on 127.0.0.1:$PORT (default 8080); put it behind your HTTPS proxy and
 * register it with setWebhook (with `secret_token` = $TELEGRAM_SECRET_TOKEN).
 *
 * Environment: `BOT_TOKEN` (required), `TELEGRAM_SECRET_TOKEN`, `TELEGRAM_API_ROOT` (default
 * `https://api.telegram.org`), `PORT`.
 */

import { serve } from '@hono/node-server';
import { createWebhook } from './app.js';

const token = process.env.BOT_TOKEN;
if (!token) {
  console.error('telegram-webhook: set BOT_TOKEN');
  process.exit(2);
}
const port = Number(process.env.PORT ?? 8080);
const { app } = createWebhook({
  token,
  apiRoot: process.env.TELEGRAM_API_ROOT || undefined,
  secretToken: process.env.TELEGRAM_SECRET_TOKEN || undefined,
});

serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info) => {
  console.log(`telegram-webhook listening on http://127.0.0.1:${info.port}/webhook`);
});
