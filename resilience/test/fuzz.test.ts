/**
 * Fuzzing the middleware through each adapter over real HTTP (fast-check, bounded runs):
 *
 * - random valid option sets and request sequences: every answer is 200, 429 or 503 exactly as
 *   an independent GCRA model says (the backends run on a frozen clock, so the model is exact),
 *   503 only with `onBackendError: 'reject'` and a failing backend (a real ioredis client on a
 *   port where nothing listens), and never an unhandled rejection;
 * - random invalid options: `freqLimit()` throws a TypeError or RangeError naming the option.
 */

import { once } from 'node:events';
import { createServer } from 'node:net';
import type { FreqLimitBackend, HeadersMode } from '@freqlimit/core';
import { InMemoryBackend } from '@freqlimit/core';
import { RedisBackend } from '@freqlimit/core/redis';
import { freqLimit as expressLimit } from '@freqlimit/express';
import { freqLimit as honoLimit } from '@freqlimit/hono';
import { freqLimit as koaLimit } from '@freqlimit/koa';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADAPTERS, type AdapterName, serveApp } from './support/apps.js';

/** A port where nothing listens: found free, then closed again. */
async function deadPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

let dead: Redis;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
const consoleError = console.error;
beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  // The middleware reports a failing backend on console.error (once a minute per instance).
  console.error = () => {};
  dead = new Redis(await deadPort(), '127.0.0.1', { retryStrategy: () => 50 });
  dead.on('error', () => {});
});
afterAll(() => {
  dead?.disconnect();
  console.error = consoleError;
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

type Mode = 'allow' | 'reject' | 'fallback';
interface Case {
  limit: number;
  period: number;
  burst: number;
  cost: number;
  maxDelay: number;
  headers: HeadersMode;
  dryRun: boolean;
  failing: boolean;
  mode: Mode;
  requests: string[];
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  limit: fc.integer({ min: 1, max: 50 }),
  period: fc.oneof(
    fc.integer({ min: 50, max: 120_000 }),
    fc.double({ min: 1, max: 1e5, noNaN: true }),
  ),
  burst: fc.integer({ min: 1, max: 5 }),
  cost: fc.constantFrom(1, 1, 1, 0.5, 2, 2.5, 3, 7),
  maxDelay: fc.constantFrom(0, 0, 5, 30),
  headers: fc.constantFrom<HeadersMode>('draft-10', 'draft-8', 'draft-6', 'legacy', false),
  dryRun: fc.boolean(),
  failing: fc.boolean(),
  mode: fc.constantFrom<Mode>('allow', 'reject', 'fallback'),
  requests: fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 12 }),
});

/** What one request should get, by an independent GCRA (the spec's formula), on a clock at 0. */
interface Expected {
  status: number;
  held: boolean;
  retryAfter: string | null;
  headers: boolean;
}

function model(c: Case): Expected[] {
  const T = c.period / c.limit;
  const tau = (c.burst - 1) * T;
  const tat = new Map<string, number>();
  const noise = 1e-6;
  return c.requests.map((key) => {
    if (c.failing && c.mode !== 'fallback') {
      return {
        status: c.mode === 'reject' && !c.dryRun ? 503 : 200,
        held: false,
        retryAfter: null,
        headers: false,
      };
    }
    const headers = c.headers !== false && !c.dryRun;
    if (c.cost > c.burst) {
      return { status: c.dryRun ? 200 : 429, held: false, retryAfter: null, headers };
    }
    const base = Math.max(tat.get(key) ?? 0, 0);
    const newTat = base + c.cost * T;
    let delay = base + c.cost * T - (tau + T);
    if (delay <= noise) delay = 0;
    if (delay > c.maxDelay) {
      const retryAfter = delay - c.maxDelay;
      const seconds = Math.max(1, Math.ceil(retryAfter / 1000 - 1e-9));
      return {
        status: c.dryRun ? 200 : 429,
        held: false,
        retryAfter: c.dryRun ? null : String(seconds),
        headers,
      };
    }
    tat.set(key, newTat);
    return { status: 200, held: delay > 0 && !c.dryRun, retryAfter: null, headers };
  });
}

const frozen = () => new InMemoryBackend({ clock: () => 0 });
const RATE_LIMIT_FIELDS: Record<Exclude<HeadersMode, false>, string> = {
  'draft-10': 'ratelimit-policy',
  'draft-8': 'ratelimit-policy',
  'draft-6': 'ratelimit-limit',
  legacy: 'x-ratelimit-limit',
};

