/**
 * @module broadcast
 * Sends a list of messages as fast as Telegram's limits allow, sharing the limits with every
 * other process of the bot through Redis.
 *
 * Input (stdin): one message per line, `<chat_id> <text>`. Output (stdout): one JSON line per
 * event — `ready` (connected; then stdin is read to its end), `sent` / `failed` per message,
 * `flood` when Telegram answered 429, and `done`. Exit code 1 when a message failed.
 *
 * Environment: `BOT_TOKEN` (required), `REDIS_URL` (share the limits; default: in memory, this
 * process only), `REDIS_PREFIX` (default `freqlimit:`), `TELEGRAM_API_ROOT` (default
 * `https://api.telegram.org`).
 */

import { createInterface } from 'node:readline';
import type { FreqLimitBackend } from '@freqlimit/core';
import { createBot } from './bot.js';

const print = (event: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`);
};

const token = process.env.BOT_TOKEN;
if (!token) {
  console.error('broadcast: set BOT_TOKEN');
  process.exit(2);
}

let backend: FreqLimitBackend | undefined;
let close = async (): Promise<void> => {};
if (process.env.REDIS_URL) {
  const { Redis } = await import('ioredis');
  const { RedisBackend } = await import('@freqlimit/core/redis');
  const redis = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1 });
  await redis.ping();
  backend = new RedisBackend(redis, { prefix: process.env.REDIS_PREFIX ?? 'freqlimit:' });
  close = async () => {
    await redis.quit();
  };
}

const { bot } = createBot(token, {
  backend,
  apiRoot: process.env.TELEGRAM_API_ROOT || undefined,
  log: (line) => print({ event: 'flood', pid: process.pid, line }),
});
print({ event: 'ready', pid: process.pid });

const messages: Array<{ chatId: number | string; text: string }> = [];
for await (const line of createInterface({ input: process.stdin })) {
  const match = /^\s*(\S+)\s+(.*)$/.exec(line);
  if (!match) continue;
  const [, chat = '', text = ''] = match;
  messages.push({ chatId: /^-?\d+$/.test(chat) ? Number(chat) : chat, text });
}

// All at once: each call waits for its own slot, and messages to one chat keep their order.
const results = await Promise.all(
  messages.map(async ({ chatId, text }) => {
    try {
      const sent = await bot.api.sendMessage(chatId, text);
      print({ event: 'sent', chat_id: chatId, text, message_id: sent.message_id });
      return true;
    } catch (error) {
      print({ event: 'failed', chat_id: chatId, text, error: String(error) });
      return false;
    }
  }),
);
const failed = results.filter((ok) => !ok).length;
print({ event: 'done', pid: process.pid, sent: results.length - failed, failed });
await close();
process.exitCode = failed > 0 ? 1 : 0;
