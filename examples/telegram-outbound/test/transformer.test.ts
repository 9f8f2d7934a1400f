import { Bot, GrammyError } from 'grammy';
import { afterEach, describe, expect, it } from 'vitest';
import { createBot } from '../src/bot.js';
import { messageChat } from '../src/transformer.js';
import {
  BOT_INFO,
  type FakeBotApi,
  type FakeBotApiOptions,
  startFakeBotApi,
  TOKEN,
} from './fake-bot-api.js';

// Real time, one process, the in-memory backend. The fake server allows this much jitter.
const TOLERANCE = 250;

let api: FakeBotApi | undefined;
afterEach(async () => {
  await api?.stop();
  api = undefined;
});

async function start(options: FakeBotApiOptions = {}) {
  api = await startFakeBotApi({ tolerance: TOLERANCE, ...options });
  const log: string[] = [];
  const { bot } = createBot(TOKEN, {
    apiRoot: api.apiRoot,
    botInfo: BOT_INFO,
    log: (line) => log.push(line),
  });
  return { api, bot, log };
}

describe('messageChat: which calls count', () => {
  it.each([
    ['sendMessage', { chat_id: 42, text: 'hi' }, 42],
    ['sendPhoto', { chat_id: '@news', photo: 'x' }, '@news'],
    ['copyMessage', { chat_id: -100_1, from_chat_id: 5, message_id: 1 }, -100_1],
    ['sendChatAction', { chat_id: 42, action: 'typing' }, undefined],
    ['editMessageText', { chat_id: 42, message_id: 1, text: 'x' }, undefined],
    ['getMe', {}, undefined],
    ['sendMessage', undefined, undefined],
  ])('%s %o → %s', (method, payload, chat) => {
    expect(messageChat(method, payload)).toBe(chat);
  });
});

describe('the fake Bot API enforces the limits (so the tests that rely on it can fail)', () => {
  it('a bot without the transformer gets 429s, per chat and for the whole bot', async () => {
    api = await startFakeBotApi({ tolerance: TOLERANCE });
    const bare = new Bot(TOKEN, { botInfo: BOT_INFO, client: { apiRoot: api.apiRoot } });
    const send = (chat: number) =>
      bare.api.sendMessage(chat, 'x').then(
        () => 200,
        (error: GrammyError) => error.error_code,
      );
    expect(await Promise.all([send(42), send(42), send(42)])).toEqual([200, 429, 429]);
    // 120 at once: 30 pass, plus what arrives as the bucket refills; the rest are refused.
    const many = await Promise.all(Array.from({ length: 120 }, (_, i) => send(1_000 + i)));
    expect(many.filter((status) => status === 429).length).toBeGreaterThan(0);
    expect(api.calls.filter((c) => c.status === 429).map((c) => c.reason)).toContain('global');
  });
});

describe('rateLimit transformer (one process, real time)', () => {
  it('a message waits for its slot; other calls go at once', async () => {
    const { api, bot } = await start();
    const t0 = performance.now();
    const sends = [1, 2, 3].map((n) => bot.api.sendMessage(42, `m${n}`));
    await Promise.all([bot.api.getMe(), bot.api.getMe(), bot.api.sendChatAction(42, 'typing')]);
    const unlimited = performance.now() - t0;
    await Promise.all(sends);
    expect(api.calls.map((c) => [c.text, c.status])).toEqual([
      ['m1', 200],
      ['m2', 200],
      ['m3', 200],
    ]);
    const [a, b, c] = api.calls.map((call) => call.at) as [number, number, number];
    expect(b - a).toBeGreaterThanOrEqual(1_000 - TOLERANCE);
    expect(c - b).toBeGreaterThanOrEqual(1_000 - TOLERANCE);
    expect(unlimited).toBeLessThan(b - t0); // getMe & co. did not wait behind m2
    expect(api.otherCalls).toEqual(['getMe', 'getMe', 'sendChatAction']);
  });

  it('429 with retry_after: the chat is blocked that long, and the call is retried once', async () => {
    const { api, bot, log } = await start({ force429: { chatId: 42, nth: [1], retryAfter: 2 } });
    const sent = await bot.api.sendMessage(42, 'hello');
    expect(sent.text).toBe('hello');
    const [refused, retried] = api.calls;
    expect(api.calls).toHaveLength(2);
    expect(refused).toMatchObject({ status: 429, reason: 'forced', retryAfter: 2 });
    expect(retried).toMatchObject({ status: 200, text: 'hello' });
    expect(retried!.at - refused!.at).toBeGreaterThanOrEqual(2_000);
    expect(log).toEqual([
      'sendMessage to chat 42: 429, retry after 2 s; chat blocked, retrying once',
    ]);
  });

  it('a second 429 reaches the caller as a GrammyError, and the chat stays blocked', async () => {
    const { api, bot, log } = await start({
      force429: { chatId: 42, nth: [1, 2], retryAfter: 1 },
    });
    const error = await bot.api.sendMessage(42, 'one').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GrammyError);
    expect((error as GrammyError).error_code).toBe(429);
    expect((error as GrammyError).parameters.retry_after).toBe(1);
    expect(log).toHaveLength(2);
    await bot.api.sendMessage(42, 'two');
    expect(api.calls.map((c) => [c.text, c.status])).toEqual([
      ['one', 429],
      ['one', 429],
      ['two', 200],
    ]);
    const [first, second, third] = api.calls.map((c) => c.at) as [number, number, number];
    expect(second - first).toBeGreaterThanOrEqual(1_000);
    expect(third - second).toBeGreaterThanOrEqual(1_000);
  });
});
