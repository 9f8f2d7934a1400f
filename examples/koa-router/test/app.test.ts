import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { InMemoryBackend } from '@freqlimit/koa';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';

/** The app on a backend whose clock stands still, so every delay is exact. */
function frozenApp() {
  const now = 1_000_000;
  const app = createApp({ backend: new InMemoryBackend({ clock: () => now }) });
  return request(app.callback());
}

describe('koa-router example', () => {
  it('never limits /health', async () => {
    const agent = frozenApp();
    for (let i = 0; i < 20; i++) {
      const res = await agent.get('/health').expect(200, 'ok');
      expect(res.headers.ratelimit).toBeUndefined();
    }
  });

  it('lets 10 /api calls through back to back, then holds the next one 200 ms', async () => {
    const agent = frozenApp();
    for (let i = 0; i < 10; i++) {
      const res = await agent.get('/api/items').expect(200);
      expect(res.headers['ratelimit-policy']).toBe('"api";q=5;w=1');
      expect(res.headers.ratelimit).toBe(`"api";r=${9 - i};t=${i === 9 ? 1 : 0}`);
      expect(res.headers['server-timing']).toBeUndefined();
      expect(res.body).toMatchObject({ heldMs: 0, remaining: 9 - i });
    }
    const held = await agent.get('/api/items').expect(200);
    expect(held.body.heldMs).toBe(200);
    const dur = Number(/^freqlimit;dur=(\d+)$/.exec(held.headers['server-timing'] ?? '')?.[1]);
    expect(dur).toBeGreaterThanOrEqual(199);
    expect(dur).toBeLessThan(1000);
  });

  it('charges an export as 5 calls', async () => {
    const agent = frozenApp();
    const exported = await agent.get('/api/export').expect(200);
    expect(exported.text).toBe('1,kettle\n2,teapot');
    expect(exported.headers.ratelimit).toBe('"api";r=5;t=0');
    const items = await agent.get('/api/items').expect(200);
    expect(items.body.remaining).toBe(4);
  });

  it('refuses the 6th login attempt in a minute at once, with its own body', async () => {
    const agent = frozenApp();
    for (let i = 0; i < 5; i++) {
      const res = await agent.post('/login').expect(200);
      expect(res.body).toEqual({ welcome: true });
      expect(res.headers['ratelimit-policy']).toBe('"login";q=5;w=60');
    }
    const refused = await agent.post('/login').expect(429);
    expect(refused.body).toEqual({ error: 'Too many login attempts', retryAfter: 12 });
    expect(refused.headers['retry-after']).toBe('12');
    expect(refused.headers.ratelimit).toBe('"login";r=0;t=12');
    // the /api limit has its own name on the shared backend: untouched by the logins
    const items = await agent.get('/api/items').expect(200);
    expect(items.body.remaining).toBe(9);
  });

  describe('src/server.ts', () => {
    let child: ChildProcess | undefined;
    afterEach(() => {
      child?.kill();
      child = undefined;
    });

    it('serves the app on 127.0.0.1:$PORT', async () => {
      const cwd = fileURLToPath(new URL('..', import.meta.url));
      child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
        cwd,
        env: { ...process.env, PORT: '0' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const base = await new Promise<string>((resolve, reject) => {
        let out = '';
        child?.stdout?.on('data', (chunk) => {
          out += String(chunk);
          const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (match?.[1]) resolve(match[1]);
        });
        child?.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
      });
      const health = await fetch(`${base}/health`);
      expect(await health.text()).toBe('ok');
      const items = await fetch(`${base}/api/items`);
      expect(items.status).toBe(200);
      expect(items.headers.get('ratelimit')).toBe('"api";r=9;t=0');
    });
  });
});
