import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  InMemoryBackend,
  type MultiReservation,
  type Reservation,
  type ReserveManyEntry,
  type ReserveManyOptions,
} from '@freqlimit/core';
import type { FreqLimitInfo } from '@freqlimit/hono';
import type { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type BotOptions, createBot } from '../src/app.js';
import { isGroup, type Update } from '../src/telegram.js';

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

const post = (app: Hono, update: object, headers: Record<string, string> = {}) =>
  app.request('/webhook', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(update),
  });

/** A bot that records what it processed and what it dropped. */
function bot(options: BotOptions = {}) {
  const processed: Array<{ update: Update; info: FreqLimitInfo | undefined; at: number }> = [];
  const dropped: string[] = [];
  const app = createBot({
    onUpdate: (update, info) => processed.push({ update, info, at: Date.now() }),
    log: (line) => dropped.push(line),
    ...options,
  });
  return { app, processed, dropped };
}

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

const children: ChildProcess[] = [];

afterEach(() => {
  vi.useRealTimers();
  for (const child of children.splice(0)) child.kill();
});

describe('keys and replies', () => {
  it('keys each update by its chat; private chats skip the group limit; no chat → only the global limit', async () => {
    const { app, processed } = bot();
    const cases: Array<[object, object | null, string[]]> = [
      [
        privateMessage(42, 'hi'),
        { method: 'sendMessage', chat_id: 42, text: 'You said: hi' },
        ['telegram-1:42', 'telegram-3:bot'],
      ],
      [
        groupMessage('hello all'),
        { method: 'sendMessage', chat_id: group.id, text: 'You said: hello all' },
        [`telegram-1:${group.id}`, `telegram-2:${group.id}`, 'telegram-3:bot'],
      ],
      [
        callbackQuery(43),
        { method: 'answerCallbackQuery', callback_query_id: expect.stringMatching(/^cb/) },
        ['telegram-1:43', 'telegram-3:bot'],
      ],
      [
        inlineQuery(),
        { method: 'answerInlineQuery', inline_query_id: expect.stringMatching(/^iq/), results: [] },
        ['telegram-3:bot'],
      ],
      [poll(), null, ['telegram-3:bot']],
      [
        myChatMember(),
        null,
        [`telegram-1:${otherGroup.id}`, `telegram-2:${otherGroup.id}`, 'telegram-3:bot'],
      ],
      [channelPost(), null, [`telegram-1:${channel.id}`, 'telegram-3:bot']],
    ];
    for (const [update, reply, limits] of cases) {
      const res = await post(app, update);
      expect(res.status).toBe(200);
      if (reply === null) expect(await res.text()).toBe('');
      else expect(await res.json()).toEqual(reply);
      const info = processed.at(-1)?.info;
      expect(info?.limits.map((l) => `${l.name}:${l.key}`)).toEqual(limits);
    }
    expect(processed).toHaveLength(cases.length);
  });

  it('rejects a body that is not JSON (400) and a wrong secret token (401)', async () => {
    const { app, processed } = bot({ secretToken: 's3cret' });
    const bad = await app.request('/webhook', {
      method: 'POST',
      headers: { 'x-telegram-bot-api-secret-token': 's3cret' },
      body: '{not json',
    });
    expect(bad.status).toBe(400);
    expect((await post(app, privateMessage(42, 'hi'))).status).toBe(401);
    const ok = await post(app, privateMessage(42, 'hi'), {
      'x-telegram-bot-api-secret-token': 's3cret',
    });
    expect(ok.status).toBe(200);
    expect(processed).toHaveLength(1);
  });
});

describe('isGroup', () => {
  it.each([
    [{ id: -4_321, type: 'group' as const }, true],
    [{ id: -1_001_234, type: 'supergroup' as const }, true],
    [{ id: -1_009_999, type: 'channel' as const }, false],
    [{ id: 42, type: 'private' as const }, false],
    [{ id: -55 }, true], // no type: a negative id is a group
    [{ id: 55 }, false],
  ])('%o → %s', (chat, expected) => {
    expect(isGroup(chat)).toBe(expected);
  });
});

