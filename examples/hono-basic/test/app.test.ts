import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { InMemoryBackend } from '@freqlimit/hono';
import { getRequestListener } from '@hono/node-server';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { app, createApp } from '../src/app.js';

const servers: Server[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) child.kill();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** The app on a real socket, so the default key is the client's address. */
async function listen(options?: Parameters<typeof createApp>[0]): Promise<Server> {
  const server = createServer(getRequestListener(createApp(options).fetch));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return server;
}

const heldMs = (header: string | undefined): number =>
  Number(header?.match(/^freqlimit;dur=(\d+)$/)?.[1] ?? Number.NaN);

describe('hono-basic', () => {
  it('does not limit /health', async () => {
    const server = await listen();
    for (let i = 0; i < 20; i++) {
      const res = await request(server).get('/health');
      expect(res.status).toBe(200);
      expect(res.headers.ratelimit).toBeUndefined();
    }
  });

  it('passes a burst of 10 API calls at once, then holds the 11th for 200 ms', async () => {
    // A clock that stands still: the eleventh call needs exactly one interval (200 ms).
    const server = await listen({ backend: new InMemoryBackend({ clock: () => 0 }) });
    for (let i = 0; i < 10; i++) {
      const res = await request(server).get('/api/hello');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ hello: 'world', heldMs: 0, remaining: 9 - i });
      expect(res.headers['ratelimit-policy']).toBe('"api";q=5;w=1');
    }
    const held = await request(server).get('/api/hello');
    expect(held.status).toBe(200);
    expect(held.body).toMatchObject({ heldMs: 200, remaining: 0 });
    expect(heldMs(held.headers['server-timing'])).toBeGreaterThanOrEqual(199);
    expect(heldMs(held.headers['server-timing'])).toBeLessThan(1_000);
  });

  it('refuses the sixth login in a minute at once, with its own body', async () => {
    const server = await listen();
    for (let i = 0; i < 5; i++) {
      const res = await request(server).post('/login').send({ user: 'ann' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ welcome: 'ann' });
    }
    const res = await request(server).post('/login').send({ user: 'ann' });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('12');
    expect(res.headers.ratelimit).toBe('"login";r=0;t=12');
    expect(res.body).toEqual({ error: 'Too many login attempts', retryAfter: 12 });
  });

  it('exports an app that app.request() can drive with a node-server-like env', async () => {
    const env = { incoming: { socket: { remoteAddress: '::ffff:192.0.2.10' } } };
    const res = await app.request('/api/hello', undefined, env);
    expect(res.status).toBe(200);
    expect(res.headers.get('RateLimit')).toBe('"api";r=9;t=0');
  });

  it('src/server.ts serves on PORT on 127.0.0.1', async () => {
    const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
    const child = spawn(tsx, ['src/server.ts'], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
        if (match?.[1]) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
    });
    const res = await fetch(`${url}/api/hello`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ hello: 'world', heldMs: 0, remaining: 9 });
  });
});
