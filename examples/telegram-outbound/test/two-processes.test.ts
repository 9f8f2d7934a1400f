import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../../packages/core/test/redis-harness.js';
import {
  type FakeBotApi,
  type FakeBotApiOptions,
  type RecordedCall,
  startFakeBotApi,
  TOKEN,
} from './fake-bot-api.js';

// Two real processes (`src/broadcast.ts`) share Telegram's limits through one real Redis, and
// send to a local fake Bot API that enforces those limits the way Telegram does and records
// the arrival of every call. Times are the fake server's own clock. A sender keeping the limits
// exactly still reaches the server a little early or late (timers, scheduling on a busy
// machine), so the server allows TOLERANCE ms of it, and the checks below are lower bounds.
const TOLERANCE = 400;

const here = fileURLToPath(new URL('..', import.meta.url));
let redis: RedisServer;
let api: FakeBotApi | undefined;
const children = new Set<ChildProcess>();
let run = 0;

beforeAll(async () => {
  redis = await startRedis();
}, 60_000);

afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  await api?.stop();
  api = undefined;
});

afterAll(async () => {
  await redis?.stop();
});

type Event = { event: string; [field: string]: unknown };

/** Starts one `broadcast.ts` process; resolves once it is connected to Redis. */
async function startWorker(apiRoot: string, prefix: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/broadcast.ts'], {
    cwd: here,
    env: {
      ...process.env,
      BOT_TOKEN: TOKEN,
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      TELEGRAM_API_ROOT: apiRoot,
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.add(child);
  const events: Event[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const event = JSON.parse(line) as Event;
      events.push(event);
      if (event.event === 'ready') resolve();
    });
    exited.then((code) => reject(new Error(`worker exited with ${code} before it was ready`)));
  });
  await ready;
  return { child, events, exited };
}

/**
 * Runs the plans on two workers at once (both connected before either reads its list) and
 * resolves with each worker's events once both have exited.
 */
async function broadcast(options: FakeBotApiOptions, plans: [string[], string[]]) {
  api = await startFakeBotApi({ tolerance: TOLERANCE, ...options });
  const prefix = `tg-example:${process.pid}:${run++}:`;
  const workers = await Promise.all([0, 1].map(() => startWorker(api!.apiRoot, prefix)));
  workers.forEach((w, i) => {
    w.child.stdin!.end(`${plans[i]!.join('\n')}\n`);
  });
  const codes = await Promise.all(workers.map((w) => w.exited));
  return { api, codes, events: workers.map((w) => w.events) };
}

/** Message `seq` to `chat` goes from worker `seq % 2`; its text names both. */
function plan(chats: Array<[chat: number, count: number]>): [string[], string[]] {
  const plans: [string[], string[]] = [[], []];
  for (const [chat, count] of chats) {
    for (let seq = 1; seq <= count; seq++) {
      plans[seq % 2]!.push(`${chat} w${seq % 2}:${chat}#${seq}`);
    }
  }
  return plans;
}

const byChat = (calls: RecordedCall[]) => {
  const map = new Map<string, RecordedCall[]>();
  for (const call of calls) {
    const chat = String(call.chatId);
    map.set(chat, [...(map.get(chat) ?? []), call]);
  }
  return map;
};

const gaps = (calls: RecordedCall[]) => calls.slice(1).map((c, i) => c.at - calls[i]!.at);
const worker = (call: RecordedCall) => call.text.slice(0, 2);

