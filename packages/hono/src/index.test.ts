import type { FreqLimitBackend, MultiReservation, Reservation } from '@freqlimit/core';
import { type Env, Hono, type MiddlewareHandler } from 'hono';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  type FreqLimitInfo,
  type FreqLimitOptions,
  type FreqLimitVariables,
  freqLimit,
  InMemoryBackend,
} from './index.js';

/** A node-server-like env: the default key reads `incoming.socket.remoteAddress`. */
const from = (address: string) => ({ incoming: { socket: { remoteAddress: address } } });
const ME = from('203.0.113.7');

/** An app with one limited route that counts handler runs and reports the decision. */
function appWith<E extends Env = Env>(mw: MiddlewareHandler<E>) {
  const app = new Hono<E & { Variables: FreqLimitVariables }>();
  let runs = 0;
  app.onError((err, c) => c.json({ error: err.message }, 500));
  app.use(mw);
  app.get('/', (c) => {
    runs++;
    const info = c.get('freqLimit');
    return c.json({ delay: info?.delay, key: info?.limits[0]?.key });
  });
  return {
    app,
    runs: () => runs,
    get: (env: object = ME, init?: RequestInit) => app.request('/', init, env),
  };
}

/** A clock the test moves by hand; hold durations still pass in real time. */
function manualClock() {
  const clock = { now: 0, read: () => clock.now };
  return clock;
}

class FailingBackend implements FreqLimitBackend {
  calls = 0;
  async reserve(): Promise<Reservation> {
    this.calls++;
    throw new Error('backend down');
  }
  async reserveMany(): Promise<MultiReservation> {
    this.calls++;
    throw new Error('backend down');
  }
  async refund(): Promise<void> {}
  async clear(): Promise<void> {}
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('pass, hold, reject', () => {
  it('passes at once within the burst and exposes the decision', async () => {
    const t = appWith(freqLimit({ limit: 5, period: 60_000, burst: 5, name: 'login' }));
    const res = await t.get();
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ delay: 0, key: '203.0.113.7' });
    expect(res.headers.get('RateLimit-Policy')).toBe('"login";q=5;w=60');
    expect(res.headers.get('RateLimit')).toBe('"login";r=4;t=0');
    expect(res.headers.get('Server-Timing')).toBeNull();
  });

  it('holds a request for the reserved delay, then runs the handler', async () => {
    const clock = manualClock();
    const backend = new InMemoryBackend({ clock: clock.read });
    const t = appWith(freqLimit({ limit: 1, period: 300, backend }));
    expect((await t.get()).status).toBe(200);
    const start = performance.now();
    const res = await t.get();
    const waited = performance.now() - start;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ delay: 300 });
    const dur = Number(res.headers.get('Server-Timing')?.match(/^freqlimit;dur=(\d+)$/)?.[1]);
    expect(dur).toBeGreaterThanOrEqual(299);
    expect(dur).toBeLessThan(1000);
    expect(waited).toBeGreaterThanOrEqual(295);
    expect(t.runs()).toBe(2);
  });

  it('rejects past maxDelay with 429, Retry-After and the JSON body; the handler never runs', async () => {
    const backend = new InMemoryBackend({ clock: () => 0 });
    const t = appWith(
      freqLimit({ limit: 5, period: 60_000, burst: 5, maxDelay: 0, name: 'login', backend }),
    );
    for (let i = 0; i < 5; i++) expect((await t.get()).status).toBe(200);
    const res = await t.get();
    expect(res.status).toBe(429);
    expect(res.headers.get('Retry-After')).toBe('12');
    expect(res.headers.get('Content-Type')).toMatch(/^application\/json/);
    expect(res.headers.get('RateLimit')).toBe('"login";r=0;t=12');
    expect(await res.json()).toEqual({ error: 'Too Many Requests', retryAfter: 12 });
    expect(t.runs()).toBe(5);
  });

  it('rounds Retry-After up and to at least 1 s', async () => {
    const clock = manualClock();
    const backend = new InMemoryBackend({ clock: clock.read });
    const t = appWith(freqLimit({ limit: 10, period: 1_000, maxDelay: 0, backend }));
    await t.get();
    const res = await t.get();
    expect(res.status).toBe(429);
    expect(res.headers.get('Retry-After')).toBe('1');
    clock.now = 100;
    expect((await t.get()).status).toBe(200);
  });

  it('answers cost > burst with 429 and no Retry-After', async () => {
    const t = appWith(freqLimit({ limit: 10, period: 1_000, burst: 2, cost: 3 }));
    const res = await t.get();
    expect(res.status).toBe(429);
    expect(res.headers.get('Retry-After')).toBeNull();
    expect(await res.json()).toEqual({ error: 'Too Many Requests' });
    expect(t.runs()).toBe(0);
  });

  it('keeps the headers when the handler returns a plain Response', async () => {
    const app = new Hono();
    app.use(freqLimit({ limit: 1, period: 1_000, name: 'raw' }));
    app.get('/', () => new Response('plain', { headers: { 'X-Own': 'yes' } }));
    const res = await app.request('/', undefined, ME);
    expect(res.headers.get('X-Own')).toBe('yes');
    expect(res.headers.get('RateLimit')).toBe('"raw";r=0;t=1');
  });
});

