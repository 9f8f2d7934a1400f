/**
 * A real Redis for tests, no mocks. In order of preference:
 *
 * 1. `REDIS_URL` (cluster: `REDIS_CLUSTER_NODES`, comma-separated `host:port`), used as is;
 * 2. a `redis-server` binary on PATH, started on a free 127.0.0.1 port with no persistence and
 *    stopped by pid afterwards (also when the process exits);
 * 3. a testcontainers Redis, where a Docker engine answers (standalone only).
 *
 * When none is available the start functions throw, so a test run without Redis fails loudly
 * (with `CI=true` as well as locally): Redis tests are never skipped silently.
 *
 * Reusable from other packages by relative path:
 * `import { startRedis } from '../../../packages/core/test/redis-harness.js'`.
 */

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A running Redis server. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  host: string;
  port: number;
  /** The server's pid when this harness started it (for `kill -STOP` tests), else undefined. */
  pid: number | undefined;
  /** Stops it (no-op for an external server). Idempotent. */
  stop(): Promise<void>;
}

/** A running Redis Cluster of three masters. */
export interface RedisClusterServer {
  nodes: Array<{ host: string; port: number }>;
  /** Pids of the nodes this harness started. */
  pids: number[];
  stop(): Promise<void>;
}

const started = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of started) {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGCONT');
        process.kill(child.pid, 'SIGKILL');
      } catch {}
    }
  }
});

/** Where `redis-server` lives on PATH, if anywhere. */
export function redisServerBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'redis-server'))) return join(dir, 'redis-server');
  }
  return undefined;
}

function redisCliBinary(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'redis-cli'))) return join(dir, 'redis-cli');
  }
  throw new Error('redis-harness: redis-cli is not on PATH (needed to create a cluster)');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free loopback port whose cluster bus port (+10000) is free too. */
async function freePort(withBus: boolean): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 35_000);
    if ((await canListen(port)) && (!withBus || (await canListen(port + 10_000)))) return port;
  }
  throw new Error('redis-harness: no free port found');
}

/** One raw RESP command over a fresh socket; resolves with the raw reply text. */
export function rawCommand(port: number, args: string[], host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis-harness: no reply from ${host}:${port}`));
    }, 2000);
    socket.on('connect', () => {
      socket.write(
        `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`,
      );
    });
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      if (data.endsWith('\r\n')) {
        clearTimeout(timer);
        socket.end();
        resolve(data);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`redis-harness: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopChild(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    try {
      process.kill(child.pid!, 'SIGCONT'); // a test may have left it stopped
      process.kill(child.pid!, 'SIGKILL');
    } catch {}
    await exited;
  }
  started.delete(child);
  rmSync(dir, { recursive: true, force: true });
}

async function spawnServer(
  binary: string,
  extra: string[],
  withBus: boolean,
  fixedPort?: number,
): Promise<{ child: ChildProcess; port: number; dir: string }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = fixedPort ?? (await freePort(withBus));
    const dir = mkdtempSync(join(tmpdir(), 'freqlimit-redis-'));
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
      ...extra,
    ];
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    started.add(child);
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    try {
      await waitFor(async () => {
        if (exited) throw new Error('exited');
        return (await rawCommand(port, ['PING'])).startsWith('+PONG');
      }, `redis-server on port ${port}`);
      if (!exited) return { child, port, dir };
    } catch {}
    await stopChild(child, dir); // most likely lost a race for the port: try another
  }
  throw new Error('redis-harness: redis-server did not start');
}