describe('two processes, one Redis', () => {
  it("300 messages to 20 chats (18 private, 2 groups) at Telegram's limits: no 429", async () => {
    const privates = Array.from({ length: 18 }, (_, i): [number, number] => [5_001 + i, 16]);
    const groups: Array<[number, number]> = [
      [-6_001, 6],
      [-6_002, 6],
    ];
    // Each list is chat by chat: 16 messages to the first chat, then the next… — the order a
    // list has does not make one chat wait for another.
    const { api, codes, events } = await broadcast({}, plan([...privates, ...groups]));
    expect(events.flat().filter((e) => e.event === 'failed' || e.event === 'flood')).toEqual([]);
    expect(codes).toEqual([0, 0]);
    for (const list of events) {
      expect(list.at(-1)).toMatchObject({ event: 'done', sent: 150, failed: 0 });
    }
    expect(api.calls).toHaveLength(300);
    expect(api.calls.filter((c) => c.status !== 200)).toEqual([]);

    const chats = byChat(api.calls);
    expect(chats.size).toBe(20);
    let minPrivate = Number.POSITIVE_INFINITY;
    let minGroup = Number.POSITIVE_INFINITY;
    for (const [chat, calls] of chats) {
      const group = Number(chat) < 0;
      expect(calls).toHaveLength(group ? 6 : 16);
      // Both processes sent to every chat; only the shared limits kept them apart.
      expect(new Set(calls.map(worker))).toEqual(new Set(['w0', 'w1']));
      const min = Math.min(...gaps(calls));
      if (group) minGroup = Math.min(minGroup, min);
      else minPrivate = Math.min(minPrivate, min);
    }
    expect(minPrivate).toBeGreaterThanOrEqual(1_000 - TOLERANCE);
    expect(minGroup).toBeGreaterThanOrEqual(3_000 - TOLERANCE);
    const times = api.calls.map((c) => c.at);
    const span = Math.max(...times) - Math.min(...times);
    // 15 s at 1/s per chat; far less than if a chat's long line held back the others.
    expect(span).toBeLessThan(45_000);
    const busiest = Math.max(
      ...times.map((t) => times.filter((u) => u >= t && u < t + 1_000).length),
    );
    console.info(
      `telegram-outbound (a): 300 sent in ${Math.round(span)} ms, min spacing ${Math.round(minPrivate)} ms per private chat, ${Math.round(minGroup)} ms per group, at most ${busiest} in any second`,
    );
  });

  it('a forced 429 with retry_after 3: neither process sends to that chat before it has passed; one retry', async () => {
    const retryAfter = 3;
    const forced = 5_001;
    const { api, codes, events } = await broadcast(
      { force429: { chatId: forced, nth: [3], retryAfter } },
      plan([
        [forced, 10],
        [5_002, 8],
      ]),
    );
    expect(codes).toEqual([0, 0]);
    const chats = byChat(api.calls);
    const calls = chats.get(String(forced))!;
    const refused = calls.filter((c) => c.status === 429);
    expect(refused).toEqual([expect.objectContaining({ reason: 'forced', retryAfter })]);
    expect(api.calls.filter((c) => c.status === 429)).toHaveLength(1); // nothing else refused
    const t429 = refused[0]!.at;
    const after = calls.filter((c) => c.at > t429);
    // The block reached both processes: everything after the 429 waited it out — 100 ms of
    // slack for the clocks involved (the Redis server's, each process's, the fake server's).
    expect(after.length).toBeGreaterThanOrEqual(7);
    expect(new Set(after.map(worker))).toEqual(new Set(['w0', 'w1']));
    for (const call of after)
      expect(call.at - t429).toBeGreaterThanOrEqual(retryAfter * 1_000 - 100);
    // The refused message was retried exactly once, first after the block.
    expect(after[0]!.text).toBe(refused[0]!.text);
    expect(calls.filter((c) => c.text === refused[0]!.text).map((c) => c.status)).toEqual([
      429, 200,
    ]);
    // Every message arrived once; the chat's 1/s still held after the block.
    expect(new Set(calls.filter((c) => c.status === 200).map((c) => c.text)).size).toBe(10);
    expect(Math.min(...gaps(calls.filter((c) => c.status === 200)))).toBeGreaterThanOrEqual(
      1_000 - TOLERANCE,
    );
    // Only the process whose message was refused saw the 429.
    const floods = events.map((list) => list.filter((e) => e.event === 'flood').length);
    expect(floods.sort()).toEqual([0, 1]);
    // The other chat was not blocked.
    const other = chats.get('5002')!;
    expect(other.some((c) => c.at > t429 && c.at < t429 + retryAfter * 1_000)).toBe(true);
    console.info(
      `telegram-outbound (b): 429 at ${Math.round(t429)} ms; next sends to that chat after ${after
        .slice(0, 3)
        .map((c) => `${Math.round(c.at - t429)} ms (${worker(c)})`)
        .join(', ')}`,
    );
  });

  it('90 messages to 90 chats: 30 at once, then 30 a second across both processes', async () => {
    const plans: [string[], string[]] = [[], []];
    for (let i = 0; i < 90; i++) plans[i % 2]!.push(`${7_001 + i} w${i % 2}:${7_001 + i}#1`);
    const { api, codes } = await broadcast({}, plans);
    expect(codes).toEqual([0, 0]);
    expect(api.calls).toHaveLength(90);
    expect(api.calls.filter((c) => c.status !== 200)).toEqual([]);
    const times = api.calls.map((c) => c.at).sort((a, b) => a - b);
    // 60 of them had to wait for the whole bot's limit: one every 33⅓ ms.
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(60 * (1_000 / 30) - TOLERANCE);
    const busiest = Math.max(
      ...times.map((t) => times.filter((u) => u >= t && u < t + 1_000).length),
    );
    console.info(
      `telegram-outbound (c): 90 sent in ${Math.round(times.at(-1)! - times[0]!)} ms, at most ${busiest} in any second`,
    );
  });
});
