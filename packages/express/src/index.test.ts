import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { type FreqLimitBackend, FreqLimitParams, type Reservation } from '@freqlimit/core';
import express5, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import express4 from 'express4';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type FreqLimitInfo, type FreqLimitOptions, freqLimit, InMemoryBackend } from './index.js';

type ExpressFactory = typeof express5;
type App = ReturnType<ExpressFactory>;

/** A backend on a clock the test sets (ms). */
function manualClock(): { backend: InMemoryBackend; set: (ms: number) => void } {
  let now = 0;
  return {
    backend: new InMemoryBackend({ clock: () => now }),
    set: (ms) => {
      now = ms;
    },
  };
}

/** Every call fails, like a Redis that is down. */
class FailingBackend implements FreqLimitBackend {
  calls = 0;
  async reserve(): Promise<Reservation> {
    this.calls++;
    throw new Error('backend down');
  }
  async refund(): Promise<void> {
    throw new Error('backend down');
  }
  async clear(): Promise<void> {}
}

const silence = (method: 'warn' | 'error') =>
  vi.spyOn(console, method).mockImplementation(() => undefined);

afterEach(() => {
  vi.restoreAllMocks();
});

/** What the test handler answers: the decision later handlers see. */
interface Seen {
  allowed?: boolean;
  delay?: number;
  key?: string;
  remaining?: number;
}

function build(
  express: ExpressFactory,
  middleware: RequestHandler | RequestHandler[],
  setup?: (app: App) => void,
): { app: App; ran: () => number } {
  const app = express();
  setup?.(app);
  let ran = 0;
  app.all('/', middleware, (req: Request, res: Response) => {
    ran++;
    const info: FreqLimitInfo | undefined = req.freqLimit;
    const seen: Seen = {
      allowed: info?.allowed,
      delay: info?.delay,
      key: info?.limits[0]?.key,
      remaining: info?.limits[0]?.remaining,
    };
    res.json(seen);
  });
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: err.message });
  });
  return { app, ran: () => ran };
}

