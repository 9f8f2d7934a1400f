import {
  FreqLimitParams,
  InMemoryBackend,
  type MultiReservation,
  RateLimitedError,
  type Reservation,
  type ReserveManyEntry,
  type ReserveManyOptions,
} from '@freqlimit/core';
import { clusterSlot } from '@freqlimit/core/redis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isGroupChat, TELEGRAM_LIMITS, TelegramLimits } from '../src/limits.js';

// Every clock the limits read moves together: timers, Date and performance.now(), which is
// also the in-memory backend's clock. Times below are ms from the start of each test.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** An in-memory backend on the fake clock that records the keys of each reservation. */
class RecordingBackend extends InMemoryBackend {
  readonly reserved: string[][] = [];
  constructor() {
    super({ clock: () => performance.now() });
  }
  override reserve(...args: Parameters<InMemoryBackend['reserve']>): Promise<Reservation> {
    this.reserved.push([args[0]]);
    return super.reserve(...args);
  }
  override reserveMany(
    entries: ReadonlyArray<ReserveManyEntry>,
    options?: ReserveManyOptions,
  ): Promise<MultiReservation> {
    this.reserved.push(entries.map((e) => e.key));
    return super.reserveMany(entries, options);
  }
}

function setup(options: ConstructorParameters<typeof TelegramLimits>[0] = {}) {
  const start = performance.now();
  const backend = new RecordingBackend();
  const limits = new TelegramLimits({ backend, ...options });
  const sent: Array<{ chat: number | string; n: number; at: number }> = [];
  const send = (chat: number | string, n = 0) =>
    limits.acquire(chat).then(() => {
      sent.push({ chat, n, at: performance.now() - start });
    });
  const times = (chat: number | string) => sent.filter((s) => s.chat === chat).map((s) => s.at);
  const now = () => performance.now() - start;
  return { backend, limits, sent, send, times, now };
}

/**
 * Sends happen at the expected times: never early, and at most 1 ms late (timers fire on whole
 * ms, rounded up, and 33⅓ ms steps are not exact in floating point).
 */
function expectTimes(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((t, i) => {
    const what = `send #${i + 1} at ${t}, expected ${expected[i]}`;
    expect(t, what).toBeGreaterThanOrEqual(expected[i]! - 1e-6);
    expect(t, what).toBeLessThanOrEqual(expected[i]! + 1);
  });
}

