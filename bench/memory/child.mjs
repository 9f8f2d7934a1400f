/**
 * @module bench/memory/child
 * One in-process measurement of a memory store, in a fresh process (its own heap and JIT, so
 * no store warms up or pollutes another): `node --expose-gc child.mjs <json>` with
 *
 * - `{ store, mode: 'hot' | 'many', ms }` → calls per CPU second of this process: batches of
 *   {@link BATCH} calls until `ms` of CPU time (after a warm-up of `ms / 2`), on one key or
 *   cycling over {@link KEYS} keys. The process is alone on its core, so on a quiet machine
 *   this is calls per second; on a busy one, time stolen by other processes does not count;
 * - `{ store, mode: 'heap', keys }` → heap bytes per live key: `keys` distinct keys reserved
 *   once each with a limit that keeps them alive, measured after `global.gc()`;
 * - `{ store, mode: 'check' }` → proves the store limits (a second call over a limit of one).
 */

import { reportResult } from '../lib/child.mjs';
import { STORES } from './stores.mjs';

/** Distinct keys of the `many` mode. */
const KEYS = 100_000;
/** Calls per timed batch. */
const BATCH = 10_000;
/** A measurement never takes more batches than this (a bound on time for a broken clock). */
const MAX_BATCHES = 100_000;

const {
  store: name,
  mode,
  ms: targetMs = 500,
  keys: keyCount = KEYS,
} = JSON.parse(process.argv[2]);
const store = STORES[name];
if (store === undefined) throw new Error(`unknown store ${name}`);

/** Client-address-like keys, built before any measurement. */
function makeKeys(n) {
  return Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
}

function gc() {
  if (typeof global.gc !== 'function') throw new Error('run me with --expose-gc');
  for (let i = 0; i < 3; i++) global.gc();
}

async function run() {
  if (mode === 'check') {
    const instance = store.create('tight');
    const first = await instance.limited('check-key');
    const second = await instance.limited('check-key');
    await instance.close?.();
    return { first, second };
  }
  if (mode === 'heap') {
    const keys = makeKeys(keyCount);
    gc();
    const before = process.memoryUsage().heapUsed;
    const instance = store.create('alive');
    await instance.fill(keys);
    gc();
    const after = process.memoryUsage().heapUsed;
    const live = instance.size?.() ?? keyCount;
    await instance.close?.();
    return { bytesPerKey: (after - before) / keyCount, live };
  }
  const keys = mode === 'hot' ? ['10.0.0.1'] : makeKeys(KEYS);
  const instance = store.create(mode);
  let offset = 0;
  /** Runs batches for at least `ms` of CPU time; returns [calls, wall ms, CPU ms]. */
  const timed = async (ms) => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let calls = 0;
    let cpu = 0;
    for (let b = 0; b < MAX_BATCHES && cpu < ms; b++) {
      await instance.loop(keys, BATCH, offset);
      offset = (offset + BATCH) % keys.length;
      calls += BATCH;
      const c = process.cpuUsage(c0);
      cpu = (c.user + c.system) / 1000;
    }
    return [calls, performance.now() - t0, cpu];
  };
  await timed(targetMs / 2);
  const [calls, wall, cpu] = await timed(targetMs);
  await instance.close?.();
  return {
    opsPerSec: (calls / cpu) * 1000,
    opsPerWallSec: (calls / wall) * 1000,
    calls,
    cpuMs: cpu,
  };
}

reportResult(run);
