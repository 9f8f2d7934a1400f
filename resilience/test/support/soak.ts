/**
 * The soak: an Express app in a child process (`soak-server.ts`) under a steady load for
 * `seconds`, over a window of 10,000 live keys that slides by 2,000 keys a second (so the keys
 * seen keep growing — up to 130,000 in a minute — and only reclaiming expired ones keeps the
 * store flat). Every second the server's RSS, heap after GC and live-key count are sampled.
 */

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLoad } from './load.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface SoakSample {
  /** Seconds since the load started. */
  t: number;
  rss: number;
  heapUsed: number;
  size: number;
  /** Requests sent so far. */
  sent: number;
}

export interface SoakRun {
  samples: SoakSample[];
  requests: number;
  statuses: Record<number, number>;
  /** Distinct keys the load used. */
  keysSeen: number;
}

/** How many keys a second the window of 10,000 moves on. */
const SLIDE_PER_S = 2_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Starts the soak server; resolves with its port and a stop (by pid). */
async function startServer(): Promise<{ port: number; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', join(ROOT, 'test/support/soak-server.ts')],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid!, 'SIGTERM');
      const killer = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
  };
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('soak-server did not start')), 30_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve((JSON.parse(out.slice(0, nl)) as { port: number }).port);
      }
    });
    child.once('exit', (code) => reject(new Error(`soak-server exited with ${code}`)));
  }).catch(async (error) => {
    await stop();
    throw error;
  });
  return { port, stop };
}

/** Runs the soak for `seconds`. */
export async function runSoak(seconds: number): Promise<SoakRun> {
  const server = await startServer();
  try {
    const url = `http://127.0.0.1:${server.port}/`;
    const start = performance.now();
    const seen = new Set<number>();
    let sent = 0;
    let done = false;
    const load = runLoad({
      url,
      concurrency: 8,
      maxRequests: seconds * 10_000,
      maxMs: seconds * 1_000,
      pauseMs: 1,
      key: () => {
        sent++;
        const base = Math.floor(((performance.now() - start) / 1_000) * SLIDE_PER_S);
        const k = base + Math.floor(Math.random() * 10_000);
        seen.add(k);
        return `k${k}`;
      },
      stop: () => done,
    });
    const samples: SoakSample[] = [];
    for (let s = 1; s <= seconds; s++) {
      await sleep(start + s * 1_000 - performance.now());
      const res = await fetch(`${url}stats`, { signal: AbortSignal.timeout(10_000) });
      const stats = (await res.json()) as Omit<SoakSample, 't' | 'sent'>;
      samples.push({ t: (performance.now() - start) / 1_000, sent, ...stats });
    }
    done = true;
    const shots = await load;
    const statuses: Record<number, number> = {};
    for (const shot of shots) statuses[shot.status] = (statuses[shot.status] ?? 0) + 1;
    return { samples, requests: shots.length, statuses, keysSeen: seen.size };
  } finally {
    await server.stop();
  }
}

/**
 * Live keys per request a second, over the samples in [from, to): about how long (s) a key
 * stays stored after its last request. It does not move with the load's rate, which the
 * machine's other work pushes up and down.
 */
export function keyLifetime(samples: readonly SoakSample[], from: number, to: number): number {
  const inside = samples.filter((s) => s.t >= from && s.t < to);
  const before = samples.filter((s) => s.t < from).at(-1) ?? { t: 0, sent: 0 };
  const last = inside.at(-1);
  if (last === undefined) throw new Error(`no samples in [${from}, ${to}) s`);
  const rate = (last.sent - before.sent) / (last.t - before.t);
  return windowMean(samples, 'size', from, to) / rate;
}

/** Mean of `field` over the samples taken in [from, to) seconds. */
export function windowMean(
  samples: readonly SoakSample[],
  field: 'rss' | 'heapUsed' | 'size',
  from: number,
  to: number,
): number {
  const inside = samples.filter((s) => s.t >= from && s.t < to);
  if (inside.length === 0) throw new Error(`no samples in [${from}, ${to}) s`);
  return inside.reduce((sum, s) => sum + s[field], 0) / inside.length;
}
