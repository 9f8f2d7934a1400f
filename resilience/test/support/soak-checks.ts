/**
 * Flatness of a soak run, compared window against window, with the tolerances shared by the
 * short soak (in `pnpm test`) and the 60 s one (`pnpm test:soak`).
 *
 * - Live keys (`backend.size`): the load's window of keys slides, so without reclaiming expired
 *   keys the store would hold every key seen (up to 2,000 more a second); with it, it holds the
 *   keys used in about the last second (a key's state lasts ~1 s after its last request), a
 *   fraction of the keys seen whatever the load's rate.
 *   The live count moves with the load's rate, which the machine's other work pushes up and
 *   down, so it is compared per request a second (the "key lifetime", s): last ≤ 1.5 × first +
 *   0.5 s; and at the end the store holds fewer than half the keys seen.
 * - Heap after a full GC: last ≤ 1.1 × first + 1 MB (it holds the live keys and nothing per
 *   request; a leak of 100 B a request would add ~5 MB a minute at this load).
 * - RSS: last ≤ 1.15 × first + 10 MB (RSS also holds freed memory the allocator keeps, and the
 *   first window includes the warm-up).
 */

import { expect } from 'vitest';
import { keyLifetime, type SoakRun, windowMean } from './soak.js';

const MB = 1e6;

/** Asserts flatness between [first) and [last) windows (seconds); returns the figures. */
export function checkSoak(
  run: SoakRun,
  first: [number, number],
  last: [number, number],
): Record<string, unknown> {
  const mean = (field: 'rss' | 'heapUsed' | 'size', w: [number, number]) =>
    windowMean(run.samples, field, w[0], w[1]);
  const figures = {
    requests: run.requests,
    statuses: run.statuses,
    keysSeen: run.keysSeen,
    windows: { first, last },
    liveKeys: { first: Math.round(mean('size', first)), last: Math.round(mean('size', last)) },
    keyLifetimeS: {
      first: +keyLifetime(run.samples, ...first).toFixed(2),
      last: +keyLifetime(run.samples, ...last).toFixed(2),
    },
    heapMB: {
      first: +(mean('heapUsed', first) / MB).toFixed(1),
      last: +(mean('heapUsed', last) / MB).toFixed(1),
    },
    rssMB: {
      first: +(mean('rss', first) / MB).toFixed(1),
      last: +(mean('rss', last) / MB).toFixed(1),
    },
  };
  console.log(`soak: ${JSON.stringify(figures)}`);

  expect(Object.keys(run.statuses).filter((s) => s !== '200' && s !== '429')).toEqual([]);
  expect(run.requests).toBeGreaterThan(1_000);
  const lifetime = (w: [number, number]) => keyLifetime(run.samples, w[0], w[1]);
  expect(lifetime(last)).toBeLessThanOrEqual(1.5 * lifetime(first) + 0.5);
  expect(run.samples[run.samples.length - 1]!.size).toBeLessThan(run.keysSeen / 2);
  expect(mean('heapUsed', last)).toBeLessThanOrEqual(1.1 * mean('heapUsed', first) + 1 * MB);
  expect(mean('rss', last)).toBeLessThanOrEqual(1.15 * mean('rss', first) + 10 * MB);
  return figures;
}
