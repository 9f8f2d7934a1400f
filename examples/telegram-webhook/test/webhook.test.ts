import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  InMemoryBackend,
  type MultiReservation,
  type Reservation,
  type ReserveManyEntry,
  type ReserveManyOptions,
} from '@freqlimit/core';
import { type ServerType, serve } from '@hono/node-server';
import type { Update } from 'grammy/types';
import type { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createWebhook, isGroup, type UpdateDecision, type WebhookOptions } from '../src/app.js';
import { BOT_INFO, type FakeBotApi, startFakeBotApi, TOKEN } from './fake-bot-api.js';

// Real timers, kept before any test fakes them: waiting for real I/O while time stands still.
const realSetTimeout = globalThis.setTimeout;
const realSleep = (ms: number) => new Promise((resolve) => realSetTimeout(resolve, ms));

// Realistic updates, shaped as the Bot API sends them.
let nextId = 100_000;
const user = { id: 7_001, is_bot: false, first_name: 'Ann', language_code: 'en' };
const privateChat = (id: number) => ({ id, type: 'private', first_name: 'Ann' });
const group = { id: -1_001_234_567_890, type: 'supergroup', title: 'Hono fans' };

const privateMessage = (chatId: number, text: string) => ({
  update_id: nextId++,
  message: { message_id: nextId, from: user, chat: privateChat(chatId), date: 1_700_000_000, text },
});
const groupMessage = (text: string, from = user) => ({
  update_id: nextId++,
  message: { message_id: nextId, from, chat: group, date: 1_700_000_000, text },
});
const callbackQuery = (chatId: number) => ({
  update_id: nextId++,
  callback_query: {
    id: `cb${nextId}`,
    from: user,
    chat_instance: '-4242',
    data: 'like',
    message: {
      message_id: 5,
      from: { id: 1, is_bot: true, first_name: 'Bot' },
      chat: privateChat(chatId),
      date: 1_700_000_000,
      text: 'Like it?',
    },
  },
});
const inlineQuery = () => ({
  update_id: nextId++,
  inline_query: { id: `iq${nextId}`, from: user, query: 'cats', offset: '' },
});
const poll = () => ({
  update_id: nextId++,
  poll: {
    id: `p${nextId}`,
    question: 'Tabs or spaces?',
    options: [
      { text: 'Tabs', voter_count: 1 },
      { text: 'Spaces', voter_count: 2 },
    ],
    total_voter_count: 3,
    is_closed: false,
    is_anonymous: true,
    type: 'regular',
    allows_multiple_answers: false,
  },
});
const otherGroup = { id: -4_321, type: 'group', title: 'Old-style group' };
const myChatMember = () => ({
  update_id: nextId++,
  my_chat_member: {
    chat: otherGroup,
    from: user,
    date: 1_700_000_000,
    old_chat_member: { status: 'left', user: { id: 1, is_bot: true, first_name: 'Bot' } },
    new_chat_member: { status: 'member', user: { id: 1, is_bot: true, first_name: 'Bot' } },
  },
});
const channel = { id: -1_009_999, type: 'channel', title: 'News' };
const channelPost = () => ({
  update_id: nextId++,
  channel_post: { message_id: nextId, chat: channel, date: 1_700_000_000, text: 'news' },
});

let api: FakeBotApi | undefined;
let server: ServerType | undefined;
const children: ChildProcess[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const child of children.splice(0)) child.kill();
  if (server) {
    const closing = server;
    server = undefined;
    await new Promise((resolve) => closing.close(resolve));
  }
  await api?.stop();
  api = undefined;
});

/** A webhook whose replies go to a fresh fake Bot API; records what it let through and dropped. */
async function webhook(options: Partial<WebhookOptions> = {}) {
  api = await startFakeBotApi();
  const processed: Array<{ update: Update; decision: UpdateDecision; at: number }> = [];
  const dropped: string[] = [];
  const { app } = createWebhook({
    token: TOKEN,
    botInfo: BOT_INFO,
    apiRoot: api.apiRoot,
    onUpdate: (update, decision) => processed.push({ update, decision, at: Date.now() }),
    log: (line) => dropped.push(line),
    ...options,
  });
  return { app, api, processed, dropped };
}