async function dockerAnswers(): Promise<boolean> {
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
  try {
    await run('docker', ['info'], { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * A standalone Redis for one test file. Call in `beforeAll` and `stop()` in `afterAll`.
 *
 * @example
 * let redis: RedisServer;
 * beforeAll(async () => { redis = await startRedis(); }, 60_000);
 * afterAll(() => redis?.stop());
 */
export async function startRedis(): Promise<RedisServer> {
  const external = process.env.REDIS_URL;
  if (external) {
    const url = new URL(external);
    return {
      url: external,
      host: url.hostname,
      port: Number(url.port || 6379),
      pid: undefined,
      stop: async () => {},
    };
  }
  const binary = redisServerBinary();
  if (binary) {
    const { child, port, dir } = await spawnServer(binary, [], false);
    let stopping: Promise<void> | undefined;
    return {
      url: `redis://127.0.0.1:${port}`,
      host: '127.0.0.1',
      port,
      pid: child.pid,
      stop: () => {
        stopping ??= stopChild(child, dir);
        return stopping;
      },
    };
  }
  if (await dockerAnswers()) {
    const { RedisContainer } = await import('@testcontainers/redis');
    const container = await new RedisContainer('redis:7').start();
    const port = container.getPort();
    const host = container.getHost();
    return {
      url: container.getConnectionUrl(),
      host,
      port,
      pid: undefined,
      stop: async () => {
        await container.stop();
      },
    };
  }
  throw new Error(
    'redis-harness: no Redis available. Set REDIS_URL, install redis-server (e.g. apt-get install redis-server), or run a Docker engine.',
  );
}

/** A redis-server this harness owns, which a test may kill and start again on its port. */
export interface OwnedRedisServer extends RedisServer {
  /** The current process's pid (it changes with `start`). */
  pid: number;
  /** SIGKILLs the server (its data is gone: no persistence). */
  kill(): Promise<void>;
  /** Starts a fresh server on the same port (after `kill`). */
  start(): Promise<void>;
}

/**
 * A standalone redis-server started from the binary on PATH (never an external one: fault
 * tests SIGKILL and SIGSTOP it), on a free port that `start()` reuses after `kill()`.
 * Throws when redis-server is not installed, so such tests fail instead of skipping.
 */
export async function startOwnRedis(): Promise<OwnedRedisServer> {
  const binary = redisServerBinary();
  if (!binary) {
    throw new Error('redis-harness: fault tests need redis-server on PATH (they kill it)');
  }
  let current = await spawnServer(binary, [], false);
  const port = current.port;
  let stopping: Promise<void> | undefined;
  const server: OwnedRedisServer = {
    url: `redis://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    pid: current.child.pid!,
    kill: () => stopChild(current.child, current.dir),
    start: async () => {
      // The port may linger briefly after a SIGKILL: retry for a while.
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          current = await spawnServer(binary, [], false, port);
          server.pid = current.child.pid!;
          return;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    stop: () => {
      stopping ??= stopChild(current.child, current.dir);
      return stopping;
    },
  };
  return server;
}

/**
 * A Redis Cluster of three masters (no replicas) on 127.0.0.1, joined with
 * `redis-cli --cluster create`. `REDIS_CLUSTER_NODES` (`host:port,…`) uses an existing one.
 */
export async function startRedisCluster(): Promise<RedisClusterServer> {
  const external = process.env.REDIS_CLUSTER_NODES;
  if (external) {
    const nodes = external.split(',').map((hp) => {
      const [host = '127.0.0.1', port = '6379'] = hp.trim().split(':');
      return { host, port: Number(port) };
    });
    return { nodes, pids: [], stop: async () => {} };
  }
  const binary = redisServerBinary();
  if (!binary) {
    throw new Error(
      'redis-harness: a Redis Cluster needs redis-server on PATH (or REDIS_CLUSTER_NODES=host:port,…)',
    );
  }
  const servers: Array<{ child: ChildProcess; port: number; dir: string }> = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => stopChild(s.child, s.dir)));
  };
  try {
    for (let i = 0; i < 3; i++) {
      servers.push(
        await spawnServer(
          binary,
          [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '5000',
          ],
          true,
        ),
      );
    }
    await run(
      redisCliBinary(),
      [
        '--cluster',
        'create',
        ...servers.map((s) => `127.0.0.1:${s.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    for (const s of servers) {
      await waitFor(
        async () => (await rawCommand(s.port, ['CLUSTER', 'INFO'])).includes('cluster_state:ok'),
        `cluster state ok on port ${s.port}`,
        30_000,
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodes: servers.map((s) => ({ host: '127.0.0.1', port: s.port })),
    pids: servers.map((s) => s.child.pid!),
    stop,
  };
}
