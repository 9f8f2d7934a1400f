import Router from '@koa/router';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type FreqLimitOptions, freqLimit, InMemoryBackend } from './index.js';
import { FailingBackend, KOA_VERSIONS, makeApp } from './test-support.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** A backend on a clock the test moves by hand (ms); `reads` counts the backend's reads of it. */
function frozen(): { backend: InMemoryBackend; clock: { now: number; reads: number } } {
  const clock = { now: 1_000_000, reads: 0 };
  const backend = new InMemoryBackend({
    clock: () => {
      clock.reads++;
      return clock.now;
    },
  });
  return { backend, clock };
}

describe.each(KOA_VERSIONS)('%s', (_, Koa) => {
  describe('pass, hold, reject', () => {
    it('passes a request within the limit and exposes the decision on ctx.state', async () => {
      const { backend } = frozen();
      const { app, handled } = makeApp(
        Koa,
        freqLimit({ limit: 2, period: 1000, burst: 2, backend }),
      );
      const res = await request(app.callback()).get('/');
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-policy']).toBe('"default";q=2;w=1');
      expect(res.headers.ratelimit).toBe('"default";r=1;t=0');
      expect(res.headers['server-timing']).toBeUndefined();
      expect(res.body.freqLimit).toMatchObject({
        allowed: true,
        delay: 0,
        limits: [
          { name: 'default', key: '127.0.0.1', limit: 2, period: 1000, burst: 2, remaining: 1 },
        ],
      });
      expect(handled()).toBe(1);
    });

    it('holds a request for the reserved delay, then says so in Server-Timing', async () => {
      const { backend } = frozen();
      const { app, handled } = makeApp(Koa, freqLimit({ limit: 1, period: 300, backend }));
      const agent = request(app.callback());
      await agent.get('/').expect(200);
      const res = await agent.get('/');
      expect(res.status).toBe(200);
      expect(res.body.freqLimit).toMatchObject({ allowed: true, delay: 300 });
      const dur = Number(/^freqlimit;dur=(\d+)$/.exec(res.headers['server-timing'] ?? '')?.[1]);
      expect(dur).toBeGreaterThanOrEqual(299);
      expect(dur).toBeLessThan(1500);
      expect(handled()).toBe(2);
    });

    it('rejects past maxDelay with 429, Retry-After and the JSON body; the handler never runs', async () => {
      const { backend } = frozen();
      const { app, handled } = makeApp(
        Koa,
        freqLimit({ name: 'login', limit: 5, period: 60_000, maxDelay: 1000, backend }),
      );
      const agent = request(app.callback());
      const first = await agent.get('/');
      expect(first.headers.ratelimit).toBe('"login";r=0;t=12');
      const res = await agent.get('/');
      expect(res.status).toBe(429);
      expect(res.headers['retry-after']).toBe('11');
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.text).toBe('{"error":"Too Many Requests","retryAfter":11}');
      expect(res.headers['ratelimit-policy']).toBe('"login";q=5;w=60');
      expect(res.headers.ratelimit).toBe('"login";r=0;t=11');
      expect(handled()).toBe(1);
    });

    it('rounds Retry-After up to at least 1 second', async () => {
      const { backend } = frozen();
      const { app } = makeApp(Koa, freqLimit({ limit: 1, period: 1200, maxDelay: 1000, backend }));
      const agent = request(app.callback());
      await agent.get('/').expect(200);
      const res = await agent.get('/').expect(429);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body).toEqual({ error: 'Too Many Requests', retryAfter: 1 });
    });

    it('answers 429 without Retry-After when cost exceeds burst', async () => {
      const { app, handled } = makeApp(
        Koa,
        freqLimit({ limit: 10, period: 1000, burst: 2, cost: 3 }),
      );
      const res = await request(app.callback()).get('/');
      expect(res.status).toBe(429);
      expect(res.headers['retry-after']).toBeUndefined();
      expect(res.text).toBe('{"error":"Too Many Requests"}');
      expect(handled()).toBe(0);
    });
  });

  describe('keys, skip and cost', () => {
    it.each([
      ['sync', (id: string | undefined) => id],
      ['async', async (id: string | undefined) => id],
    ])('keys by a %s keyFn; null/undefined means not limited', async (_kind, toKey) => {
      const { backend } = frozen();
      const { app, handled } = makeApp(
        Koa,
        freqLimit({
          limit: 1,
          period: 60_000,
          maxDelay: 0,
          backend,
          keyFn: (ctx) => toKey(ctx.get('x-user') || undefined) ?? null,
        }),
      );
      const agent = request(app.callback());
      await agent.get('/').set('x-user', 'a').expect(200);
      await agent.get('/').set('x-user', 'a').expect(429);
      const b = await agent.get('/').set('x-user', 'b').expect(200);
      expect(b.body.freqLimit.limits[0].key).toBe('b');
      for (let i = 0; i < 3; i++) {
        const anon = await agent.get('/').expect(200);
        expect(anon.headers.ratelimit).toBeUndefined();
        expect(anon.body.freqLimit).toBeNull();
      }
      expect(handled()).toBe(5);
    });

    it('accepts a numeric key', async () => {
      const { app } = makeApp(
        Koa,
        freqLimit({ limit: 1, period: 60_000, maxDelay: 0, keyFn: () => 42 }),
      );
      const res = await request(app.callback()).get('/').expect(200);
      expect(res.body.freqLimit.limits[0].key).toBe('42');
    });

    it('does not limit requests that skip() accepts, sync or async', async () => {
      const { app, handled } = makeApp(
        Koa,
        freqLimit({
          limit: 1,
          period: 60_000,
          maxDelay: 0,
          skip: async (ctx) => ctx.path === '/health',
        }),
      );
      const agent = request(app.callback());
      for (let i = 0; i < 3; i++) await agent.get('/health').expect(200);
      await agent.get('/').expect(200);
      await agent.get('/').expect(429);
      expect(handled()).toBe(4);
    });

    it('charges a fixed cost', async () => {
      const { backend } = frozen();
      const { app } = makeApp(
        Koa,
        freqLimit({ limit: 10, period: 10_000, burst: 5, cost: 2, maxDelay: 0, backend }),
      );
      const agent = request(app.callback());
      expect((await agent.get('/')).headers.ratelimit).toBe('"default";r=3;t=0');
      expect((await agent.get('/')).headers.ratelimit).toBe('"default";r=1;t=0');
      await agent.get('/').expect(429);
    });

    it('charges a cost computed from the request, maybe async', async () => {
      const { backend } = frozen();
      const { app } = makeApp(
        Koa,
        freqLimit({
          limit: 10,
          period: 10_000,
          burst: 5,
          maxDelay: 0,
          backend,
          cost: async (ctx) => (ctx.method === 'POST' ? 5 : 1),
        }),
      );
      const agent = request(app.callback());
      expect((await agent.get('/')).headers.ratelimit).toBe('"default";r=4;t=0');
      await agent.post('/').expect(429);
      const res = await agent.get('/').expect(200);
      expect(res.headers.ratelimit).toBe('"default";r=3;t=0');
    });
  });

  describe('several limits', () => {
    it('applies every limit, with a per-limit key, and reports each in the headers', async () => {
      const { backend } = frozen();
      const { app, handled } = makeApp(
        Koa,
        freqLimit({
          backend,
          maxDelay: 0,
          keyFn: (ctx) => ctx.get('x-user'),
          limits: [
            { limit: 1, period: 60_000 },
            { limit: 2, period: 60_000, burst: 2, key: () => 'global' },
          ],
        }),
      );
      const agent = request(app.callback());
      const a = await agent.get('/').set('x-user', 'a').expect(200);
      expect(a.headers['ratelimit-policy']).toBe('"default-1";q=1;w=60, "default-2";q=2;w=60');
      expect(a.headers.ratelimit).toBe('"default-1";r=0;t=60, "default-2";r=1;t=0');
      await agent.get('/').set('x-user', 'a').expect(429);
      await agent.get('/').set('x-user', 'b').expect(200);
      const c = await agent.get('/').set('x-user', 'c').expect(429);
      expect(c.headers['retry-after']).toBe('30');
      expect(handled()).toBe(2);
    });

    it('leaves out a limit whose key is null', async () => {
      const { app } = makeApp(
        Koa,
        freqLimit({
          maxDelay: 0,
          keyFn: () => 'user',
          limits: [
            { limit: 1, period: 60_000 },
            { limit: 1, period: 60_000, key: (ctx) => (ctx.path === '/upload' ? 'uploads' : null) },
          ],
        }),
      );
      const res = await request(app.callback()).get('/').expect(200);
      expect(res.headers.ratelimit).toBe('"default-1";r=0;t=60');
      expect(res.body.freqLimit.limits.map((l: { name: string }) => l.name)).toEqual(['default-1']);
    });
  });

  describe('names and shared backends', () => {
    it('keeps middleware with different names apart on one backend', async () => {
      const backend = new InMemoryBackend();
      const options = { limit: 1, period: 60_000, maxDelay: 0, backend, keyFn: () => 'k' };
      const { app } = makeApp(
        Koa,
        freqLimit({ ...options, name: 'one' }),
        freqLimit({ ...options, name: 'two' }),
      );
      const res = await request(app.callback()).get('/').expect(200);
      expect(res.headers.ratelimit).toBe('"one";r=0;t=60, "two";r=0;t=60');
      await request(app.callback()).get('/').expect(429);
    });

    it('warns once at construction when two instances share a name on one backend', () => {
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      const backend = new InMemoryBackend();
      freqLimit({ name: 'api', limit: 1, period: 1000, backend });
      freqLimit({ name: 'other', limit: 1, period: 1000, backend });
      expect(warn).not.toHaveBeenCalled();
      freqLimit({ name: 'api', limit: 1, period: 1000, backend });
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/@freqlimit\/koa.*"api"/);
    });

    it('shares state between instances under the same name', async () => {
      vi.spyOn(console, 'warn').mockImplementation(() => {});
      const backend = new InMemoryBackend();
      const options = { limit: 1, period: 60_000, maxDelay: 0, backend, keyFn: () => 'k' };
      const one = makeApp(Koa, freqLimit(options));
      const two = makeApp(Koa, freqLimit(options));
      await request(one.app.callback()).get('/').expect(200);
      await request(two.app.callback()).get('/').expect(429);
    });
  });

  describe('onRejected', () => {
    it.each([
      [
        'sync',
        (ctx: { body: unknown }, retryAfter: number | undefined) => {
          ctx.body = `slow down, ${retryAfter}s`;
        },
      ],
      [
        'async',
        async (ctx: { body: unknown }, retryAfter: number | undefined) => {
          await new Promise((r) => setTimeout(r, 5));
          ctx.body = `slow down, ${retryAfter}s`;
        },
      ],
    ])('replaces the 429 response (%s), after status and headers are set', async (_k, reply) => {
      const { backend } = frozen();
      const seen: unknown[] = [];
      const { app, handled } = makeApp(
        Koa,
        freqLimit({
          limit: 1,
          period: 10_000,
          maxDelay: 0,
          backend,
          onRejected: (ctx, info) => {
            seen.push({ status: ctx.status, retry: ctx.response.get('Retry-After'), info });
            return reply(ctx, info.retryAfter);
          },
        }),
      );
      const agent = request(app.callback());
      await agent.get('/').expect(200);
      const res = await agent.get('/');
      expect(res.status).toBe(429);
      expect(res.text).toBe('slow down, 10s');
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.headers['retry-after']).toBe('10');
      expect(res.headers.ratelimit).toBe('"default";r=0;t=10');
      expect(seen).toEqual([
        {
          status: 429,
          retry: '10',
          info: expect.objectContaining({ allowed: false, retryAfter: 10, delay: 10_000 }),
        },
      ]);
      expect(handled()).toBe(1);
    });
  });

  describe('onBackendError', () => {
    it("'allow' (default) lets requests through and reports the failure once", async () => {
      const error = vi.spyOn(console, 'error').mockImplementation(() => {});
      const failing = new FailingBackend();
      const { app, handled } = makeApp(
        Koa,
        freqLimit({ limit: 1, period: 1000, backend: failing }),
      );
      for (let i = 0; i < 3; i++) {
        const res = await request(app.callback()).get('/').expect(200);
        expect(res.headers.ratelimit).toBeUndefined();
      }
      expect(handled()).toBe(3);
      expect(error).toHaveBeenCalledTimes(1);
      // the cool-down spares the failing backend the next requests
      expect(failing.calls).toBe(1);
    });

    it("'reject' answers 503", async () => {
      vi.spyOn(console, 'error').mockImplementation(() => {});
      const { app, handled } = makeApp(
        Koa,
        freqLimit({
          limit: 1,
          period: 1000,
          backend: new FailingBackend(),
          onBackendError: 'reject',
        }),
      );
      const res = await request(app.callback()).get('/');
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.text).toBe('{"error":"Service Unavailable"}');
      expect(handled()).toBe(0);
    });

    it('limits on a fallback backend while the main one fails', async () => {
      vi.spyOn(console, 'error').mockImplementation(() => {});
      const { backend: fallback } = frozen();
      const { app, handled } = makeApp(
        Koa,
        freqLimit({
          limit: 1,
          period: 60_000,
          maxDelay: 0,
          backend: new FailingBackend(),
          onBackendError: fallback,
        }),
      );
      const agent = request(app.callback());
      const ok = await agent.get('/').expect(200);
      expect(ok.headers.ratelimit).toBe('"default";r=0;t=60');
      await agent.get('/').expect(429);
      expect(handled()).toBe(1);
    });

    it('does not call onRejected on a 503', async () => {
      vi.spyOn(console, 'error').mockImplementation(() => {});
      const onRejected = vi.fn();
      const { app } = makeApp(
        Koa,
        freqLimit({
          limit: 1,
          period: 1000,
          backend: new FailingBackend(),
          onBackendError: 'reject',
          onRejected,
        }),
      );
      await request(app.callback()).get('/').expect(503);
      expect(onRejected).not.toHaveBeenCalled();
    });
  });

  describe('maxHeld', () => {
    it('at the cap, a request that would be held gets 429 and reserves nothing', async () => {
      const { backend, clock } = frozen();
      const { app, handled } = makeApp(
        Koa,
        freqLimit({ limit: 1, period: 400, maxDelay: 2000, maxHeld: 1, backend }),
      );
      const agent = request(app.callback());
      await agent.get('/').expect(200);
      const reads = clock.reads;
      const held = agent.get('/').then((r) => r);
      // the second request has reserved (and is being held) once the backend read its clock
      while (clock.reads === reads) await new Promise((r) => setTimeout(r, 5));
      const capped = await agent.get('/');
      expect(capped.status).toBe(429);
      expect(capped.headers['retry-after']).toBe('1');
      const heldRes = await held;
      expect(heldRes.status).toBe(200);
      expect(heldRes.headers['server-timing']).toMatch(/^freqlimit;dur=\d+$/);
      // the capped request reserved nothing: at the end of the held one's slot, one passes at once
      clock.now += 800;
      const next = await agent.get('/').expect(200);
      expect(next.body.freqLimit.delay).toBe(0);
      expect(handled()).toBe(3);
    });

    it('still passes a request that needs no delay at the cap', async () => {
      const { app } = makeApp(Koa, freqLimit({ limit: 5, period: 1000, burst: 5, maxHeld: 0 }));
      await request(app.callback()).get('/').expect(200);
    });
  });

  describe('headers', () => {
    const limit = { name: 'login', limit: 5, period: 60_000, burst: 3, maxDelay: 0 };

    /** The first response, and the 429 after the burst of 3 is spent. */
    async function firstAndRejected(
      options: Partial<FreqLimitOptions>,
    ): Promise<[request.Response, request.Response]> {
      const { backend } = frozen();
      const { app } = makeApp(Koa, freqLimit({ ...limit, ...options, backend }));
      const agent = request(app.callback());
      const first = await agent.get('/');
      await agent.get('/').expect(200);
      await agent.get('/').expect(200);
      return [first, await agent.get('/').expect(429)];
    }

    it("'draft-10' (default): t is the time until one more unit", async () => {
      const [ok, rejected] = await firstAndRejected({});
      expect(ok.headers['ratelimit-policy']).toBe('"login";q=5;w=60');
      expect(ok.headers.ratelimit).toBe('"login";r=2;t=0');
      expect(rejected.status).toBe(429);
      expect(rejected.headers.ratelimit).toBe('"login";r=0;t=12');
      expect(rejected.headers['retry-after']).toBe('12');
    });

    it('stacked middleware add their policies as further list members', async () => {
      const { backend } = frozen();
      const { app } = makeApp(
        Koa,
        freqLimit({ name: 'api', limit: 10, period: 1_000, burst: 10, backend }),
        freqLimit({ name: 'login', limit: 1, period: 60_000, maxDelay: 0, backend }),
      );
      const agent = request(app.callback());
      const ok = await agent.get('/').expect(200);
      expect(ok.headers['ratelimit-policy']).toBe('"api";q=10;w=1, "login";q=1;w=60');
      expect(ok.headers.ratelimit).toBe('"api";r=9;t=0, "login";r=0;t=60');
      const rejected = await agent.get('/').expect(429);
      expect(rejected.headers.ratelimit).toBe('"api";r=8;t=0, "login";r=0;t=60');
      expect(rejected.headers['retry-after']).toBe('60');
    });

    it("'draft-8': t is the time to a full reset", async () => {
      const [ok, rejected] = await firstAndRejected({ headers: 'draft-8' });
      expect(ok.headers['ratelimit-policy']).toBe('"login";q=5;w=60');
      expect(ok.headers.ratelimit).toBe('"login";r=2;t=12');
      expect(rejected.headers.ratelimit).toBe('"login";r=0;t=12');
      expect(rejected.headers['retry-after']).toBe('12');
    });

    it("'draft-6': separate fields", async () => {
      const [ok, rejected] = await firstAndRejected({ headers: 'draft-6' });
      expect(ok.headers).toMatchObject({
        'ratelimit-limit': '5',
        'ratelimit-remaining': '2',
        'ratelimit-reset': '12',
        'ratelimit-policy': '5;w=60',
      });
      expect(ok.headers.ratelimit).toBeUndefined();
      expect(rejected.headers).toMatchObject({
        'ratelimit-remaining': '0',
        'ratelimit-reset': '36',
        'retry-after': '12',
      });
    });

    it("'legacy': X-RateLimit-* with a Unix reset time", async () => {
      const before = Math.ceil((Date.now() + 12_000) / 1000);
      const [ok, rejected] = await firstAndRejected({ headers: 'legacy' });
      const after = Math.ceil((Date.now() + 12_000) / 1000);
      expect(ok.headers['x-ratelimit-limit']).toBe('5');
      expect(ok.headers['x-ratelimit-remaining']).toBe('2');
      const reset = Number(ok.headers['x-ratelimit-reset']);
      expect(reset).toBeGreaterThanOrEqual(before);
      expect(reset).toBeLessThanOrEqual(after);
      expect(ok.headers['ratelimit-policy']).toBeUndefined();
      expect(rejected.headers['retry-after']).toBe('12');
    });

    it('false: no rate-limit fields, but Retry-After on every 429', async () => {
      const [ok, rejected] = await firstAndRejected({ headers: false });
      for (const res of [ok, rejected]) {
        const names = Object.keys(res.headers).filter((h) => /ratelimit/i.test(h));
        expect(names).toEqual([]);
      }
      expect(rejected.status).toBe(429);
      expect(rejected.headers['retry-after']).toBe('12');
    });
  });

  describe('default key', () => {
    function proxied(maxDelay = 0) {
      const made = makeApp(Koa, freqLimit({ limit: 1, period: 60_000, maxDelay }));
      made.app.proxy = true;
      return made;
    }

    it('keys by ctx.ip over a real socket (IPv4-mapped loopback as IPv4)', async () => {
      const { app } = makeApp(Koa, freqLimit({ limit: 1, period: 60_000 }));
      const res = await request(app.callback()).get('/').expect(200);
      expect(res.body.freqLimit.limits[0].key).toBe('127.0.0.1');
    });

    it('follows app.proxy, keys IPv6 by its /56 and IPv4-mapped IPv6 as IPv4', async () => {
      const { app } = proxied();
      const agent = request(app.callback());
      const v6 = await agent.get('/').set('X-Forwarded-For', '2001:db8:abcd:1201::1').expect(200);
      expect(v6.body.freqLimit.limits[0].key).toBe('2001:db8:abcd:1200::/56');
      await agent.get('/').set('X-Forwarded-For', '2001:db8:abcd:12ff:1:2:3:4').expect(429);
      await agent.get('/').set('X-Forwarded-For', '2001:db8:abcd:1300::1').expect(200);
      await agent.get('/').set('X-Forwarded-For', '::ffff:10.0.0.1').expect(200);
      await agent.get('/').set('X-Forwarded-For', '10.0.0.1').expect(429);
      await agent.get('/').set('X-Forwarded-For', '10.0.0.2').expect(200);
    });

    it('fails the request with an error naming keyFn when there is no client address', async () => {
      const { app, errors, handled } = makeApp(
        Koa,
        (ctx, next) => {
          Object.defineProperty(ctx, 'ip', { value: '' });
          return next();
        },
        freqLimit({ limit: 1, period: 60_000 }),
      );
      await request(app.callback()).get('/').expect(500);
      expect(errors[0]?.message).toMatch(/@freqlimit\/koa.*pass `keyFn`/);
      expect(handled()).toBe(0);
    });
  });

  describe('throwing keyFn, skip or cost', () => {
    type Req = { get(field: string): string };
    const boom = (ctx: Req): void => {
      if (ctx.get('x-boom')) throw new Error('boom');
    };
    it.each<[string, Partial<FreqLimitOptions>]>([
      [
        'keyFn',
        {
          keyFn: (ctx: Req) => {
            boom(ctx);
            return 'k';
          },
        },
      ],
      [
        'async keyFn',
        {
          keyFn: async (ctx: Req) => {
            boom(ctx);
            return 'k';
          },
        },
      ],
      [
        'skip',
        {
          keyFn: () => 'k',
          skip: (ctx: Req) => {
            boom(ctx);
            return false;
          },
        },
      ],
      [
        'cost',
        {
          keyFn: () => 'k',
          cost: (ctx: Req) => {
            boom(ctx);
            return 1;
          },
        },
      ],
    ])('%s throwing → 500 through Koa, nothing reserved', async (_k, extra) => {
      const { app, errors, handled } = makeApp(
        Koa,
        freqLimit({ limit: 1, period: 60_000, maxDelay: 0, ...extra }),
      );
      const agent = request(app.callback());
      await agent.get('/').set('x-boom', '1').expect(500);
      expect(errors.map((e) => e.message)).toEqual(['boom']);
      expect(handled()).toBe(0);
      const ok = await agent.get('/').expect(200);
      expect(ok.body.freqLimit).toMatchObject({ delay: 0, limits: [{ remaining: 0 }] });
      await agent.get('/').expect(429);
    });

    it('a cost function returning an invalid cost → 500 naming cost', async () => {
      const { app, errors } = makeApp(
        Koa,
        freqLimit({ limit: 1, period: 60_000, keyFn: () => 'k', cost: () => -1 }),
      );
      await request(app.callback()).get('/').expect(500);
      expect(errors[0]?.message).toMatch(/cost/);
    });
  });

  it('works per route with @koa/router', async () => {
    const { backend } = frozen();
    const app = new Koa();
    const router = new Router();
    let logins = 0;
    router.post(
      '/login',
      freqLimit({ name: 'login', limit: 1, period: 60_000, maxDelay: 0, backend }),
      (ctx) => {
        logins++;
        ctx.body = { policy: ctx.state.freqLimit?.limits[0]?.name };
      },
    );
    router.get('/health', (ctx) => {
      ctx.body = 'ok';
    });
    app.use(router.routes());
    const agent = request(app.callback());
    expect((await agent.post('/login').expect(200)).body).toEqual({ policy: 'login' });
    const rejected = await agent.post('/login').expect(429);
    expect(rejected.headers.ratelimit).toBe('"login";r=0;t=60');
    for (let i = 0; i < 3; i++) {
      const health = await agent.get('/health').expect(200);
      expect(health.headers.ratelimit).toBeUndefined();
    }
    expect(logins).toBe(1);
  });
});

