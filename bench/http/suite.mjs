/**
 * @module bench/http/suite
 * Throughput of each framework bare and with each limiter, over real HTTP: the servers in their
 * own processes (core 0), autocannon in another (core 1). Variants are interleaved in short
 * cycles, each in a rotated order, and every figure is a ratio to `bare` measured in the same
 * cycle (the median over cycles and rounds is reported). Before measuring, each limited
 * variant is started once with a tight limit and must really limit (429, or for
 * express-slow-down a delay it reports and the client sees); during the measurement nothing
 * may be held or rejected.
 */

import { fileURLToPath } from 'node:url';
import { startNode } from '../lib/proc.mjs';
import { median, rotation } from '../lib/stats.mjs';
import { SLOW_DOWN_DELAY_MS, VARIANTS } from './variants.mjs';

const SERVER = fileURLToPath(new URL('./server.mjs', import.meta.url));
const LOAD = fileURLToPath(new URL('./load.mjs', import.meta.url));

const TITLES = {
  express: 'Express 5, in memory',
  koa: 'Koa 3, in memory',
  hono: 'Hono 4 on @hono/node-server, in memory',
};

/**
 * @param {string} framework
 * @param {string} variant
 * @param {'open' | 'tight'} mode
 */
async function startServer(framework, variant, mode) {
  const server = startNode(SERVER, [framework, variant, mode], {
    role: 'server',
    deadlineMs: 180_000,
  });
  try {
    const { port } = await server.next('ready', 30_000);
    return { server, url: `http://127.0.0.1:${port}/` };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/**
 * Start the variant with a tight limit and check it limits.
 *
 * @param {string} framework
 * @param {string} variant
 * @returns {Promise<{ name: string, ok: boolean, detail: string }>}
 */
async function tightCheck(framework, variant) {
  const name = `http ${framework}/${variant}: ${variant === 'bare' ? 'answers 200 to every request' : 'really limits (tight config)'}`;
  const { server, url } = await startServer(framework, variant, 'tight');
  try {
    const answers = [];
    const n = variant === 'express-slow-down' ? 3 : 4;
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      const body = await res.text();
      answers.push({
        body,
        status: res.status,
        ms: performance.now() - t0,
        retryAfter: res.headers.get('retry-after'),
        rateLimit: res.headers.get('ratelimit'),
      });
    }
    const statuses = answers.map((a) => a.status).join(' ');
    let ok;
    let detail = `statuses ${statuses}`;
    if (variant === 'bare') {
      ok = answers.every((a) => a.status === 200);
    } else if (variant === 'express-slow-down') {
      // It must say it delayed the second and third requests, and the client must have waited
      // at least that long (a lower bound only: a busy machine can only make a wait longer).
      const said = answers.map((a) => {
        try {
          return JSON.parse(a.body).delay;
        } catch {
          return undefined;
        }
      });
      const delayed = answers.slice(1);
      ok =
        answers.every((a) => a.status === 200) &&
        said[0] === 0 &&
        said.slice(1).every((d) => d === SLOW_DOWN_DELAY_MS) &&
        delayed.every((a) => a.ms >= SLOW_DOWN_DELAY_MS * 0.9);
      detail += `, delays it applied ${said.join(' ')}, ms the client waited ${answers.map((a) => Math.round(a.ms)).join(' ')}`;
    } else {
      ok = answers[0].status === 200 && answers.some((a) => a.status === 429);
      if (variant === 'freqlimit') {
        const rejected = answers.find((a) => a.status === 429);
        ok &&= answers[0].rateLimit !== null && rejected?.retryAfter != null;
        detail += `, RateLimit "${answers[0].rateLimit}", Retry-After ${rejected?.retryAfter}`;
      }
    }
    return { name, ok, detail };
  } finally {
    await server.stop();
  }
}

/**
 * One round of a framework: a fresh server process per variant (all on the server core; idle
 * ones cost nothing), one load process, a discarded warm-up of each, then `cycles` cycles
 * that measure every variant in a rotated order — so bare and each limiter are measured
 * seconds apart, and the ratio of a cycle pairs figures taken under the same conditions. At
 * the end each server reports how many requests its handler served and how many were held.
 *
 * @param {string} framework
 * @param {number} round
 * @param {{ connections: number, seconds: number, warmupSeconds: number, pipelining: number, cycles: number }} cfg
 * @param {(variant: string, result: any) => void} record
 */
async function measureRound(framework, round, cfg, record) {
  const variants = VARIANTS[framework];
  const budgetMs =
    variants.length * (cfg.warmupSeconds + cfg.cycles * cfg.seconds) * 1000 + 120_000;
  const servers = new Map();
  const load = startNode(LOAD, [], { role: 'client', deadlineMs: budgetMs });
  try {
    await load.next('ready', 30_000);
    for (const variant of variants) {
      servers.set(variant, await startServer(framework, variant, 'open'));
    }
    const run = async (variant, seconds) => {
      load.send({
        type: 'run',
        url: servers.get(variant).url,
        connections: cfg.connections,
        seconds,
        pipelining: cfg.pipelining,
      });
      return (await load.next('result', seconds * 1000 + 60_000)).value;
    };
    const statsOf = async (variant) => {
      const { server } = servers.get(variant);
      server.send({ type: 'stats' });
      return server.next('stats', 10_000);
    };
    const ok = Object.fromEntries(variants.map((v) => [v, 0]));
    for (const variant of variants) ok[variant] += (await run(variant, cfg.warmupSeconds)).ok;
    for (let cycle = 0; cycle < cfg.cycles; cycle++) {
      for (const variant of rotation(variants, round + cycle)) {
        const before = await statsOf(variant);
        const r = await run(variant, cfg.seconds);
        const after = await statsOf(variant);
        ok[variant] += r.ok;
        // The server's own CPU time per request: what other processes on the machine take
        // from it shows in req/s but hardly here.
        const cpuPerRequest = (after.cpu - before.cpu) / Math.max(1, after.served - before.served);
        // Share of one core the server used: near 1 on a quiet machine when the server is the
        // bottleneck (well below 1 for bare means the load generator or the machine limits).
        const busy = (after.cpu - before.cpu) / (r.seconds * 1e6);
        record(variant, { ...r, cycle, cpuPerRequest, busy });
      }
    }
    const stats = {};
    for (const variant of variants)
      stats[variant] = { ...(await statsOf(variant)), ok: ok[variant] };
    return stats;
  } finally {
    await load.stop();
    for (const { server } of servers.values()) await server.stop();
  }
}

/**
 * @param {{ rounds: number, cycles: number, seconds: number, warmupSeconds: number,
 *   connections: number, pipelining: number, frameworks: Array<'express' | 'koa' | 'hono'> }} cfg
 * @param {(line: string) => void} log
 */
export async function httpSuite(cfg, log) {
  const checks = [];
  // The tight checks measure nothing (a delay is only bounded from below), so a framework's
  // variants are checked side by side.
  for (const framework of cfg.frameworks) {
    const done = await Promise.all(
      VARIANTS[framework].map((variant) =>
        tightCheck(framework, variant).catch((error) => ({
          name: `http ${framework}/${variant}: tight check`,
          ok: false,
          detail: String(error),
        })),
      ),
    );
    for (const check of done) {
      checks.push(check);
      log(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`);
    }
  }

  /** framework → variant → every measured run, in order */
  const results = Object.fromEntries(
    cfg.frameworks.map((f) => [f, Object.fromEntries(VARIANTS[f].map((v) => [v, []]))]),
  );
  const problems = new Map();
  const problem = (key, text) => problems.set(key, [...(problems.get(key) ?? []), text]);
  for (let round = 0; round < cfg.rounds; round++) {
    for (const framework of cfg.frameworks) {
      let stats;
      try {
        stats = await measureRound(framework, round, cfg, (variant, r) => {
          const key = `${framework}/${variant}`;
          const bad = [];
          if (r.non2xx > 0) bad.push(`${r.non2xx} non-2xx`);
          if (r.errors > 0) bad.push(`${r.errors} errors`);
          if (r.timeouts > 0) bad.push(`${r.timeouts} timeouts`);
          if (r.requests === 0) bad.push('no request completed');
          for (const b of bad) problem(key, `round ${round + 1}: ${b}`);
          results[framework][variant].push({ ...r, round });
          log(
            `  round ${round + 1}/${cfg.rounds} cycle ${r.cycle + 1}/${cfg.cycles} ${key.padEnd(34)} ${Math.round(r.rps).toLocaleString('en-US').padStart(8)} req/s ${r.cpuPerRequest.toFixed(1).padStart(6)} µs CPU/req, server busy ${Math.round(r.busy * 100)}%  p99 ${r.p99} ms${bad.length ? `  (${bad.join(', ')})` : ''}`,
          );
        });
      } catch (error) {
        checks.push({
          name: `http ${framework}: round ${round + 1} ran`,
          ok: false,
          detail: String(error),
        });
        log(`  FAIL http ${framework} round ${round + 1}: ${error}`);
        continue;
      }
      for (const [variant, st] of Object.entries(stats)) {
        const key = `${framework}/${variant}`;
        if (st.held > 0) problem(key, `round ${round + 1}: ${st.held} held`);
        if (st.served < st.ok) {
          problem(
            key,
            `round ${round + 1}: handler ran ${st.served} times for ${st.ok} 2xx answers`,
          );
        }
        if (!problems.has(key)) problems.set(key, []);
      }
    }
  }
  for (const [key, list] of problems) {
    checks.push({
      name: `http ${key}: nothing held or rejected under the open limit`,
      ok: list.length === 0,
      detail: list.join('; ') || 'every answer 2xx from the handler, none held',
    });
  }

  const surfaces = cfg.frameworks.map((framework) => {
    const byVariant = results[framework];
    const bare = byVariant.bare;
    const rows = VARIANTS[framework].map((variant) => {
      const runs = byVariant[variant];
      const ratios = [];
      const cpuRatios = [];
      for (const r of runs) {
        const b = bare.find((x) => x.round === r.round && x.cycle === r.cycle);
        if (b) {
          ratios.push(r.rps / b.rps);
          cpuRatios.push(b.cpuPerRequest / r.cpuPerRequest);
        }
      }
      return {
        name: variant,
        value: median(runs.map((r) => r.rps)),
        ratio: median(ratios),
        cpuPerRequest: median(runs.map((r) => r.cpuPerRequest)),
        cpuRatio: median(cpuRatios),
        busy: median(runs.map((r) => r.busy)),
        p99: median(runs.map((r) => r.p99)),
        samples: ratios.length,
      };
    });
    return {
      id: `http-${framework}`,
      title: TITLES[framework],
      unit: 'req/s',
      baseline: 'bare',
      rows,
      note: `autocannon, ${cfg.connections} connections${cfg.pipelining > 1 ? `, pipelining ${cfg.pipelining}` : ''}; per round a fresh server per variant, ${cfg.warmupSeconds} s warm-up each (discarded), then ${cfg.cycles} cycle(s) measuring every variant ${cfg.seconds} s in a rotated order; ratio = variant ÷ bare of the same cycle, median over ${cfg.rounds} round(s) × ${cfg.cycles} cycle(s); req/s = median; CPU = the server process's own CPU time per request (user + system), and its ratio bare ÷ variant — the same figure as req/s on a quiet machine, and far less moved by other processes on a busy one; busy = the share of one core the server used while measured (near 100% when the server is the bottleneck)`,
    };
  });
  return { surfaces, checks };
}
