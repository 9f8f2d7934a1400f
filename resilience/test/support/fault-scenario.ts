/**
 * A Redis fault under steady HTTP load, end to end: a real redis-server, a `RedisBackend` with a
 * short `timeout`, one app served over real HTTP, a bounded load of requests on fresh keys, and
 * "probe pairs" — two requests on one fresh key under a tight limit (1 a minute, `maxDelay: 0`),
 * which answer (200, 429) exactly when something is limiting.
 *
 * Timeline: steady load for `warmMs`, then the fault — `kill` (SIGKILL, then a new server on the
 * same port `outageMs` later, empty like a restarted cache) or `stop` (SIGSTOP for `outageMs`,
 * then SIGCONT) — then load until a probe pair shows Redis limiting again, plus `afterMs`.
 */

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { InMemoryBackend } from '@freqlimit/core';
import { RedisBackend } from '@freqlimit/core/redis';
import { Redis } from 'ioredis';
import { type AdapterName, serveApp } from './apps.js';
import { type Call, CountingBackend } from './counting-backend.js';
import { runLoad, type Shot, shoot } from './load.js';
import {
  type RestartedRedis,
  restartRedis,
  signal,
  startRedis,
  waitDown,
} from './redis-control.js';

export type FailureMode = 'allow' | 'reject' | 'fallback';

export interface FaultOptions {
  adapter: AdapterName;
  mode: FailureMode;
  fault: 'kill' | 'stop';
  /** How long Redis is gone (killed → restarted, or stopped → resumed), ms. */
  outageMs: number;
  /** `RedisBackend`'s `timeout`, ms. */
  timeout: number;
  /** Load workers. Default 8. */
  concurrency?: number;
  warmMs?: number;
  afterMs?: number;
}

/** Two requests on one fresh key, one after the other. */
export interface ProbePair {
  at: number;
  first: Shot;
  second: Shot;
}

/** What happened, times in ms relative to the start of the load. */
export interface FaultRun {
  faultAt: number;
  /** When Redis answered again (restarted and answering PING, or SIGCONT sent). */
  backAt: number;
  /** When a probe pair first showed Redis limiting again (undefined: never). */
  resumedAt: number | undefined;
  load: Shot[];
  probes: ProbePair[];
  /** Calls that reached the RedisBackend, relative times. */
  calls: Call[];
  /** `console.error` calls (the middleware's error reports). */
  reports: unknown[][];
  unhandled: unknown[];
  /** Errors that reached the framework's error path. */
  frameworkErrors: unknown[];
  /** The longest event-loop delay seen, ms (this process serves and loads). */
  loopDelayMax: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `decision` came from Redis (not from an `onBackendError` path). */
export const fromPrimary = (shot: Shot): boolean =>
  shot.decision === 'pass' || shot.decision === 'reject';

/** Runs one fault scenario and returns everything it saw; never leaves a process behind. */
export async function runFault(options: FaultOptions): Promise<FaultRun> {
  const { adapter, mode, fault, outageMs, timeout } = options;
  const warmMs = options.warmMs ?? 1_500;
  const afterMs = options.afterMs ?? 1_000;
  const redis = await startRedis();
  let second: RestartedRedis | undefined;
  const client = new Redis(redis.url);
  client.on('error', () => {}); // ioredis reports every reconnect failure here
  const backend = new CountingBackend(new RedisBackend(client, { timeout, prefix: 'fault:' }));
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const reports: unknown[][] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => {
    reports.push(args);
  };
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const app = await serveApp(adapter, {
    options: {
      limit: 1,
      period: 60_000,
      maxDelay: 0,
      backend,
      onBackendError: mode === 'fallback' ? new InMemoryBackend() : mode,
    },
    key: (view) => view.header('x-key'),
  });
  try {
    // The first call loads the script (NOSCRIPT → EVAL): not part of the steady state.
    await shoot(app.url, 'warm-up');
    const origin = performance.now();
    const rel = (t: number) => t - origin;
    let done = false;
    const loadDone = runLoad({
      url: app.url,
      concurrency: options.concurrency ?? 8,
      maxRequests: 200_000,
      maxMs: 45_000,
      pauseMs: 2,
      key: (i) => `load-${i}`,
      stop: () => done,
    });
    const probes: ProbePair[] = [];
    const probesDone = (async () => {
      const end = origin + 45_000;
      for (let j = 0; !done && performance.now() < end; j++) {
        const first = await shoot(app.url, `probe-${j}`);
        const second = await shoot(app.url, `probe-${j}`);
        probes.push({ at: first.at, first, second });
        await sleep(100);
      }
    })();

    await sleep(warmMs);
    const faultAt = performance.now();
    if (fault === 'kill') {
      signal(redis.pid, 'SIGKILL');
      await waitDown(redis.port);
      await sleep(faultAt + outageMs - performance.now());
      second = await restartRedis(redis.port);
    } else {
      signal(redis.pid, 'SIGSTOP');
      await sleep(outageMs);
      signal(redis.pid, 'SIGCONT');
    }
    const backAt = performance.now();

    const limiting = (p: ProbePair) =>
      p.at >= backAt &&
      fromPrimary(p.first) &&
      fromPrimary(p.second) &&
      p.first.status === 200 &&
      p.second.status === 429;
    let resumedAt: number | undefined;
    const deadline = backAt + 15_000;
    while (resumedAt === undefined && performance.now() < deadline) {
      resumedAt = probes.find(limiting)?.at;
      await sleep(50);
    }
    await sleep(afterMs);
    done = true;
    const load = await loadDone;
    await probesDone;
    for (const shot of [...load, ...probes.flatMap((p) => [p.first, p.second])]) {
      shot.at = rel(shot.at);
    }
    for (const p of probes) p.at = p.first.at;
    return {
      faultAt: rel(faultAt),
      backAt: rel(backAt),
      resumedAt: resumedAt === undefined ? undefined : rel(resumedAt),
      load,
      probes,
      calls: backend.calls.map((c) => ({ ...c, start: rel(c.start), end: rel(c.end) })),
      reports,
      unhandled,
      frameworkErrors: app.errors,
      loopDelayMax: loop.max / 1e6,
    };
  } finally {
    loop.disable();
    console.error = consoleError;
    await app.close();
    client.disconnect();
    await second?.stop();
    await redis.stop();
    // A rejection that surfaces a moment after the last request still counts.
    await sleep(50);
    process.off('unhandledRejection', onUnhandled);
  }
}

/**
 * The failed reservation calls, grouped into rounds: a call starting more than `gapMs` after the
 * previous failed one opens a new round. Each round is one time the middleware asked a failing
 * backend (every request in flight at that moment may be part of it).
 */
export function failedRounds(calls: readonly Call[], gapMs = 1_000): Call[][] {
  const rounds: Call[][] = [];
  let last = Number.NEGATIVE_INFINITY;
  for (const call of calls) {
    if (call.ok || call.method !== 'reserve') continue;
    if (call.start - last > gapMs) rounds.push([]);
    rounds[rounds.length - 1]!.push(call);
    last = call.start;
  }
  return rounds;
}
