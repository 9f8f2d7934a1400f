/**
 * The shared adapter suite: every adapter (Express 4 and 5, Koa 2 and 3, Hono) must pass the
 * same cases over real HTTP on 127.0.0.1, so they can never drift apart. Each adapter package
 * calls `testAdapter(name, harness)` with a small harness that knows how to serve its
 * framework; what is specific to one framework stays in that package's own tests.
 *
 * Timing: backends run on a frozen clock (`manualClock`), so delays are exact; the only real
 * time measured is a hold, asserted as a lower bound (Server-Timing and the client's clock).
 */

import { connect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InMemoryBackend } from '../src/backends/memory.js';
import * as core from '../src/index.js';
import type { DecisionEvent, FreqLimitInfo } from '../src/instruction.js';
import type { FreqLimitMiddlewareOptions } from '../src/middleware-options.js';
import type { LimiterControls } from '../src/request-limiter.js';
import { FailingBackend, manualClock, RecordingBackend } from './test-backends.js';

/** A served app. */
export interface Served {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  /** How many times the final handler ran. */
  ran(): number;
  /** Errors that reached the framework's error path (answered 500). */
  errors: unknown[];
  /** Stops the server and drops its connections. */
  close(): Promise<void>;
}

/** How an app is served. */
export interface ServeSettings {
  /** Turn the framework's proxy setting on (trust `X-Forwarded-For`). */
  proxy?: boolean;
  /** Hide the client address from the framework (as a runtime without one would). */
  noAddress?: boolean;
}

/** What the suite needs of an adapter and its framework. */
export interface AdapterHarness<Ctx, OnRejected, Middleware> {
  /** The adapter's package name, as it appears in messages. */
  name: string;
  /**
   * The framework's setting that trusts `X-Forwarded-For` (e.g. Express `trust proxy`), or
   * `undefined` where the framework has none (its proxy cases are then not part of its suite).
   */
  proxySetting: string | undefined;
  /** The adapter's module (`import * as adapter from '…'`), to compare export lists. */
  exports: object;
  /** The adapter's `freqLimit`. */
  freqLimit(
    options: FreqLimitMiddlewareOptions<Ctx, OnRejected>,
  ): Middleware & LimiterControls<Ctx>;
  /**
   * Serves the middleware, in order, in front of a handler that answers 200 with JSON
   * `{ "freqLimit": <the decision it sees, or null> }`; errors take the framework's own error
   * path (500), recorded in `errors`. Listens on 127.0.0.1, on a free port.
   */
  serve(middleware: Middleware[], settings?: ServeSettings): Promise<Served>;
  /** A request header, read through the framework's context. */
  header(ctx: Ctx, name: string): string | undefined;
  /** An `onRejected` that answers `status` with the text `body`. */
  respondWith(status: number, body: string): OnRejected;
  /** An `onRejected` that rejects with `error`. */
  throwing(error: Error): OnRejected;
}

interface Got {
  status: number;
  headers: Headers;
  text: string;
  /** The decision the handler saw (`undefined` when it did not run or saw none). */
  seen: FreqLimitInfo | undefined;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Got> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let seen: FreqLimitInfo | undefined;
  if (res.status === 200 && text.startsWith('{"freqLimit"')) {
    seen = (JSON.parse(text) as { freqLimit: FreqLimitInfo | null }).freqLimit ?? undefined;
  }
  return { status: res.status, headers: res.headers, text, seen };
}

/** Waits (bounded) until `condition` holds. */
async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The ms of `Server-Timing: freqlimit;dur=<ms>`. */
function heldMs(headers: Headers): number {
  const match = /(?:^|, )freqlimit;dur=(\d+)/.exec(headers.get('server-timing') ?? '');
  if (!match) throw new Error(`no freqlimit Server-Timing in ${headers.get('server-timing')}`);
  return Number(match[1]);
}

/** A backend whose clock stands still at 0, so every delay is exact. */
const frozen = (): InMemoryBackend => new InMemoryBackend({ clock: manualClock(0).clock });

/** Sends a GET over a raw socket, and destroys the socket after `ms`. */
async function sendThenDestroy(url: string, ms: number): Promise<void> {
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve).once('error', reject);
  });
  socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await sleep(ms);
  socket.destroy();
}

