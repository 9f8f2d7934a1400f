/**
 * @module limits
 * Telegram's sending limits — 1 message/s per chat, 20/min per group, 30/s for the whole bot —
 * on `FreqLimit`, shared by every process of the bot through one backend (a `RedisBackend`).
 */

import {
  FreqLimit,
  type FreqLimitBackend,
  type FreqLimitParamsLike,
  InMemoryBackend,
  RateLimitedError,
} from '@freqlimit/core';

/** A chat as the Bot API takes it: a numeric id, or `'@username'` of a public channel/supergroup. */
export type ChatId = number | string;

/** Telegram's published limits, the defaults of {@link TelegramLimits}. */
export const TELEGRAM_LIMITS = {
  /** About one message per second in one chat. */
  perChat: { limit: 1, period: 1_000, burst: 1 },
  /** At most 20 messages per minute in one group; `burst: 1` keeps every minute at ≤ 20. */
  perGroup: { limit: 20, period: 60_000, burst: 1 },
  /** About 30 messages per second overall, up to 30 at once (a broadcast starts with 30). */
  global: { limit: 30, period: 1_000, burst: 30 },
} as const;

/** Options of {@link TelegramLimits}. Durations in ms. */
export interface TelegramLimitsOptions {
  /**
   * Where the limits live. Default: a new `InMemoryBackend` (this process only). Pass a
   * `RedisBackend` (from `@freqlimit/core/redis`) so every worker of the bot shares them.
   */
  backend?: FreqLimitBackend;
  /**
   * Whose limits these are; part of every limiter name, so several bots can share one backend.
   * Default `'bot'`; `createBot` uses the bot id from the token.
   */
  bot?: string;
  /** Per chat (private chats, groups, channels). Default 1 per 1000 ms, burst 1. */
  perChat?: FreqLimitParamsLike;
  /** Per group, supergroup or channel (negative ids, `'@username'`). Default 20 per 60 000 ms, burst 1. */
  perGroup?: FreqLimitParamsLike;
  /** The whole bot. Default 30 per 1000 ms, burst 30. */
  global?: FreqLimitParamsLike;
  /**
   * Longest wait for a chat's turn before `acquire` rejects with `RateLimitedError` (nothing
   * is reserved then). Default `Infinity`: a broadcast takes as long as the limits say.
   */
  maxDelay?: number;
  /**
   * How long (ms) a message whose turn has come may still wait for its chat's limits as it
   * leaves (step 3) before it lines up in the bot's line again. Default 50.
   */
  jitter?: number;
}

