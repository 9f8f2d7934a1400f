// Side-by-side throughput of one reservation on the in-memory store: freqlimit's
// InMemoryBackend against rate-limiter-flexible's RateLimiterMemory, in the same process,
// interleaved rounds, reported as ratios (never as absolute pass/fail thresholds).
import { InMemoryBackend } from '@freqlimit/core';
import { RateLimiterMemory } from 'rate-limiter-flexible';

const KEYS = 10_000;
const OPS = 200_000;
const ROUNDS = 5;
const keys = Array.from({ length: KEYS }, (_, i) => `client:${i}`);
const params = { limit: 1_000_000, period: 1000, burst: 1_000_000 };

const cases = {
  'freqlimit reserveSync': () => {
    const b = new InMemoryBackend();
    return () => {
      for (let i = 0; i < OPS; i++) b.reserveSync(keys[i % KEYS], params);
    };
  },
  'freqlimit reserve (async)': () => {
    const b = new InMemoryBackend();
    return async () => {
      for (let i = 0; i < OPS; i++) await b.reserve(keys[i % KEYS], params);
    };
  },
  'rate-limiter-flexible RateLimiterMemory.consume': () => {
    const l = new RateLimiterMemory({ points: 1_000_000, duration: 1 });
    return async () => {
      for (let i = 0; i < OPS; i++) await l.consume(keys[i % KEYS]);
    };
  },
};

const best = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, make] of Object.entries(cases)) {
    const run = make();
    const t0 = performance.now();
    await run();
    const ms = performance.now() - t0;
    best[name] = Math.min(best[name] ?? Number.POSITIVE_INFINITY, ms);
  }
}
const baseline = best['rate-limiter-flexible RateLimiterMemory.consume'];
console.log(`${OPS} reservations over ${KEYS} keys, best of ${ROUNDS} interleaved rounds`);
for (const [name, ms] of Object.entries(best)) {
  const opsPerSec = Math.round((OPS / ms) * 1000);
  console.log(
    `${name.padEnd(48)} ${opsPerSec.toLocaleString('en').padStart(12)} ops/s  ${(baseline / ms).toFixed(2)}× rate-limiter-flexible`,
  );
}
