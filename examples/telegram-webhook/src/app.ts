/**
 * @module app
 * A grammY bot served as a webhook on Hono, behind `freqLimit`: each update is held until its
 * reply may be sent under Telegram's limits — 1 message/s per chat, 20/min per group, 30/s for
 * the whole bot — and dropped (answered 200, logged) when it would have to wait too long.
 */

import {
  type FreqLimitBackend,
  type FreqLimitInfo,
  freqLimit,
  InMemoryBackend,
  type LimitState,
} from '@freqlimit/hono';
import { Bot, Context, webhookCallback } from 'grammy';
import type { Chat, Update, UserFromGetMe } from 'grammy/types';
import { Hono, type Context as HonoContext } from 'hono';

/** One limit: `limit` messages per `period` ms, `burst` back to back. */
export interface Pace {
  limit: number;
  period: number;
  burst?: number;
}

/** What the limits did with an update, for {@link WebhookOptions.onUpdate}. */
export interface UpdateDecision {
  /** Every limit that applied, per chat first, then the whole bot's. */
  limits: LimitState[];
  /** ms the update was held in all (0: released at once). */
  delay: number;
}

/** Options of {@link createWebhook}. Durations in ms. */
export interface WebhookOptions {
  /** The bot's token. */
  token: string;
  /** The bot's `getMe`, when known: then grammY never calls `getMe` itself. */
  botInfo?: UserFromGetMe;
  /** Bot API server the replies go to. Default `https://api.telegram.org`. */
  apiRoot?: string;
  /** Where rate-limit state lives. Default: an `InMemoryBackend` on `clock`. */
  backend?: FreqLimitBackend;
  /** Clock (ms) of the default in-memory backend, for tests. Default: `performance.now()`. */
  clock?: () => number;
  /** Longest hold for the chat's limits before an update is dropped. Default 7000. */
  maxDelay?: number;
  /** Longest further hold for the whole bot's limit (busy over 30 updates/s). Default 1000. */
  maxGlobalDelay?: number;
  /** Per chat. Default 1 message/s, no burst. */
  perChat?: Pace;
  /** Per group or supergroup. Default 20/min, no burst: never more than 20 in any minute. */
  perGroup?: Pace;
  /** The whole bot. Default 30/s, 30 back to back. */
  global?: Pace;
  /** When set, requests must carry it in `X-Telegram-Bot-Api-Secret-Token` (see setWebhook). */
  secretToken?: string;
  /** Called for each update let through, after its holds, before the bot handles it. */
  onUpdate?: (update: Update, decision: UpdateDecision) => void;
  /** Where the "dropped" lines go. Default `console.warn`. */
  log?: (line: string) => void;
}

export const DEFAULT_PACE = {
  perChat: { limit: 1, period: 1_000, burst: 1 },
  perGroup: { limit: 20, period: 60_000, burst: 1 },
  global: { limit: 30, period: 1_000, burst: 30 },
} as const satisfies Record<string, Pace>;

/** Groups and supergroups (channels and private chats are not). */
export function isGroup(chat: Pick<Chat, 'type'>): boolean {
  return chat.type === 'group' || chat.type === 'supergroup';
}

type WebhookEnv = {
  Variables: {
    /** The update in the body, parsed once before the limits. */
    update: Update;
    /** The chat the update belongs to, as grammY's `ctx.chat` sees it. */
    chat: Chat | undefined;
    /** The chat limits' decision (the global limit's then replaces `freqLimit`). */
    chatDecision: FreqLimitInfo | undefined;
  };
};

/** The bot: it answers text messages, callback queries and inline queries. */
function createBot(options: WebhookOptions): Bot {
  const bot = new Bot(options.token, {
    botInfo: options.botInfo,
    client: options.apiRoot === undefined ? undefined : { apiRoot: options.apiRoot },
  });
  bot.on(['message:text', 'business_message:text'], (ctx) =>
    ctx.reply(`You said: ${ctx.msg.text}`),
  );
  bot.on('callback_query', (ctx) => ctx.answerCallbackQuery());
  bot.on('inline_query', (ctx) => ctx.answerInlineQuery([]));
  return bot;
}

/**
 * The webhook app: `POST /webhook` takes updates, and `bot` is the grammY bot behind it (add
 * your handlers there).
 *
 * @example
 * const { app } = createWebhook({ token: process.env.BOT_TOKEN!, secretToken: process.env.TELEGRAM_SECRET_TOKEN });
 * serve({ fetch: app.fetch, port: 8080 });
 */
export function createWebhook(options: WebhookOptions): { app: Hono<WebhookEnv>; bot: Bot } {
  const { clock, onUpdate, secretToken, log = console.warn } = options;
  const backend = options.backend ?? new InMemoryBackend(clock ? { clock } : {});
  const perChat = options.perChat ?? DEFAULT_PACE.perChat;
  const perGroup = options.perGroup ?? DEFAULT_PACE.perGroup;
  const global = options.global ?? DEFAULT_PACE.global;
  const bot = createBot(options);
  const handleUpdate = webhookCallback(bot, 'hono');

  // Telegram sends again any update not answered 2xx, so an update that would wait too long is
  // dropped with a 200 (a 429 would only bring it back, on top of the new ones).
  const drop = async (c: HonoContext<WebhookEnv>, info: FreqLimitInfo) => {
    const update = c.get('update');
    log(
      `dropped update ${update.update_id} (chat ${c.get('chat')?.id ?? '-'}): it would have waited ${Math.ceil(info.delay)} ms`,
    );
    return c.body(null, 200);
  };

  const app = new Hono<WebhookEnv>();

  app.post('/webhook', async (c, next) => {
    if (
      secretToken !== undefined &&
      c.req.header('x-telegram-bot-api-secret-token') !== secretToken
    ) {
      return c.text('Unauthorized', 401);
    }
    let update: Update;
    try {
      // Hono keeps the body it read, so grammY reads it again after the limits.
      update = await c.req.json<Update>();
    } catch {
      return c.text('Bad Request: the body is not JSON', 400);
    }
    await bot.init(); // getMe once, unless `botInfo` was given
    c.set('update', update);
    c.set('chat', new Context(update, bot.api, bot.botInfo).chat);
    return next();
  });

  // First the chat's limits, both keyed by the chat: they hold an update until its chat may
  // get a message. A long wait in one chat holds back no other chat.
  app.post(
    '/webhook',
    freqLimit<WebhookEnv>({
      name: 'telegram',
      backend,
      maxDelay: options.maxDelay ?? 7_000,
      headers: false,
      limits: [
        { ...perChat, key: (c) => c.get('chat')?.id },
        {
          ...perGroup,
          key: (c) => {
            const chat = c.get('chat');
            return chat && isGroup(chat) ? chat.id : null; // private chats: no group limit
          },
        },
      ],
      onRejected: drop,
    }),
    async (c, next) => {
      c.set('chatDecision', c.get('freqLimit'));
      await next();
    },
    // Then the whole bot's limit, when the update is ready to go.
    freqLimit<WebhookEnv>({
      name: 'telegram-all',
      backend,
      maxDelay: options.maxGlobalDelay ?? 1_000,
      headers: false,
      ...global,
      keyFn: () => 'bot',
      onRejected: drop,
    }),
    async (c) => {
      const decisions = [c.get('chatDecision'), c.get('freqLimit')];
      onUpdate?.(c.get('update'), {
        limits: decisions.flatMap((d) => d?.limits ?? []),
        delay: decisions.reduce((sum, d) => sum + (d?.delay ?? 0), 0),
      });
      return handleUpdate(c);
    },
  );

  return { app, bot };
}
