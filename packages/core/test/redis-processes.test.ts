import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from './redis-harness.js';

const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));
const child = fileURLToPath(new URL('./redis-child.ts', import.meta.url));

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
}, 60_000);
afterAll(() => server?.stop());

interface ChildResult {
  allowed: number;
  attempts: number;
  first: number;
  last: number;
}

/** Spawns the child, resolving once it printed "ready" (booted, connected, script loaded). */
async function ready(env: NodeJS.ProcessEnv): Promise<{ proc: ChildProcess; out: () => string }> {
  const proc = spawn(tsx, [child], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  let text = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  const deadline = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  proc.once('exit', () => clearTimeout(deadline));
  while (!text.includes('ready\n')) {
    if (proc.exitCode !== null) throw new Error(`child exited early: ${text}`);
    await Promise.race([once(proc.stdout!, 'data'), once(proc, 'exit')]);
  }
  return { proc, out: () => text.slice(text.indexOf('ready\n') + 6) };
}

describe('RedisBackend shared by several processes', () => {
  it('4 processes on one key admit at most burst + rate × elapsed', async () => {
    const params = { limit: 100, period: 1000, burst: 5 };
    const env = {
      ...process.env,
      REDIS_URL: server.url,
      KEY: `shared:${Math.random()}`,
      DURATION: '2000',
      PARAMS: JSON.stringify(params),
    };
    // Boot all four first (on a loaded machine that takes a while), then start them together.
    const children = await Promise.all([1, 2, 3, 4].map(() => ready(env)));
    const start = Date.now() + 200;
    const exits = children.map(({ proc }) => once(proc, 'exit'));
    for (const { proc } of children) proc.stdin!.end(`${start}\n`);
    await Promise.all(exits);
    const results = children.map(({ out }) => JSON.parse(out().trim()) as ChildResult);
    const admitted = results.reduce((sum, r) => sum + r.allowed, 0);
    // Every admission happened between the earliest send and the latest reply.
    const elapsed =
      Math.max(...results.map((r) => r.last)) - Math.min(...results.map((r) => r.first));
    const rate = params.limit / params.period;
    expect(admitted).toBeLessThanOrEqual(params.burst + rate * elapsed + 1);
    // Not vacuous: the processes really competed, and the limit was reached.
    for (const r of results) expect(r.attempts).toBeGreaterThan(r.allowed);
    expect(admitted).toBeGreaterThanOrEqual(rate * elapsed * 0.8);
    expect(elapsed).toBeGreaterThan(1000);
  }, 60_000);
});
