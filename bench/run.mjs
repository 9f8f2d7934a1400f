/**
 * @module bench/run
 * `pnpm bench [--quick] [--write] [--only=http,memory,redis,hold] [--rounds=N] [--note=TEXT]
 *   [--connections=N] [--pipelining=N]`, or `node bench/run.mjs --render=bench/results/full.json`
 *   to rewrite BENCHMARKS.md, the chart and the README summary from a saved run without measuring.
 *
 * Measures freqlimit and its peers in the same run, under the same conditions, and reports
 * every figure as a ratio to a baseline measured in that run (absolute numbers drift between
 * runs on a shared machine; ratios inside one run much less). Surfaces:
 *
 * - `http`: Express, Koa and Hono over real HTTP (server and autocannon in separate processes,
 *   pinned to different cores), bare vs each limiter;
 * - `memory`: in-process stores against a hand-written `Map` GCRA, and heap per live key;
 * - `redis`: Redis limiters on one ioredis connection against a minimal GCRA script, Redis
 *   memory per key, and redis-benchmark as the server's limit;
 * - `hold`: how late held requests start against their emission time.
 *
 * Each surface also checks that every limiter really limits and that nothing is held or
 * rejected while measuring. The run exits 1 when a check fails or a surface crashes — never
 * because a ratio is low. `--quick` runs every surface with fewer and shorter rounds (about a
 * minute), so the bench cannot rot; `--write` updates BENCHMARKS.md, bench/benchmarks.svg and
 * the README's summary.
 */

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { holdSuite } from './hold/suite.mjs';
import { httpSuite } from './http/suite.mjs';
import { CORES, PINNED, runningPids } from './lib/proc.mjs';
import { chartSvg, summaryTable, surfaceTable } from './lib/report.mjs';
import { memorySuite } from './memory/suite.mjs';
import { redisSuite } from './redis/suite.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = fileURLToPath(new URL('.', import.meta.url));
const SUITES = ['http', 'memory', 'redis', 'hold'];

function parseArgs(argv) {
  const args = {
    quick: false,
    write: false,
    only: SUITES,
    rounds: undefined,
    note: '',
    connections: undefined,
    pipelining: undefined,
    render: undefined,
  };
  for (const arg of argv) {
    const [flag, value] = arg.split(/=(.*)/s);
    if (flag === '--') continue;
    if (flag === '--quick') args.quick = true;
    else if (flag === '--write') args.write = true;
    else if (flag === '--only') args.only = value.split(',').filter(Boolean);
    else if (flag === '--rounds') args.rounds = Number(value);
    else if (flag === '--note') args.note = value ?? '';
    else if (flag === '--connections') args.connections = Number(value);
    else if (flag === '--pipelining') args.pipelining = Number(value);
    else if (flag === '--render') args.render = value;
    else if (flag === '--help' || flag === '-h') {
      console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]);
      process.exit(0);
    } else throw new Error(`bench: unknown argument ${arg} (try --help)`);
  }
  for (const s of args.only) {
    if (!SUITES.includes(s)) throw new Error(`bench: --only takes ${SUITES.join(',')}, got ${s}`);
  }
  for (const flag of ['rounds', 'connections', 'pipelining']) {
    const v = args[flag];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
      throw new Error(`bench: --${flag} must be an integer ≥ 1`);
    }
  }
  return args;
}

/** Sizes of a full run and of a quick one. */
function config({ quick, rounds, connections, pipelining }) {
  const c = quick
    ? {
        http: {
          rounds: 1,
          cycles: 1,
          seconds: 0.75,
          warmupSeconds: 0.4,
          connections: 50,
          pipelining: 1,
        },
        memory: { rounds: 1, ms: 100, heapKeys: 20_000 },
        redis: { rounds: 1, ms: 200, memoryKeys: 10_000, benchmarkRequests: 20_000 },
        hold: { requests: 200, spreadMs: 400, primeMs: 500 },
      }
    : {
        http: {
          rounds: 2,
          cycles: 5,
          seconds: 2,
          warmupSeconds: 2,
          connections: 100,
          pipelining: 1,
        },
        memory: { rounds: 7, ms: 300, heapKeys: 100_000 },
        redis: { rounds: 5, ms: 1000, memoryKeys: 100_000, benchmarkRequests: 200_000 },
        hold: { requests: 1000, spreadMs: 2000, primeMs: 1000 },
      };
  if (rounds !== undefined) for (const s of ['http', 'memory', 'redis']) c[s].rounds = rounds;
  if (connections !== undefined) c.http.connections = connections;
  if (pipelining !== undefined) c.http.pipelining = pipelining;
  c.http.frameworks = ['express', 'koa', 'hono'];
  c.hold.frameworks = ['express', 'koa', 'hono'];
  return c;
}