describe('TelegramLimits (injected clock)', () => {
  it("defaults are Telegram's figures", () => {
    expect(TELEGRAM_LIMITS).toEqual({
      perChat: { limit: 1, period: 1_000, burst: 1 },
      perGroup: { limit: 20, period: 60_000, burst: 1 },
      global: { limit: 30, period: 1_000, burst: 30 },
    });
    expect([isGroupChat(42), isGroupChat(-5), isGroupChat('@news')]).toEqual([false, true, true]);
  });

  it("keys: the chat's turn, the bot's turn, then the chat's limits as it leaves; a group's two limits in one reservation, in one Redis Cluster slot", async () => {
    const { backend, send } = setup({ bot: '123456' });
    await send(42);
    await send(-100_123);
    expect(backend.reserved).toEqual([
      ['tg:123456:chat:{42}'],
      ['tg:123456:all:'],
      ['tg:123456:chat-sent:{42}'],
      ['tg:123456:group-1:{-100123}', 'tg:123456:group-2:{-100123}'],
      ['tg:123456:all:'],
      ['tg:123456:group-sent-1:{-100123}', 'tg:123456:group-sent-2:{-100123}'],
    ]);
    for (const keys of backend.reserved) {
      expect(new Set(keys.map((k) => clusterSlot(`freqlimit:${k}`))).size).toBe(1);
    }
  });

  it('paces one private chat at 1/s and one group at 20/min (one every 3 s); a long line holds back no other chat', async () => {
    const { send, times } = setup();
    const all = [1, 2, 3, 4, 5].flatMap((n) => [send(-777, n), send(42, n)]);
    all.push(send(43, 1));
    await vi.advanceTimersByTimeAsync(15_000);
    await Promise.all(all);
    expectTimes(times(42), [0, 1_000, 2_000, 3_000, 4_000]);
    expectTimes(times(-777), [0, 3_000, 6_000, 9_000, 12_000]);
    expectTimes(times(43), [0]);
  });

  it('the whole bot: 45 chats at once → 30 at once, then one every 33⅓ ms', async () => {
    const { sent, send } = setup();
    const all = Array.from({ length: 45 }, (_, i) => send(1_000 + i));
    await vi.advanceTimersByTimeAsync(2_000);
    await Promise.all(all);
    expectTimes(
      sent.map((s) => s.at),
      Array.from({ length: 45 }, (_, i) => (i < 30 ? 0 : ((i - 29) * 1_000) / 30)),
    );
  });

  it("a message slowed by the whole bot's limit: its chat's next one keeps 1 s from when it actually left", async () => {
    const { send, times } = setup();
    // 60 chats fill the bot's line for 1 s; then two messages to chat 42.
    const all = Array.from({ length: 60 }, (_, i) => send(2_000 + i));
    all.push(send(42, 1), send(42, 2));
    await vi.advanceTimersByTimeAsync(5_000);
    await Promise.all(all);
    const [first, second] = times(42) as [number, number];
    // The first leaves 61st in the bot's line, at 1033⅓. The second's turn comes at 1000 and
    // the bot's line lets it go at 1066⅔ — 33 ms after the first, had the chat's limit been
    // counted at its turn. Counted as it leaves, it waits and goes at 2033⅓ instead.
    expectTimes([first], [1_000 + 1_000 / 30]);
    expect(second - first).toBeGreaterThanOrEqual(1_000 - 1e-6);
    expect(second).toBeLessThan(first + 1_000 + 50);
  });

  it('block: nothing goes to the chat before it ends; waiting messages go after it, in order', async () => {
    const { limits, sent, send, times } = setup();
    const all = [1, 2, 3, 4].map((n) => send(42, n)); // turns at 0, 1000, 2000, 3000
    all.push(send(43, 1), send(43, 2)); // another chat: 0, 1000
    await vi.advanceTimersByTimeAsync(500);
    await limits.block(42, 2_000); // at 500: a 429 with retry_after 2 s
    all.push(send(42, 5)); // asked for after the block
    await vi.advanceTimersByTimeAsync(20_000);
    await Promise.all(all);
    const chat42 = sent.filter((s) => s.chat === 42);
    expect(chat42.map((s) => s.n)).toEqual([1, 2, 3, 4, 5]);
    expectTimes(times(42), [0, 2_500, 3_500, 4_500, 5_500]);
    expectTimes(times(43), [0, 1_000]); // not blocked
  });

  it('retryAfter: the refused message takes the first slot after the block, ahead of the others', async () => {
    const { limits, sent, send, times, now } = setup();
    const all = [1, 2, 3, 4].map((n) => send(42, n)); // turns at 0, 1000, 2000, 3000
    await vi.advanceTimersByTimeAsync(10);
    // #1 left at 0; say Telegram refused it (retry_after 2 s): it goes again first, at 2010.
    const retried = limits.retryAfter(42, 2_000).then(() => {
      sent.push({ chat: 42, n: 1.5, at: now() });
    });
    all.push(retried);
    await vi.advanceTimersByTimeAsync(20_000);
    await Promise.all(all);
    expect(sent.map((s) => s.n)).toEqual([1, 1.5, 2, 3, 4]);
    expectTimes(times(42), [0, 2_010, 3_010, 4_010, 5_010]);
  });

  it('a block on an idle chat: the next message leaves exactly when it ends', async () => {
    const { limits, send, times } = setup();
    await limits.block(42, 3_000);
    const one = send(42);
    await vi.advanceTimersByTimeAsync(5_000);
    await one;
    expectTimes(times(42), [3_000]);
  });

  it('an aborted wait gives its turn back; a turn further than maxDelay → RateLimitedError', async () => {
    const { limits, sent, send } = setup({ maxDelay: 2_000 });
    const first = send(42, 1); // turn 0
    const controller = new AbortController();
    const second = limits.acquire(42, controller.signal); // turn 1000
    await vi.advanceTimersByTimeAsync(100);
    controller.abort(new Error('went away'));
    await expect(second).rejects.toThrow('went away');
    const third = send(42, 3); // at 100: takes the turn the second gave back, 1000
    const fourth = send(42, 4); // 2000: a wait of 1900 ms, within maxDelay
    await expect(limits.acquire(42)).rejects.toBeInstanceOf(RateLimitedError); // 2900 ms
    await vi.advanceTimersByTimeAsync(5_000);
    await Promise.all([first, third, fourth]);
    expect(sent.map((s) => s.n)).toEqual([1, 3, 4]);
    expectTimes(
      sent.map((s) => s.at),
      [0, 1_000, 2_000],
    );
  });

  it('why three steps: one reservation over all three limits would hold every chat behind a group', async () => {
    // What TelegramLimits avoids: the backend can reserve the three limits at once, each counted
    // when the message leaves — and so the global limit's state jumps to the group's pace.
    const backend = new InMemoryBackend({ clock: () => 0 });
    const [chat, group, global] = [
      TELEGRAM_LIMITS.perChat,
      TELEGRAM_LIMITS.perGroup,
      TELEGRAM_LIMITS.global,
    ].map((p) => new FreqLimitParams(p)) as [FreqLimitParams, FreqLimitParams, FreqLimitParams];
    const groupMessage = () =>
      backend.reserveMany([
        { key: 'chat:-777', params: chat },
        { key: 'group:-777', params: group },
        { key: 'all', params: global },
      ]);
    const delays = [(await groupMessage()).delay, (await groupMessage()).delay];
    delays.push((await groupMessage()).delay);
    expect(delays).toEqual([0, 3_000, 6_000]);
    const privateChat = await backend.reserveMany([
      { key: 'chat:42', params: chat },
      { key: 'all', params: global },
    ]);
    expect(privateChat.delay).toBeGreaterThan(5_000); // an idle chat, held behind the group
    // The three steps: the private chat's message goes at once.
    const { send, times } = setup();
    const all = [1, 2, 3].map((n) => send(-777, n));
    all.push(send(42));
    await vi.advanceTimersByTimeAsync(10_000);
    await Promise.all(all);
    expectTimes(times(42), [0]);
  });

  it('checks its options and chat ids', async () => {
    expect(() => new TelegramLimits({ bot: '{x}' })).toThrow(/`bot`/);
    expect(() => new TelegramLimits({ maxDelay: -1 })).toThrow(/`maxDelay`/);
    expect(() => new TelegramLimits({ jitter: Number.NaN })).toThrow(/`jitter`/);
    expect(() => new TelegramLimits({ perChat: { limit: 0, period: 1_000 } })).toThrow(/limit/);
    await expect(new TelegramLimits().acquire({} as never)).rejects.toThrow(/chat id/);
  });
});
