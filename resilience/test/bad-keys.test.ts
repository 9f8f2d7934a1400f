/**
 * Hostile and odd keys arriving over real HTTP, through each adapter, with a real Redis behind
 * the limiter: huge (1 MB, in a header, the URL or the body), binary, unicode, empty, numeric,
 * and key functions returning nonsense. Each works (the key is limited like any other) or gets
 * a clear error (500 naming `keyFn`); the server never crashes; and whatever clients send, no
 * Redis key is longer than the prefix + 128 bytes (the spec's bound).
 */

import { RedisBackend } from '@freqlimit/core/redis';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADAPTERS, type App, type AppSpec, serveApp } from './support/apps.js';
import { type RedisServer, startRedis } from './support/redis-control.js';

let redis: RedisServer;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

const PREFIX = 'bad:';
const MB = 1024 * 1024;
/** Room for a 1 MB header value or URL plus the rest of the request head. */
const BIG_HEAD = 2 * MB;

interface Answer {
  status: number;
  key: string | null;
  text: string;
}

async function send(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let key: string | null = null;
  if (res.status === 200) key = (JSON.parse(text) as { key: string | null }).key;
  return { status: res.status, key, text };
}

/** Every Redis key of the test's server, as bytes. */
async function redisKeys(): Promise<Buffer[]> {
  return client.keysBuffer('*');
}

