/**
 * What is specific to Hono (runtimes, its Response handling, typings); everything shared by
 * the adapters is in the adapter suite (`test/conformance.test.ts`).
 */

import { type Env, Hono, type MiddlewareHandler } from 'hono';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  type FreqLimitInfo,
  type FreqLimitVariables,
  freqLimit,
  InMemoryBackend,
  NoClientAddressError,
} from './index.js';

/** A node-server-like env: the default key reads `incoming.socket.remoteAddress`. */
const from = (address: string) => ({ incoming: { socket: { remoteAddress: address } } });
const ME = from('203.0.113.7');
const frozen = () => new InMemoryBackend({ clock: () => 0 });

/** An app with one limited route that reports the key it saw, or the error. */
function appWith<E extends Env = Env>(mw: MiddlewareHandler<E>) {
  const app = new Hono<E & { Variables: FreqLimitVariables }>();
  const errors: Error[] = [];
  app.onError((err, c) => {
    errors.push(err);
    return c.json({ error: err.message }, 500);
  });
  app.use(mw);
  app.get('/', (c) => c.json({ key: c.get('freqLimit')?.limits[0]?.key }));
  return {
    app,
    errors,
    get: (env: object = ME, init?: RequestInit) => app.request('/', init, env),
  };
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

describe('default key on each runtime', () => {
  const keyOf = async (t: ReturnType<typeof appWith>, env: object) =>
    ((await (await t.get(env)).json()) as { key?: string }).key;

  it('reads @hono/node-server’s socket; IPv4-mapped IPv6 as IPv4, IPv6 by /56', async () => {
    const t = appWith(freqLimit({ limit: 100, period: 1_000, burst: 100 }));
    expect(await keyOf(t, from('::ffff:192.0.2.1'))).toBe('192.0.2.1');
    expect(await keyOf(t, from('2001:db8:abcd:12ff::1'))).toBe('2001:db8:abcd:1200::/56');
    expect(await keyOf(t, from('2001:db8:abcd:1300::1'))).toBe('2001:db8:abcd:1300::/56');
    expect(await keyOf(t, { server: from('192.0.2.9') })).toBe('192.0.2.9');
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

  it('reads cf-connecting-ip on Workers only (elsewhere it is client-supplied)', async () => {
    const header = { headers: { 'cf-connecting-ip': '198.51.100.6' } };
    const elsewhere = appWith(freqLimit({ limit: 100, period: 1_000, burst: 100 }));
    expect((await elsewhere.get({}, header)).status).toBe(500);
    vi.stubGlobal('navigator', { userAgent: 'Cloudflare-Workers' });
    const workers = appWith(freqLimit({ limit: 100, period: 1_000, burst: 100 }));
    expect((await workers.get({ MY_BINDING: 'x' })).status).toBe(500);
    expect(await (await workers.get({ MY_BINDING: 'x' }, header)).json()).toEqual({
      key: '198.51.100.6',
    });
  });

  it('no address: NoClientAddressError with a hint to pass keyFn (getConnInfo)', async () => {
    const t = appWith(freqLimit({ limit: 1, period: 1_000 }));
    for (const env of [undefined, {}, { incoming: { socket: {} } }]) {
      expect((await t.app.request('/', undefined, env)).status).toBe(500);
    }
    expect(t.errors).toHaveLength(3);
    expect(t.errors[0]).toBeInstanceOf(NoClientAddressError);
    expect(t.errors[0]?.message).toMatch(/@freqlimit\/hono: .*Pass `keyFn`.*getConnInfo/);
  });
});

describe('a handler that returns its own Response', () => {
  it('keeps the rate-limit headers on a pass', async () => {
    const app = new Hono();
    app.use(freqLimit({ limit: 1, period: 1_000, name: 'raw' }));
    app.get('/', () => new Response('plain', { headers: { 'X-Own': 'yes' } }));
    const res = await app.request('/', undefined, ME);
    expect(await res.text()).toBe('plain');
    expect(res.headers.get('X-Own')).toBe('yes');
    expect(res.headers.get('RateLimit')).toBe('"raw";r=0;t=1');
  });

  it('keeps every policy of stacked middleware, and Server-Timing after a hold', async () => {
    const app = new Hono();
    app.use(freqLimit({ name: 'api', limit: 10, period: 1_000, burst: 10 }));
    app.use(freqLimit({ name: 'one', limit: 1, period: 50, maxDelay: 1_000, backend: frozen() }));
    app.get('/', () => new Response('plain'));
    await app.request('/', undefined, ME);
    const res = await app.request('/', undefined, ME);
    expect(res.headers.get('RateLimit-Policy')).toContain('"api";q=10;w=1');
    expect(res.headers.get('RateLimit-Policy')).toContain('"one";q=20;w=1');
    expect(res.headers.get('Server-Timing')).toMatch(/^freqlimit;dur=\d+$/);
  });

  it('keeps them on a Response whose headers are immutable', async () => {
    const app = new Hono();
    app.use(freqLimit({ limit: 1, period: 1_000, name: 'raw' }));
    app.get('/', () => Response.redirect('http://127.0.0.1/elsewhere', 302));
    const res = await app.request('/', undefined, ME);
    expect(res.status).toBe(302);
    expect(res.headers.get('RateLimit')).toBe('"raw";r=0;t=1');
  });

  it('onRejected may return a plain Response, asynchronously; it sees c.get("freqLimit")', async () => {
    const seen: FreqLimitInfo[] = [];
    const app = new Hono();
    app.use(
      freqLimit({
        name: 'slow',
        limit: 1,
        period: 10_000,
        maxDelay: 0,
        onRejected: async (c, info) => {
          seen.push(info);
          expect(c.get('freqLimit')).toBe(info);
          return new Response('nope', { status: 429 });
        },
      }),
    );
    app.get('/', (c) => c.text('ok'));
    await app.request('/', undefined, ME);
    const res = await app.request('/', undefined, ME);
    expect(res.status).toBe(429);
    expect(await res.text()).toBe('nope');
    expect(res.headers.get('Retry-After')).toBe('10');
    expect(res.headers.get('RateLimit')).toBe('"slow";r=0;t=10');
    expect(seen[0]).toMatchObject({ allowed: false, retryAfter: 10 });
  });
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