describe('bad options fail at factory time, naming the field', () => {
  it.each([
    [{ limit: 0, period: 1000 }, RangeError, /limit/],
    [{ limit: 1.5, period: 1000 }, RangeError, /limit/],
    [{ limit: 1, period: -1 }, RangeError, /period/],
    [{ limit: 1 }, TypeError, /period/],
    [{ limit: 1, period: 1000, burst: 0 }, RangeError, /burst/],
    [{ limit: 1, period: 1000, maxDelay: -5 }, RangeError, /maxDelay/],
    [{ limit: 1, period: 1000, cost: 0 }, RangeError, /cost/],
    [{ limit: 1, period: 1000, maxHeld: -1 }, RangeError, /maxHeld/],
    [{ limit: 1, period: 1000, headers: 'draft-9' }, TypeError, /headers/],
    [{ limit: 1, period: 1000, keyFn: 'ip' }, TypeError, /keyFn/],
    [{ limit: 1, period: 1000, onRejected: 429 }, TypeError, /onRejected/],
    [{ limit: 1, period: 1000, onBackendError: 'ignore' }, TypeError, /onBackendError/],
    [{ limit: 1, period: 1000, backend: {} }, TypeError, /backend/],
    [{ limit: 1, period: 1000, limits: [] }, TypeError, /limits/],
    [{ limits: [] }, TypeError, /limits/],
    [{ limit: 1, period: 1000, windowMs: 1000 }, TypeError, /windowMs/],
    [{ limit: 1, period: 1000, name: '' }, TypeError, /name/],
  ])('%o → %s', (options, type, message) => {
    expect(() => freqLimit(options as FreqLimitOptions)).toThrow(type);
    expect(() => freqLimit(options as FreqLimitOptions)).toThrow(message);
    expect(() => freqLimit(options as FreqLimitOptions)).toThrow(/@freqlimit\/koa/);
  });
});
