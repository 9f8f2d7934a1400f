/**
 * A long outage: redis-server SIGKILLed for 12 s under load. The middleware asks the dead
 * backend once per cool-down — every request in flight when it first fails, then one probe per
 * cool-down while the others take the `onBackendError` way at once.
 */

import { BACKEND_COOL_DOWN_MS } from '@freqlimit/core/adapter';
import { describe, expect, it } from 'vitest';
import { checkFault } from './support/fault-checks.js';
import { type FaultOptions, runFault } from './support/fault-scenario.js';

describe('redis-server down for 12 s under load', () => {
  it("onBackendError 'reject' (Hono): one probe per cool-down, 503s meanwhile, never a hang", async () => {
    const options: FaultOptions = {
      adapter: 'hono',
      mode: 'reject',
      fault: 'kill',
      outageMs: 12_000,
      timeout: 250,
    };
    const run = await runFault(options);
    const figures = checkFault('SIGKILL for 12 s, reject (hono)', run, options);
    // 12 s of outage span at least two cool-downs: the first round, then probes, each alone.
    expect(figures.outageRounds.length).toBeGreaterThanOrEqual(2);
    expect(figures.outageRounds.slice(1)).toEqual(figures.outageRounds.slice(1).map(() => 1));
    const starts = figures.failedRounds.map((r) => r.at);
    for (let i = 1; i < starts.length; i++) {
      expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(BACKEND_COOL_DOWN_MS);
    }
  });
});