async function runCase(adapter: AdapterName, c: Case): Promise<void> {
  const backend: FreqLimitBackend = c.failing
    ? new RedisBackend(dead, { timeout: 50, prefix: 'fuzz:' })
    : frozen();
  const app = await serveApp(adapter, {
    options: {
      limit: c.limit,
      period: c.period,
      burst: c.burst,
      cost: c.cost,
      maxDelay: c.maxDelay,
      headers: c.headers,
      dryRun: c.dryRun,
      backend,
      onBackendError: c.mode === 'fallback' ? frozen() : c.mode,
    },
    key: (view) => view.header('x-key'),
  });
  try {
    const expected = model(c);
    for (const [i, key] of c.requests.entries()) {
      const res = await fetch(app.url, {
        headers: { 'x-key': key },
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer();
      const want = expected[i]!;
      const got = {
        status: res.status,
        held: (res.headers.get('server-timing') ?? '').includes('freqlimit'),
        retryAfter: res.headers.get('retry-after'),
        headers: c.headers !== false && res.headers.get(RATE_LIMIT_FIELDS[c.headers]) !== null,
      };
      expect(got, `request ${i} (${key}) of ${JSON.stringify(c)}`).toEqual(want);
    }
    expect(app.errors).toEqual([]);
  } finally {
    await app.close();
  }
}

describe.each(ADAPTERS)('fuzz: %s', (adapter) => {
  it('random options and request sequences: 200 / 429 / 503 exactly as the model says', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, (c) => runCase(adapter, c)),
      { numRuns: 40, interruptAfterTimeLimit: 40_000 },
    );
  }, 60_000);

  it('random invalid options fail at construction with a TypeError or RangeError naming the option', () => {
    const make: (options: never) => unknown =
      adapter === 'express' ? expressLimit : adapter === 'koa' ? koaLimit : honoLimit;
    // (A function is valid here: a dynamic limit.)
    const notNumber = fc.constantFrom<unknown>('10', true, {}, []);
    const invalid: Record<string, fc.Arbitrary<unknown>> = {
      limit: fc.oneof(
        fc.constantFrom<unknown>(0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, null),
        fc.integer({ max: 0 }),
        fc.double({ min: 1.01, max: 1e6, noInteger: true, noNaN: true }),
        notNumber,
      ),
      period: fc.oneof(
        fc.constantFrom<unknown>(0, Number.NaN, Number.POSITIVE_INFINITY, null),
        fc.double({ max: 0, noNaN: true }),
        notNumber,
      ),
      burst: fc.oneof(
        fc.constantFrom<unknown>(0, 1.5, Number.NaN, null),
        fc.integer({ max: 0 }),
        notNumber,
      ),
      maxDelay: fc.oneof(
        fc.constantFrom<unknown>(Number.NaN, Number.NEGATIVE_INFINITY),
        fc.double({ max: -1e-9, noNaN: true }),
        notNumber,
      ),
      cost: fc.oneof(
        fc.constantFrom<unknown>(0, Number.NaN, Number.POSITIVE_INFINITY),
        fc.double({ max: 0, noNaN: true }),
        fc.constantFrom<unknown>('1', true, {}),
      ),
      maxHeld: fc.oneof(
        fc.constantFrom<unknown>(-1, 1.5, Number.NaN),
        fc.integer({ max: -1 }),
        fc.constantFrom<unknown>('5', true),
      ),
      headers: fc.oneof(
        fc.string().filter((s) => !RATE_LIMIT_FIELDS[s as 'legacy']),
        fc.constantFrom<unknown>(true, 1, {}),
      ),
      name: fc.oneof(
        fc.constantFrom<unknown>('', 'ä', 'tab\there', 'new\nline', 5, {}),
        fc.string({ minLength: 1 }).map((s) => `${s}\u00e9`),
      ),
      onBackendError: fc.constantFrom<unknown>('ignore', 'fallback', 42, {}, true),
      backend: fc.constantFrom<unknown>({}, 42, 'redis', { reserve: () => {} }),
      keyFn: fc.constantFrom<unknown>('ip', 42, {}),
      skip: fc.constantFrom<unknown>(true, 'x', 1),
      onRejected: fc.constantFrom<unknown>('x', 429, {}),
      onDecision: fc.constantFrom<unknown>('x', 1, {}),
      dryRun: fc.constantFrom<unknown>('yes', 1, 0, {}),
      limits: fc.constantFrom<unknown>(
        [],
        'x',
        {},
        [42],
        [null],
        [{ limit: 1, period: 1, key: 'x' }],
        [{ limit: 0, period: 1 }],
        [
          { limit: 1, period: 1 },
          { limit: 1, period: -1 },
        ],
      ),
    };
    const unknownName = fc
      .string({ minLength: 1, maxLength: 12 })
      .filter((s) => !(s in invalid) && s !== '__proto__');
    const arb = fc.oneof(
      fc
        .constantFrom(...Object.keys(invalid))
        .chain((option) => invalid[option]!.map((value) => ({ option, value }))),
      unknownName.map((option) => ({ option, value: 1 as unknown })),
    );
    fc.assert(
      fc.property(arb, ({ option, value }) => {
        const options: Record<string, unknown> =
          option === 'limits' ? { limits: value } : { limit: 10, period: 1_000, [option]: value };
        let thrown: unknown;
        try {
          make(options as never);
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `${option}: ${String(value)}`).toBeDefined();
        expect(thrown instanceof TypeError || thrown instanceof RangeError).toBe(true);
        const message = (thrown as Error).message;
        // An entry of `limits` is named by its index, e.g. "limits[1]: `period` must be …".
        if (option === 'limits') expect(message).toMatch(/`limits|limits\[\d+\]/);
        else expect(message).toContain(`\`${option}`);
      }),
      { numRuns: 300 },
    );
  });

  it('backend: null means not given (it used to crash with a WeakMap TypeError)', async () => {
    const app = await serveApp(adapter, {
      options: { limit: 1, period: 60_000, maxDelay: 0, backend: null as never },
      key: () => 'k',
    });
    try {
      expect((await fetch(app.url)).status).toBe(200);
      expect((await fetch(app.url)).status).toBe(429);
    } finally {
      await app.close();
    }
  });
});
