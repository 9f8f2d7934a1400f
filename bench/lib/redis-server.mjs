/**
 * @module bench/lib/redis-server
 * A redis-server of the bench's own (never a user's: the bench runs FLUSHALL): on a free
 * 127.0.0.1 port, no persistence, pinned to the server core, stopped by its pid (through
 * `keeper.mjs`, which also kills it if the orchestrator dies). The same
 * approach as `packages/core/test/redis-harness.ts`, without its REDIS_URL and Docker paths.
 */

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNode } from './proc.mjs';
import { sleep } from './stats.mjs';

const KEEPER = fileURLToPath(new URL('./keeper.mjs', import.meta.url));

/**
 * Where `name` lives on PATH.
 *
 * @param {string} name
 * @returns {string | undefined}
 */
export function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function canListen(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * One RESP command over a fresh socket (for PING before any client library is involved).
 *
 * @param {number} port
 * @param {string[]} args
 * @returns {Promise<string>} the raw reply
 */
function rawCommand(port, args) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply from 127.0.0.1:${port}`));
    }, 2000);
    socket.on('connect', () => {
      socket.write(
        `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`,
      );
    });
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      const bulk = /^\$(\d+)\r\n/.exec(data);
      const complete = bulk
        ? Buffer.byteLength(data) >= bulk[0].length + Number(bulk[1]) + 2
        : data.endsWith('\r\n');
      if (complete) {
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

/**
 * Start a redis-server; resolves once it answers PING.
 *
 * @returns {Promise<{ port: number, pid: number | undefined, version: string, stop(): Promise<void> }>}
 */
export async function startRedisServer() {
  const binary = onPath('redis-server');
  if (binary === undefined) {
    throw new Error('bench: redis-server is not on PATH (Debian: apt-get install redis-server)');
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    let port = 0;
    for (let i = 0; i < 100 && port === 0; i++) {
      const candidate = 20_000 + Math.floor(Math.random() * 35_000);
      if (await canListen(candidate)) port = candidate;
    }
    if (port === 0) throw new Error('bench: no free port for redis-server');
    const dir = mkdtempSync(join(tmpdir(), 'freqlimit-bench-redis-'));
    // Through a keeper process, so the server dies with the orchestrator however it ends.
    const keeper = startNode(
      KEEPER,
      [
        binary,
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
      ],
      { role: 'server', deadlineMs: 3_600_000 },
    );
    let exited = false;
    keeper.exited.then(() => {
      exited = true;
    });
    let pid;
    try {
      pid = (await keeper.next('started', 10_000)).pid;
    } catch {
      exited = true;
    }
    const stop = async () => {
      await keeper.stop();
      rmSync(dir, { recursive: true, force: true });
    };
    const deadline = Date.now() + 10_000;
    while (!exited && Date.now() < deadline) {
      try {
        if ((await rawCommand(port, ['PING'])).startsWith('+PONG')) {
          const info = await rawCommand(port, ['INFO', 'server']);
          const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
          return { port, pid, version, stop };
        }
      } catch {}
      await sleep(50);
    }
    await stop(); // most likely lost a race for the port: try another
  }
  throw new Error('bench: redis-server did not start');
}
