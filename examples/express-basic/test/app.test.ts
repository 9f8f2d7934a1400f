import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';

describe('express-basic example', () => {
  it('GET /: 3 back to back, then held, with draft-10 headers', async () => {
    const server = createApp().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(url);
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit-policy')).toBe('"api";q=5;w=1');
        expect(res.headers.get('server-timing')).toBeNull();
      }
      const held = await fetch(url);
      expect(held.status).toBe(200);
      const dur = Number(/freqlimit;dur=(\d+)/.exec(held.headers.get('server-timing') ?? '')?.[1]);
      expect(dur).toBeGreaterThan(0);
      expect(await held.json()).toEqual({ hello: 'world', remaining: 0 });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('a burst past maxDelay gets 429 with Retry-After', async () => {
    const app = createApp();
    const responses = await Promise.all(Array.from({ length: 12 }, () => request(app).get('/')));
    const ok = responses.filter((r) => r.status === 200);
    const rejected = responses.filter((r) => r.status === 429);
    // 3 at once + 5 held within 1 s (one every 200 ms); the rest would wait longer
    expect(ok.length).toBeGreaterThanOrEqual(8);
    expect(rejected.length).toBeGreaterThan(0);
    expect(ok.length + rejected.length).toBe(12);
    for (const r of rejected) {
      expect(r.headers['retry-after']).toBe('1');
      expect(r.body).toEqual({ error: 'Too Many Requests', retryAfter: 1 });
    }
  });

  it('POST /login: 3 failed attempts, then 429 at once from its own limit', async () => {
    const app = createApp();
    for (let left = 2; left >= 0; left--) {
      const res = await request(app).post('/login').send({ user: 'alice', password: 'guess' });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'Wrong user or password', attemptsLeft: left });
      expect(res.headers['ratelimit-policy']).toBe('"api";q=5;w=1, "login";q=5;w=60');
    }
    const res = await request(app).post('/login').expect(429);
    expect(res.headers['retry-after']).toBe('12');
    expect(res.headers.ratelimit).toMatch(/^"api";r=0;t=\d+, "login";r=0;t=12$/);
    expect(res.body).toEqual({ error: 'Too many login attempts', retryAfter: 12 });
    // the global limit is separate: other routes still answer
    await request(app).get('/').expect(200);
  });

  it('behind a trusted proxy, clients are keyed by X-Forwarded-For', async () => {
    const app = createApp({ trustProxy: 'loopback' });
    for (let i = 0; i < 3; i++)
      await request(app).post('/login').set('X-Forwarded-For', '10.0.0.1').expect(401);
    await request(app).post('/login').set('X-Forwarded-For', '10.0.0.1').expect(429);
    await request(app).post('/login').set('X-Forwarded-For', '10.0.0.2').expect(401);
  });
});
