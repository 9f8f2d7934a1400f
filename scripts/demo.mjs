#!/usr/bin/env node
// `pnpm demo [-- --redis]`: starts the Express example app (examples/express-basic), sends
// bursts from a few simulated clients, and prints what happened to each request: admitted at
// once, held N ms, or 429 with Retry-After. With --redis, two app processes share one Redis
// (a throwaway `redis-server` on a free loopback port, or REDIS_URL), and each client's
// requests alternate between them: the outcomes are the same as with one process.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const exampleDir = join(root, 'examples', 'express-basic');
const useRedis = process.argv.includes('--redis');
const forceBuild = process.argv.includes('--build');

/** Child processes started here, stopped by pid on the way out. */
const children = [];

function stopChildren() {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }
}

function fail(message) {
  console.error(`demo: ${message}`);
  stopChildren();
  process.exit(1);
}

// Never run longer than this, whatever hangs.
const watchdog = setTimeout(() => fail('took longer than 30 s, giving up'), 30_000);
watchdog.unref();
process.once('SIGINT', () => fail('interrupted'));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Builds @freqlimit/core and @freqlimit/express when their dist is missing (fresh clone). */
function ensureBuilt() {
  const needed = [
    'packages/core/dist/index.js',
    'packages/express/dist/index.js',
    ...(useRedis ? ['packages/core/dist/redis.js'] : []),
  ];
  if (!forceBuild && needed.every((file) => existsSync(join(root, file)))) return;
  console.log('Building @freqlimit/core and @freqlimit/express…');
  const result = spawnSync('pnpm', ['--filter', '@freqlimit/express...', 'build'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    shell: process.platform === 'win32',
  });
  if (result.error) fail(`could not run pnpm to build the packages: ${result.error.message}`);
  if (result.status !== 0) fail('building the packages failed (see above)');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves when a Redis at host:port answers PING, rejects after `ms`. */
async function waitForRedis(host, port, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const pong = await new Promise((resolve) => {
      const socket = createConnection({ host, port });
      socket.setTimeout(500);
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (pong) return;
    await sleep(100);
  }
  throw new Error(`no answer to PING from ${host}:${port}`);
}

/** The Redis URL to use: REDIS_URL, or a throwaway redis-server started here. */
async function startRedis() {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  const which = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  if (which.error || which.status !== 0) {
    fail(
      '--redis needs a Redis: put `redis-server` on PATH (e.g. `apt install redis-server`, ' +
        '`brew install redis`) or set REDIS_URL=redis://host:port',
    );
  }
  const port = await freePort();
  const redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  children.push(redis);
  try {
    await waitForRedis('127.0.0.1', port, 5_000);
  } catch (error) {
    fail(`redis-server did not start: ${error.message}`);
  }
  console.log(`Started redis-server on 127.0.0.1:${port} (pid ${redis.pid}).`);
  return `redis://127.0.0.1:${port}`;
}

/** Starts one app process on a free port; resolves with its base URL. */
function startApp(env) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: exampleDir,
    env: { ...process.env, PORT: '0', TRUST_PROXY: 'loopback', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk) => {
      out += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve({ url: match[1], pid: child.pid });
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the app exited early (code ${code})`)));
  });
}

// Who sends what. Clients are told apart by X-Forwarded-For (the app trusts its loopback
// proxy), as they would be behind a reverse proxy.
const clients = [
  { name: 'alice', ip: '203.0.113.10', method: 'GET', path: '/', count: 12 },
  { name: 'bob', ip: '198.51.100.7', method: 'GET', path: '/', count: 4 },
  { name: 'carol', ip: '2001:db8:42:1::7', method: 'POST', path: '/login', count: 5 },
];
const SPACING_MS = 15; // between one client's requests, so they arrive in order

async function send(apps, client, n, start) {
  const app = apps[n % apps.length];
  const sentAt = performance.now() - start;
  const res = await fetch(app.url + client.path, {
    method: client.method,
    headers: { 'X-Forwarded-For': client.ip },
  });
  await res.arrayBuffer();
  const answeredAt = performance.now() - start;
  let result;
  if (res.status === 429) {
    const retryAfter = res.headers.get('retry-after');
    result = retryAfter === null ? '429' : `429, Retry-After ${retryAfter} s`;
  } else {
    // Admitted by the limits; the app may still say no (a failed login is a 401).
    const held = /freqlimit;dur=(\d+)/.exec(res.headers.get('server-timing') ?? '');
    result = held ? `held ${held[1]} ms` : 'admitted at once';
    if (!res.ok) result += ` (HTTP ${res.status})`;
  }
  return { client, n: n + 1, app: (n % apps.length) + 1, sentAt, answeredAt, result };
}

async function runBursts(apps) {
  const start = performance.now();
  const pending = [];
  for (const client of clients) {
    pending.push(
      (async () => {
        const mine = [];
        for (let n = 0; n < client.count; n++) {
          mine.push(send(apps, client, n, start));
          await sleep(SPACING_MS);
        }
        return Promise.all(mine);
      })(),
    );
  }
  return (await Promise.all(pending)).flat();
}

function printTable(rows, showApp) {
  const header = [
    'client',
    'request',
    ...(showApp ? ['app'] : []),
    'route',
    'sent',
    'answered',
    'result',
  ];
  const lines = rows.map((r) => [
    `${r.client.name} (${r.client.ip})`,
    `#${r.n}`,
    ...(showApp ? [`app ${r.app}`] : []),
    `${r.client.method} ${r.client.path}`,
    `${Math.round(r.sentAt)} ms`,
    `${Math.round(r.answeredAt)} ms`,
    r.result,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  let previous;
  for (const [i, line] of lines.entries()) {
    if (previous !== undefined && rows[i].client !== previous) console.log('');
    previous = rows[i].client;
    console.log(format(line));
  }
}

async function main() {
  ensureBuilt();
  let apps;
  if (useRedis) {
    const url = await startRedis();
    const env = { REDIS_URL: url, REDIS_PREFIX: `freqlimit-demo:${process.pid}:${Date.now()}:` };
    apps = await Promise.all([startApp(env), startApp(env)]);
  } else {
    apps = [await startApp({})];
  }
  for (const [i, app] of apps.entries()) {
    console.log(
      `App ${apps.length > 1 ? `${i + 1} ` : ''}listening on ${app.url} (pid ${app.pid}).`,
    );
  }
  console.log(
    [
      '',
      'Limits (examples/express-basic/src/app.ts):',
      '  every client   5 per second, 3 back to back, held up to 1 s, then 429',
      '  POST /login    in addition 5 per minute, 3 back to back, never held (it goes',
      '                 through the per-client limit first, which may hold it); failed',
      '                 logins count (carol sends no password: 401), a success resets',
      useRedis
        ? '  state          in Redis, shared by both apps; each client alternates between them'
        : '  state          in memory',
      '',
    ].join('\n'),
  );

  const rows = await runBursts(apps);
  rows.sort((a, b) => clients.indexOf(a.client) - clients.indexOf(b.client) || a.n - b.n);
  printTable(rows, apps.length > 1);

  const count = (pattern) => rows.filter((r) => pattern.test(r.result)).length;
  console.log(
    `\n${rows.length} requests: ${count(/^admitted/)} admitted at once, ${count(/^held/)} held, ` +
      `${count(/^429/)} rejected with 429.`,
  );
  if (useRedis) {
    console.log(
      'Same outcome as one process: both apps reserve from the same GCRA state in Redis.',
    );
  }
}

main()
  .then(() => {
    stopChildren();
    clearTimeout(watchdog);
  })
  .catch((error) => fail(error instanceof Error ? error.message : String(error)));
