/**
 * @module bot
 * A grammY bot whose every outgoing message goes through Telegram's limits.
 */

import { Bot } from 'grammy';
import type { UserFromGetMe } from 'grammy/types';
import { TelegramLimits, type TelegramLimitsOptions } from './limits.js';
import { type RateLimitOptions, rateLimit } from './transformer.js';

/** Options of {@link createBot}. */
export interface BotOptions extends Omit<TelegramLimitsOptions, 'bot'>, RateLimitOptions {
  /** Bot API server, e.g. a local `telegram-bot-api`. Default `https://api.telegram.org`. */
  apiRoot?: string;
  /** The bot's `getMe`, when known: grammY then never calls `getMe` itself. */
  botInfo?: UserFromGetMe;
}

/**
 * A `Bot` with the {@link rateLimit} transformer installed on `bot.api`, so replies from
 * handlers (`ctx.reply`) and direct calls (`bot.api.sendMessage`) wait for their slot alike.
 * The limits are keyed by the bot id (the token's first part), so every process running this
 * bot on one shared backend shares one set of limits.
 *
 * @example
 * const redis = new Redis(process.env.REDIS_URL);
 * const { bot } = createBot(process.env.BOT_TOKEN, { backend: new RedisBackend(redis) });
 * await bot.api.sendMessage(chatId, 'hello'); // waits its turn
 */
export function createBot(
  token: string,
  options: BotOptions = {},
): { bot: Bot; limits: TelegramLimits } {
  const { apiRoot, botInfo, log, ...limitOptions } = options;
  const id = /^(\d+):/.exec(token)?.[1];
  if (id === undefined)
    throw new TypeError('createBot: `token` must look like "<bot id>:<secret>"');
  const limits = new TelegramLimits({ ...limitOptions, bot: id });
  const bot = new Bot(token, { botInfo, client: apiRoot === undefined ? undefined : { apiRoot } });
  bot.api.config.use(rateLimit(limits, { log }));
  return { bot, limits };
}
