import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { freqLimit } from '@freqlimit/express';
import express from 'express';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, USERS } from '../src/app.js';

// Over real HTTP: supertest listens on an ephemeral 127.0.0.1 port for each request.

const alice = USERS.find((u) => u.id === 'alice')!; // free plan
const bob = USERS.find((u) => u.id === 'bob')!; // pro plan

describe('plans: a dynamic limit per user', () => {
  it('a pro key gets more than a free one, and the headers say which params applied', async () => {
    const app = createApp();
    for (const [left, held] of [
      [2, false],
      [1, false],
      [0, false],
      [0, true],
    ] as const) {
      const res = await request(app).get('/').set('X-API-Key', alice.apiKey).expect(200);
      expect(res.body).toEqual({ hello: 'alice', remaining: left });
      expect(res.headers['ratelimit-policy']).toBe('"api";q=5;w=1');
      expect(res.headers.ratelimit).toMatch(new RegExp(`^"api";r=${left};t=\\d+$`));
      expect(res.headers['server-timing'] !== undefined).toBe(held);
    }
    // 50 a second refills a cell every 20 ms, so between these requests bob's count may grow
    // back: it stays far above alice's.
    for (let i = 0; i < 4; i++) {
      const res = await request(app).get('/').set('X-API-Key', bob.apiKey).expect(200);
      expect(res.body.hello).toBe('bob');
      expect(res.body.remaining).toBeGreaterThanOrEqual(16);
      expect(res.headers['ratelimit-policy']).toBe('"api";q=50;w=1');
      expect(res.headers.ratelimit).toBe(`"api";r=${res.body.remaining};t=0`);
      expect(res.headers['server-timing']).toBeUndefined();
    }
  });

  it('25 requests at once: the free user is held and rejected, the pro user is not rejected', async () => {
    const app = createApp();
    const burst = (apiKey: string) =>
      Promise.all(Array.from({ length: 25 }, () => request(app).get('/').set('X-API-Key', apiKey)));
    const [free, pro] = await Promise.all([burst(alice.apiKey), burst(bob.apiKey)]);
    const statuses = (list: request.Response[]) => list.map((r) => r.status);
    // free: 3 at once + 5 held within 1 s; the rest would wait longer (more pass if the
    // requests reach the app spread out over time, on a busy machine)
    expect(statuses(free).filter((s) => s === 429).length).toBeGreaterThanOrEqual(5);
    // pro: 20 at once, 5 held 20 ms apart
    expect(statuses(pro)).toEqual(new Array(25).fill(200));
  });

  it('an unknown API key gets 401 and reserves nothing', async () => {
    const app = createApp();
    const res = await request(app).get('/').set('X-API-Key', 'stolen').expect(401);
    expect(res.body).toEqual({ error: 'Unknown API key' });
    expect(res.headers.ratelimit).toBeUndefined();
  });
});

describe('POST /login: failed attempts count, a success resets', () => {
  const attempt = (app: express.Express, password: string, ip = '10.0.0.1') =>
    request(app).post('/login').set('X-Forwarded-For', ip).send({ user: 'alice', password });

  it.each([
    ['IPv4', '10.0.0.1'],
    ['IPv6 (keyed by its /56)', '2001:db8:42:1::7'],
  ])('%s: after a successful login the next attempt is not 429', async (_, ip) => {
    const app = createApp({ trustProxy: 'loopback' });
    expect((await attempt(app, 'guess', ip)).body.attemptsLeft).toBe(2);
    expect((await attempt(app, 'guess', ip)).body.attemptsLeft).toBe(1);
    const ok = await attempt(app, alice.password, ip).expect(200);
    expect(ok.body).toEqual({ loggedIn: 'alice', apiKey: alice.apiKey });
    // Reset: a full burst of 3 again (without it, the next attempt would be 429).
    for (const left of [2, 1, 0]) {
      const res = await attempt(app, 'guess', ip).expect(401);
      expect(res.body.attemptsLeft).toBe(left);
    }
    await attempt(app, 'guess', ip).expect(429);
    // Another address of the same /56 shares the limit; another /56 does not.
    if (ip.includes(':')) {
      await attempt(app, 'guess', '2001:db8:42:1::8').expect(429);
      await attempt(app, 'guess', '2001:db8:43::1').expect(401);
    }
  });

  it('three failures then 429 at once, even with the right password', async () => {
    const app = createApp({ trustProxy: 'loopback' });
    for (let i = 0; i < 3; i++) await attempt(app, 'guess').expect(401);
    const res = await attempt(app, alice.password).expect(429);
    expect(res.headers['retry-after']).toBe('12');
  });
});

