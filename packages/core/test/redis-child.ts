/**
 * A child process of redis-processes.test.ts: hammers one key with maxDelay 0 from START to
 * START + DURATION (epoch ms) and prints what it saw as one JSON line.
 */

import { Redis } from 'ioredis';
import { RedisBackend } from '../src/redis.js';

const { REDIS_URL, KEY = 'shared', PREFIX = 'flproc:', START, DURATION = '2000' } = process.env;
const params = JSON.parse(process.env.PARAMS ?? '{"limit":100,"period":1000,"burst":5}');
const redis = new Redis(REDIS_URL!);
const backend = new RedisBackend(redis, { prefix: PREFIX });
await backend.reserve('warm-up', { limit: 1, period: 1 }); // connect and load the script first

const start = Number(START);
const end = start + Number(DURATION);
while (Date.now() < start) await new Promise((r) => setTimeout(r, 1));

let allowed = 0;
let attempts = 0;
const first = Date.now();
let last = first;
while (Date.now() < end) {
  const r = await backend.reserve(KEY, params, { maxDelay: 0 });
  last = Date.now();
  attempts++;
  if (r.allowed) allowed++;
}
redis.disconnect();
process.stdout.write(`${JSON.stringify({ allowed, attempts, first, last })}\n`);
