/**
 * 5,000 concurrent requests on one tight key (10 a second, so one emission every 100 ms;
 * `maxDelay` 60 s; `maxHeld` 50), sent at once over raw TCP connections from a child process,
 * while this process probes an unlimited `/health` route of the same server.
 *
 * At most `maxHeld` requests are held at once, the rest are answered 429 without being held,
 * and the health route keeps answering.
 *
 * How "held at once" is observed: GCRA emits held requests exactly one interval (T = 100 ms)
 * apart, so a request reserved with delay d has at least ⌈d/T⌉ − 1 held requests ahead of it.
 * At the cap no more are admitted, so every reserved delay is ≤ maxHeld·T — plus a little: a held
 * request is released at the moment its reservation was *asked for* plus its delay, which is
 * earlier than the backend's own clock reading by the time the call took (a few µs, up to ms
 * under load), so a release may come that much before its emission time; 50 ms (T/2) of slack
 * covers it. Without the cap the delays would grow to maxDelay (60 s). Counting holds from their
 * decision to the end of their response is reported too, not asserted: it over-counts by the
 * held requests released but not yet flushed, which an event-loop stall makes several.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { type App, type ServedResponse, serveApp } from './support/apps.js';
import { runChild } from './support/child.js';
import type { FloodResult } from './support/flood-client.js';
import { summary } from './support/load.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const open: App[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

const MAX_HELD = 50;
const T = 100; // ms: 10 a second
const FLOOD = 5_000;

/**
 * Health latency bounds. The probe runs in the process that serves the 5,000 requests, so it
 * measures exactly the event loop they share. Two phases:
 * - the arrival burst (first arrival to the last 429 sent): Node accepts and parses thousands of
 *   connections in a few loop turns, so one probe can wait behind that work — hundreds of ms on
 *   this machine whatever the middleware (a bare server pays the same). Its median must stay
 *   under 50 ms and its slowest under 2 s.
 * - the holding phase (after the last 429, while up to maxHeld requests are held for up to 5 s):
 *   this is what a hold must not disturb, so 99 % of probes answer under 50 ms and the slowest
 *   under 500 ms (scheduling on the shared 2-core machine, CPU burners included, adds tens of ms
 *   at most; a loop blocked by the held requests would blow far past it).
 */
const HEALTH_MS = 50;
const BURST_MAX_MS = 2_000;
const HOLDING_MAX_MS = 500;