function versionOf(name) {
  try {
    const file = fileURLToPath(new URL(`./node_modules/${name}/package.json`, import.meta.url));
    return JSON.parse(readFileSync(file, 'utf8')).version;
  } catch {
    return 'missing';
  }
}

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
  } catch {
    return 'unknown';
  }
}

function meta(args, cfg) {
  const peers = [
    'express',
    'koa',
    'hono',
    '@hono/node-server',
    'express-rate-limit',
    'express-slow-down',
    'rate-limiter-flexible',
    'rate-limit-redis',
    'koa-ratelimit',
    'hono-rate-limiter',
    'ioredis',
    'autocannon',
  ];
  let redis = 'not run';
  try {
    redis = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
  } catch {}
  return {
    date: new Date().toISOString(),
    command: `pnpm bench ${process.argv
      .slice(2)
      .filter((a) => !a.startsWith('--note'))
      .join(' ')}`.trim(),
    quick: args.quick,
    note: args.note,
    commit: gitCommit(),
    node: process.version,
    os: `${platform()} ${release()} ${arch()}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: CORES,
    pinned: PINNED,
    loadBefore: loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
    redis,
    versions: Object.fromEntries(peers.map((p) => [p, versionOf(p)])),
    config: cfg,
  };
}

function markdown(results) {
  const m = results.meta;
  const failed = results.checks.filter((c) => !c.ok);
  const surfaces = results.surfaces;
  const out = [
    '# Benchmarks',
    '',
    `Written by \`pnpm bench --write\` on ${m.date.slice(0, 10)} (commit ${m.commit}).${m.note ? ` **${m.note}**` : ''}`,
    '',
    'Every figure is a ratio to a baseline measured **in the same run, under the same conditions**:',
    'absolute numbers drift between runs on a shared machine, ratios inside one run much less.',
    'Reproduce with `pnpm install && pnpm bench` (about 12 minutes; `pnpm bench --write` also',
    'rewrites this page, `bench/benchmarks.svg` and the summary in the README). `pnpm bench --quick`',
    'runs every surface once, briefly, as CI does: its figures are too short to quote.',
    '',
    '![freqlimit and its peers, ratios inside one run](bench/benchmarks.svg)',
    '',
    '## Summary: the goals of issue 8',
    '',
    summaryTable(surfaces),
    '',
    '## How it is measured',
    '',
    '- **HTTP**: each variant runs in its own server process, pinned with `taskset` to core 0; the load',
    '  generator (autocannon, 100 connections, no pipelining) runs in another process on core 1. Per',
    '  round every variant gets a fresh server and a discarded warm-up, then short measurements cycle',
    '  through the variants in a rotated order, so bare and each limiter are measured seconds apart and',
    '  each ratio pairs figures of the same cycle (median over cycles and rounds). Bare and limited',
    '  servers use the same framework modules, route and handler; each limiter is mounted as its docs',
    '  show, with its defaults (headers included) and limits so high that nothing is ever held or',
    '  rejected: limited ÷ bare is the limiter’s pure overhead. Besides req/s, each server reports its',
    '  own CPU time per request: its ratio (bare ÷ limited) equals the req/s ratio on a quiet machine',
    '  and is far less moved by other processes on a busy one; “server busy” is the share of a core the',
    '  server used (near 100% when the server, not the load generator, is the bottleneck). Every',
    '  request comes from 127.0.0.1, so every limiter sees one hot key.',
    '- **Limits really limit**: before measuring, every limited variant (HTTP, memory and Redis) is run',
    '  with a limit of one or two and must answer 429 (express-slow-down: must delay); during',
    '  measurement every answer must be 2xx and nothing held. A failed check fails the run (and CI).',
    '- **In-process stores**: each store in a fresh process (own heap and JIT) alone on one core,',
    '  calls in batches until a fixed CPU time after a warm-up, counted per CPU second of that process',
    '  (calls per second on a quiet machine); sync stores are compared with a hand-written GCRA on a',
    '  `Map`, awaited ones with the same function awaited, measured in the same round. Heap per live',
    '  key: heap used after `global.gc()` (with `--expose-gc`) minus before, over distinct keys that',
    '  are all still live (key strings allocated before).',
    '- **Redis**: a redis-server the bench starts itself (127.0.0.1, free port, no persistence, stopped',
    '  by pid), pinned to one core, every client in a fresh process on the other with ONE ioredis',
    '  connection, FLUSHALL before each measurement. The floor is a minimal GCRA Lua script (TIME, GET,',
    '  SET PX) by EVALSHA; redis-benchmark runs the same script on one connection with 1 or 64 pipelined',
    '  as the server’s own limit. Each run also reports redis-server’s CPU µs per call (`INFO cpu`) and',
    '  the Node client’s (`process.cpuUsage`). Memory: `used_memory` after the keys minus before,',
    '  FLUSHALL first.',
    '- **Hold precision**: a freqlimit middleware holds N requests from one client at once (the key is',
    '  reserved ahead when the first arrives, so all arrive before the first is due); the handler notes',
    '  how late it starts against the reservation time (stamped by a thin `InMemoryBackend` subclass)',
    '  plus the delay on the request (`req.freqLimit`).',
    '',
    '## Peers and how they are configured',
    '',
    'Each peer is mounted as its README shows, with its defaults except the numbers; every limiter',
    'keys by the client address (all requests come from 127.0.0.1: one hot key over HTTP).',
    '',
    '- **freqlimit** (`@freqlimit/express`, `/koa`, `/hono`): `freqLimit({ limit: 1_000_000, period: 1_000,',
    '  burst: 1_000_000 })` — GCRA, default key (the client address, IPv6 by /56), default `maxDelay`',
    '  (1 s) and headers (`RateLimit-Policy` + `RateLimit`, draft 10). Tight check: one a minute,',
    '  `maxDelay: 0`.',
    '- **express-rate-limit** 8: `rateLimit({ windowMs: 60_000, limit })`, its MemoryStore, its default',
    '  key (`req.ip`, IPv6 by /56) and default headers (legacy `X-RateLimit-*` only; the draft headers',
    '  are off by default in v8). A fixed-window counter: less work per request than GCRA.',
    '- **express-slow-down** 3: `slowDown({ windowMs: 60_000, delayAfter, delayMs: () => 300 })` —',
    '  express-rate-limit underneath (its handler runs on every request), headers off by default.',
    '  With `delayAfter` at 10⁹ nothing is delayed; the tight check proves it delays after one.',
    '- **rate-limiter-flexible** 11 (Express): `RateLimiterMemory({ points, duration: 60 })` behind the',
    '  middleware its README shows (`consume(req.ip)` → `next()` or 429); it sends no headers.',
    "- **koa-ratelimit** 6: `ratelimit({ driver: 'memory', db: new Map(), duration: 60_000, max })`,",
    '  default id `ctx.ip`, default `X-RateLimit-*` headers.',
    '- **hono-rate-limiter** 0.5: `rateLimiter({ windowMs: 60_000, limit, keyGenerator })` — it has no',
    '  default key, so `keyGenerator` returns `getConnInfo(c).remote.address` from',
    '  `@hono/node-server/conninfo`, as its docs suggest; its MemoryStore; default draft-6 headers.',
    '- **Memory stores**, called directly: express-rate-limit and hono-rate-limiter `MemoryStore.increment`',
    '  (after `init({ windowMs })`), rate-limiter-flexible `RateLimiterMemory.consume`; freqlimit',
    '  `InMemoryBackend.reserveSync` / `reserve` with a prebuilt `FreqLimitParams` (as the middleware',
    '  passes them). The floor: GCRA on a `Map<string, number>` with the same arithmetic, no expiry.',
    "- **Redis**: freqlimit `RedisBackend.reserve('default:' + key, params, { maxDelay: 1000 })` (what the",
    '  middleware sends); rate-limit-redis 6 `RedisStore` with the ioredis `sendCommand` of its README',
    '  (`(command, ...args) => client.call(command, ...args)`), `init({ windowMs })`, then',
    '  `increment(key)` — the Redis half of express-rate-limit, one EVALSHA of an INCR/PTTL script;',
    '  rate-limiter-flexible 11 `RateLimiterRedis({ storeClient, points, duration })` → `consume(key)`,',
    '  one EVALSHA of its INCRBY/PTTL script. The peers count in fixed windows (an INCR), freqlimit',
    '  and the floor run GCRA (TIME, GET, arithmetic, SET PX): not the same work, the same job.',
    '  Each keeps its default key prefix (`rl:`, `rlflx:`, `freqlimit:default:`; the floor `gcra:`),',
    '  which shows in memory per key.',
    '',
    '## Machine and versions',
    '',
    `- Node ${m.node}, ${m.os}, ${m.cpu}, ${m.cores} cores, ${m.pinned ? 'pinned with taskset (server core 0, client core 1)' : 'NOT pinned (one core or no taskset)'}`,
    `- load average at start: ${m.loadBefore}; at end: ${m.loadAfter}`,
    `- ${m.redis}`,
    `- ${Object.entries(m.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `- command: \`${m.command}\` (${m.quick ? 'quick' : 'full'} sizes: ${JSON.stringify(m.config)})`,
    '',
    '## Tables',
    '',
    ...surfaces.flatMap((s) => [surfaceTable(s), '']),
    '## Checks',
    '',
    failed.length === 0
      ? `All ${results.checks.length} checks held (every limiter limits under a tight limit; nothing held or rejected while measuring; every child process stopped).`
      : `${failed.length} of ${results.checks.length} checks FAILED:\n\n${failed.map((c) => `- ${c.name}: ${c.detail}`).join('\n')}`,
    '',
  ];
  return out.join('\n');
}

