/**
 * @module bench/http/load
 * The load generator, in its own process (pinned to the other core than the servers). It stays
 * up for a round and runs autocannon on request: `{ type: 'run', url, connections, seconds,
 * pipelining }` → `{ type: 'result', value }` with the run's figures. Each run is bounded by its
 * duration (and every request by a 10 s timeout).
 */

import autocannon from 'autocannon';
import { send } from '../lib/child.mjs';

/** @param {{ url: string, connections: number, seconds: number, pipelining: number }} job */
function cannon(job) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: job.url,
        connections: job.connections,
        pipelining: job.pipelining,
        duration: job.seconds,
        timeout: 10,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

process.on('message', (job) => {
  if (job?.type !== 'run') return;
  cannon(job).then(
    (r) =>
      send({
        type: 'result',
        value: {
          requests: r.requests.total,
          seconds: r.duration,
          rps: r.requests.total / r.duration,
          ok: r['2xx'],
          non2xx: r.non2xx,
          errors: r.errors,
          timeouts: r.timeouts,
          p50: r.latency.p50,
          p99: r.latency.p99,
        },
      }),
    (error) => send({ type: 'error', message: error.stack ?? String(error) }),
  );
});
send({ type: 'ready' });