async function listen(app: App): Promise<{ url: string; close: () => Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

const heldMs = (value: string | null | undefined): number => {
  const match = /^freqlimit;dur=(\d+)$/.exec(value ?? '');
  if (!match) throw new Error(`no Server-Timing freqlimit entry in ${String(value)}`);
  return Number(match[1]);
};

describe.each([
  ['express 5', express5],
  ['express 4', express4 as ExpressFactory],
])('%s', (_label, express) => {
  const limited = (options: Partial<FreqLimitOptions>, setup?: (app: App) => void) =>
    build(express, freqLimit({ limit: 1, period: 60_000, ...options } as FreqLimitOptions), setup);

  describe('pass, hold, reject', () => {
    it('passes at once with draft-10 headers and exposes the decision on req.freqLimit', async () => {
      const { backend } = manualClock();
      const { app, ran } = limited({ name: 'api', limit: 5, period: 60_000, burst: 2, backend });
      const res = await request(app).get('/').expect(200);
      expect(res.headers['ratelimit-policy']).toBe('"api";q=5;w=60');
      expect(res.headers.ratelimit).toBe('"api";r=1;t=0');
      expect(res.headers['server-timing']).toBeUndefined();
      expect(res.body).toEqual({ allowed: true, delay: 0, key: '127.0.0.1', remaining: 1 });
      expect(ran()).toBe(1);
    });

    it('holds a request for the reserved delay, then reports it in Server-Timing', async () => {
      const { backend } = manualClock();
      const { app, ran } = limited({ period: 250, maxDelay: 1000, backend });
      const server = await listen(app);
      try {
        const first = await fetch(server.url);
        expect(first.headers.get('server-timing')).toBeNull();
        const second = await fetch(server.url);
        expect(second.status).toBe(200);
        expect(await second.json()).toMatchObject({ allowed: true, delay: 250 });
        expect(heldMs(second.headers.get('server-timing'))).toBeGreaterThanOrEqual(245);
        expect(ran()).toBe(2);
      } finally {
        await server.close();
      }
    });

    it('rejects past maxDelay with 429, Retry-After and the JSON body; the handler does not run', async () => {
      const { backend, set } = manualClock();
      const { app, ran } = limited({ name: 'login', limit: 5, period: 60_000, backend });
      await request(app).get('/').expect(200);
      set(100);
      const res = await request(app).get('/').expect(429);
      // needs 12000 − 100 ms more, minus maxDelay 1000 → 10.9 s → 11
      expect(res.headers['retry-after']).toBe('11');
      expect(res.headers.ratelimit).toBe('"login";r=0;t=11');
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.text).toBe('{"error":"Too Many Requests","retryAfter":11}');
      expect(ran()).toBe(1);
    });

    it('Retry-After is at least 1 and rounded up', async () => {
      const { backend } = manualClock();
      const { app } = limited({ period: 1_100, maxDelay: 1_000, backend });
      await request(app).get('/').expect(200);
      await request(app).get('/').expect(429).expect('Retry-After', '1');
    });

    it('cost > burst: 429 without Retry-After', async () => {
      const { app, ran } = limited({ burst: 2, cost: 3 });
      const res = await request(app).get('/').expect(429);
      expect(res.headers['retry-after']).toBeUndefined();
      expect(res.body).toEqual({ error: 'Too Many Requests' });
      expect(ran()).toBe(0);
    });
  });

  describe('keys, skip, cost, limits', () => {
    it('keyFn (sync and async) separates clients; null/undefined means not limited', async () => {
      for (const keyFn of [
        (req: Request) => req.get('x-client') ?? null,
        async (req: Request) => req.get('x-client'),
      ]) {
        const { app, ran } = limited({ keyFn, maxDelay: 0 });
        await request(app).get('/').set('x-client', 'a').expect(200);
        await request(app).get('/').set('x-client', 'a').expect(429);
        const b = await request(app).get('/').set('x-client', 'b').expect(200);
        expect(b.body.key).toBe('b');
        const anonymous = await request(app).get('/').expect(200);
        await request(app).get('/').expect(200);
        expect(anonymous.headers.ratelimit).toBeUndefined();
        expect(anonymous.body).toEqual({});
        expect(ran()).toBe(4);
      }
    });

    it('a number key is used as a string', async () => {
      const { app } = limited({ keyFn: () => 42 });
      expect((await request(app).get('/')).body.key).toBe('42');
    });

    it('skip (sync and async) lets a request through without reserving', async () => {
      for (const skip of [
        (req: Request) => req.get('x-skip') === '1',
        async (req: Request) => req.get('x-skip') === '1',
      ]) {
        const { app } = limited({ skip, maxDelay: 0 });
        for (let i = 0; i < 3; i++) {
          const res = await request(app).get('/').set('x-skip', '1').expect(200);
          expect(res.headers.ratelimit).toBeUndefined();
        }
        await request(app).get('/').expect(200);
        await request(app).get('/').expect(429);
      }
    });

    it('cost as a number and as a (maybe async) function', async () => {
      const { app: fixed } = limited({ limit: 3, burst: 3, cost: 2, maxDelay: 0 });
      expect((await request(fixed).get('/').expect(200)).body.remaining).toBe(1);
      await request(fixed).get('/').expect(429);

      const { app: byRequest } = limited({
        limit: 3,
        burst: 3,
        maxDelay: 0,
        cost: async (req: Request) => Number(req.get('x-cost') ?? 1),
      });
      expect((await request(byRequest).get('/').set('x-cost', '3')).body.remaining).toBe(0);
      await request(byRequest).get('/').set('x-cost', '1').expect(429);
    });

    it('limits: a per-client limit plus a global one with a constant key', async () => {
      const { backend } = manualClock();
      const { app } = build(
        express,
        freqLimit({
          name: 'api',
          backend,
          maxDelay: 0,
          keyFn: (req) => req.get('x-client'),
          limits: [
            { limit: 2, period: 60_000, burst: 2 },
            { limit: 3, period: 60_000, burst: 3, key: () => 'all' },
          ],
        }),
      );
      const a = await request(app).get('/').set('x-client', 'a').expect(200);
      expect(a.headers['ratelimit-policy']).toBe('"api-1";q=2;w=60, "api-2";q=3;w=60');
      expect(a.headers.ratelimit).toBe('"api-1";r=1;t=0, "api-2";r=2;t=0');
      await request(app).get('/').set('x-client', 'a').expect(200);
      await request(app).get('/').set('x-client', 'a').expect(429); // a's own limit
      await request(app).get('/').set('x-client', 'b').expect(200);
      const b = await request(app).get('/').set('x-client', 'b').expect(429); // the global one
      expect(b.headers.ratelimit).toBe('"api-1";r=0;t=20, "api-2";r=0;t=20');
      // no client key: the per-client limit does not apply, the global one still does
      const anonymous = await request(app).get('/').expect(429);
      expect(anonymous.headers['ratelimit-policy']).toBe('"api-2";q=3;w=60');
    });

    it('different names on one backend never share state; the same name does, with one warning', async () => {
      const backend = new InMemoryBackend();
      const warn = silence('warn');
      const options = { limit: 1, period: 60_000, maxDelay: 0, backend } as const;
      const one = freqLimit({ ...options, name: 'one' });
      const two = freqLimit({ ...options, name: 'two' });
      expect(warn).not.toHaveBeenCalled();
      const { app: appOne } = build(express, one);
      const { app: appTwo } = build(express, two);
      await request(appOne).get('/').expect(200);
      await request(appTwo).get('/').expect(200);
      await request(appOne).get('/').expect(429);

      const again = freqLimit({ ...options, name: 'one' });
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/@freqlimit\/express.*"one"/);
      await request(build(express, again).app).get('/').expect(429);
    });

    it('default key: req.ip through trust proxy, IPv6 by /56, IPv4-mapped as IPv4', async () => {
      const { app } = limited({ maxDelay: 0 }, (a) => a.set('trust proxy', true));
      const v6 = await request(app).get('/').set('X-Forwarded-For', '2001:db8:abcd:1201::1');
      expect(v6.status).toBe(200);
      expect(v6.body.key).toBe('2001:db8:abcd:1200::/56');
      await request(app).get('/').set('X-Forwarded-For', '2001:db8:abcd:12ff:1::9').expect(429);
      await request(app).get('/').set('X-Forwarded-For', '2001:db8:abcd:1300::1').expect(200);
      const v4 = await request(app).get('/').set('X-Forwarded-For', '::ffff:10.0.0.1');
      expect(v4.body.key).toBe('10.0.0.1');
      await request(app).get('/').set('X-Forwarded-For', '10.0.0.1').expect(429);
    });

    it('without trust proxy, X-Forwarded-For is ignored and the socket address is the key', async () => {
      const { app } = limited({ maxDelay: 0 });
      const res = await request(app).get('/').set('X-Forwarded-For', '10.9.9.9').expect(200);
      expect(res.body.key).toBe('127.0.0.1');
      await request(app).get('/').set('X-Forwarded-For', '10.9.9.8').expect(429);
    });

    it('no client address: the request fails with an error asking for keyFn', async () => {
      const { app } = limited({}, (a) =>
        a.use((req, _res, next) => {
          Object.defineProperty(req, 'ip', { value: undefined });
          next();
        }),
      );
      const res = await request(app).get('/').expect(500);
      expect(res.body.error).toMatch(/keyFn/);
    });
  });

  describe('errors', () => {
    it('a throwing keyFn, skip or cost goes to the error handler (500) and reserves nothing', async () => {
      const bad = (req: Request) => req.get('x-bad') === '1';
      const throwers: Partial<FreqLimitOptions>[] = [
        { keyFn: (req) => (bad(req) ? Promise.reject(new Error('keyFn broke')) : 'k') },
        {
          skip: (req) => {
            if (bad(req)) throw new Error('skip broke');
            return false;
          },
        },
        {
          cost: (req) => {
            if (bad(req)) throw new Error('cost broke');
            return 1;
          },
        },
        { cost: (req) => (bad(req) ? Number.NaN : 1) },
      ];
      for (const options of throwers) {
        const { app, ran } = limited({ ...options, maxDelay: 0 });
        const res = await request(app).get('/').set('x-bad', '1').expect(500);
        expect(res.body.error).toMatch(/broke|cost/);
        expect(ran()).toBe(0);
        const next = await request(app).get('/').expect(200);
        expect(next.body).toMatchObject({ delay: 0, remaining: 0 });
      }
    });

    it('a keyFn returning something else than a key is an error naming keyFn', async () => {
      const { app } = limited({ keyFn: () => ({}) as unknown as string });
      expect((await request(app).get('/').expect(500)).body.error).toMatch(/keyFn/);
    });

    it('onRejected replaces the 429 response after the headers are set', async () => {
      const seen: FreqLimitInfo[] = [];
      const { app, ran } = limited({
        maxDelay: 0,
        name: 'custom',
        onRejected: (_req, res, info) => {
          seen.push(info);
          res.type('text').send(`slow down, ${info.retryAfter} s`);
        },
      });
      await request(app).get('/').expect(200);
      const res = await request(app).get('/').expect(429);
      expect(res.text).toBe('slow down, 60 s');
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.headers['retry-after']).toBe('60');
      expect(res.headers.ratelimit).toBe('"custom";r=0;t=60');
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ allowed: false, retryAfter: 60 });
      expect(seen[0]?.delay).toBeGreaterThan(59_000);
      expect(ran()).toBe(1);
    });

    it('an onRejected that throws or rejects goes to the error handler', async () => {
      for (const onRejected of [
        () => {
          throw new Error('handler broke');
        },
        async () => {
          throw new Error('handler broke');
        },
      ]) {
        const { app } = limited({ maxDelay: 0, onRejected });
        await request(app).get('/').expect(200);
        expect((await request(app).get('/').expect(500)).body.error).toBe('handler broke');
      }
    });

    it("onBackendError 'allow' (default) lets requests through, reporting once", async () => {
      const error = silence('error');
      const backend = new FailingBackend();
      const { app, ran } = limited({ backend });
      for (let i = 0; i < 3; i++) {
        const res = await request(app).get('/').expect(200);
        expect(res.headers.ratelimit).toBeUndefined();
      }
      expect(ran()).toBe(3);
      expect(error).toHaveBeenCalledTimes(1);
      expect(backend.calls).toBe(1); // cool-down: not asked again right away
    });

    it("onBackendError 'reject' answers 503", async () => {
      silence('error');
      const { app, ran } = limited({ backend: new FailingBackend(), onBackendError: 'reject' });
      const res = await request(app).get('/').expect(503);
      expect(res.body).toEqual({ error: 'Service Unavailable' });
      expect(ran()).toBe(0);
    });

    it('onBackendError with a fallback backend keeps limiting', async () => {
      silence('error');
      const { app } = limited({
        backend: new FailingBackend(),
        onBackendError: new InMemoryBackend(),
        maxDelay: 0,
      });
      await request(app).get('/').expect(200);
      await request(app).get('/').expect(429);
    });

    it('bad options throw at factory time, naming the field', () => {
      const base = { limit: 1, period: 1000 };
      expect(() => freqLimit({ limit: 0, period: 1000 })).toThrow(RangeError);
      expect(() => freqLimit({ limit: 0, period: 1000 })).toThrow(/limit/);
      expect(() => freqLimit({ limit: 1, period: -1 })).toThrow(/period/);
      expect(() => freqLimit({ ...base, burst: 1.5 })).toThrow(/burst/);
      expect(() => freqLimit({ ...base, maxDelay: -1 })).toThrow(/maxDelay/);
      expect(() => freqLimit({ ...base, maxHeld: -1 })).toThrow(/maxHeld/);
      expect(() => freqLimit({ ...base, cost: 0 })).toThrow(/cost/);
      const loose = (o: object) => () => freqLimit({ ...base, ...o } as FreqLimitOptions);
      expect(loose({ headers: 'draft-9' })).toThrow(TypeError);
      expect(loose({ headers: 'draft-9' })).toThrow(/headers/);
      expect(loose({ keyFn: 'ip' })).toThrow(/keyFn/);
      expect(loose({ onRejected: 1 })).toThrow(/onRejected/);
      expect(loose({ maxdelay: 5 })).toThrow(/maxdelay/);
      expect(loose({ backend: {} })).toThrow(/backend/);
      expect(() => freqLimit({ period: 1000 } as FreqLimitOptions)).toThrow(/limit/);
    });
  });

  describe('headers', () => {
    /** Two requests pass (burst 2), the third is rejected; clock frozen at 0. */
    async function sequence(headers: FreqLimitOptions['headers']) {
      const { backend } = manualClock();
      const { app } = limited({
        name: 'login',
        limit: 5,
        period: 60_000,
        burst: 2,
        maxDelay: 0,
        backend,
        headers,
      });
      const first = await request(app).get('/').expect(200);
      const second = await request(app).get('/').expect(200);
      const third = await request(app).get('/').expect(429);
      return [first.headers, second.headers, third.headers];
    }

    it("'draft-10' (default)", async () => {
      const [a, b, c] = await sequence(undefined);
      for (const h of [a, b, c]) expect(h?.['ratelimit-policy']).toBe('"login";q=5;w=60');
      expect(a?.ratelimit).toBe('"login";r=1;t=0');
      expect(b?.ratelimit).toBe('"login";r=0;t=12');
      expect(c?.ratelimit).toBe('"login";r=0;t=12');
      expect(c?.['retry-after']).toBe('12');
      expect(a?.['x-ratelimit-limit']).toBeUndefined();
    });

    it("'draft-8': t is the time to a full reset", async () => {
      const [a, b, c] = await sequence('draft-8');
      expect(a?.ratelimit).toBe('"login";r=1;t=12');
      expect(b?.ratelimit).toBe('"login";r=0;t=24');
      expect(c?.ratelimit).toBe('"login";r=0;t=12');
      expect(c?.['ratelimit-policy']).toBe('"login";q=5;w=60');
    });

    it("'draft-6'", async () => {
      const [a, b, c] = await sequence('draft-6');
      expect(a).toMatchObject({
        'ratelimit-limit': '5',
        'ratelimit-remaining': '1',
        'ratelimit-reset': '12',
        'ratelimit-policy': '5;w=60',
      });
      expect(b).toMatchObject({ 'ratelimit-remaining': '0', 'ratelimit-reset': '24' });
      expect(c).toMatchObject({ 'ratelimit-remaining': '0', 'retry-after': '12' });
      expect(a?.ratelimit).toBeUndefined();
    });

    it("'legacy': X-RateLimit-* with a Unix reset time", async () => {
      const before = Math.ceil(Date.now() / 1000);
      const [a, b, c] = await sequence('legacy');
      const after = Math.ceil(Date.now() / 1000);
      expect(a).toMatchObject({ 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '1' });
      const reset = Number(b?.['x-ratelimit-reset']);
      expect(reset).toBeGreaterThanOrEqual(before + 24);
      expect(reset).toBeLessThanOrEqual(after + 24);
      expect(c).toMatchObject({ 'x-ratelimit-remaining': '0', 'retry-after': '12' });
      expect(a?.['ratelimit-policy']).toBeUndefined();
    });

    it('false: no rate-limit fields, but Retry-After on a 429', async () => {
      const [a, , c] = await sequence(false);
      expect(Object.keys(a ?? {}).filter((k) => k.includes('ratelimit'))).toEqual([]);
      expect(Object.keys(c ?? {}).filter((k) => k.includes('ratelimit'))).toEqual([]);
      expect(c?.['retry-after']).toBe('12');
    });

    it('stacked middleware add their policies as further list members', async () => {
      const { app } = build(express, [
        freqLimit({ name: 'api', limit: 10, period: 1_000, burst: 10 }),
        freqLimit({ name: 'login', limit: 1, period: 60_000, maxDelay: 0 }),
      ]);
      const ok = await request(app).get('/').expect(200);
      expect(ok.headers['ratelimit-policy']).toBe('"api";q=10;w=1, "login";q=1;w=60');
      expect(ok.headers.ratelimit).toBe('"api";r=9;t=0, "login";r=0;t=60');
      const rejected = await request(app).get('/').expect(429);
      expect(rejected.headers.ratelimit).toBe('"api";r=8;t=0, "login";r=0;t=60');
      expect(rejected.headers['retry-after']).toBe('60');
    });

    it('a policy with a non-whole-second period', async () => {
      const { app } = limited({ name: 'p', limit: 3, period: 1_500 });
      const res = await request(app).get('/').expect(200);
      expect(res.headers['ratelimit-policy']).toBe('"p";q=4;w=2');
    });
  });

  describe('holding requests over real sockets', () => {
    it('a client that disconnects while held: handler never runs, the slot is refunded', async () => {
      const { backend } = manualClock();
      const { app, ran } = limited({ period: 600, maxDelay: 5_000, backend });
      const server = await listen(app);
      try {
        expect((await fetch(server.url)).status).toBe(200);
        const controller = new AbortController();
        const abandoned = fetch(server.url, { signal: controller.signal });
        await new Promise((resolve) => setTimeout(resolve, 100));
        controller.abort();
        await expect(abandoned).rejects.toThrow();
        // let the server see the socket close (the client rejects before the FIN arrives)
        await new Promise((resolve) => setTimeout(resolve, 100));
        // Had the abandoned reservation stayed, this one would need 1200 ms.
        const next = await fetch(server.url);
        expect(await next.json()).toMatchObject({ allowed: true, delay: 600 });
        expect(heldMs(next.headers.get('server-timing'))).toBeGreaterThanOrEqual(595);
        // the abandoned request's timer (due at ~600 ms) has passed by now without running it
        expect(ran()).toBe(2);
      } finally {
        await server.close();
      }
    });

    it('maxHeld: at the cap a request that would be held gets 429 and reserves nothing', async () => {
      const { backend } = manualClock();
      const { app, ran } = limited({ period: 300, maxDelay: 5_000, maxHeld: 1, backend });
      const server = await listen(app);
      try {
        expect((await fetch(server.url)).status).toBe(200);
        const held = fetch(server.url);
        await new Promise((resolve) => setTimeout(resolve, 50));
        const capped = await fetch(server.url);
        expect(capped.status).toBe(429);
        expect(capped.headers.get('retry-after')).toBe('1'); // 600 ms needed, maxDelay 0
        const heldRes = await held;
        expect(await heldRes.json()).toMatchObject({ delay: 300 });
        // the capped request reserved nothing: 600, not 900
        const after = await fetch(server.url);
        expect(await after.json()).toMatchObject({ delay: 600 });
        expect(ran()).toBe(3);
      } finally {
        await server.close();
      }
    });

    it('a request whose socket is already gone when it would be held is not run', async () => {
      const { backend } = manualClock();
      let gate: Promise<void> | undefined;
      let release: () => void = () => undefined;
      // Answers only once the test lets it, so the client can leave before the hold starts.
      const slow: FreqLimitBackend = {
        reserve: async (key, p, o) => {
          await gate;
          return backend.reserve(key, p, o);
        },
        refund: (key, p, o) => backend.refund(key, p, o),
        clear: () => backend.clear(),
      };
      const { app, ran } = limited({ period: 400, maxDelay: 5_000, backend: slow });
      const server = await listen(app);
      try {
        expect((await fetch(server.url)).status).toBe(200);
        gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        const controller = new AbortController();
        const abandoned = fetch(server.url, { signal: controller.signal });
        await new Promise((resolve) => setTimeout(resolve, 50));
        controller.abort();
        await expect(abandoned).rejects.toThrow();
        await new Promise((resolve) => setTimeout(resolve, 50));
        release();
        await new Promise((resolve) => setTimeout(resolve, 50));
        // refunded at once: the next unit on the key is 400 ms away, not 800
        const params = new FreqLimitParams({ limit: 1, period: 400 });
        expect((await backend.reserve('default:127.0.0.1', params)).delay).toBe(400);
        expect(ran()).toBe(1);
      } finally {
        release();
        await server.close();
      }
    });
  });
});