function readmeSection(results) {
  const m = results.meta;
  return [
    ...(m.note ? [`**${m.note}.**`, ''] : []),
    `Measured by \`pnpm bench\` on ${m.date.slice(0, 10)}: each figure is a ratio to a baseline in`,
    'the same run (bare framework, a hand-written `Map` GCRA, a minimal Redis script). Method, every',
    'table and the chart: [BENCHMARKS.md](BENCHMARKS.md).',
    '',
    summaryTable(results.surfaces),
  ].join('\n');
}

function writeReports(results, file) {
  const m = results.meta;
  const subtitle = [
    `${m.date.slice(0, 10)} · Node ${m.node} · ${m.cores} cores${m.pinned ? ', pinned' : ''} · load ${m.loadBefore} · ${m.command}`,
    ...(m.note ? [m.note] : []),
  ];
  writeFileSync(`${BENCH}benchmarks.svg`, chartSvg(results.surfaces, subtitle));
  writeFileSync(`${ROOT}BENCHMARKS.md`, markdown(results));
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const start = '<!-- bench:summary:start -->';
  const end = '<!-- bench:summary:end -->';
  const i = readme.indexOf(start);
  const j = readme.indexOf(end);
  if (i >= 0 && j > i) {
    writeFileSync(
      `${ROOT}README.md`,
      `${readme.slice(0, i + start.length)}\n${readmeSection(results)}\n${readme.slice(j)}`,
    );
  } else {
    console.log('README.md has no bench:summary markers: its summary was not updated');
  }
  console.log(`wrote BENCHMARKS.md, bench/benchmarks.svg, README.md summary from ${file}`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.render !== undefined) {
    writeReports(JSON.parse(readFileSync(args.render, 'utf8')), args.render);
    return 0;
  }
  const cfg = config(args);
  const results = { meta: meta(args, cfg), surfaces: [], checks: [] };
  const log = (line) => console.log(line);
  console.log(
    `freqlimit bench${args.quick ? ' --quick' : ''}: ${args.only.join(', ')}; ${CORES} cores, ${PINNED ? 'pinned' : 'not pinned'}; load ${results.meta.loadBefore}`,
  );
  const runners = {
    http: () => httpSuite(cfg.http, log),
    memory: () => memorySuite(cfg.memory, log),
    redis: () => redisSuite(cfg.redis, log),
    hold: () => holdSuite(cfg.hold, log),
  };
  for (const name of args.only) {
    const t0 = performance.now();
    console.log(`\n== ${name}`);
    try {
      const r = await runners[name]();
      results.surfaces.push(...r.surfaces);
      results.checks.push(...r.checks);
      if (r.surfaces.length === 0 || r.surfaces.every((s) => s.rows.length === 0)) {
        results.checks.push({ name: `${name}: produced figures`, ok: false, detail: 'no output' });
      }
      for (const s of r.surfaces) console.log(`\n${surfaceTable(s)}`);
    } catch (error) {
      results.checks.push({
        name: `${name}: ran to the end`,
        ok: false,
        detail: String(error?.stack ?? error),
      });
      console.log(`  FAIL ${name}: ${error?.stack ?? error}`);
    }
    console.log(`== ${name}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const left = runningPids();
  results.checks.push({
    name: 'every child process stopped',
    ok: left.length === 0,
    detail: left.length ? `still running: ${left.join(', ')}` : 'none left',
  });
  results.meta.loadAfter = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

  console.log(`\n== summary\n\n${summaryTable(results.surfaces)}\n`);
  mkdirSync(`${BENCH}results`, { recursive: true });
  const file = `${BENCH}results/${args.quick ? 'quick' : 'full'}.json`;
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  const failed = results.checks.filter((c) => !c.ok);
  writeFileSync(
    `${BENCH}results/checks.json`,
    `${JSON.stringify({ passed: results.checks.length - failed.length, failed: failed.length, failures: failed }, null, 2)}\n`,
  );
  if (args.write) writeReports(results, file);
  console.log(
    failed.length === 0
      ? `bench: all ${results.checks.length} checks held`
      : `bench: ${failed.length} of ${results.checks.length} checks FAILED:\n${failed.map((c) => `  - ${c.name}: ${c.detail}`).join('\n')}`,
  );
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