describe('maxHeld under a flood of one tight key', () => {
  it(`${FLOOD} concurrent requests: at most maxHeld (${MAX_HELD}) held at once, the rest 429 at once, /health keeps answering`, async () => {
    const delays: number[] = [];
    let holding = 0;
    let maxHolding = 0;
    const served: ServedResponse[] = [];
    const app = await serveApp('express', {
      options: { limit: 1_000 / T, period: 1_000, maxDelay: 60_000, maxHeld: MAX_HELD },
      key: () => 'tight',
      backlog: 8_192,
      onDecision: (event) => {
        if (event.outcome !== 'hold') return;
        delays.push(event.info!.delay);
        holding++;
        maxHolding = Math.max(maxHolding, holding);
      },
      onResponse: (response) => {
        served.push(response);
        if (response.path === '/' && response.serverTiming?.includes('freqlimit')) holding--;
      },
    });
    open.push(app);

    const health: Array<{ at: number; ms: number; status: number }> = [];
    let flooding = true;
    const probing = (async () => {
      for (let i = 0; flooding && i < 20_000; i++) {
        const at = performance.now();
        const res = await fetch(`${app.url}health`, { signal: AbortSignal.timeout(10_000) });
        await res.text();
        health.push({ at, ms: performance.now() - at, status: res.status });
        await sleep(10);
      }
    })();
    const floodStart = performance.now();
    let results: FloodResult[];
    try {
      results = await runChild<FloodResult[]>(
        'test/support/flood-client.ts',
        [String(app.port), String(FLOOD), '/', '30000'],
        { timeoutMs: 60_000 },
      );
    } finally {
      flooding = false;
      await probing;
    }

    const limited = served.filter((r) => r.path === '/');
    // The flood, as the server saw it: from the first arrival to the last response.
    const firstArrival = Math.min(...limited.map((r) => r.end - r.ms));
    const lastResponse = Math.max(...limited.map((r) => r.end));
    const during = health.filter((h) => h.at >= firstArrival && h.at <= lastResponse);
    const lastRejection = Math.max(...limited.filter((r) => r.status === 429).map((r) => r.end));
    const burst = during.filter((h) => h.at <= lastRejection);
    const whileHolding = during.filter((h) => h.at > lastRejection);
    const held = limited.filter((r) => r.status === 200 && r.serverTiming !== undefined);
    const rejected = limited.filter((r) => r.status === 429);
    const byStatus: Record<number, number> = {};
    for (const r of results) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    const figures = {
      clientStatuses: byStatus,
      holds: delays.length,
      maxReservedDelay: Math.max(...delays),
      boundMaxHeldTimesT: MAX_HELD * T,
      heldAtOnceCounted: maxHolding,
      rejectedServerMs: summary(rejected.map((r) => r.ms)),
      heldServerMs: summary(held.map((r) => r.ms)),
      floodMs: Math.round(lastResponse - firstArrival),
      clientStartToFirstArrival: Math.round(firstArrival - floodStart),
      healthDuringFlood: summary(during.map((h) => h.ms)),
      healthArrivalBurst: summary(burst.map((h) => h.ms)),
      healthWhileHolding: summary(whileHolding.map((h) => h.ms)),
    };
    console.log(`maxHeld flood (express): ${JSON.stringify(figures)}`);

    // Every request answered: 200 (at once or after its hold) or 429.
    expect(results).toHaveLength(FLOOD);
    expect(results.filter((r) => r.status !== 200 && r.status !== 429)).toEqual([]);
    expect(limited).toHaveLength(FLOOD);
    expect(app.errors).toEqual([]);
    // Held requests passed after their hold; the one admitted at once has no Server-Timing.
    expect(held).toHaveLength(delays.length);
    expect(byStatus[200]).toBe(delays.length + 1);
    // At most maxHeld at once (see the header comment), and the cap was reached.
    expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_HELD * T + T / 2);
    expect(Math.max(...delays)).toBeGreaterThanOrEqual((MAX_HELD - 2) * T);
    // The rest were answered 429 at once: none of them was held, and the server answered 99 %
    // of them within one emission interval (the shortest possible hold); the slowest within
    // 1 s, against 4 s for the median held request (an event-loop stall on the shared machine
    // can delay a few by tens of ms, which is why the max is not held to T).
    expect(rejected.length).toBe(FLOOD - delays.length - 1);
    expect(rejected.filter((r) => r.serverTiming !== undefined)).toEqual([]);
    expect(summary(rejected.map((r) => r.ms)).p99).toBeLessThan(T);
    expect(Math.max(...rejected.map((r) => r.ms))).toBeLessThan(1_000);
    // /health kept answering during the flood.
    expect(during.length).toBeGreaterThanOrEqual(10);
    expect(during.filter((h) => h.status !== 200)).toEqual([]);
    expect(summary(during.map((h) => h.ms)).p50).toBeLessThan(HEALTH_MS);
    expect(Math.max(...burst.map((h) => h.ms))).toBeLessThan(BURST_MAX_MS);
    // While requests are held (seconds of it), the loop is free: probes answer as on an idle app.
    expect(whileHolding.length).toBeGreaterThanOrEqual(50);
    expect(summary(whileHolding.map((h) => h.ms)).p99).toBeLessThan(HEALTH_MS);
    expect(Math.max(...whileHolding.map((h) => h.ms))).toBeLessThan(HOLDING_MAX_MS);
  });
});