/** Runs the shared cases against one adapter (and framework version). */
export function testAdapter<Ctx, OnRejected, Middleware>(
  label: string,
  h: AdapterHarness<Ctx, OnRejected, Middleware>,
): void {
  type Options = FreqLimitMiddlewareOptions<Ctx, OnRejected>;
  const open: Served[] = [];
  /** Serves freqLimit middleware made from `options` (several: stacked in order). */
  async function serve(...options: Options[]): Promise<Served> {
    return serveWith({}, ...options);
  }
  async function serveWith(settings: ServeSettings, ...options: Options[]): Promise<Served> {
    const served = await h.serve(
      options.map((o) => h.freqLimit(o)),
      settings,
    );
    open.push(served);
    return served;
  }
  const header = (name: string) => (ctx: Ctx) => h.header(ctx, name);

  describe(`adapter suite: ${label}`, () => {
    afterEach(async () => {
      vi.restoreAllMocks();
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    it("exports freqLimit and everything of core's main entry, nothing else", () => {
      const expected = [...Object.keys(core), 'freqLimit'].sort();
      expect(Object.keys(h.exports).sort()).toEqual(expected);
    });

    describe('pass, hold, reject', () => {
      it('passes at once with draft-10 headers; the handler sees the decision', async () => {
        const app = await serve({ limit: 2, period: 60_000, burst: 2, backend: frozen() });
        const res = await get(app.url);
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit-policy')).toBe('"default";q=2;w=60');
        expect(res.headers.get('ratelimit')).toBe('"default";r=1;t=0');
        expect(res.headers.get('retry-after')).toBeNull();
        expect(res.headers.get('server-timing')).toBeNull();
        expect(res.seen).toMatchObject({ allowed: true, delay: 0 });
        expect(res.seen?.limits).toEqual([
          {
            name: 'default',
            key: '127.0.0.1',
            limit: 2,
            period: 60_000,
            burst: 2,
            remaining: 1,
            resetAfter: 30_000,
          },
        ]);
      });

      it('holds a request for the reserved delay, then says so in Server-Timing', async () => {
        const app = await serve({ limit: 1, period: 400, maxDelay: 5_000, backend: frozen() });
        expect((await get(app.url)).status).toBe(200);
        const started = performance.now();
        const held = await get(app.url);
        const elapsed = performance.now() - started;
        expect(held.status).toBe(200);
        expect(held.seen).toMatchObject({ allowed: true, delay: 400 });
        expect(heldMs(held.headers)).toBeGreaterThanOrEqual(400);
        expect(elapsed).toBeGreaterThanOrEqual(395);
        expect(held.headers.get('ratelimit')).toBe('"default";r=0;t=1');
        expect(app.ran()).toBe(2);
      });

      it('answers 429 past maxDelay with Retry-After and a JSON body; nothing is reserved', async () => {
        const app = await serve({ limit: 1, period: 60_000, maxDelay: 0, backend: frozen() });
        expect((await get(app.url)).status).toBe(200);
        for (let i = 0; i < 3; i++) {
          const res = await get(app.url);
          expect(res.status).toBe(429);
          // The same answer each time: a rejected request never pushes the state forward.
          expect(res.headers.get('retry-after')).toBe('60');
          expect(res.headers.get('ratelimit')).toBe('"default";r=0;t=60');
          expect(res.headers.get('content-type')).toMatch(/^application\/json/);
          expect(JSON.parse(res.text)).toEqual({ error: 'Too Many Requests', retryAfter: 60 });
        }
        expect(app.ran()).toBe(1);
      });

      it.each([
        [300, '1'],
        [1_500, '2'],
        [2_001, '3'],
      ])(
        'Retry-After is whole seconds, rounded up, at least 1 (period %i ms)',
        async (period, s) => {
          const app = await serve({ limit: 1, period, maxDelay: 0, backend: frozen() });
          await get(app.url);
          expect((await get(app.url)).headers.get('retry-after')).toBe(s);
        },
      );

      it('cost > burst: 429 without Retry-After', async () => {
        const app = await serve({ limit: 5, period: 1_000, burst: 2, cost: 3 });
        const res = await get(app.url);
        expect(res.status).toBe(429);
        expect(res.headers.get('retry-after')).toBeNull();
        expect(JSON.parse(res.text)).toEqual({ error: 'Too Many Requests' });
        expect(app.ran()).toBe(0);
      });
    });

    describe('headers', () => {
      const base = { limit: 2, period: 60_000, burst: 2 };

      it("'draft-8': t is the time to a full reset", async () => {
        const app = await serve({ ...base, headers: 'draft-8', backend: frozen() });
        const res = await get(app.url);
        expect(res.headers.get('ratelimit-policy')).toBe('"default";q=2;w=60');
        expect(res.headers.get('ratelimit')).toBe('"default";r=1;t=30');
      });

      it("'draft-6': separate fields", async () => {
        const app = await serve({ ...base, headers: 'draft-6', backend: frozen() });
        const res = await get(app.url);
        expect(res.headers.get('ratelimit-limit')).toBe('2');
        expect(res.headers.get('ratelimit-remaining')).toBe('1');
        expect(res.headers.get('ratelimit-reset')).toBe('30');
        expect(res.headers.get('ratelimit-policy')).toBe('2;w=60');
        expect(res.headers.get('ratelimit')).toBeNull();
      });

      it("'legacy': X-RateLimit-* with the Unix time of a full reset", async () => {
        const app = await serve({ ...base, headers: 'legacy', backend: frozen() });
        const before = Date.now();
        const res = await get(app.url);
        const after = Date.now();
        expect(res.headers.get('x-ratelimit-limit')).toBe('2');
        expect(res.headers.get('x-ratelimit-remaining')).toBe('1');
        const reset = Number(res.headers.get('x-ratelimit-reset'));
        expect(reset).toBeGreaterThanOrEqual(Math.ceil((before + 30_000) / 1000));
        expect(reset).toBeLessThanOrEqual(Math.ceil((after + 30_000) / 1000));
        expect(res.headers.get('ratelimit')).toBeNull();
      });

      it('false: no rate-limit fields, but Retry-After on a 429', async () => {
        const app = await serve({ limit: 1, period: 60_000, maxDelay: 0, headers: false });
        const ok = await get(app.url);
        const rejected = await get(app.url);
        for (const res of [ok, rejected]) {
          const names: string[] = [];
          res.headers.forEach((_value, name) => {
            names.push(name);
          });
          expect(names.filter((n) => /ratelimit/i.test(n))).toEqual([]);
        }
        expect(rejected.status).toBe(429);
        expect(rejected.headers.get('retry-after')).toBe('60');
      });

      it('stacked middleware add their policies as further list members', async () => {
        const app = await serve(
          { name: 'api', limit: 10, period: 1_000, burst: 10, backend: frozen() },
          { name: 'login', limit: 1, period: 60_000, maxDelay: 0, backend: frozen() },
        );
        const first = await get(app.url);
        expect(first.headers.get('ratelimit-policy')).toBe('"api";q=10;w=1, "login";q=1;w=60');
        expect(first.headers.get('ratelimit')).toBe('"api";r=9;t=0, "login";r=0;t=60');
        const second = await get(app.url);
        expect(second.status).toBe(429);
        expect(second.headers.get('ratelimit')).toBe('"api";r=8;t=0, "login";r=0;t=60');
        expect(second.headers.get('retry-after')).toBe('60');
      });

      it('a policy with a period that is not whole seconds', async () => {
        const app = await serve({ name: 'p', limit: 3, period: 1_500 });
        expect((await get(app.url)).headers.get('ratelimit-policy')).toBe('"p";q=4;w=2');
      });
    });

    describe('the default key', () => {
      const once = { limit: 1, period: 60_000, maxDelay: 0 };

      it('no client address: the request fails with NoClientAddressError asking for keyFn', async () => {
        const app = await serveWith({ noAddress: true }, once);
        expect((await get(app.url)).status).toBe(500);
        const error = app.errors[0] as Error & { code?: string };
        expect(error.code).toBe('NO_CLIENT_ADDRESS');
        expect(error.message).toContain(`${h.name}: `);
        expect(error.message).toContain('`keyFn`');
        expect(app.ran()).toBe(0);
      });

      if (h.proxySetting !== undefined) {
        it(`with ${h.proxySetting} on, X-Forwarded-For gives the key: IPv6 by /56, IPv4-mapped as IPv4`, async () => {
          const app = await serveWith({ proxy: true }, once);
          const from = (ip: string) => get(app.url, { 'X-Forwarded-For': ip });
          const v6 = await from('2001:db8:abcd:1201::1');
          expect(v6.seen?.limits[0]?.key).toBe('2001:db8:abcd:1200::/56');
          expect((await from('2001:db8:abcd:12ff:1::9')).status).toBe(429);
          expect((await from('2001:db8:abcd:1300::1')).status).toBe(200);
          expect((await from('::ffff:10.0.0.1')).seen?.limits[0]?.key).toBe('10.0.0.1');
          expect((await from('10.0.0.1')).status).toBe(429);
        });

        it(`with ${h.proxySetting} off, X-Forwarded-For cannot change the key`, async () => {
          const app = await serve(once);
          const first = await get(app.url, { 'X-Forwarded-For': '10.9.9.9' });
          expect(first.seen?.limits[0]?.key).toBe('127.0.0.1');
          expect((await get(app.url, { 'X-Forwarded-For': '10.9.9.8' })).status).toBe(429);
        });
      }
    });

    describe('keys, skip, cost', () => {
      it('keyFn separates clients; null/undefined means not limited', async () => {
        const app = await serve({
          limit: 1,
          period: 60_000,
          maxDelay: 0,
          keyFn: (ctx) => h.header(ctx, 'x-user') ?? (h.header(ctx, 'x-null') ? null : undefined),
        });
        expect((await get(app.url, { 'x-user': 'a' })).seen?.limits[0]?.key).toBe('a');
        expect((await get(app.url, { 'x-user': 'a' })).status).toBe(429);
        expect((await get(app.url, { 'x-user': 'b' })).status).toBe(200);
        for (const headers of [{}, { 'x-null': '1' }, {}] as Record<string, string>[]) {
          const res = await get(app.url, headers);
          expect(res.status).toBe(200);
          expect(res.seen).toBeUndefined();
          expect(res.headers.get('ratelimit')).toBeNull();
        }
      });

      it('an async keyFn may return a number, used as its string', async () => {
        const backend = new RecordingBackend();
        const app = await serve({ limit: 1, period: 60_000, backend, keyFn: async () => 42 });
        expect((await get(app.url)).seen?.limits[0]?.key).toBe('42');
        expect(backend.reserved).toEqual(['default:42']);
      });

      it('skip (sync or async) lets a request through without reserving', async () => {
        const backend = new RecordingBackend();
        const app = await serve(
          { name: 's', limit: 1, period: 60_000, backend, skip: (c) => !!h.header(c, 'x-s') },
          { name: 'a', limit: 1, period: 60_000, backend, skip: async (c) => !!h.header(c, 'x-a') },
        );
        const skipped = await get(app.url, { 'x-s': '1', 'x-a': '1' });
        expect(skipped.status).toBe(200);
        expect(skipped.seen).toBeUndefined();
        expect(backend.reserved).toEqual([]);
        await get(app.url, { 'x-a': '1' });
        expect(backend.reserved).toEqual(['s:127.0.0.1']);
      });

      it('cost: a number, or a (maybe async) function of the request', async () => {
        const fixed = await serve({ limit: 4, period: 60_000, burst: 4, cost: 2 });
        expect((await get(fixed.url)).seen?.limits[0]?.remaining).toBe(2);
        const app = await serve({
          limit: 4,
          period: 60_000,
          burst: 4,
          maxDelay: 0,
          backend: frozen(),
          cost: async (ctx) => Number(h.header(ctx, 'x-cost') ?? 1),
        });
        expect((await get(app.url, { 'x-cost': '3' })).seen?.limits[0]?.remaining).toBe(1);
        expect((await get(app.url, { 'x-cost': '2' })).status).toBe(429);
        expect((await get(app.url)).seen?.limits[0]?.remaining).toBe(0);
      });
    });

    describe('several limits and names', () => {
      it('per-limit keys, a constant key for a global limit; a null key leaves a limit out', async () => {
        const backend = new RecordingBackend();
        const app = await serve({
          name: 'api',
          maxDelay: 0,
          backend,
          limits: [
            { limit: 1, period: 60_000, key: header('x-user') },
            { limit: 3, period: 60_000, burst: 3, key: () => 'all' },
          ],
        });
        const a = await get(app.url, { 'x-user': 'a' });
        expect(a.headers.get('ratelimit-policy')).toBe('"api-1";q=1;w=60, "api-2";q=3;w=60');
        expect(a.headers.get('ratelimit')).toBe('"api-1";r=0;t=60, "api-2";r=2;t=0');
        expect(backend.reserved).toEqual(['api-1:a + api-2:all']);
        // All or nothing: the rejected request does not charge the global limit.
        expect((await get(app.url, { 'x-user': 'a' })).status).toBe(429);
        expect((await get(app.url, { 'x-user': 'b' })).headers.get('ratelimit')).toBe(
          '"api-1";r=0;t=60, "api-2";r=1;t=0',
        );
        const anonymous = await get(app.url);
        expect(anonymous.headers.get('ratelimit')).toMatch(/^"api-2";r=0;t=(19|20)$/);
        expect(backend.reserved.at(-1)).toBe('api-2:all');
        expect((await get(app.url)).status).toBe(429);
      });

      it('different names never share state on one backend; the same name does, warning once', async () => {
        const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
        const backend = frozen();
        const options = { limit: 1, period: 60_000, maxDelay: 0, backend };
        const one = await serve({ ...options, name: 'one' });
        const two = await serve({ ...options, name: 'two' });
        expect((await get(one.url)).status).toBe(200);
        expect((await get(two.url)).status).toBe(200);
        expect((await get(one.url)).status).toBe(429);
        expect(warn).not.toHaveBeenCalled();
        const again = await serve({ ...options, name: 'one' });
        expect((await get(again.url)).status).toBe(429);
        await serve({ ...options, name: 'one' });
        expect(warn).toHaveBeenCalledTimes(1);
        expect(String(warn.mock.calls[0]?.[0])).toContain(h.name);
        expect(String(warn.mock.calls[0]?.[0])).toContain('"one"');
      });
    });

    describe('onRejected', () => {
      it('replaces the 429 response; the rate-limit headers and Retry-After are set', async () => {
        const onRejected = h.respondWith(418, 'slow down');
        const app = await serve({ limit: 1, period: 60_000, maxDelay: 0, onRejected });
        await get(app.url);
        const res = await get(app.url);
        expect(res.status).toBe(418);
        expect(res.text).toBe('slow down');
        expect(res.headers.get('retry-after')).toBe('60');
        expect(res.headers.get('ratelimit')).toBe('"default";r=0;t=60');
        expect(app.ran()).toBe(1);
      });

      it("a throwing onRejected takes the framework's error path", async () => {
        const boom = new Error('onRejected failed');
        const app = await serve({
          limit: 1,
          period: 60_000,
          maxDelay: 0,
          onRejected: h.throwing(boom),
        });
        await get(app.url);
        expect((await get(app.url)).status).toBe(500);
        expect(app.errors).toContain(boom);
      });
    });

    describe('onBackendError', () => {
      it("'allow' (default): requests pass unlimited; the backend rests during the cool-down; one report", async () => {
        const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
        const backend = new FailingBackend();
        const app = await serve({ limit: 1, period: 60_000, backend });
        for (let i = 0; i < 3; i++) {
          const res = await get(app.url);
          expect(res.status).toBe(200);
          expect(res.seen).toBeUndefined();
          expect(res.headers.get('ratelimit')).toBeNull();
        }
        expect(backend.calls).toBe(1);
        expect(error).toHaveBeenCalledTimes(1);
        expect(String(error.mock.calls[0]?.[0])).toContain(h.name);
      });

      it("'reject': 503 with a JSON body, never onRejected", async () => {
        vi.spyOn(console, 'error').mockImplementation(() => undefined);
        const app = await serve({
          limit: 1,
          period: 60_000,
          backend: new FailingBackend('throw'),
          onBackendError: 'reject',
          onRejected: h.respondWith(418, 'not for 503'),
        });
        const res = await get(app.url);
        expect(res.status).toBe(503);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(JSON.parse(res.text)).toEqual({ error: 'Service Unavailable' });
        expect(app.ran()).toBe(0);
      });

      it('a fallback backend keeps limiting while the main one fails', async () => {
        vi.spyOn(console, 'error').mockImplementation(() => undefined);
        const app = await serve({
          limit: 1,
          period: 60_000,
          maxDelay: 0,
          backend: new FailingBackend(),
          onBackendError: frozen(),
        });
        expect((await get(app.url)).status).toBe(200);
        expect((await get(app.url)).status).toBe(429);
      });
    });

    describe('maxHeld', () => {
      it('at the cap a request that would be held gets 429 and reserves nothing', async () => {
        const backend = new RecordingBackend(frozen());
        const app = await serve({ limit: 1, period: 300, maxDelay: 5_000, maxHeld: 1, backend });
        expect((await get(app.url)).status).toBe(200);
        const held = get(app.url);
        await until(() => backend.reserved.length === 2, 'the second request to be held');
        const capped = await get(app.url);
        expect(capped.status).toBe(429);
        expect(capped.headers.get('retry-after')).toBe('1'); // 600 ms needed, maxDelay 0 at the cap
        expect((await held).seen).toMatchObject({ delay: 300 });
        // The capped request reserved nothing: the next is 600 ms away, not 900.
        expect((await get(app.url)).seen).toMatchObject({ delay: 600 });
        expect(app.ran()).toBe(3);
      });

      it('maxHeld 0 never holds, but a request that needs no wait still passes', async () => {
        const app = await serve({
          limit: 1,
          period: 300,
          burst: 2,
          maxDelay: 5_000,
          maxHeld: 0,
          backend: frozen(),
        });
        expect((await get(app.url)).status).toBe(200);
        expect((await get(app.url)).status).toBe(200);
        expect((await get(app.url)).status).toBe(429);
      });
    });

    describe('errors in user functions', () => {
      const boom = (): never => {
        throw new Error('boom');
      };
      it.each([
        ['keyFn', { keyFn: boom }],
        ['an async keyFn', { keyFn: async () => boom() }],
        ['skip', { skip: boom }],
        ['cost', { cost: boom }],
        ['a limits[].key', { limits: [{ limit: 1, period: 1_000, key: boom }] }],
      ])("a throwing %s: the framework's error path (500), nothing reserved", async (_w, o) => {
        const backend = new RecordingBackend();
        const base = 'limits' in o ? {} : { limit: 1, period: 1_000 };
        const app = await serve({ ...base, ...(o as Options), backend });
        expect((await get(app.url)).status).toBe(500);
        expect((app.errors[0] as Error).message).toBe('boom');
        expect(backend.reserved).toEqual([]);
        expect(app.ran()).toBe(0);
      });

      it.each([
        ['keyFn', { keyFn: () => ({}) as unknown as string }, /keyFn/],
        ['cost', { cost: () => 0 }, /cost/],
      ])('%s returning an invalid value: 500 with an error naming it', async (_w, o, message) => {
        const app = await serve({ limit: 1, period: 1_000, ...(o as Options) });
        expect((await get(app.url)).status).toBe(500);
        expect((app.errors[0] as Error).message).toMatch(message);
      });
    });

    describe('a client that leaves while held', () => {
      it.each(['fetch aborted', 'socket destroyed'])(
        '(%s): the handler never runs and the reservation is refunded',
        async (how) => {
          const backend = new RecordingBackend(frozen());
          const app = await serve({ limit: 1, period: 600, maxDelay: 5_000, backend });
          expect((await get(app.url)).status).toBe(200);
          if (how === 'fetch aborted') {
            const controller = new AbortController();
            const abandoned = fetch(app.url, { signal: controller.signal });
            await until(() => backend.reserved.length === 2, 'the request to be held');
            controller.abort();
            await expect(abandoned).rejects.toThrow();
          } else {
            await sendThenDestroy(app.url, 0);
          }
          await until(() => backend.refunded.length === 1, 'the refund');
          // Had the abandoned reservation stayed, this one would wait 1200 ms.
          const next = await get(app.url);
          expect(next.seen).toMatchObject({ allowed: true, delay: 600 });
          // By now the abandoned request's emission time has passed: it never ran.
          expect(app.ran()).toBe(2);
        },
      );
    });

    it('a client gone before its hold starts: the handler never runs, the reservation is refunded', async () => {
      const inner = new RecordingBackend(frozen());
      let asked = 0;
      let open: () => void = () => undefined;
      let gate = Promise.resolve();
      // Answers only when the test opens the gate, so the client leaves before the hold starts.
      const slow = {
        reserve: async (...args: Parameters<RecordingBackend['reserve']>) => {
          asked++;
          await gate;
          return inner.reserve(...args);
        },
        refund: (...args: Parameters<RecordingBackend['refund']>) => inner.refund(...args),
        clear: () => inner.clear(),
      };
      const app = await serve({ limit: 1, period: 400, maxDelay: 5_000, backend: slow });
      expect((await get(app.url)).status).toBe(200);
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const controller = new AbortController();
      const abandoned = fetch(app.url, { signal: controller.signal });
      await until(() => asked === 2, 'the reservation to be asked for');
      controller.abort();
      await expect(abandoned).rejects.toThrow();
      await sleep(100); // the server sees the connection close
      open();
      await until(() => inner.refunded.length === 1, 'the refund');
      // Refunded: the next unit is 400 ms away, not 800.
      expect((await get(app.url)).seen).toMatchObject({ delay: 400 });
      expect(app.ran()).toBe(2);
    });

    describe('dynamic limits', () => {
      it('limit, period and burst may be (async) functions of the request; headers report them', async () => {
        const plan = (ctx: Ctx) => h.header(ctx, 'x-plan');
        const app = await serve({
          name: 'plan',
          maxDelay: 0,
          backend: frozen(),
          keyFn: header('x-user'),
          limit: async (ctx) => (plan(ctx) === 'pro' ? 10 : 1),
          period: 60_000,
          burst: (ctx) => (plan(ctx) === 'pro' ? 3 : 1),
        });
        const pro = await get(app.url, { 'x-user': 'p', 'x-plan': 'pro' });
        expect(pro.headers.get('ratelimit-policy')).toBe('"plan";q=10;w=60');
        expect(pro.headers.get('ratelimit')).toBe('"plan";r=2;t=0');
        expect(pro.seen?.limits[0]).toMatchObject({ limit: 10, burst: 3 });
        const free = await get(app.url, { 'x-user': 'f' });
        expect(free.headers.get('ratelimit-policy')).toBe('"plan";q=1;w=60');
        expect((await get(app.url, { 'x-user': 'f' })).status).toBe(429);
        expect((await get(app.url, { 'x-user': 'p', 'x-plan': 'pro' })).status).toBe(200);
      });

      it('a dynamic param that is invalid fails the request (500), reserving nothing', async () => {
        const backend = new RecordingBackend();
        const app = await serve({ limit: () => -1, period: 1_000, backend });
        expect((await get(app.url)).status).toBe(500);
        expect((app.errors[0] as Error).message).toMatch(/`limit`/);
        expect(backend.reserved).toEqual([]);
      });
    });

    describe('dryRun and onDecision', () => {
      it('dryRun: decided and recorded, never held or rejected, no rate-limit headers', async () => {
        const outcomes: string[] = [];
        const app = await serve({
          limit: 1,
          period: 60_000,
          maxDelay: 0,
          dryRun: true,
          backend: frozen(),
          onDecision: (event) => outcomes.push(event.outcome),
        });
        for (let i = 0; i < 3; i++) {
          const res = await get(app.url);
          expect(res.status).toBe(200);
          expect(res.headers.get('ratelimit')).toBeNull();
          expect(res.headers.get('retry-after')).toBeNull();
          expect(res.seen).toMatchObject({ dryRun: true, allowed: i === 0 });
        }
        expect(outcomes).toEqual(['pass', 'reject', 'reject']);
        expect(app.ran()).toBe(3);
      });

      it('onDecision gets every decision with the framework’s request, none for skipped ones', async () => {
        const events: Array<[DecisionEvent['outcome'], string | undefined]> = [];
        const app = await serve({
          limit: 1,
          period: 300,
          maxDelay: 300,
          backend: frozen(),
          skip: (ctx) => h.header(ctx, 'x-skip') === '1',
          onDecision: (event, ctx) => events.push([event.outcome, h.header(ctx, 'x-id')]),
        });
        await get(app.url, { 'x-id': 'a' });
        await get(app.url, { 'x-id': 'b' });
        await get(app.url, { 'x-id': 'c' });
        await get(app.url, { 'x-id': 'd', 'x-skip': '1' });
        expect(events).toEqual([
          ['pass', 'a'],
          ['hold', 'b'],
          ['reject', 'c'],
        ]);
      });

      it("onDecision reports 'backend-error' with the mode; a throwing onDecision breaks nothing", async () => {
        vi.spyOn(console, 'error').mockImplementation(() => undefined);
        const events: DecisionEvent[] = [];
        const app = await serve(
          {
            name: 'down',
            limit: 1,
            period: 1_000,
            backend: new FailingBackend(),
            onDecision: (event) => events.push(event),
          },
          {
            name: 'broken',
            limit: 10,
            period: 1_000,
            onDecision: () => {
              throw new Error('metrics down');
            },
          },
        );
        expect((await get(app.url)).status).toBe(200);
        expect(events).toMatchObject([{ outcome: 'backend-error', name: 'down', mode: 'allow' }]);
      });
    });

    describe('reset, peek and block on the middleware', () => {
      it('reset lets a client in again; peek reads without changing; block holds it back', async () => {
        const middleware = h.freqLimit({
          name: 'login',
          limit: 5,
          period: 60_000,
          burst: 2,
          maxDelay: 0,
          backend: frozen(),
        });
        const app = await h.serve([middleware]);
        open.push(app);
        await get(app.url);
        await get(app.url);
        expect((await get(app.url)).status).toBe(429);
        const status = { remaining: 0, resetAfter: 24_000, retryAfter: 12_000 };
        expect(await middleware.peek('127.0.0.1')).toEqual(status);
        expect(await middleware.peek('127.0.0.1')).toEqual(status);
        await middleware.reset('127.0.0.1');
        expect((await get(app.url)).headers.get('ratelimit')).toBe('"login";r=1;t=0');
        await middleware.block('127.0.0.1', 90_000);
        const blocked = await get(app.url);
        expect(blocked.status).toBe(429);
        expect(blocked.headers.get('retry-after')).toBe('90');
      });
    });

    describe('options', () => {
      it.each<[string, object, ErrorConstructor, RegExp]>([
        ['limit 0', { limit: 0, period: 1_000 }, RangeError, /limit/],
        ['a negative period', { limit: 1, period: -1 }, RangeError, /period/],
        ['a fractional burst', { limit: 1, period: 1_000, burst: 1.5 }, RangeError, /burst/],
        ['a negative maxDelay', { limit: 1, period: 1_000, maxDelay: -1 }, RangeError, /maxDelay/],
        ['a negative maxHeld', { limit: 1, period: 1_000, maxHeld: -1 }, RangeError, /maxHeld/],
        ['cost 0', { limit: 1, period: 1_000, cost: 0 }, RangeError, /cost/],
        [
          'an unknown header mode',
          { limit: 1, period: 1, headers: 'draft-9' },
          TypeError,
          /headers/,
        ],
        ['a keyFn that is no function', { limit: 1, period: 1, keyFn: 'ip' }, TypeError, /keyFn/],
        ['an unknown option', { limit: 1, period: 1_000, windowMs: 1 }, TypeError, /windowMs/],
        ['no limit', { period: 1_000 }, TypeError, /`limit` and `period`/],
        ['limits and limit', { limit: 1, limits: [{ limit: 1, period: 1 }] }, TypeError, /limits/],
        ['an empty limits', { limits: [] }, TypeError, /limits/],
        [
          'a bad onBackendError',
          { limit: 1, period: 1, onBackendError: 'x' },
          TypeError,
          /onBackendError/,
        ],
        ['a non-ASCII name', { limit: 1, period: 1_000, name: 'ü' }, TypeError, /name/],
        ['an empty name', { limit: 1, period: 1_000, name: '' }, TypeError, /name/],
        ['a fractional limit', { limit: 1.5, period: 1_000 }, RangeError, /limit/],
        ['burst 0', { limit: 1, period: 1_000, burst: 0 }, RangeError, /burst/],
        ['a number onRejected', { limit: 1, period: 1, onRejected: 429 }, TypeError, /onRejected/],
        ['a backend without reserve', { limit: 1, period: 1, backend: {} }, TypeError, /backend/],
        ['a limits entry without period', { limits: [{ limit: 1 }] }, TypeError, /period/],
      ])('%s throws at factory time, naming the option', (_w, options, type, message) => {
        expect(() => h.freqLimit(options as Options)).toThrow(type);
        expect(() => h.freqLimit(options as Options)).toThrow(message);
        expect(() => h.freqLimit(options as Options)).toThrow(h.name);
      });

      it('does not mutate the caller’s options', async () => {
        const options = Object.freeze({
          limit: 1,
          period: 1_000,
          limits: undefined,
          headers: 'draft-6' as const,
        });
        const app = await serve(options);
        expect((await get(app.url)).status).toBe(200);
      });
    });
  });
}
