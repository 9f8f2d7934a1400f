/**
 * A child process of redis-processes.test.ts: prints "ready", reads a start time (epoch ms)
 * from stdin, hammers one key with maxDelay 0 from then for DURATION ms, and prints what it
 * saw as one JSON line. The backend's local rejection cache is on (the default), so this also
 * checks it across processes.
 */

import { Redis } from 'ioredis';
import { RedisBackend } from '../src/redis.js';

const { REDIS_URL, KEY = 'shared', PREFIX = 'flproc:', DURATION = '2000' } = process.env;
const params = JSON.parse(process.env.PARAMS ?? '{"limit":100,"period":1000,"burst":5}');
const redis = new Redis(REDIS_URL!);
const backend = new RedisBackend(redis, { prefix: PREFIX });
await backend.reserve('warm-up', { limit: 1, period: 1 }); // connect and load the script first

// Ready: the parent answers with the start time (epoch ms) on stdin once every child is.
process.stdout.write('ready\n');
let line = '';
for await (const chunk of process.stdin) {
  line += String(chunk);
  if (line.includes('\n')) break;
}
const start = Number(line.trim());
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
  // Rejections are mostly answered by the local cache, with no I/O: pace the loop (about
  // 1,000 attempts/s, 10× the limit) so four of these do not starve each other of CPU.
  await new Promise((resolve) => setTimeout(resolve, 1));
}
redis.disconnect();
process.stdout.write(`${JSON.stringify({ allowed, attempts, first, last })}\n`);
