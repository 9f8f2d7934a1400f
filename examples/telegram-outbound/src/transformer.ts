/**
 * @module transformer
 * A grammY API transformer that makes every outgoing message wait for its slot under
 * Telegram's limits, and turns a 429 into a block every worker respects, then one retry.
 */

import type { Transformer } from 'grammy';
import type { ChatId, TelegramLimits } from './limits.js';

/**
 * The Bot API methods that post a message into a chat — what Telegram's limits count. Other
 * calls (getMe, answerCallbackQuery, sendChatAction, edits…) pass unlimited.
 */
export const MESSAGE_METHODS: ReadonlySet<string> = new Set([
  'sendMessage',
  'sendPhoto',
  'sendAudio',
  'sendDocument',
  'sendVideo',
  'sendAnimation',
  'sendVoice',
  'sendVideoNote',
  'sendLivePhoto',
  'sendPaidMedia',
  'sendMediaGroup',
  'sendLocation',
  'sendVenue',
  'sendContact',
  'sendPoll',
  'sendChecklist',
  'sendDice',
  'sendSticker',
  'sendInvoice',
  'sendGame',
  'sendRichMessage',
  'forwardMessage',
  'forwardMessages',
  'copyMessage',
  'copyMessages',
]);

/** The chat a call posts a message to, or `undefined` when the call is not limited. */
export function messageChat(method: string, payload: unknown): ChatId | undefined {
  if (!MESSAGE_METHODS.has(method) || typeof payload !== 'object' || payload === null) {
    return undefined;
  }
  const chatId = (payload as { chat_id?: unknown }).chat_id;
  return typeof chatId === 'number' || typeof chatId === 'string' ? chatId : undefined;
}

/** `retry_after` (seconds) of a 429 answer, else `undefined`. */
function floodWait(response: { ok: boolean; error_code?: number; parameters?: object }) {
  if (response.ok || response.error_code !== 429) return undefined;
  const seconds = (response.parameters as { retry_after?: unknown } | undefined)?.retry_after;
  return typeof seconds === 'number' && seconds >= 0 ? seconds : 1;
}

/** Options of {@link rateLimit}. */
export interface RateLimitOptions {
  /** Where the "got a 429" lines go. Default `console.warn`. */
  log?: (line: string) => void;
}

/**
 * The transformer: `bot.api.config.use(rateLimit(limits))`. Each message call first waits for
 * its slot (`limits.acquire`). When Telegram still answers 429 with `retry_after`, the chat is
 * blocked for that long on the shared backend — so no worker sends to it before then — and
 * the call is retried once, after the block; a second 429 is returned to the caller (grammY
 * throws it as a `GrammyError`). An aborted call (`signal`) gives its slot back.
 *
 * @example
 * const bot = new Bot(token);
 * bot.api.config.use(rateLimit(new TelegramLimits({ backend, bot: token.split(':')[0] })));
 */
export function rateLimit(limits: TelegramLimits, options: RateLimitOptions = {}): Transformer {
  const log = options.log ?? console.warn;
  return async (prev, method, payload, signal) => {
    const chatId = messageChat(method, payload);
    if (chatId === undefined) return prev(method, payload, signal);
    // grammY types the signal with an old polyfill's type; at run time it is the caller's own.
    const abort = signal as AbortSignal | undefined;
    await limits.acquire(chatId, abort);
    const first = await prev(method, payload, signal);
    const seconds = floodWait(first);
    if (seconds === undefined) return first;
    log(`${method} to chat ${chatId}: 429, retry after ${seconds} s; chat blocked, retrying once`);
    await limits.retryAfter(chatId, seconds * 1_000, abort);
    const second = await prev(method, payload, signal);
    const again = floodWait(second);
    if (again !== undefined) {
      log(`${method} to chat ${chatId}: 429 again, retry after ${again} s; giving up`);
      await limits.block(chatId, again * 1_000);
    }
    return second;
  };
}
