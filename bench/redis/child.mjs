/**
 * @module bench/redis/child
 * One Redis measurement on ONE fresh ioredis connection, in a fresh process pinned to the
 * client core: `node child.mjs <json>` with
 *
 * - `{ impl, mode: 'hot' | 'many', port, inFlight, ms }` → ops/s with `inFlight` calls in
 *   flight for at least `ms` (after a warm-up of `ms / 2`), how many were limited (must be 0),
 *   and the CPU µs per call of the redis-server and of this client process;
 * - `{ impl, mode: 'memory', port, keys }` → `used_memory` bytes per key over `keys` keys;
 * - `{ impl, mode: 'check', port }` → proves the limiter limits.
 *
 * Each job starts with FLUSHALL, so no job sees another's keys.
 */

import { Redis } from 'ioredis';
import { reportResult } from '../lib/child.mjs';
import { IMPLS } from './impls.mjs';

/** Distinct keys of the `many` mode. */
const KEYS = 100_000;
/** No measurement makes more calls than this (a bound whatever the clock says). */
const MAX_CALLS = 20_000_000;

const {
  impl: name,
  mode,
  port,
  inFlight = 1,
  ms = 1000,
  keys: keyCount = KEYS,
} = JSON.parse(process.argv[2]);
const impl = IMPLS[name];
if (impl === undefined) throw new Error(`unknown Redis limiter ${name}`);

function makeKeys(n) {
  return Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
}

/** The server's CPU time so far, µs (user + system, main thread and all). */
async function serverCpu(redis) {
  const info = await redis.info('cpu');
  const field = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1]);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

async function usedMemory(redis) {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

/**
 * Calls `op` with `inFlight` calls in flight until `ms` have passed; returns the calls that
 * completed, the time, and how many answered "limited".
 */
async function drive(op, limited, keys, ms) {
  let next = 0;
  let calls = 0;
  let limitedCount = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  const worker = async () => {
    while (performance.now() < end && next < MAX_CALLS) {
      const key = keys[next++ % keys.length];
      const r = await op(key);
      calls++;
      if (limited(r)) limitedCount++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { calls, ms: performance.now() - t0, limited: limitedCount };
}

async function run(redis) {
  await redis.flushall();
  if (mode === 'check') {
    const limiter = await impl.create(redis, 'tight');
    const first = limiter.limited(await limiter.op('10.9.9.9'));
    const second = limiter.limited(await limiter.op('10.9.9.9'));
    return { first, second, keys: await redis.dbsize() };
  }
  if (mode === 'memory') {
    const limiter = await impl.create(redis, 'memory');
    await limiter.op('warm-up'); // load scripts and client-side state before the baseline
    await redis.flushall();
    const keys = makeKeys(keyCount);
    const before = await usedMemory(redis);
    const { limited } = await fill(limiter, keys);
    const after = await usedMemory(redis);
    const stored = await redis.dbsize();
    return { bytesPerKey: (after - before) / keyCount, stored, limited };
  }
  const limiter = await impl.create(redis, mode);
  const keys = mode === 'hot' ? ['10.0.0.1'] : makeKeys(KEYS);
  await drive(limiter.op, limiter.limited, keys, ms / 2);
  const server0 = await serverCpu(redis);
  const client0 = process.cpuUsage();
  const r = await drive(limiter.op, limiter.limited, keys, ms);
  const client = process.cpuUsage(client0);
  const server = (await serverCpu(redis)) - server0;
  return {
    opsPerSec: (r.calls / r.ms) * 1000,
    calls: r.calls,
    limited: r.limited,
    serverUsPerCall: server / r.calls,
    clientUsPerCall: (client.user + client.system) / r.calls,
  };
}

/** Every key once, 64 in flight. */
async function fill(limiter, keys) {
  let next = 0;
  let limited = 0;
  const worker = async () => {
    while (next < keys.length) {
      if (limiter.limited(await limiter.op(keys[next++]))) limited++;
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  return { limited };
}

reportResult(async () => {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    return await run(redis);
  } finally {
    redis.disconnect();
  }
});