describe('GET /metrics: onDecision → a prom-client Counter', () => {
  /** `freqlimit_decisions_total` by `name/outcome`, from the Prometheus text. */
  function parse(text: string): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const match of text.matchAll(
      /^freqlimit_decisions_total\{name="([^"]+)",outcome="([^"]+)"\} (\d+)$/gm,
    )) {
      counts[`${match[1]}/${match[2]}`] = Number(match[3]);
    }
    return counts;
  }

  it('counts exactly the decisions the responses show', async () => {
    const app = createApp({ trustProxy: 'loopback' });
    const expected: Record<string, number> = {};
    const count = (key: string) => {
      expected[key] = (expected[key] ?? 0) + 1;
    };
    /** What the `api` limit did, as the response shows it. */
    const api = (res: request.Response) =>
      count(
        res.headers['server-timing']
          ? 'api/hold'
          : res.status === 429 && res.body.error === 'Too Many Requests'
            ? 'api/reject'
            : 'api/pass',
      );

    // one client, one after the other: 3 pass, 1 held
    for (let i = 0; i < 4; i++) api(await request(app).get('/').set('X-Forwarded-For', '10.1.0.1'));
    // the pro user: all pass
    for (let i = 0; i < 3; i++) api(await request(app).get('/').set('X-API-Key', bob.apiKey));
    // 12 at once from one client: held and rejected too
    const burst = await Promise.all(
      Array.from({ length: 12 }, () => request(app).get('/').set('X-Forwarded-For', '10.1.0.2')),
    );
    for (const res of burst) api(res);
    // four failed logins: the api limit decides each, then the login limit (the 4th is refused)
    for (let i = 0; i < 4; i++) {
      const res = await request(app)
        .post('/login')
        .set('X-Forwarded-For', '10.1.0.3')
        .send({ user: 'bob', password: 'guess' });
      api(res);
      count(res.status === 429 ? 'login/reject' : 'login/pass');
    }
    expect(expected['api/hold']).toBeGreaterThan(0);
    expect(expected['api/reject']).toBeGreaterThan(0);
    expect(expected['login/reject']).toBe(1);

    const metrics = await request(app).get('/metrics').expect(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.text).toContain('# TYPE freqlimit_decisions_total counter');
    expect(parse(metrics.text)).toEqual(expected);
    // Scraping is not limited, and not counted.
    const again = await request(app).get('/metrics');
    expect(parse(again.text)).toEqual(expected);
  });
});

describe('library issue (reported): reset with the key the docs show', () => {
  const servers: Array<import('node:http').Server> = [];
  afterEach(() => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      server.close();
    }
  });

  // docs/options.md shows `await login.reset(req.ip)` after a successful login. The default
  // key of an IPv6 client is its /56 prefix, not `req.ip`: reset (like peek and block) keys the
  // address it is given the way the default key does, so this works for IPv6 clients too.
  it('login.reset(req.ip) resets an IPv6 client', async () => {
    const app = express();
    app.set('trust proxy', 'loopback');
    const login = freqLimit({ name: 'login', limit: 5, period: 60_000, maxDelay: 0 });
    app.post('/login', login, async (req, res) => {
      await login.reset(req.ip!); // a successful login, as docs/options.md shows
      res.send('welcome');
    });
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/login`;
    const post = () =>
      fetch(url, { method: 'POST', headers: { 'X-Forwarded-For': '2001:db8:42:1::7' } });
    expect((await post()).status).toBe(200);
    expect((await post()).status).toBe(200); // 429: the reset did not reach the client's key
  });
});