describe('keys, skip, cost, limits, names', () => {
  it('uses a sync or async keyFn; null or undefined means not limited', async () => {
    for (const keyFn of [
      (c: { req: { header: (n: string) => string | undefined } }) => c.req.header('x-user'),
      async (c: { req: { header: (n: string) => string | undefined } }) => c.req.header('x-user'),
    ]) {
      const t = appWith(freqLimit({ limit: 1, period: 60_000, maxDelay: 0, keyFn }));
      const as = (user?: string) => t.get({}, user ? { headers: { 'x-user': user } } : undefined);
      expect((await as('ann')).status).toBe(200);
      expect((await as('ann')).status).toBe(429);
      expect((await as('bob')).status).toBe(200);
      const free = await as();
      expect(free.status).toBe(200);
      expect(free.headers.get('RateLimit')).toBeNull();
      expect(await free.json()).toEqual({});
      expect((await as()).status).toBe(200);
    }
    const t = appWith(freqLimit({ limit: 1, period: 60_000, maxDelay: 0, keyFn: () => null }));
    expect((await t.get({})).status).toBe(200);
    expect((await t.get({})).status).toBe(200);
  });

  it('accepts numeric keys', async () => {
    const t = appWith(freqLimit({ limit: 1, period: 60_000, maxDelay: 0, keyFn: () => 42 }));
    expect(await (await t.get({})).json()).toEqual({ delay: 0, key: '42' });
    expect((await t.get({})).status).toBe(429);
  });

  it('skips requests for which skip returns true (sync or async)', async () => {
    const t = appWith(
      freqLimit({
        limit: 1,
        period: 60_000,
        maxDelay: 0,
        skip: async (c) => c.req.header('x-admin') === '1',
      }),
    );
    const admin = { headers: { 'x-admin': '1' } };
    expect((await t.get(ME, admin)).status).toBe(200);
    expect((await t.get(ME, admin)).status).toBe(200);
    expect((await t.get()).status).toBe(200);
    expect((await t.get()).status).toBe(429);
    const sync = appWith(freqLimit({ limit: 1, period: 60_000, maxDelay: 0, skip: () => true }));
    expect((await sync.get()).status).toBe(200);
    expect((await sync.get()).status).toBe(200);
  });

  it('charges a fixed cost or one computed from the request', async () => {
    const fixed = appWith(freqLimit({ limit: 4, period: 60_000, burst: 4, cost: 2, maxDelay: 0 }));
    expect((await fixed.get()).headers.get('RateLimit')).toBe('"default";r=2;t=0');
    expect((await fixed.get()).status).toBe(200);
    expect((await fixed.get()).status).toBe(429);

    const byHeader = appWith(
      freqLimit({
        limit: 4,
        period: 60_000,
        burst: 4,
        maxDelay: 0,
        cost: async (c) => Number(c.req.header('x-cost') ?? 1),
      }),
    );
    const res = await byHeader.get(ME, { headers: { 'x-cost': '3' } });
    expect(res.headers.get('RateLimit')).toBe('"default";r=1;t=0');
    expect((await byHeader.get()).status).toBe(200);
    expect((await byHeader.get()).status).toBe(429);
  });

  it('enforces several limits, with a constant key for a global one', async () => {
    const t = appWith(
      freqLimit({
        name: 'api',
        maxDelay: 0,
        limits: [
          { limit: 2, period: 60_000, burst: 2 },
          { limit: 3, period: 60_000, burst: 3, key: () => 'all' },
        ],
      }),
    );
    const first = await t.get(from('198.51.100.1'));
    expect(first.headers.get('RateLimit-Policy')).toBe('"api-1";q=2;w=60, "api-2";q=3;w=60');
    expect(first.headers.get('RateLimit')).toBe('"api-1";r=1;t=0, "api-2";r=2;t=0');
    expect((await t.get(from('198.51.100.1'))).status).toBe(200);
    expect((await t.get(from('198.51.100.1'))).status).toBe(429); // per-client limit
    expect((await t.get(from('198.51.100.2'))).status).toBe(200);
    const global = await t.get(from('198.51.100.3'));
    expect(global.status).toBe(429); // the global limit is spent
    expect(global.headers.get('Retry-After')).toBe('20');
  });

  it('skips a limit whose key returns null', async () => {
    const t = appWith(
      freqLimit({
        name: 'api',
        maxDelay: 0,
        limits: [
          { limit: 1, period: 60_000 },
          { limit: 1, period: 60_000, key: () => undefined },
        ],
      }),
    );
    const res = await t.get();
    expect(res.headers.get('RateLimit')).toBe('"api-1";r=0;t=60');
    expect((await t.get()).status).toBe(429);
  });

  it('keeps middleware with different names apart on one backend', async () => {
    const backend = new InMemoryBackend();
    const app = new Hono();
    app.get('/a', freqLimit({ name: 'a', limit: 1, period: 60_000, maxDelay: 0, backend }));
    app.get('/b', freqLimit({ name: 'b', limit: 1, period: 60_000, maxDelay: 0, backend }));
    app.get('*', (c) => c.text('ok'));
    expect((await app.request('/a', undefined, ME)).status).toBe(200);
    expect((await app.request('/b', undefined, ME)).status).toBe(200);
    expect((await app.request('/a', undefined, ME)).status).toBe(429);
    expect((await app.request('/b', undefined, ME)).status).toBe(429);
  });

  it('warns once when two instances share a name on one backend', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const backend = new InMemoryBackend();
    freqLimit({ name: 'shared', limit: 1, period: 1_000, backend });
    expect(warn).not.toHaveBeenCalled();
    const one = freqLimit({ name: 'shared', limit: 1, period: 1_000, backend, maxDelay: 0 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/@freqlimit\/hono.*"shared"/);
    freqLimit({ name: 'other', limit: 1, period: 1_000, backend });
    expect(warn).toHaveBeenCalledTimes(1);
    // and they do share state
    const two = freqLimit({ name: 'shared', limit: 1, period: 1_000, backend, maxDelay: 0 });
    expect((await appWith(one).get()).status).toBe(200);
    expect((await appWith(two).get()).status).toBe(429);
  });
});

