/**
 * @module bench/hold/client
 * Sends `requests` GETs to `url` all at once (one connection each) and reports their statuses
 * and how many carried `Server-Timing: freqlimit;dur=…`. Bounded: every request times out.
 */

import { Agent, request } from 'node:http';
import { reportResult } from '../lib/child.mjs';

const { url, requests, timeoutMs } = JSON.parse(process.argv[2]);
const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });

function get() {
  return new Promise((resolve) => {
    const req = request(url, { agent, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({
          status: res.statusCode,
          timed: /freqlimit;dur=/.test(res.headers['server-timing'] ?? ''),
        }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ status: 0, error: error.message }));
    req.end();
  });
}

reportResult(async () => {
  const t0 = performance.now();
  const answers = await Promise.all(Array.from({ length: requests }, get));
  const statuses = {};
  for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  return {
    statuses,
    serverTiming: answers.filter((a) => a.timed).length,
    errors: [...new Set(answers.filter((a) => a.error).map((a) => a.error))].slice(0, 3),
    ms: performance.now() - t0,
  };
});