describe('pacing (real time)', () => {
  it('holds the second message to one private chat for ~1 s; other chats are not held', async () => {
    const { app, processed } = bot();
    const t0 = performance.now();
    expect((await post(app, privateMessage(42, 'one'))).status).toBe(200);
    const second = post(app, privateMessage(42, 'two'));
    const other = await post(app, privateMessage(77, 'elsewhere'));
    expect(other.status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(500);
    const res = await second;
    const waited = performance.now() - t0;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ chat_id: 42, text: 'You said: two' });
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(waited).toBeLessThan(1_600);
    expect(res.headers.get('Server-Timing')).toMatch(/^freqlimit;dur=\d+$/);
    expect(processed.map((p) => p.update.message?.text)).toEqual(['one', 'elsewhere', 'two']);
  });
});

describe('pacing (injected clock, fake timers)', () => {
  /** Posts all updates at once, waits until each is decided, then lets the holds run. */
  async function burst(options: BotOptions, updates: object[]) {
    // Every clock the limiter reads moves together: timers, Date and performance.now().
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    vi.setSystemTime(0);
    const backend = new CountingBackend({ clock: () => Date.now() });
    const b = bot({ backend, ...options });
    const answers = updates.map((u) => post(b.app, u));
    while (backend.decided < updates.length) await new Promise((r) => setImmediate(r));
    await vi.advanceTimersByTimeAsync(60_000);
    const responses = await Promise.all(answers);
    return { ...b, responses };
  }

  it('25 messages to one group at once, default limits: one every 3 s, the rest dropped past 8 s', async () => {
    const updates = Array.from({ length: 25 }, (_, i) => groupMessage(`msg ${i}`));
    const { responses, processed, dropped } = await burst({}, updates);
    expect(responses.map((r) => r.status)).toEqual(new Array(25).fill(200));
    expect(processed.map((p) => p.at)).toEqual([0, 3_000, 6_000]);
    expect(dropped).toHaveLength(22);
    expect(dropped[0]).toMatch(
      new RegExp(`^dropped update \\d+ \\(chat ${group.id}\\): it would have waited 9000 ms$`),
    );
  });

  it('25 messages to one group with burst 5 and maxDelay 20 s: 1/s per chat, then the group pace', async () => {
    const updates = Array.from({ length: 25 }, (_, i) =>
      groupMessage(`msg ${i}`, { ...user, id: 8_000 + i }),
    );
    const { processed, dropped, responses } = await burst(
      { perGroup: { limit: 20, period: 60_000, burst: 5 }, maxDelay: 20_000 },
      updates,
    );
    // The per-chat limit spaces the first seven by 1 s; from then on the group limit (3 s) binds.
    expect(processed.map((p) => p.at)).toEqual([
      0, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 9_000, 12_000, 15_000, 18_000,
    ]);
    expect(processed.map((p) => p.info?.delay)).toEqual(processed.map((p) => p.at));
    expect(dropped).toHaveLength(14);
    // Held ones answer with the reply, dropped ones with an empty 200.
    const bodies = await Promise.all(responses.map((r) => r.text()));
    expect(bodies.filter((b) => b === '')).toHaveLength(14);
  });

  it('updates without a chat only meet the global limit of 30/s', async () => {
    const updates = [
      ...Array.from({ length: 20 }, inlineQuery),
      ...Array.from({ length: 11 }, poll),
    ];
    const { processed, dropped } = await burst({ maxDelay: 0 }, updates);
    expect(processed).toHaveLength(30); // not paced at 1/s: no per-chat key
    expect(processed.every((p) => p.at === 0)).toBe(true);
    expect(dropped).toEqual([
      expect.stringMatching(/^dropped update \d+ \(chat -\): it would have waited 34 ms$/),
    ]);
  });
});

describe('over the cap', () => {
  it('answers 200 with no reply, logs the drop, and never runs the handler', async () => {
    const { app, processed, dropped } = bot({ clock: () => 0, maxDelay: 500 });
    expect((await post(app, privateMessage(42, 'one'))).status).toBe(200);
    const update = privateMessage(42, 'two');
    const res = await post(app, update);
    expect(res.status).toBe(200); // a 429 would make Telegram send the update again
    expect(await res.text()).toBe('');
    expect(processed).toHaveLength(1);
    expect(dropped).toEqual([
      `dropped update ${update.update_id} (chat 42): it would have waited 1000 ms`,
    ]);
  });
});

describe('src/server.ts', () => {
  it('serves the webhook on PORT on 127.0.0.1', async () => {
    const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
    const child = spawn(tsx, ['src/server.ts'], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, PORT: '0', TELEGRAM_SECRET_TOKEN: 'tok' },
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
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': 'tok' },
      body: JSON.stringify(privateMessage(42, 'hi')),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ method: 'sendMessage', chat_id: 42, text: 'You said: hi' });
  });
});
