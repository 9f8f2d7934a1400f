/**
 * Redis wiped under steady HTTP load: FLUSHALL (every key gone) and SCRIPT FLUSH (every cached
 * script gone, so each EVALSHA meets NOSCRIPT) sent from another client again and again. The
 * limiter must carry on: no 5xx, no backend error, no error report, and the tight limit keeps
 * limiting — except that a key wiped between two of its requests starts afresh, while a key this
 * process already saw rejected stays rejected (the local rejection cache answers it).
 */

import { RedisBackend } from '@freqlimit/core/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveApp } from './support/apps.js';
import { runLoad, type Shot, shoot, summary } from './support/load.js';
import { type RedisServer, startRedis } from './support/redis-control.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A field of `INFO` (e.g. `cmdstat_eval` → `calls`), as a number; 0 when absent. */
async function infoNumber(client: Redis, section: string, line: string, field: string) {
  const info = await client.info(section);
  const match = new RegExp(`^${line}:.*\\b${field}=(\\d+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}

describe('FLUSHALL and SCRIPT FLUSH under load', () => {
  it("the limiter carries on (Koa, onBackendError 'reject', so any backend error would be a 503)", async () => {
    const client = new Redis(redis.url);
    const admin = new Redis(redis.url);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const reports: unknown[][] = [];
    const consoleError = console.error;
    console.error = (...args: unknown[]) => {
      reports.push(args);
    };
    const decisions = new Map<string, number>();
    const app = await serveApp('koa', {
      options: {
        limit: 1,
        period: 60_000,
        maxDelay: 0,
        backend: new RedisBackend(client, { timeout: 250, prefix: 'wipe:' }),
        onBackendError: 'reject',
      },
      key: (view) => view.header('x-key'),
      onDecision: (event) => decisions.set(event.outcome, (decisions.get(event.outcome) ?? 0) + 1),
    });
    await admin.config('RESETSTAT');
    // When each wipe was sent and when Redis had answered it: it ran somewhere in between.
    const wipes: Array<{ sent: number; done: number; what: 'FLUSHALL' | 'SCRIPT FLUSH' }> = [];
    try {
      let done = false;
      const load = runLoad({
        url: app.url,
        concurrency: 8,
        maxRequests: 100_000,
        maxMs: 20_000,
        pauseMs: 2,
        // Half on fresh keys (a script call each), half on 50 keys that keep coming back.
        key: (i) => (i % 2 === 0 ? `load-${i}` : `hot-${i % 100}`),
        stop: () => done,
      });
      const pairs: Array<{ first: Shot; second: Shot }> = [];
      const probing = (async () => {
        for (let j = 0; !done && j < 10_000; j++) {
          const first = await shoot(app.url, `probe-${j}`);
          const second = await shoot(app.url, `probe-${j}`);
          pairs.push({ first, second });
          await sleep(20);
        }
      })();
      await sleep(500);
      for (let round = 0; round < 8; round++) {
        let sent = performance.now();
        await admin.flushall();
        wipes.push({ sent, done: performance.now(), what: 'FLUSHALL' });
        await sleep(250);
        sent = performance.now();
        await admin.script('FLUSH');
        wipes.push({ sent, done: performance.now(), what: 'SCRIPT FLUSH' });
        await sleep(250);
      }
      done = true;
      const shots = await load;
      await probing;
      const all = [...shots, ...pairs.flatMap((p) => [p.first, p.second])];

      const evals = await infoNumber(admin, 'commandstats', 'cmdstat_eval', 'calls');
      const noscript = await infoNumber(admin, 'errorstats', 'errorstat_NOSCRIPT', 'count');
      // A pair may start afresh only when a FLUSHALL fell between its two requests.
      const fresh = pairs.filter((p) => p.second.status === 200);
      const explained = fresh.filter((p) =>
        wipes.some(
          (w) =>
            w.what === 'FLUSHALL' && w.done >= p.first.at && w.sent <= p.second.at + p.second.ms,
        ),
      );
      // A key this process saw rejected stays rejected after FLUSHALL: the local rejection
      // cache answers it (for as long as it was going to be rejected anyway, here a minute).
      const hot = new Map<string, number[]>();
      for (const s of shots) {
        if (s.key.startsWith('hot-')) hot.set(s.key, [...(hot.get(s.key) ?? []), s.status]);
      }
      const hotAfterFirst429 = [...hot.values()].flatMap((list) =>
        list.slice(list.indexOf(429) + 1),
      );
      const statuses: Record<number, number> = {};
      for (const s of all) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
      console.log(
        `FLUSHALL/SCRIPT FLUSH (koa): ${JSON.stringify({
          requests: all.length,
          statuses,
          decisions: Object.fromEntries(decisions),
          wipes: wipes.length,
          evalReloads: evals,
          noscriptErrors: noscript,
          probePairs: pairs.length,
          pairsStartedAfresh: fresh.length,
          hotKeys: hot.size,
          hotRequestsAfterTheirFirst429: hotAfterFirst429.length,
          latency: summary(all.map((s) => s.ms)),
        })}`,
      );

      expect(all.filter((s) => s.status !== 200 && s.status !== 429)).toEqual([]);
      expect(decisions.get('backend-error') ?? 0).toBe(0);
      expect(reports).toEqual([]);
      expect(unhandled).toEqual([]);
      expect(app.errors).toEqual([]);
      // Every SCRIPT FLUSH was met and survived: the scripts were sent again with EVAL.
      expect(noscript).toBeGreaterThanOrEqual(8);
      expect(evals).toBeGreaterThanOrEqual(8);
      // The tight limit kept limiting: every pair is (200, 429) unless a FLUSHALL fell inside it.
      expect(pairs.filter((p) => p.first.status !== 200)).toEqual([]);
      expect(fresh.length).toBe(explained.length);
      expect(pairs.length - fresh.length).toBeGreaterThan(pairs.length / 2);
      expect(hot.size).toBe(50);
      expect(hotAfterFirst429.length).toBeGreaterThan(200);
      expect(hotAfterFirst429.filter((status) => status !== 429)).toEqual([]);
    } finally {
      console.error = consoleError;
      process.off('unhandledRejection', onUnhandled);
      await app.close();
      client.disconnect();
      admin.disconnect();
    }
  });
});
