/**
 * A local stand-in for the Telegram Bot API (node:http on 127.0.0.1) that the bot's replies go
 * to (grammY's `client.apiRoot`). It records every call with the time it arrived (`Date.now()`,
 * so fake timers give exact times) and answers as Telegram would.
 */

import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UserFromGetMe } from 'grammy/types';

export const BOT_INFO: UserFromGetMe = {
  id: 123_456,
  is_bot: true,
  first_name: 'Echo',
  username: 'echo_bot',
  can_join_groups: true,
  can_read_all_group_messages: false,
  supports_inline_queries: true,
  can_connect_to_business: false,
  has_main_web_app: false,
  has_topics_enabled: false,
  allows_users_to_create_topics: false,
  can_manage_bots: false,
  supports_join_request_queries: false,
};
export const TOKEN = `${BOT_INFO.id}:TEST-token`;

/** One Bot API call as the server saw it. */
export interface RecordedCall {
  method: string;
  payload: Record<string, unknown>;
  /** Arrival, `Date.now()`. */
  at: number;
}

export interface FakeBotApi {
  apiRoot: string;
  calls: RecordedCall[];
  stop(): Promise<void>;
}

export async function startFakeBotApi(): Promise<FakeBotApi> {
  const calls: RecordedCall[] = [];
  let messageId = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const method = /^\/bot[^/]+\/([A-Za-z]+)$/.exec(req.url ?? '')?.[1] ?? '';
    const payload = (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>;
    calls.push({ method, payload, at: Date.now() });
    const result =
      method === 'getMe'
        ? BOT_INFO
        : method === 'sendMessage'
          ? {
              message_id: ++messageId,
              date: 1_700_000_000,
              chat: { id: payload.chat_id, type: 'private' },
              text: payload.text,
            }
          : true;
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ ok: true, result }));
  });
  // grammY keeps its connections alive between calls. Node closes an idle server connection
  // after 5 s, and a call sent on it at that moment fails with a network error ("socket hang
  // up"): a race of the test's server, not of the bot. Idle connections stay open instead
  // (stop() closes them).
  server.keepAliveTimeout = 10 * 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    apiRoot: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