describe.each(ADAPTERS)('bad keys over HTTP (%s)', (adapter) => {
  const open: App[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((a) => a.close()));
  });
  const serve = async (spec: Omit<AppSpec, 'options'>, name = 'k'): Promise<App> => {
    const app = await serveApp(adapter, {
      ...spec,
      options: {
        name: `${name}-${adapter}`, // the adapters share one Redis: each its own namespace
        limit: 1,
        period: 60_000,
        maxDelay: 0,
        backend: new RedisBackend(client, { prefix: PREFIX, timeout: 2_000 }),
      },
    });
    open.push(app);
    return app;
  };

  it("a 1 MB key: Node's own 16 KiB header limit answers 431 first; with maxHeaderSize raised, the key is limited like any other, in a header, the URL or the body", async () => {
    const huge = `${adapter}-header-${'h'.repeat(MB)}`;
    const hugeQuery = `${adapter}-query-${'q'.repeat(MB)}`;
    const hugeBody = `${adapter}-body-${'b'.repeat(MB)}`;

    // Node's default server: the request never reaches the framework, let alone freqlimit.
    let decided = 0;
    const small = await serveApp(adapter, {
      options: { limit: 1, period: 60_000, maxDelay: 0 },
      key: (v) => v.header('x-key'),
      onDecision: () => decided++,
    });
    open.push(small);
    expect((await send(small.url, { headers: { 'x-key': huge } })).status).toBe(431);
    expect((await send(`${small.url}?k=${hugeQuery}`)).status).toBe(431);
    expect(decided).toBe(0);

    const header = await serve(
      { key: (v) => v.header('x-key') ?? v.query('k'), maxHeaderSize: BIG_HEAD },
      'big',
    );
    const first = await send(header.url, { headers: { 'x-key': huge } });
    expect(first).toMatchObject({ status: 200, key: huge });
    expect((await send(header.url, { headers: { 'x-key': huge } })).status).toBe(429);
    // One byte different is another key.
    const other = `${huge.slice(0, -1)}x`;
    expect((await send(header.url, { headers: { 'x-key': other } })).status).toBe(200);
    expect((await send(`${header.url}?k=${hugeQuery}`)).status).toBe(200);
    expect((await send(`${header.url}?k=${hugeQuery}`)).status).toBe(429);

    const body = await serve(
      { key: async (v) => (await v.body())?.toString('utf8'), readBody: true },
      'body',
    );
    const post = { method: 'POST', body: hugeBody } as const;
    expect(await send(body.url, post)).toMatchObject({ status: 200, key: hugeBody });
    expect((await send(body.url, post)).status).toBe(429);
  });

  it('binary keys: raw body bytes decoded as latin1 keep every byte sequence its own key (as UTF-8 they may collide)', async () => {
    const app = await serve(
      { key: async (v) => (await v.body())?.toString('latin1'), readBody: true },
      'bin',
    );
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const post = (bytes: Uint8Array) =>
      send(app.url, { method: 'POST', body: new Uint8Array(bytes) });
    expect((await post(bytes)).status).toBe(200);
    expect((await post(bytes)).status).toBe(429);
    // Invalid UTF-8 that would decode to the same U+FFFD characters stays apart in latin1.
    expect((await post(Buffer.from([0xff, 0xfe, 0x00]))).status).toBe(200);
    expect((await post(Buffer.from([0xfe, 0xff, 0x00]))).status).toBe(200);
    expect((await post(Buffer.from([0xfe, 0xff, 0x00]))).status).toBe(429);

    // Decoded as UTF-8 instead, different invalid byte strings become the same key.
    const utf8 = await serve(
      { key: async (v) => (await v.body())?.toString('utf8'), readBody: true },
      'bin-utf8',
    );
    const postUtf8 = (bytes: number[]) =>
      send(utf8.url, { method: 'POST', body: new Uint8Array(bytes) });
    expect(await postUtf8([0xff, 0xfe, 0x00])).toMatchObject({
      status: 200,
      key: '\ufffd\ufffd\0',
    });
    expect((await postUtf8([0xfe, 0xff, 0x00])).status).toBe(429);
  });

  it('unicode, empty and lone-surrogate keys work; numbers are keyed by their string', async () => {
    const app = await serve({ key: (v) => v.query('k') }, 'text');
    const byQuery = (k: string) => send(`${app.url}?k=${encodeURIComponent(k)}`);
    for (const key of ['ключ-🔑-鍵', 'e\u0301', 'é', '🦄'.repeat(40), '']) {
      expect(await byQuery(key)).toMatchObject({ status: 200, key });
      expect((await byQuery(key)).status).toBe(429);
    }
    // NFD and NFC spellings are different keys: freqlimit does not normalise.
    expect('e\u0301').not.toBe('é');

    const surrogate = await serve({ key: () => `lone-\ud800-${adapter}` }, 'surrogate');
    expect((await send(surrogate.url)).status).toBe(200);
    expect((await send(surrogate.url)).status).toBe(429);

    const numeric = await serve(
      { key: (v) => (v.query('type') === 'n' ? Number(v.query('k')) : v.query('k')) },
      'num',
    );
    expect(await send(`${numeric.url}?type=n&k=42`)).toMatchObject({ status: 200, key: '42' });
    expect((await send(`${numeric.url}?k=42`)).status).toBe(429); // the string '42': the same key
    expect(await send(`${numeric.url}?type=n&k=1e3`)).toMatchObject({ status: 200, key: '1000' });
    expect(await send(`${numeric.url}?type=n&k=x`)).toMatchObject({ status: 200, key: 'NaN' });
  });

  it('a key function returning something else is a clear 500 naming keyFn, never a crash', async () => {
    const values: Record<string, unknown> = {
      object: { id: 1 },
      boolean: true,
      symbol: Symbol('k'),
      bigint: 10n,
      function: () => 'k',
    };
    const app = await serve({ key: (v) => values[v.query('t') ?? ''] as string }, 'wrong');
    for (const [type, _value] of Object.entries(values)) {
      const res = await send(`${app.url}?t=${type}`);
      expect(res.status).toBe(500);
    }
    expect(app.errors).toHaveLength(5);
    for (const [i, type] of Object.keys(values).entries()) {
      const error = app.errors[i] as Error;
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/keyFn/);
      expect(error.message).toContain(`got ${type}`);
    }
    // The server is still there.
    expect((await send(`${app.url}?t=none`)).status).toBe(200);
  });
});

describe('Redis keys stay short whatever clients send', () => {
  it(`every key in Redis is at most the prefix + 128 bytes (${PREFIX.length} + 128)`, async () => {
    const keys = await redisKeys();
    const longest = keys.reduce((max, k) => Math.max(max, k.length), 0);
    console.log(
      `Redis keys after the bad-key tests: ${keys.length}, longest ${longest} bytes (bound ${PREFIX.length + 128})`,
    );
    // The tests above ran first (same file), through the three adapters.
    expect(keys.length).toBeGreaterThanOrEqual(30);
    expect(longest).toBeLessThanOrEqual(Buffer.byteLength(PREFIX) + 128);
    for (const key of keys) expect(key.subarray(0, PREFIX.length).toString()).toBe(PREFIX);
    // The long ones were hashed: `#` + SHA-256 in base64url (43 characters), after the key's
    // `{hash tag}` if it had one (the 256 bytes 0–255 contain `{|}`).
    const hashed = keys.filter((k) => k.includes('#'));
    expect(hashed.length).toBeGreaterThanOrEqual(3 * 5);
    for (const key of hashed) expect(key.toString()).toMatch(/^bad:(\{[^}]*\})?#[\w-]{43}$/);
  });
});