describe('default key', () => {
  const keyOf = async (t: ReturnType<typeof appWith>, env: object) =>
    ((await (await t.get(env)).json()) as { key?: string; error?: string }).key;

  it('reads @hono/node-server’s socket; IPv4-mapped IPv6 as IPv4, IPv6 by /56', async () => {
    const t = appWith(freqLimit({ limit: 100, period: 1_000, burst: 100 }));
    expect(await keyOf(t, from('::ffff:192.0.2.1'))).toBe('192.0.2.1');
    expect(await keyOf(t, from('192.0.2.1'))).toBe('192.0.2.1');
    expect(await keyOf(t, from('2001:db8:abcd:12ff::1'))).toBe('2001:db8:abcd:1200::/56');
    expect(await keyOf(t, from('2001:db8:abcd:1234:5678::9'))).toBe('2001:db8:abcd:1200::/56');
    expect(await keyOf(t, from('2001:db8:abcd:1300::1'))).toBe('2001:db8:abcd:1300::/56');
    expect(await keyOf(t, { server: from('192.0.2.9') })).toBe('192.0.2.9');
  });

  it('counts IPv4-mapped and plain IPv4 of one client as one key', async () => {
    const t = appWith(freqLimit({ limit: 1, period: 60_000, maxDelay: 0 }));
    expect((await t.get(from('::ffff:192.0.2.1'))).status).toBe(200);
    expect((await t.get(from('192.0.2.1'))).status).toBe(429);
    expect((await t.get(from('2001:db8:abcd:12ff::1'))).status).toBe(200);
    expect((await t.get(from('2001:db8:abcd:1234::2'))).status).toBe(429);
  });

  it('asks Bun’s server.requestIP, passed as env or as { server }', async () => {
    const t = appWith(freqLimit({ limit: 100, period: 1_000, burst: 100 }));
    const seen: Request[] = [];
    const server = {
      requestIP: (req: Request) => {
        seen.push(req);
        return { address: '::ffff:198.51.100.4', family: 'IPv6', port: 1 };
      },
    };
    expect(await keyOf(t, server)).toBe('198.51.100.4');
    expect(await keyOf(t, { server })).toBe('198.51.100.4');
    expect(seen[0]).toBeInstanceOf(Request);
  });

  it('reads Deno’s remoteAddr', async () => {
    const t = appWith(freqLimit({ limit: 100, period: 1_000, burst: 100 }));
    const env = { remoteAddr: { hostname: '198.51.100.5', port: 1, transport: 'tcp' } };
    expect(await keyOf(t, env)).toBe('198.51.100.5');
  });

  it('reads cf-connecting-ip on Workers only', async () => {
    const header = { headers: { 'cf-connecting-ip': '198.51.100.6' } };
    const elsewhere = appWith(freqLimit({ limit: 100, period: 1_000, burst: 100 }));
    const spoofed = await elsewhere.get({}, header);
    expect(spoofed.status).toBe(500);
    vi.stubGlobal('navigator', { userAgent: 'Cloudflare-Workers' });
    const workers = appWith(freqLimit({ limit: 100, period: 1_000, burst: 100 }));
    expect(await (await workers.get({ MY_BINDING: 'x' }, header)).json()).toMatchObject({
      key: '198.51.100.6',
    });
    expect((await workers.get({})).status).toBe(500);
  });

  it('fails the request with a hint to pass keyFn when no address is found', async () => {
    const t = appWith(freqLimit({ limit: 1, period: 1_000 }));
    for (const env of [undefined, {}, { incoming: { socket: {} } }]) {
      const res = await t.app.request('/', undefined, env);
      expect(res.status).toBe(500);
      expect(((await res.json()) as { error: string }).error).toMatch(/Pass `keyFn`.*getConnInfo/);
    }
    expect(t.runs()).toBe(0);
    // Hono's default error handler answers 500 as well
    const app = new Hono();
    app.use(freqLimit({ limit: 1, period: 1_000 }));
    app.get('/', (c) => c.text('ok'));
    vi.spyOn(console, 'error').mockImplementation(() => {});
    expect((await app.request('/')).status).toBe(500);
  });
});