/** Serves `app` on a free 127.0.0.1 port; resolves with the webhook URL. */
async function listen(app: Pick<Hono, 'fetch'>): Promise<string> {
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
      resolve(info.port),
    );
  });
  return `http://127.0.0.1:${port}/webhook`;
}

const post = (url: string, update: object, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(update),
  });

describe('keys and replies (over HTTP)', () => {
  it('keys each update by its chat (grammY ctx.chat); private chats skip the group limit; no chat → only the global limit; replies go to the Bot API', async () => {
    const { app, api, processed } = await webhook();
    const url = await listen(app);
    const cases: Array<[object, object | null, string[]]> = [
      [
        privateMessage(42, 'hi'),
        { method: 'sendMessage', payload: { chat_id: 42, text: 'You said: hi' } },
        ['telegram-1:42', 'telegram-all:bot'],
      ],
      [
        groupMessage('hello all'),
        { method: 'sendMessage', payload: { chat_id: group.id, text: 'You said: hello all' } },
        [`telegram-1:${group.id}`, `telegram-2:${group.id}`, 'telegram-all:bot'],
      ],
      [
        callbackQuery(43),
        {
          method: 'answerCallbackQuery',
          payload: { callback_query_id: expect.stringMatching(/^cb/) },
        },
        ['telegram-1:43', 'telegram-all:bot'],
      ],
      [
        inlineQuery(),
        {
          method: 'answerInlineQuery',
          payload: { inline_query_id: expect.stringMatching(/^iq/), results: [] },
        },
        ['telegram-all:bot'],
      ],
      [poll(), null, ['telegram-all:bot']],
      [
        myChatMember(),
        null,
        [`telegram-1:${otherGroup.id}`, `telegram-2:${otherGroup.id}`, 'telegram-all:bot'],
      ],
      [channelPost(), null, [`telegram-1:${channel.id}`, 'telegram-all:bot']],
    ];
    for (const [update, reply, limits] of cases) {
      const before = api.calls.length;
      const res = await post(url, update);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('');
      const calls = api.calls.slice(before);
      if (reply === null) expect(calls).toEqual([]);
      else expect(calls).toEqual([expect.objectContaining(reply)]);
      const decision = processed.at(-1)?.decision;
      expect(decision?.limits.map((l) => `${l.name}:${l.key}`)).toEqual(limits);
      expect(decision?.delay).toBe(0);
    }
    expect(processed).toHaveLength(cases.length);
  });

  it('rejects a body that is not JSON (400) and a wrong secret token (401), before any limit', async () => {
    const { app, processed, api } = await webhook({ secretToken: 's3cret' });
    const url = await listen(app);
    const bad = await fetch(url, {
      method: 'POST',
      headers: { 'x-telegram-bot-api-secret-token': 's3cret' },
      body: '{not json',
    });
    expect(bad.status).toBe(400);
    expect((await post(url, privateMessage(42, 'hi'))).status).toBe(401);
    const ok = await post(url, privateMessage(42, 'hi'), {
      'x-telegram-bot-api-secret-token': 's3cret',
    });
    expect(ok.status).toBe(200);
    expect(processed).toHaveLength(1);
    expect(processed[0]!.decision.delay).toBe(0); // the refused ones used no slot of chat 42
    expect(api.calls.map((c) => c.method)).toEqual(['sendMessage']);
  });
});

describe('isGroup', () => {
  it.each([
    [{ type: 'group' as const }, true],
    [{ type: 'supergroup' as const }, true],
    [{ type: 'channel' as const }, false],
    [{ type: 'private' as const }, false],
  ])('%o → %s', (chat, expected) => {
    expect(isGroup(chat)).toBe(expected);
  });
});

