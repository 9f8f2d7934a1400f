/**
 * @module bench/hold/suite
 * Hold precision: `requests` requests from one client held at once by a freqlimit middleware
 * over real HTTP (server on core 0, client on core 1), and how late each handler starts
 * against its emission time (reservation time + delay): p50, p99, max.
 */

import { fileURLToPath } from 'node:url';
import { startNode } from '../lib/proc.mjs';
import { quantile } from '../lib/stats.mjs';

const SERVER = fileURLToPath(new URL('./server.mjs', import.meta.url));
const CLIENT = fileURLToPath(new URL('./client.mjs', import.meta.url));

async function once(framework, requests, spreadMs, primeMs) {
  const server = startNode(
    SERVER,
    [framework, String(requests), String(spreadMs), String(primeMs)],
    {
      role: 'server',
      deadlineMs: primeMs + spreadMs + 120_000,
    },
  );
  try {
    const { port } = await server.next('ready', 30_000);
    const client = startNode(
      CLIENT,
      [
        JSON.stringify({
          url: `http://127.0.0.1:${port}/`,
          requests,
          timeoutMs: primeMs + spreadMs + 30_000,
        }),
      ],
      { role: 'client', deadlineMs: primeMs + spreadMs + 60_000 },
    );
    let answers;
    try {
      answers = (await client.next('result')).value;
    } finally {
      await client.stop();
    }
    server.send({ type: 'stats' });
    const stats = await server.next('stats', 10_000);
    return { answers, ...stats };
  } finally {
    await server.stop();
  }
}

/**
 * @param {{ requests: number, spreadMs: number, primeMs: number, frameworks: string[] }} cfg
 * @param {(line: string) => void} log
 */
export async function holdSuite(cfg, log) {
  const checks = [];
  const rows = [];
  for (const framework of cfg.frameworks) {
    const name = `hold ${framework}: ${cfg.requests} requests held at once, each answered 200 after its delay`;
    try {
      const r = await once(framework, cfg.requests, cfg.spreadMs, cfg.primeMs);
      const sorted = [...r.lateness].sort((a, b) => a - b);
      const row = {
        name: framework,
        label: `@freqlimit/${framework}`,
        value: quantile(sorted, 0.99),
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
        max: sorted.at(-1),
        min: sorted[0],
        held: r.held,
        early: r.early,
        unstamped: r.unstamped,
      };
      rows.push(row);
      const ok200 = r.answers.statuses[200] ?? 0;
      const ok =
        ok200 === cfg.requests &&
        r.lateness.length === cfg.requests &&
        r.held === cfg.requests &&
        r.answers.serverTiming === r.held;
      checks.push({
        name,
        ok,
        detail: `statuses ${JSON.stringify(r.answers.statuses)}, handler ran ${r.lateness.length}×, held ${r.held}, Server-Timing on ${r.answers.serverTiming}, ${r.early} released before the last arrived${r.answers.errors.length ? `, errors ${r.answers.errors.join('; ')}` : ''}`,
      });
      log(
        `  ${ok ? 'ok  ' : 'FAIL'} hold ${framework}: p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, max ${row.max.toFixed(2)} ms, min ${row.min.toFixed(2)} ms (held ${r.held}/${cfg.requests}, ${r.early} released before the last arrived${r.unstamped ? `, ${r.unstamped} timed from arrival` : ''})`,
      );
    } catch (error) {
      checks.push({ name, ok: false, detail: String(error) });
      log(`  FAIL hold ${framework}: ${error}`);
    }
  }
  return {
    checks,
    surfaces: [
      {
        id: 'hold',
        title: `Hold precision, ${cfg.requests.toLocaleString('en-US')} requests held at once on one key`,
        unit: 'ms late',
        lowerIsBetter: true,
        rows,
        note: `limit ${cfg.requests} per ${cfg.spreadMs} ms, burst 1, all sent at once over separate connections; the key is reserved ${cfg.primeMs} ms ahead when the first arrives, so all are held before the first is due; lateness = handler start − (reservation time + delay), on the server's performance.now()`,
      },
    ],
  };
}
