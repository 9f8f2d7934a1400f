/**
 * redis-server SIGSTOPped for 4 s under steady HTTP load, then SIGCONT
 * (it then runs the commands queued meanwhile), for each `onBackendError` mode, one adapter each.
 * The guarantees are in `support/fault-checks.ts`.
 */

import { describe, it } from 'vitest';
import { checkFault } from './support/fault-checks.js';
import { type FaultOptions, runFault } from './support/fault-scenario.js';

const cases: Array<[string, FaultOptions]> = [
  [
    "'allow' (Koa)",
    { adapter: 'koa', mode: 'allow', fault: 'stop', outageMs: 4_000, timeout: 250 },
  ],
  [
    "'reject' (Hono)",
    { adapter: 'hono', mode: 'reject', fault: 'stop', outageMs: 4_000, timeout: 250 },
  ],
  [
    'a fallback InMemoryBackend (Express)',
    { adapter: 'express', mode: 'fallback', fault: 'stop', outageMs: 4_000, timeout: 250 },
  ],
];

describe('redis-server SIGSTOPped for 4 s under load, then SIGCONT', () => {
  it.each(cases)('onBackendError %s', async (_label, options) => {
    const run = await runFault(options);
    checkFault(`SIGSTOP ${options.mode} (${options.adapter})`, run, options);
  });
});