describe('pacing (real time, over HTTP)', () => {
  it('holds the second message to one private chat for ~1 s; other chats are not held', async () => {
    const { app, api, processed } = await webhook();
    const url = await listen(app);
    const t0 = Date.now();
    expect((await post(url, privateMessage(42, 'one'))).status).toBe(200);
    const second = post(url, privateMessage(42, 'two'));
    const other = await post(url, privateMessage(77, 'elsewhere'));
    expect(other.status).toBe(200);
    expect(other.headers.get('Server-Timing')).toBeNull(); // not held
    const res = await second;
    expect(res.status).toBe(200);
    expect(res.headers.get('Server-Timing')).toMatch(/^freqlimit;dur=\d+$/);
    const replies = api.calls.map((c) => [c.payload.chat_id, c.payload.text, c.at] as const);
    expect(replies.map(([chat, text]) => [chat, text])).toEqual([
      [42, 'You said: one'],
      [77, 'You said: elsewhere'],
      [42, 'You said: two'],
    ]);
    // The first message's slot was taken after t0, so the Bot API cannot see the second reply
    // to chat 42 before t0 + 1 s (2 ms for the two clocks' rounding); and it came before the 7 s
    // cap would have dropped it.
    const second42 = replies[2]![2];
    expect(second42 - t0).toBeGreaterThanOrEqual(1_000 - 2);
    expect(second42 - t0).toBeLessThan(7_000);
    expect(processed.map((p) => p.decision.delay > 0)).toEqual([false, false, true]);
  });
});

/** Counts reservations, so a test knows every update has been decided. */
class CountingBackend extends InMemoryBackend {
  decided = 0;
  override reserve(...args: Parameters<InMemoryBackend['reserve']>): Promise<Reservation> {
    this.decided++;
    return super.reserve(...args);
  }
  override reserveMany(
    entries: ReadonlyArray<ReserveManyEntry>,
    options?: ReserveManyOptions,
  ): Promise<MultiReservation> {
    this.decided++;
    return super.reserveMany(entries, options);
  }
}

describe('pacing (injected clock, fake timers)', () => {
  /**
   * Posts all updates at once (in process: `app.request`) and runs the clock: each step lets
   * real I/O finish (the replies to the fake Bot API) while time stands still, then jumps to
   * the next timer (a hold ending). Every reply is recorded at its exact fake time.
   */
  async function burst(options: Partial<WebhookOptions>, updates: Array<{ update_id: number }>) {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    vi.setSystemTime(0);
    const backend = new CountingBackend({ clock: () => Date.now() });
    const b = await webhook({ backend, ...options });
    const answered = new Set<number>();
    const responses = updates.map((u) =>
      Promise.resolve(
        b.app.request('/webhook', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(u),
        }),
      ).then((res) => {
        answered.add(u.update_id);
        return res;
      }),
    );
    while (backend.decided < updates.length) await new Promise<void>((r) => setImmediate(r));
    for (let step = 0; step < 1_000; step++) {
      // Quiet: every update let through has been answered (its reply sent), and every other
      // one is either answered (dropped) or waiting on a hold timer.
      while (
        !b.processed.every((p) => answered.has(p.update.update_id)) ||
        answered.size + vi.getTimerCount() !== updates.length
      ) {
        await realSleep(1);
      }
      if (answered.size === updates.length) break;
      await vi.advanceTimersToNextTimerAsync();
    }
    return { ...b, responses: await Promise.all(responses) };
  }
  const replyTimes = (api: FakeBotApi, chatId: number) =>
    api.calls.filter((c) => c.payload.chat_id === chatId).map((c) => c.at);

  it('25 messages to one group at once, default limits: one reply every 3 s, the rest dropped past 7 s', async () => {
    const updates = Array.from({ length: 25 }, (_, i) => groupMessage(`msg ${i}`));
    const { responses, api, processed, dropped } = await burst({}, updates);
    expect(responses.map((r) => r.status)).toEqual(new Array(25).fill(200));
    expect(replyTimes(api, group.id)).toEqual([0, 3_000, 6_000]);
    expect(processed.map((p) => p.decision.delay)).toEqual([0, 3_000, 6_000]);
    expect(dropped).toHaveLength(22);
    expect(dropped[0]).toMatch(
      new RegExp(`^dropped update \\d+ \\(chat ${group.id}\\): it would have waited 9000 ms$`),
    );
  });

  it('25 messages to one group with burst 5 and maxDelay 20 s: 1/s per chat, then the group pace', async () => {
    const updates = Array.from({ length: 25 }, (_, i) =>
      groupMessage(`msg ${i}`, { ...user, id: 8_000 + i }),
    );
    const { api, dropped } = await burst(
      { perGroup: { limit: 20, period: 60_000, burst: 5 }, maxDelay: 20_000 },
      updates,
    );
    // The per-chat limit spaces the first seven by 1 s; from then on the group limit (3 s) binds.
    expect(replyTimes(api, group.id)).toEqual([
      0, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 9_000, 12_000, 15_000, 18_000,
    ]);
    expect(dropped).toHaveLength(14);
  });

  it('a flood in one group holds back no other chat', async () => {
    const updates = [
      ...Array.from({ length: 10 }, (_, i) => groupMessage(`msg ${i}`)),
      privateMessage(42, 'meanwhile'),
    ];
    const { api } = await burst({}, updates);
    expect(replyTimes(api, group.id)).toEqual([0, 3_000, 6_000]);
    // One reservation over the chat, group and global limits would have counted the global
    // limit at 6000 too and held this reply ~5 s; the global limit comes after, on its own.
    expect(replyTimes(api, 42)).toEqual([0]);
  });

  it('updates without a chat only meet the global limit of 30/s', async () => {
    const updates = [
      ...Array.from({ length: 20 }, inlineQuery),
      ...Array.from({ length: 11 }, poll),
    ];
    const { processed, dropped } = await burst({ maxGlobalDelay: 0 }, updates);
    expect(processed).toHaveLength(30); // not paced at 1/s: no per-chat key
    expect(processed.every((p) => p.at === 0)).toBe(true);
    expect(dropped).toEqual([
      expect.stringMatching(/^dropped update \d+ \(chat -\): it would have waited 34 ms$/),
    ]);
  });

  it('40 chats at once: 30 replies at once, then the whole bot’s 30/s holds the rest after their chat limit', async () => {
    const updates = Array.from({ length: 40 }, (_, i) => privateMessage(9_000 + i, 'hi'));
    const { api, processed, dropped } = await burst({}, updates);
    expect(dropped).toEqual([]);
    const times = api.calls.map((c) => c.at).sort((a, b) => a - b);
    expect(times.slice(0, 30)).toEqual(new Array(30).fill(0));
    // one every 33⅓ ms (timers fire on whole ms, rounded up)
    times.slice(30).forEach((t, i) => {
      expect(t - ((i + 1) * 1_000) / 30).toBeGreaterThanOrEqual(0);
      expect(t - ((i + 1) * 1_000) / 30).toBeLessThanOrEqual(1);
    });
    // each was held by the chat limit (not at all) and then by the bot's (up to 333 ms)
    expect(processed.at(-1)?.decision.limits.map((l) => l.name)).toEqual([
      'telegram-1',
      'telegram-all',
    ]);
    expect(processed.at(-1)?.decision.delay).toBeGreaterThan(300);
  });
});

