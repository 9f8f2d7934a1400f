/**
 * Who picks the key: `X-Forwarded-For` over real HTTP with the default key (the client address)
 * and each framework's proxy setting. Off, the header cannot change the key. On, the framework
 * decides which hop counts, exactly as its docs say: Express `trust proxy: n` and Koa
 * `app.maxIpsCount = n` take the n-th address from the right (what the n proxies you run saw), so
 * entries a client prepends change nothing; Express `trust proxy: true` and Koa `app.proxy` with
 * no `maxIpsCount` take the leftmost entry, which the client writes itself. Hono has no proxy
 * setting: its default key is the socket address.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { type AdapterName, type App, type AppSpec, serveApp } from './support/apps.js';

const open: App[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

async function serve(adapter: AdapterName, spec: Omit<AppSpec, 'options'> = {}): Promise<App> {
  const app = await serveApp(adapter, {
    ...spec,
    options: { limit: 1, period: 60_000, maxDelay: 0 },
  });
  open.push(app);
  return app;
}

/** The status and the key the limiter used, for a request carrying `xff` (none: no header). */
async function ask(app: App, xff?: string): Promise<{ status: number; key: string | null }> {
  const res = await fetch(app.url, {
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { key?: string | null };
  return { status: res.status, key: body.key ?? null };
}

describe('Express trust proxy', () => {
  it('off (default): X-Forwarded-For cannot change the key', async () => {
    const app = await serve('express');
    expect(await ask(app, '203.0.113.1')).toEqual({ status: 200, key: '127.0.0.1' });
    expect((await ask(app, '203.0.113.2')).status).toBe(429);
    expect((await ask(app)).status).toBe(429);
  });

  it('1: the last hop is the client; entries the client prepends change nothing', async () => {
    const app = await serve('express', { trustProxy: 1 });
    expect(await ask(app, '203.0.113.7')).toEqual({ status: 200, key: '203.0.113.7' });
    expect(await ask(app, '10.0.0.1, 203.0.113.7')).toMatchObject({ status: 429 });
    expect(await ask(app, '1.1.1.1, 2.2.2.2, 203.0.113.7')).toMatchObject({ status: 429 });
    // Without the header the socket address counts (a request that bypassed the proxy).
    expect(await ask(app)).toEqual({ status: 200, key: '127.0.0.1' });
    // IPv6 through the hop: keyed by its /56.
    expect(await ask(app, 'x, 2001:db8:1:2::1')).toEqual({ status: 200, key: '2001:db8:1:0::/56' });
    expect((await ask(app, 'y, 2001:db8:1:ff::9')).status).toBe(429);
  });

  it('2: the second hop from the right', async () => {
    const app = await serve('express', { trustProxy: 2 });
    expect(await ask(app, 'spoof, 198.51.100.1, 203.0.113.7')).toEqual({
      status: 200,
      key: '198.51.100.1',
    });
    expect((await ask(app, 'other, 198.51.100.1, 203.0.113.9')).status).toBe(429);
    // Fewer entries than hops: the leftmost there is.
    expect(await ask(app, '198.51.100.2')).toEqual({ status: 200, key: '198.51.100.2' });
  });

  it("'loopback': trusted addresses are skipped from the right, the first other one is the client", async () => {
    const app = await serve('express', { trustProxy: 'loopback' });
    expect(await ask(app, 'spoof, 198.51.100.9, 127.0.0.5')).toEqual({
      status: 200,
      key: '198.51.100.9',
    });
    expect((await ask(app, 'other, 198.51.100.9')).status).toBe(429);
  });

  it('true: the leftmost entry, which the client writes: each spoofed value is a fresh key', async () => {
    const app = await serve('express', { trustProxy: true });
    for (let i = 1; i <= 5; i++) {
      expect(await ask(app, `192.0.2.${i}, 203.0.113.7`)).toEqual({
        status: 200,
        key: `192.0.2.${i}`,
      });
    }
  });
});

describe('Koa app.proxy and app.maxIpsCount', () => {
  it('app.proxy off (default): X-Forwarded-For cannot change the key', async () => {
    const app = await serve('koa');
    expect(await ask(app, '203.0.113.1')).toEqual({ status: 200, key: '127.0.0.1' });
    expect((await ask(app, '203.0.113.2')).status).toBe(429);
  });

  it('maxIpsCount 1: the last hop is the client; entries the client prepends change nothing', async () => {
    const app = await serve('koa', { koaProxy: { maxIpsCount: 1 } });
    expect(await ask(app, '203.0.113.7')).toEqual({ status: 200, key: '203.0.113.7' });
    expect((await ask(app, '10.0.0.1, 203.0.113.7')).status).toBe(429);
    expect((await ask(app, '1.1.1.1, 2.2.2.2, 203.0.113.7')).status).toBe(429);
    expect(await ask(app)).toEqual({ status: 200, key: '127.0.0.1' });
  });

  it('maxIpsCount 2: the second hop from the right', async () => {
    const app = await serve('koa', { koaProxy: { maxIpsCount: 2 } });
    expect(await ask(app, 'spoof, 198.51.100.1, 203.0.113.7')).toEqual({
      status: 200,
      key: '198.51.100.1',
    });
    expect((await ask(app, 'other, 198.51.100.1, 203.0.113.9')).status).toBe(429);
  });

  it('app.proxy with maxIpsCount 0 (Koa default): the leftmost entry, so each spoofed value is a fresh key', async () => {
    const app = await serve('koa', { koaProxy: { maxIpsCount: 0 } });
    for (let i = 1; i <= 5; i++) {
      expect(await ask(app, `192.0.2.${i}, 203.0.113.7`)).toEqual({
        status: 200,
        key: `192.0.2.${i}`,
      });
    }
  });
});

describe('Hono (no proxy setting)', () => {
  it('X-Forwarded-For never changes the default key: it is the socket address', async () => {
    const app = await serve('hono');
    expect(await ask(app, '203.0.113.1')).toEqual({ status: 200, key: '127.0.0.1' });
    expect((await ask(app, '203.0.113.2')).status).toBe(429);
    expect((await ask(app, '203.0.113.3, 198.51.100.1')).status).toBe(429);
  });
});
