import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { Hono, type MiddlewareHandler } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { freqLimit, InMemoryBackend } from './index.js';

const servers: ServerType[] = [];

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          (s as { closeAllConnections?: () => void }).closeAllConnections?.();
          s.close(() => resolve());
        }),
    ),
  );
});

/** Serves one limited route on 127.0.0.1 and counts handler runs. */
async function listen(mw: MiddlewareHandler) {
  const app = new Hono();
  let runs = 0;
  app.use(mw);
  app.get('/', (c) => {
    runs++;
    return c.json({ key: c.get('freqLimit')?.limits[0]?.key });
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, runs: () => runs };
}

const heldMs = (res: Response): number =>
  Number(res.headers.get('Server-Timing')?.match(/^freqlimit;dur=(\d+)$/)?.[1] ?? 0);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('@hono/node-server', () => {
  it('keys by the socket address by default', async () => {
    const s = await listen(freqLimit({ limit: 1, period: 60_000, maxDelay: 0 }));
    const first = await fetch(s.url);
    expect(await first.json()).toEqual({ key: '127.0.0.1' });
    // A spoofed forwarding header changes nothing: the socket decides.
    const second = await fetch(s.url, {
      headers: { 'x-forwarded-for': '192.0.2.1', 'cf-connecting-ip': '192.0.2.1' },
    });
    expect(second.status).toBe(429);
    expect(second.headers.get('Retry-After')).toBe('60');
    expect(await second.json()).toEqual({ error: 'Too Many Requests', retryAfter: 60 });
    expect(s.runs()).toBe(1);
  });

  it('holds over a real socket and says so in Server-Timing', async () => {
    const s = await listen(freqLimit({ limit: 1, period: 300, maxDelay: 1_000 }));
    await fetch(s.url);
    const res = await fetch(s.url);
    expect(res.status).toBe(200);
    expect(heldMs(res)).toBeGreaterThanOrEqual(250);
    expect(heldMs(res)).toBeLessThan(1_000);
  });

  it('a client that leaves while held: no handler run, timer cleared, slot refunded', async () => {
    const backend = new InMemoryBackend();
    const refund = vi.spyOn(backend, 'refund');
    const s = await listen(freqLimit({ limit: 1, period: 1_000, maxDelay: 5_000, backend }));
    const t0 = performance.now();
    expect((await fetch(s.url)).status).toBe(200);

    // Held until ~t0 + 1000; leave after 200 ms.
    const ac = new AbortController();
    const leaving = fetch(s.url, { signal: ac.signal });
    await sleep(200);
    ac.abort();
    await expect(leaving).rejects.toThrow();
    await vi.waitFor(() => expect(refund).toHaveBeenCalledTimes(1));

    // The freed slot goes to the next request: held until ~t0 + 1000, not t0 + 2000.
    const next = await fetch(s.url);
    expect(next.status).toBe(200);
    const doneAt = performance.now() - t0;
    expect(doneAt).toBeGreaterThanOrEqual(900);
    expect(doneAt).toBeLessThan(1_600);
    expect(heldMs(next)).toBeLessThan(1_000);

    // Past the time the aborted request would have run: it never did.
    await sleep(300);
    expect(s.runs()).toBe(2);
  });
});
