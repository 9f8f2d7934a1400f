/**
 * A flood of 1,000,000 distinct keys through each adapter, with `InMemoryBackend({ maxKeys:
 * 100_000 })`: memory stays under a bound set by `maxKeys`, and clients that used up their
 * limit stay limited throughout.
 *
 * How: a million requests over real HTTP would take many minutes per adapter on a shared 2-core
 * machine, so the flood is dispatched in process, through each framework's own app and request
 * objects (`support/in-process.ts`), in a child process run with `--expose-gc` (heap after a
 * full GC, nothing of the test runner in it). 300,000 requests carry 1,020,000 keys: one in five
 * on a route with one limit keyed by the client address (random, via the proxy setting), the
 * others on a route with four limits at once — per address, per user, per org, per device —
 * reserved together. Every 5 % of the flood, two known clients ask over real HTTP. See
 * `support/flood-keys-child.ts`.
 */

import { describe, expect, it } from 'vitest';
import { ADAPTERS } from './support/apps.js';
import { runChild } from './support/child.js';

interface FloodFigures {
  adapter: string;
  count: number;
  distinctKeys: number;
  maxKeys: number;
  warmUp: Array<[number, number]>;
  statuses: Record<string, number>;
  checks: Array<{
    after: number;
    keysSoFar: number;
    single: number;
    multi: number;
    size: number;
    heapMB: number;
  }>;
  size: number;
  baselineHeap: number;
  finalHeap: number;
  ms: number;
}

const REQUESTS = 300_000;
const MAX_KEYS = 100_000;
/**
 * Heap per stored key, bytes. Measured: about 110 B a key while the store only grows, about
 * 175 B once `maxKeys` evicts under churn (the map and the expiry buckets keep some slack),
 * for keys of 15–25 characters such as `multi-2:user-123457`. 250 B leaves room for GC timing;
 * without the cap the million keys would take over 100 MB, four times the bound.
 */
const BYTES_PER_KEY = 250;

describe.each(ADAPTERS)('1,000,000 distinct keys through %s', (adapter) => {
  it(`heap stays under baseline + maxKeys × ${BYTES_PER_KEY} B; known clients stay limited`, async () => {
    const f = await runChild<FloodFigures>(
      'test/support/flood-keys-child.ts',
      [adapter, String(REQUESTS), String(MAX_KEYS)],
      { nodeArgs: ['--expose-gc', '--max-semi-space-size=32'], timeoutMs: 110_000 },
    );
    const growth = f.finalHeap - f.baselineHeap;
    console.log(
      `flood ${adapter}: ${JSON.stringify({
        requests: f.count,
        distinctKeys: f.distinctKeys,
        maxKeys: f.maxKeys,
        storedAtEnd: f.size,
        baselineHeapMB: +(f.baselineHeap / 1e6).toFixed(1),
        finalHeapMB: +(f.finalHeap / 1e6).toFixed(1),
        bytesPerStoredKey: Math.round(growth / f.size),
        boundMB: +((f.baselineHeap + MAX_KEYS * BYTES_PER_KEY) / 1e6).toFixed(1),
        knownClientChecks: f.checks.length,
        seconds: +(f.ms / 1000).toFixed(1),
      })}`,
    );

    expect(f.distinctKeys).toBeGreaterThanOrEqual(1_000_000);
    // Every flood request was a fresh key: admitted.
    expect(f.statuses).toEqual({ 200: REQUESTS });
    // The known clients used their burst of 2 before the flood...
    expect(f.warmUp).toEqual([
      [200, 200],
      [200, 200],
      [429, 429],
    ]);
    // ...and kept getting 429 all through it, over real HTTP.
    expect(f.checks).toHaveLength(20);
    expect(f.checks.filter((c) => c.single !== 429 || c.multi !== 429)).toEqual([]);
    // Every key really was stored (distinct), up to the cap, never past it.
    for (const c of f.checks) {
      expect(c.size).toBeGreaterThanOrEqual(Math.min(MAX_KEYS, c.keysSoFar));
      expect(c.size).toBeLessThanOrEqual(MAX_KEYS);
    }
    expect(f.size).toBe(MAX_KEYS);
    // Memory: bounded by maxKeys, not by the million keys seen.
    expect(f.finalHeap).toBeLessThanOrEqual(f.baselineHeap + MAX_KEYS * BYTES_PER_KEY);
  }, 120_000);
});
