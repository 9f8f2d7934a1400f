/**
 * redis-server SIGKILLed under steady HTTP load and a new one started on the same port 3 s
 * later (empty, like a restarted cache), for each `onBackendError` mode, one adapter each.
 * The guarantees are in `support/fault-checks.ts`.
 */

import { describe, it } from 'vitest';
import { checkFault } from './support/fault-checks.js';
import { type FaultOptions, runFault } from './support/fault-scenario.js';

const cases: Array<[string, FaultOptions]> = [
  [
    "'allow' (Express)",
    { adapter: 'express', mode: 'allow', fault: 'kill', outageMs: 3_000, timeout: 250 },
  ],
  [
    "'reject' (Koa)",
    { adapter: 'koa', mode: 'reject', fault: 'kill', outageMs: 3_000, timeout: 250 },
  ],
  [
    'a fallback InMemoryBackend (Hono)',
    { adapter: 'hono', mode: 'fallback', fault: 'kill', outageMs: 3_000, timeout: 250 },
  ],
];

describe('redis-server SIGKILLed under load, back on the same port 3 s later', () => {
  it.each(cases)('onBackendError %s', async (_label, options) => {
    const run = await runFault(options);
    checkFault(`SIGKILL ${options.mode} (${options.adapter})`, run, options);
  });
});
