/**
 * A child process of memory-heap.test.ts, run with `--expose-gc`: floods an InMemoryBackend
 * with distinct keys under one clock scenario and prints, as one JSON line, how much the heap
 * grew (after GC) and how much of that the key strings themselves account for.
 */

import { InMemoryBackend } from '../src/backends/memory.js';
import { FreqLimitParams } from '../src/params.js';

declare const gc: () => void;

const MODE = process.env.MODE ?? 'frozen';
const KEYS = Number(process.env.KEYS ?? 2_000_000);
const MAX_KEYS = Number(process.env.MAX_KEYS ?? 100_000);

function heap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** What `count` retained key strings like ours weigh, measured the same way. */
function keyStringBytes(count: number): number {
  const before = heap();
  const keep: string[] = new Array(count);
  for (let i = 0; i < count; i++) keep[i] = `client:${KEYS - count + i}`;
  const after = heap();
  return after - before - 8 * count - (keep.length > 0 ? 16 : 0);
}

const short = new FreqLimitParams({ limit: 1, period: 1000 });
const hour = (i: number) =>
  new FreqLimitParams({ limit: 1, period: 3_600_000 - (i % 36_000) * 100 });

const before = heap();
let now = 1000;
const backend = new InMemoryBackend({ maxKeys: MAX_KEYS, clock: () => now });
for (let i = 0; i < KEYS; i++) {
  switch (MODE) {
    case 'frozen': // one instant: every key expires in the same bucket
      backend.reserveSync(`client:${i}`, short);
      break;
    case 'advancing': // 100 new keys per ms
      now = 1000 + i / 100;
      backend.reserveSync(`client:${i}`, short);
      break;
    case 'jumping': // the clock leaps ahead every 100,000 keys
      now = 1000 + Math.floor(i / 100_000) * 1e7;
      backend.reserveSync(`client:${i}`, short);
      break;
    case 'spread': // expiries spread over an hour: many buckets with few keys each
      now = 1000 + i / 10;
      backend.reserveSync(`client:${i}`, hour(i));
      break;
    case 'reset': // every key reset right after its reservation, at a frozen instant
      backend.reserveSync(`client:${i}`, short);
      backend.resetSync(`client:${i}`);
      break;
    case 'hot': // one key whose TAT moves through a new bucket at every call
      backend.reserveSync('hot', short);
      break;
    default:
      throw new Error(`unknown MODE ${MODE}`);
  }
}
const grown = heap() - before;
const stored = backend.size;
process.stdout.write(
  `${JSON.stringify({ mode: MODE, stored, grown, keyStrings: keyStringBytes(stored) })}\n`,
);