describe('over the cap', () => {
  it('answers 200 with no reply, logs the drop, and never runs the handler', async () => {
    const { app, api, processed, dropped } = await webhook({ clock: () => 0, maxDelay: 500 });
    const url = await listen(app);
    expect((await post(url, privateMessage(42, 'one'))).status).toBe(200);
    const update = privateMessage(42, 'two');
    const res = await post(url, update);
    expect(res.status).toBe(200); // a 429 would make Telegram send the update again
    expect(await res.text()).toBe('');
    expect(processed).toHaveLength(1);
    expect(api.calls).toHaveLength(1); // no reply to the dropped one
    expect(dropped).toEqual([
      `dropped update ${update.update_id} (chat 42): it would have waited 1000 ms`,
    ]);
  });
});

describe('src/server.ts', () => {
  it('serves the webhook on PORT on 127.0.0.1; the bot calls getMe, then replies', async () => {
    api = await startFakeBotApi();
    const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
    const child = spawn(tsx, ['src/server.ts'], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: {
        ...process.env,
        PORT: '0',
        BOT_TOKEN: TOKEN,
        TELEGRAM_API_ROOT: api.apiRoot,
        TELEGRAM_SECRET_TOKEN: 'tok',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+\/webhook)/);
        if (match?.[1]) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
    });
    const res = await post(url, privateMessage(42, 'hi'), {
      'x-telegram-bot-api-secret-token': 'tok',
    });
    expect(res.status).toBe(200);
    expect(api.calls.map((c) => [c.method, c.payload.text])).toEqual([
      ['getMe', undefined],
      ['sendMessage', 'You said: hi'],
    ]);
    expect((await post(url, privateMessage(42, 'hi'))).status).toBe(401);
  });
});
