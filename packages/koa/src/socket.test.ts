import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import type Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { freqLimit } from './index.js';
import { KOA_VERSIONS, makeApp } from './test-support.js';

const servers: Server[] = [];

afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

async function listen(app: Koa): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function heldMs(res: Response): number {
  const match = /^freqlimit;dur=(\d+)$/.exec(res.headers.get('server-timing') ?? '');
  if (!match) throw new Error(`no Server-Timing: ${res.headers.get('server-timing')}`);
  return Number(match[1]);
}

/** Sends a GET over a raw socket and destroys the socket after `ms`; resolves with what came back. */
async function requestThenDestroy(base: string, ms: number): Promise<string> {
  const { port } = new URL(base);
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  let received = '';
  socket.on('data', (chunk) => {
    received += String(chunk);
  });
  await sleep(ms);
  socket.destroy();
  return received;
}

describe.each(KOA_VERSIONS)('%s over real sockets', (label, Koa) => {
  it('runs against the intended Koa major', () => {
    const require = createRequire(import.meta.url);
    const pkg = require(`${label === 'koa@2' ? 'koa2' : 'koa'}/package.json`) as {
      version: string;
    };
    expect(pkg.version.split('.')[0]).toBe(label.slice(-1));
    expect(typeof Koa).toBe('function');
  });

  it('holds the second request for the reserved delay', async () => {
    const { app, handled } = makeApp(Koa, freqLimit({ limit: 1, period: 400, maxDelay: 1000 }));
    const base = await listen(app);
    const first = await fetch(base);
    expect(first.status).toBe(200);
    expect(first.headers.get('server-timing')).toBeNull();
    const started = performance.now();
    const second = await fetch(base);
    const elapsed = performance.now() - started;
    expect(second.status).toBe(200);
    const body = (await second.json()) as { freqLimit: { delay: number } };
    // the backend reserved ~400 ms (less whatever passed between the two requests)
    expect(body.freqLimit.delay).toBeGreaterThan(100);
    expect(body.freqLimit.delay).toBeLessThanOrEqual(400);
    expect(heldMs(second)).toBeGreaterThanOrEqual(Math.floor(body.freqLimit.delay) - 1);
    expect(heldMs(second)).toBeLessThan(body.freqLimit.delay + 500);
    expect(elapsed).toBeGreaterThanOrEqual(heldMs(second) - 1);
    expect(handled()).toBe(2);
  });

  it('removes its close listener once a held request goes on', async () => {
    let before = -1;
    let after = -1;
    const { app } = makeApp(
      Koa,
      async (ctx, next) => {
        before = ctx.res.listenerCount('close');
        await next();
      },
      freqLimit({ limit: 1, period: 100 }),
      (ctx, next) => {
        after = ctx.res.listenerCount('close');
        return next();
      },
    );
    const base = await listen(app);
    await fetch(base);
    const held = await fetch(base);
    expect(heldMs(held)).toBeGreaterThan(0);
    expect(after).toBe(before);
  });

  it.each([
    ['fetch aborted', 'fetch'],
    ['socket destroyed', 'socket'],
  ])('client gone while held (%s): handler never runs, the slot is refunded', async (_how, how) => {
    const { app, handled } = makeApp(Koa, freqLimit({ limit: 1, period: 2000, maxDelay: 5000 }));
    const base = await listen(app);
    expect((await fetch(base)).status).toBe(200);

    // the second request is held ~2000 ms; its client leaves after 200 ms
    const leftAt = performance.now() + 200;
    if (how === 'fetch') {
      const controller = new AbortController();
      const aborted = fetch(base, { signal: controller.signal });
      await sleep(200);
      controller.abort();
      await expect(aborted).rejects.toThrow();
    } else {
      expect(await requestThenDestroy(base, 200)).toBe('');
    }
    await sleep(50);

    // the freed slot goes to the next request: held for what remains of the first request's
    // period (~1750 ms), not for a second period on top (~3750 ms)
    const next = await fetch(base);
    expect(next.status).toBe(200);
    const held = heldMs(next);
    expect(held).toBeGreaterThan(1200);
    expect(held).toBeLessThan(2000);
    // by now the aborted request's own timer would have fired: it was cleared
    expect(performance.now()).toBeGreaterThan(leftAt + 1800);
    await sleep(100);
    expect(handled()).toBe(2);
  });
});
