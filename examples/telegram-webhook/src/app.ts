/**
 * @module app
 * A Telegram bot webhook on Hono that paces its replies to Telegram's limits instead of
 * running into them: each update is held until sending its reply would respect
 * 1 message/s per chat, 20/min per group and 30/s for the whole bot.
 */

import { InMemoryBackend } from '@freqlimit/core';
import { type FreqLimitBackend, type FreqLimitInfo, freqLimit } from '@freqlimit/hono';
import { type Context, Hono } from 'hono';
import { chatOf, isGroup, type Update } from './telegram.js';

/** One limit: `limit` messages per `period` ms, `burst` back to back. */
export interface Pace {
  limit: number;
  period: number;
  burst?: number;
}

/** Options of {@link createBot}. Durations in ms. */
export interface BotOptions {
  /** Where rate-limit state lives. Default: an `InMemoryBackend` on `clock`. */
  backend?: FreqLimitBackend;
  /** Clock (ms) of the default in-memory backend, for tests. Default: `performance.now()`. */
  clock?: () => number;
  /** Longest hold before an update is dropped. Default 8000. */
  maxDelay?: number;
  /** Per chat. Default 1 message/s, no burst. */
  perChat?: Pace;
  /** Per group or supergroup. Default 20/min, no burst: never more than 20 in any minute. */
  perGroup?: Pace;
  /** The whole bot. Default 30/s, 30 back to back. */
  global?: Pace;
  /** When set, requests must carry it in `X-Telegram-Bot-Api-Secret-Token` (see setWebhook). */
  secretToken?: string;
  /** Called for each update the bot processes (after its hold), with the limiter's decision. */
  onUpdate?: (update: Update, info: FreqLimitInfo | undefined) => void;
  /** Where the "dropped" lines go. Default `console.warn`. */
  log?: (line: string) => void;
}

export const DEFAULT_PACE = {
  perChat: { limit: 1, period: 1_000, burst: 1 },
  perGroup: { limit: 20, period: 60_000, burst: 1 },
  global: { limit: 30, period: 1_000, burst: 30 },
} as const satisfies Record<string, Pace>;

/** The update in the body; Hono keeps the body, so every key function and the handler can read it. */
const updateOf = (c: Context): Promise<Update> => c.req.json<Update>();

/** What the webhook answers: a Bot API call that Telegram performs for us, or nothing. */
function replyTo(update: Update): Record<string, unknown> | undefined {
  const message = update.message ?? update.business_message;
  if (message?.text !== undefined) {
    return { method: 'sendMessage', chat_id: message.chat.id, text: `You said: ${message.text}` };
  }
  if (update.callback_query) {
    return { method: 'answerCallbackQuery', callback_query_id: update.callback_query.id };
  }
  if (update.inline_query) {
    return { method: 'answerInlineQuery', inline_query_id: update.inline_query.id, results: [] };
  }
  return undefined;
}

/**
 * The webhook app: `POST /webhook` takes updates.
 *
 * @example
 * serve({ fetch: createBot({ secretToken: process.env.TELEGRAM_SECRET_TOKEN }).fetch, port: 8080 });
 */
export function createBot(options: BotOptions = {}): Hono {
  const { clock, onUpdate, secretToken, log = console.warn } = options;
  const backend = options.backend ?? new InMemoryBackend(clock ? { clock } : {});
  const perChat = options.perChat ?? DEFAULT_PACE.perChat;
  const perGroup = options.perGroup ?? DEFAULT_PACE.perGroup;
  const global = options.global ?? DEFAULT_PACE.global;

  const app = new Hono();

  app.post('/webhook', async (c, next) => {
    if (
      secretToken !== undefined &&
      c.req.header('x-telegram-bot-api-secret-token') !== secretToken
    ) {
      return c.text('Unauthorized', 401);
    }
    try {
      await c.req.json();
    } catch {
      return c.text('Bad Request: the body is not JSON', 400);
    }
    return next();
  });

  app.post(
    '/webhook',
    freqLimit({
      name: 'telegram',
      backend,
      maxDelay: options.maxDelay ?? 8_000,
      headers: false,
      limits: [
        { ...perChat, key: async (c) => chatOf(await updateOf(c))?.id },
        {
          ...perGroup,
          key: async (c) => {
            const chat = chatOf(await updateOf(c));
            return chat && isGroup(chat) ? chat.id : null; // private chats: no group limit
          },
        },
        { ...global, key: () => 'bot' },
      ],
      // Telegram retries any answer but 2xx, so a 429 would only bring the update back.
      onRejected: async (c, info) => {
        const update = await updateOf(c);
        const chat = chatOf(update);
        log(
          `dropped update ${update.update_id} (chat ${chat?.id ?? '-'}): it would have waited ${Math.ceil(info.delay)} ms`,
        );
        return c.body(null, 200);
      },
    }),
    async (c) => {
      const update = await updateOf(c);
      onUpdate?.(update, c.get('freqLimit'));
      const reply = replyTo(update);
      return reply ? c.json(reply) : c.body(null, 200);
    },
  );

  return app;
}
