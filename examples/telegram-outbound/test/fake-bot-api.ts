/**
 * A local stand-in for the Telegram Bot API (node:http on 127.0.0.1) that enforces Telegram's
 * sending limits the way Telegram answers them — 429 `Too Many Requests: retry after N` with
 * `parameters.retry_after` — and records every message call with the time it arrived.
 */

import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UserFromGetMe } from 'grammy/types';

/** At most `count` messages in any window of `window` ms. */
export interface WindowRule {
  count: number;
  window: number;
}

/** A token bucket: `capacity` messages at once, refilled at `rate` per second. */
export interface BucketRule {
  rate: number;
  capacity: number;
}

export interface FakeBotApiOptions {
  /** Per chat. Default 1 per 1000 ms. */
  perChat?: WindowRule;
  /** Per group (negative chat id). Default 20 per 60 000 ms. */
  perGroup?: WindowRule;
  /** All chats together. Default 30 per second, 30 at once. */
  global?: BucketRule;
  /**
   * Jitter allowance (ms) taken off every window (and allowed early on the bucket): a sender
   * that keeps the limits exactly still reaches the server a little early or late, with timer
   * lateness and scheduling. Default 0.
   */
  tolerance?: number;
  /** Answer the `nth` (1-based) message calls to `chatId` with 429 and `retry_after` seconds. */
  force429?: { chatId: number; nth: number[]; retryAfter: number };
}

/** One message call as the server saw it. */
export interface RecordedCall {
  method: string;
  chatId: number | string;
  text: string;
  /** Arrival, ms on this process's `performance.now()` clock. */
  at: number;
  status: 200 | 429;
  /** Why a 429 was answered. */
  reason?: 'forced' | 'flood-wait' | 'per-chat' | 'per-group' | 'global';
  retryAfter?: number;
}

export interface FakeBotApi {
  /** For grammY's `client.apiRoot`. */
  apiRoot: string;
  /** Every message call, in arrival order. */
  calls: RecordedCall[];
  /** Calls of other methods (getMe…), by name. */
  otherCalls: string[];
  stop(): Promise<void>;
}

export const BOT_INFO: UserFromGetMe = {
  id: 123_456,
  is_bot: true,
  first_name: 'Pacer',
  username: 'pacer_bot',
  can_join_groups: true,
  can_read_all_group_messages: false,
  supports_inline_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false,
  has_topics_enabled: false,
  allows_users_to_create_topics: false,
  can_manage_bots: false,
  supports_join_request_queries: false,
};
export const TOKEN = `${BOT_INFO.id}:TEST-token`;

const MESSAGE_METHOD = /^(send(?!ChatAction)|forward|copy)/;

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

export async function startFakeBotApi(options: FakeBotApiOptions = {}): Promise<FakeBotApi> {
  const tolerance = options.tolerance ?? 0;
  const windows = {
    'per-chat': options.perChat ?? { count: 1, window: 1_000 },
    'per-group': options.perGroup ?? { count: 20, window: 60_000 },
  } as const;
  const bucket = options.global ?? { rate: 30, capacity: 30 };
  const interval = 1_000 / bucket.rate;
  let bucketTat = Number.NEGATIVE_INFINITY; // the bucket as GCRA: full while tat ≤ now
  const calls: RecordedCall[] = [];
  const otherCalls: string[] = [];
  const accepted = new Map<string, number[]>(); // accepted arrival times per rule scope
  const floodUntil = new Map<string, number>(); // chat → end of its flood wait
  const seen = new Map<string, number>(); // chat → message calls so far
  let messageId = 0;

  /** When `scope` may take one more message under `rule`, or 0 when it may now. */
  const freeAt = (scope: string, rule: WindowRule, now: number): number => {
    const times = accepted.get(scope) ?? [];
    const window = rule.window - tolerance;
    const inWindow = times.filter((t) => t > now - window);
    return inWindow.length < rule.count ? 0 : inWindow[inWindow.length - rule.count]! + window;
  };

  const server = createServer(async (req, res) => {
    const reply = (status: number, json: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    };
    const method = /^\/bot[^/]+\/([A-Za-z]+)$/.exec(req.url ?? '')?.[1] ?? '';
    let payload: Record<string, unknown>;
    try {
      payload = await body(req);
    } catch {
      return reply(400, { ok: false, error_code: 400, description: 'Bad Request: invalid JSON' });
    }
    const now = performance.now();
    if (!MESSAGE_METHOD.test(method)) {
      otherCalls.push(method);
      return reply(200, { ok: true, result: method === 'getMe' ? BOT_INFO : true });
    }
    const chatId = payload.chat_id as number | string;
    const text = String(payload.text ?? '');
    const chat = String(chatId);
    const nth = (seen.get(chat) ?? 0) + 1;
    seen.set(chat, nth);

    /** Refuses the call with `retry_after: seconds`; the chat is then in flood wait that long. */
    const refuse = (reason: NonNullable<RecordedCall['reason']>, seconds: number): void => {
      const retryAfter = Math.max(1, Math.ceil(seconds));
      floodUntil.set(chat, Math.max(floodUntil.get(chat) ?? 0, now + retryAfter * 1_000));
      calls.push({ method, chatId, text, at: now, status: 429, reason, retryAfter });
      reply(429, {
        ok: false,
        error_code: 429,
        description: `Too Many Requests: retry after ${retryAfter}`,
        parameters: { retry_after: retryAfter },
      });
    };

    const forced = options.force429;
    if (forced && String(forced.chatId) === chat && forced.nth.includes(nth)) {
      return refuse('forced', forced.retryAfter);
    }
    const flood = floodUntil.get(chat) ?? 0;
    if (flood > now) return refuse('flood-wait', (flood - now) / 1_000);
    const scopes: Array<[keyof typeof windows, string]> = [['per-chat', `chat:${chat}`]];
    if (typeof chatId === 'number' ? chatId < 0 : chat.startsWith('@')) {
      scopes.push(['per-group', `group:${chat}`]);
    }
    for (const [rule, scope] of scopes) {
      const until = freeAt(scope, windows[rule], now);
      if (until > 0) return refuse(rule, (until - now) / 1_000);
    }
    const bucketFree = bucketTat - (bucket.capacity - 1) * interval - tolerance;
    if (now < bucketFree) return refuse('global', (bucketFree - now) / 1_000);
    bucketTat = Math.max(bucketTat, now) + interval;
    for (const [, scope] of scopes) {
      const times = accepted.get(scope) ?? [];
      times.push(now);
      accepted.set(scope, times);
    }
    calls.push({ method, chatId, text, at: now, status: 200 });
    reply(200, {
      ok: true,
      result: {
        message_id: ++messageId,
        date: Math.floor(Date.now() / 1_000),
        chat: { id: chatId, type: typeof chatId === 'number' && chatId > 0 ? 'private' : 'group' },
        text,
      },
    });
  });
  // grammY keeps its connections alive between calls. Node closes an idle server connection
  // after 5 s, and a call sent on it at that moment fails with a network error ("socket hang
  // up"): a race of the test's server, not of the bot. Idle connections stay open instead
  // (stop() closes them).
  server.keepAliveTimeout = 10 * 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    apiRoot: `http://127.0.0.1:${port}`,
    calls,
    otherCalls,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