describe('errors in user functions', () => {
  for (const [what, options] of [
    [
      'keyFn',
      {
        keyFn: (c) => {
          if (c.req.header('x-boom')) throw new Error('keyFn boom');
          return 'k';
        },
      },
    ],
    [
      'skip',
      {
        keyFn: () => 'k',
        skip: async (c) => {
          if (c.req.header('x-boom')) throw new Error('skip boom');
          return false;
        },
      },
    ],
    [
      'cost',
      {
        keyFn: () => 'k',
        cost: (c) => {
          if (c.req.header('x-boom')) throw new Error('cost boom');
          return 1;
        },
      },
    ],
  ] as Array<[string, Partial<FreqLimitOptions>]>) {
    it(`a throwing ${what} takes Hono's error path (500) and reserves nothing`, async () => {
      const t = appWith(freqLimit({ limit: 1, period: 60_000, maxDelay: 0, ...options }));
      const res = await t.get({}, { headers: { 'x-boom': '1' } });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: `${what} boom` });
      expect(t.runs()).toBe(0);
      const next = await t.get({});
      expect(next.status).toBe(200);
      expect(next.headers.get('RateLimit')).toBe('"default";r=0;t=60');
    });
  }

  it('a cost function returning an invalid value is a 500 too', async () => {
    const t = appWith(freqLimit({ limit: 1, period: 60_000, keyFn: () => 'k', cost: () => -1 }));
    const res = await t.get({});
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: string }).error).toMatch(/cost/);
  });
});

describe('onRejected', () => {
  it('replaces the 429 and still carries the rate-limit headers and Retry-After', async () => {
    const seen: FreqLimitInfo[] = [];
    const t = appWith(
      freqLimit({
        name: 'slow',
        limit: 1,
        period: 10_000,
        maxDelay: 0,
        onRejected: (c, info) => {
          seen.push(info);
          expect(c.get('freqLimit')).toBe(info);
          return c.text(`try again in ${info.retryAfter} s`, 503);
        },
      }),
    );
    await t.get();
    const res = await t.get();
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('try again in 10 s');
    expect(res.headers.get('Content-Type')).toMatch(/^text\/plain/);
    expect(res.headers.get('Retry-After')).toBe('10');
    expect(res.headers.get('RateLimit')).toBe('"slow";r=0;t=10');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ allowed: false, retryAfter: 10 });
    expect(t.runs()).toBe(1);
  });

  it('may return a plain Response, asynchronously', async () => {
    const t = appWith(
      freqLimit({
        limit: 1,
        period: 10_000,
        maxDelay: 0,
        onRejected: async () => new Response('nope', { status: 429 }),
      }),
    );
    await t.get();
    const res = await t.get();
    expect(res.status).toBe(429);
    expect(await res.text()).toBe('nope');
    expect(res.headers.get('Retry-After')).toBe('10');
  });
});