/** Groups, supergroups and channels have negative ids; `'@username'` names a public one. */
export function isGroupChat(chatId: ChatId): boolean {
  return typeof chatId === 'number' ? chatId < 0 : chatId.startsWith('@');
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.ceil(ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The two per-chat limiters of one kind of chat (see {@link TelegramLimits}). */
interface ChatLimiters {
  /** Step 1: the chat's turn. */
  turn: FreqLimit;
  /** Step 3: the same limits, counted when a message actually leaves. */
  sent: FreqLimit;
}

/**
 * Telegram's limits for one bot. `acquire(chatId)` resolves when a message to that chat may
 * leave under every limit that applies to it; `retryAfter(chatId, ms)` and `block(chatId, ms)`
 * make every worker wait out a 429. A message passes three steps:
 *
 * 1. **its chat's turn** — one `FreqLimit` per kind of chat, keyed by the chat; for a group the
 *    per-chat and per-group limits are one reservation. Messages to one chat line up in order,
 *    and a long line in one chat holds back no other chat.
 * 2. **the bot's turn** — a `FreqLimit` on one global key: every message whose chat turn has
 *    come lines up here, 30 a second.
 * 3. **counted as it leaves** — the chat's limits again, on keys of their own, reserved only if
 *    the message can leave within `jitter` ms. A message may leave later than its turn (it
 *    waited in step 2, or the host was busy), so its chat's next turn can come too soon after
 *    it; step 3 catches that, and a chat blocked after a 429: the message waits and lines up
 *    in step 2 again (its step-2 slot goes unused, so the global limit is never exceeded).
 *
 * Messages to one chat normally leave in the order they were asked for; one that had to line
 * up again may be overtaken.
 *
 * Why not one reservation over all three limits (the backend's `reserveMany` can, with a key
 * per limit)? It would count each limit at the moment the message leaves, but a GCRA limit's
 * state is one point in time: a message booked to leave in 40 s (the 15th in a group's line)
 * would move the global limit's state 40 s ahead, and every other chat would wait behind it.
 *
 * @example
 * const limits = new TelegramLimits({ backend: new RedisBackend(redis), bot: '123456' });
 * await limits.acquire(chatId); // then send
 */
export class TelegramLimits {
  readonly #private: ChatLimiters;
  readonly #group: ChatLimiters;
  readonly #global: FreqLimit;
  readonly #maxDelay: number;
  readonly #jitter: number;

  constructor(options: TelegramLimitsOptions = {}) {
    const backend = options.backend ?? new InMemoryBackend();
    const bot = options.bot ?? 'bot';
    if (typeof bot !== 'string' || !/^[\w.-]+$/.test(bot)) {
      throw new TypeError('TelegramLimits: `bot` must be a non-empty string of [A-Za-z0-9_.-]');
    }
    const maxDelay = options.maxDelay ?? Number.POSITIVE_INFINITY;
    const jitter = options.jitter ?? 50;
    for (const [field, value] of [
      ['maxDelay', maxDelay],
      ['jitter', jitter],
    ] as const) {
      if (typeof value !== 'number' || !(value >= 0)) {
        throw new RangeError(`TelegramLimits: \`${field}\` must be a number ≥ 0 (ms)`);
      }
    }
    const perChat = options.perChat ?? TELEGRAM_LIMITS.perChat;
    const perGroup = options.perGroup ?? TELEGRAM_LIMITS.perGroup;
    const name = `tg:${bot}`;
    const limiters = (kind: string, params: FreqLimitParamsLike[]): ChatLimiters => ({
      turn: new FreqLimit(params, { backend, name: `${name}:${kind}` }),
      sent: new FreqLimit(params, { backend, name: `${name}:${kind}-sent` }),
    });
    this.#private = limiters('chat', [perChat]);
    this.#group = limiters('group', [perChat, perGroup]);
    this.#global = new FreqLimit(options.global ?? TELEGRAM_LIMITS.global, {
      backend,
      name: `${name}:all`,
    });
    this.#maxDelay = maxDelay;
    this.#jitter = jitter;
  }

  /**
   * The limiters of `chatId` and its key. The key is a Redis Cluster hash tag, so a group's two
   * limits (two Redis keys) share one slot and one script reserves them together.
   */
  #chat(chatId: ChatId): [ChatLimiters, string] {
    if (typeof chatId !== 'number' && typeof chatId !== 'string') {
      throw new TypeError(
        `TelegramLimits: a chat id is a number or a string, got ${typeof chatId}`,
      );
    }
    return [isGroupChat(chatId) ? this.#group : this.#private, `{${chatId}}`];
  }

  /**
   * Waits until a message to `chatId` may leave, then resolves. Messages to one chat leave in
   * the order their `acquire` calls reached the backend (except after a slip or a block, see
   * the class). Rejects with `RateLimitedError` when the chat's turn is further than
   * `maxDelay` away, or with the signal's reason when `signal` aborts.
   */
  async acquire(chatId: ChatId, signal?: AbortSignal): Promise<void> {
    const [{ turn, sent }, key] = this.#chat(chatId);
    await turn.acquire(key, { signal, maxDelay: this.#maxDelay });
    for (;;) {
      await this.#global.acquire(undefined, { signal });
      try {
        await sent.acquire(key, { signal, maxDelay: this.#jitter });
        return;
      } catch (error) {
        if (!(error instanceof RateLimitedError)) throw error;
        await sleep(error.retryAfter, signal);
      }
    }
  }

  /**
   * Nothing more leaves for `chatId` for `ms` (Telegram answered 429 with `retry_after`), on
   * every worker sharing the backend; messages already waiting line up again after it. A
   * longer wait already there is never shortened.
   */
  async block(chatId: ChatId, ms: number): Promise<void> {
    const [{ turn, sent }, key] = this.#chat(chatId);
    await Promise.all([turn.block(key, ms), sent.block(key, ms)]);
  }

  /**
   * For a message Telegram refused with `retry_after`: blocks the chat for `ms` (see
   * {@link block}) and resolves when the message may be sent again — first in its chat after
   * the block, ahead of the messages that were waiting behind it.
   */
  async retryAfter(chatId: ChatId, ms: number, signal?: AbortSignal): Promise<void> {
    const [{ sent }, key] = this.#chat(chatId);
    await this.block(chatId, ms);
    // Take the chat's first slot after the block right now, before anyone else can.
    for (;;) {
      try {
        await sent.acquire(key, { signal, maxDelay: ms + this.#jitter });
        break;
      } catch (error) {
        if (!(error instanceof RateLimitedError)) throw error;
        await sleep(error.retryAfter, signal);
      }
    }
    await this.#global.acquire(undefined, { signal });
  }
}
