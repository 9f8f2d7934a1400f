/**
 * Faults on a real redis-server: the harness of `@freqlimit/core` starts one on a free port;
 * this adds killing it, starting a new one on the *same* port (as a restarted server or a
 * failover behind one address would be), and stopping or resuming it by pid.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type RedisServer,
  rawCommand,
  redisServerBinary,
  startRedis,
} from '../../../packages/core/test/redis-harness.js';

export { type RedisServer, rawCommand, startRedis };

const restarted = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of restarted) {
    try {
      process.kill(child.pid!, 'SIGCONT');
      process.kill(child.pid!, 'SIGKILL');
    } catch {}
  }
});

/** A redis-server this module started, stopped by its pid. */
export interface RestartedRedis {
  pid: number;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sends `signal` to `pid` (`SIGKILL`, `SIGSTOP`, `SIGCONT`). */
export function signal(pid: number | undefined, name: NodeJS.Signals): void {
  if (pid === undefined) throw new Error('redis-control: this Redis was not started here (no pid)');
  process.kill(pid, name);
}

/** Waits until nothing answers on `port` any more (a killed server's socket is gone). */
export async function waitDown(port: number, ms = 5_000): Promise<void> {
  const end = performance.now() + ms;
  for (;;) {
    try {
      await rawCommand(port, ['PING']);
    } catch {
      return;
    }
    if (performance.now() > end) throw new Error(`redis-control: port ${port} still answers`);
    await sleep(20);
  }
}

/**
 * Starts a redis-server on `port` (no persistence: it comes back empty, like a restarted cache)
 * and resolves once it answers `PING`.
 */
export async function restartRedis(port: number): Promise<RestartedRedis> {
  const binary = redisServerBinary();
  if (!binary) throw new Error('redis-control: redis-server is not on PATH');
  const dir = mkdtempSync(join(tmpdir(), 'freqlimit-resilience-'));
  const child = spawn(
    binary,
    [
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
    { stdio: 'ignore' },
  );
  restarted.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid!, 'SIGCONT');
          process.kill(child.pid!, 'SIGKILL');
        } catch {}
        await exited;
      }
      restarted.delete(child);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  const end = performance.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`redis-control: redis-server on port ${port} exited at once`);
    }
    try {
      if ((await rawCommand(port, ['PING'])).startsWith('+PONG')) break;
    } catch {}
    if (performance.now() > end) {
      await stop();
      throw new Error(`redis-control: redis-server on port ${port} did not answer`);
    }
    await sleep(20);
  }
  return { pid: child.pid!, stop };
}