describe('onBackendError', () => {
  it("'allow' (default) lets requests through and reports the failure", async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const backend = new FailingBackend();
    const t = appWith(freqLimit({ limit: 1, period: 60_000, maxDelay: 0, backend }));
    for (let i = 0; i < 3; i++) expect((await t.get()).status).toBe(200);
    expect(t.runs()).toBe(3);
    expect(backend.calls).toBe(1); // cool-down: not asked again right away
    expect(error).toHaveBeenCalledTimes(1);
  });

  it("'reject' answers 503", async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const t = appWith(
      freqLimit({
        limit: 1,
        period: 60_000,
        backend: new FailingBackend(),
        onBackendError: 'reject',
        onRejected: () => new Response('custom', { status: 429 }),
      }),
    );
    const res = await t.get();
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: 'Service Unavailable' });
    expect(t.runs()).toBe(0);
  });

  it('falls back to another backend', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const t = appWith(
      freqLimit({
        limit: 1,
        period: 60_000,
        maxDelay: 0,
        backend: new FailingBackend(),
        onBackendError: new InMemoryBackend(),
      }),
    );
    expect((await t.get()).status).toBe(200);
    expect((await t.get()).status).toBe(429);
  });
});

describe('maxHeld', () => {
  it('at the cap, a request that would be held gets 429; one that passes at once still passes', async () => {
    const t = appWith(freqLimit({ limit: 1, period: 300, maxDelay: 5_000, maxHeld: 1 }));
    expect((await t.get()).status).toBe(200);
    const held = t.get(); // held ~300 ms
    await new Promise((r) => setTimeout(r, 50));
    const overCap = await t.get();
    expect(overCap.status).toBe(429);
    expect(Number(overCap.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
    expect((await t.get(from('192.0.2.50'))).status).toBe(200); // other key, no wait
    expect((await held).status).toBe(200);
    expect(t.runs()).toBe(3);
  });
});

describe('client leaves while held', () => {
  it('never runs the handler and refunds the reservation', async () => {
    const clock = manualClock();
    const backend = new InMemoryBackend({ clock: clock.read });
    const refund = vi.spyOn(backend, 'refund');
    const t = appWith(freqLimit({ limit: 1, period: 400, maxDelay: 5_000, backend }));
    await t.get();
    const ac = new AbortController();
    const leaving = t.get(ME, { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    expect((await leaving).status).toBe(499);
    expect(refund).toHaveBeenCalledTimes(1);
    const next = await t.get();
    expect(await next.json()).toMatchObject({ delay: 400 }); // the freed slot, not 800
    await new Promise((r) => setTimeout(r, 100));
    expect(t.runs()).toBe(2);
  });
});

describe('headers option', () => {
  it('stacked middleware add their policies as further list members', async () => {
    const backend = new InMemoryBackend({ clock: () => 0 });
    const app = new Hono();
    app.use(freqLimit({ name: 'api', limit: 10, period: 1_000, burst: 10, backend }));
    app.use(freqLimit({ name: 'login', limit: 1, period: 60_000, maxDelay: 0, backend }));
    app.get('/', (c) => c.text('ok'));
    const ok = await app.request('/', undefined, ME);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('ratelimit-policy')).toBe('"api";q=10;w=1, "login";q=1;w=60');
    expect(ok.headers.get('ratelimit')).toBe('"api";r=9;t=0, "login";r=0;t=60');
    const rejected = await app.request('/', undefined, ME);
    expect(rejected.status).toBe(429);
    expect(rejected.headers.get('ratelimit')).toBe('"api";r=8;t=0, "login";r=0;t=60');
    expect(rejected.headers.get('retry-after')).toBe('60');
  });

  const run = async (headers: FreqLimitOptions['headers']) => {
    const backend = new InMemoryBackend({ clock: () => 0 });
    const t = appWith(
      freqLimit({
        name: 'login',
        limit: 5,
        period: 60_000,
        burst: 5,
        maxDelay: 0,
        headers,
        backend,
      }),
    );
    for (let i = 0; i < 4; i++) await t.get();
    const last = await t.get();
    const rejected = await t.get();
    const pick = (res: Response) => {
      const out: Record<string, string> = {};
      res.headers.forEach((value, name) => {
        if (/ratelimit|retry-after/.test(name)) out[name] = value;
      });
      return out;
    };
    return { last: pick(last), rejected: pick(rejected) };
  };

  it('draft-10 by default', async () => {
    expect(await run(undefined)).toEqual({
      last: { 'ratelimit-policy': '"login";q=5;w=60', ratelimit: '"login";r=0;t=12' },
      rejected: {
        'ratelimit-policy': '"login";q=5;w=60',
        ratelimit: '"login";r=0;t=12',
        'retry-after': '12',
      },
    });
  });

  it('draft-8: t is the time to full reset', async () => {
    expect(await run('draft-8')).toEqual({
      last: { 'ratelimit-policy': '"login";q=5;w=60', ratelimit: '"login";r=0;t=60' },
      rejected: {
        'ratelimit-policy': '"login";q=5;w=60',
        ratelimit: '"login";r=0;t=12',
        'retry-after': '12',
      },
    });
  });

  it('draft-6', async () => {
    const { last, rejected } = await run('draft-6');
    expect(last).toEqual({
      'ratelimit-limit': '5',
      'ratelimit-remaining': '0',
      'ratelimit-reset': '60',
      'ratelimit-policy': '5;w=60',
    });
    expect(rejected).toMatchObject({ 'ratelimit-remaining': '0', 'retry-after': '12' });
  });

  it('legacy: X-RateLimit-Reset in Unix seconds', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_700_000_000_000);
    const { last, rejected } = await run('legacy');
    expect(last).toEqual({
      'x-ratelimit-limit': '5',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': '1700000060',
    });
    expect(rejected).toMatchObject({ 'x-ratelimit-remaining': '0', 'retry-after': '12' });
  });

  it('false: no rate-limit fields, but Retry-After on a 429', async () => {
    expect(await run(false)).toEqual({ last: {}, rejected: { 'retry-after': '12' } });
  });
});

describe('options', () => {
  it.each([
    [{ period: 1_000 }, TypeError, /`limit` and `period`/],
    [{ limit: 0, period: 1_000 }, RangeError, /limit/],
    [{ limit: 1, period: -1 }, RangeError, /period/],
    [{ limit: 1, period: 1_000, burst: 1.5 }, RangeError, /burst/],
    [{ limit: 1, period: 1_000, maxDelay: -1 }, RangeError, /maxDelay/],
    [{ limit: 1, period: 1_000, maxHeld: -1 }, RangeError, /maxHeld/],
    [{ limit: 1, period: 1_000, cost: 0 }, RangeError, /cost/],
    [{ limit: 1, period: 1_000, keyFn: 'ip' }, TypeError, /keyFn/],
    [{ limit: 1, period: 1_000, headers: 'draft-7' }, TypeError, /headers/],
    [{ limit: 1, period: 1_000, onBackendError: 'ignore' }, TypeError, /onBackendError/],
    [{ limit: 1, period: 1_000, limits: [] }, TypeError, /limits/],
    [{ limit: 1, period: 1_000, windowMs: 1 }, TypeError, /windowMs/],
  ])('rejects %o at factory time', (options, type, message) => {
    expect(() => freqLimit(options as FreqLimitOptions)).toThrow(type);
    expect(() => freqLimit(options as FreqLimitOptions)).toThrow(message);
  });

  it('does not mutate the caller’s options', () => {
    const options = Object.freeze({ limit: 1, period: 1_000 });
    freqLimit(options);
    expect(options).toEqual({ limit: 1, period: 1_000 });
  });

  it('types c.get("freqLimit") and the context of keyFn', () => {
    type Bindings = { TOKEN: string };
    const app = new Hono<{ Bindings: Bindings }>();
    app.use(
      freqLimit<{ Bindings: Bindings }>({
        limit: 1,
        period: 1_000,
        keyFn: (c) => {
          expectTypeOf(c.env.TOKEN).toEqualTypeOf<string>();
          return c.env.TOKEN;
        },
      }),
    );
    app.get('/', (c) => {
      expectTypeOf(c.get('freqLimit')).toEqualTypeOf<FreqLimitInfo | undefined>();
      return c.text('ok');
    });
  });
});
