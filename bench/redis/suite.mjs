/**
 * @module bench/redis/suite
 * Redis limiters on ONE ioredis connection, 1 and 64 calls in flight, one hot key and 100,000
 * keys: ops/s as a ratio to a minimal GCRA script by EVALSHA measured in the same round; Redis
 * memory per key; and redis-benchmark running the minimal script, as the server's own limit.
 * The bench starts its own redis-server (core 0; clients on core 1) and stops it by pid.
 */

import { fileURLToPath } from 'node:url';
import { runNode, runProgram } from '../lib/proc.mjs';
import { onPath, startRedisServer } from '../lib/redis-server.mjs';
import { median, rotation } from '../lib/stats.mjs';
import { IMPLS, MINIMAL_GCRA_SHA, minimalArgs } from './impls.mjs';

const CHILD = fileURLToPath(new URL('./child.mjs', import.meta.url));
const NAMES = Object.keys(IMPLS);

/** @param {object} job */
function child(job) {
  return runNode(CHILD, [JSON.stringify(job)], { role: 'client', deadlineMs: 120_000 });
}

/**
 * redis-benchmark running the minimal script on one connection with `pipeline` calls in flight.
 *
 * @returns {Promise<number>} requests per second
 */
async function redisBenchmark(port, mode, pipeline, requests) {
  const binary = onPath('redis-benchmark');
  if (binary === undefined) throw new Error('redis-benchmark is not on PATH');
  const key = mode === 'hot' ? 'gcra:10.0.0.1' : 'gcra:__rand_int__';
  const argv = [binary, '-h', '127.0.0.1', '-p', String(port), '-c', '1', '-P', String(pipeline)];
  argv.push('-n', String(requests), '--csv');
  if (mode === 'many') argv.push('-r', '100000');
  argv.push('EVALSHA', MINIMAL_GCRA_SHA, '1', key, ...minimalArgs(mode));
  const out = await runProgram(argv, { role: 'client', deadlineMs: 120_000 });
  // CSV: a header line, then "EVALSHA …","<rps>",…
  const line = out
    .trim()
    .split('\n')
    .find((l) => l.startsWith('"EVALSHA'));
  const rps = Number(line?.split('","')[1]);
  if (!(rps > 0)) throw new Error(`redis-benchmark: no rate in its output: ${out.slice(0, 300)}`);
  return rps;
}

/**
 * @param {{ rounds: number, ms: number, memoryKeys: number, benchmarkRequests: number }} cfg
 * @param {(line: string) => void} log
 */
export async function redisSuite(cfg, log) {
  const checks = [];
  const surfaces = [];
  const server = await startRedisServer();
  log(`  redis-server ${server.version} on 127.0.0.1:${server.port} (pid ${server.pid})`);
  try {
    for (const name of NAMES) {
      const check = { name: `redis ${name}: really limits (second call over a limit of one)` };
      try {
        const r = await child({ impl: name, mode: 'check', port: server.port });
        check.ok = r.first === false && r.second === true && r.keys > 0;
        check.detail = `first call limited: ${r.first}, second: ${r.second}, keys stored: ${r.keys}`;
      } catch (error) {
        check.ok = false;
        check.detail = String(error);
      }
      checks.push(check);
      log(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`);
    }

    for (const inFlight of [1, 64]) {
      for (const mode of ['hot', 'many']) {
        const runs = Object.fromEntries(NAMES.map((n) => [n, []]));
        const cpu = Object.fromEntries(NAMES.map((n) => [n, { server: [], client: [] }]));
        const problems = Object.fromEntries(NAMES.map((n) => [n, []]));
        for (let round = 0; round < cfg.rounds; round++) {
          for (const name of rotation(NAMES, round)) {
            try {
              const r = await child({ impl: name, mode, port: server.port, inFlight, ms: cfg.ms });
              runs[name][round] = r.opsPerSec;
              cpu[name].server.push(r.serverUsPerCall);
              cpu[name].client.push(r.clientUsPerCall);
              if (r.limited > 0) problems[name].push(`round ${round + 1}: ${r.limited} limited`);
              log(
                `  round ${round + 1}/${cfg.rounds} ${String(inFlight).padStart(2)} in flight ${mode.padEnd(4)} ${name.padEnd(22)} ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(8)} ops/s, server ${r.serverUsPerCall.toFixed(1)} µs, client ${r.clientUsPerCall.toFixed(1)} µs CPU per call`,
              );
            } catch (error) {
              problems[name].push(String(error));
              log(`  FAIL redis ${name} ${inFlight} ${mode}: ${error}`);
            }
          }
        }
        for (const name of NAMES) {
          checks.push({
            // (Whether keys are stored is checked by the tight check and the memory run: a hot
            // GCRA key may expire a millisecond after the last call.)
            name: `redis ${name}, ${inFlight} in flight, ${mode} key(s): every call answered, nothing limited`,
            ok: problems[name].length === 0,
            detail: problems[name].join('; ') || 'ok',
          });
        }
        const floor = runs.script;
        const rows = NAMES.map((name) => {
          const ratios = [];
          for (let round = 0; round < cfg.rounds; round++) {
            if (runs[name][round] && floor[round]) ratios.push(runs[name][round] / floor[round]);
          }
          return {
            name,
            label: IMPLS[name].label,
            value: median(runs[name].filter(Boolean)),
            ratio: median(ratios),
            serverUs: median(cpu[name].server),
            clientUs: median(cpu[name].client),
            rounds: ratios.length,
          };
        });
        let benchNote = '';
        try {
          const requests = inFlight === 1 ? cfg.benchmarkRequests / 5 : cfg.benchmarkRequests;
          const rps = await redisBenchmark(server.port, mode, inFlight, requests);
          rows.push({
            name: 'redis-benchmark',
            label: `redis-benchmark -c 1 -P ${inFlight}, same script (the server's limit)`,
            value: rps,
            ratio: rps / median(floor.filter(Boolean)),
            reference: true,
          });
          log(
            `  redis-benchmark -P ${inFlight} ${mode}: ${Math.round(rps).toLocaleString('en-US')} req/s`,
          );
          benchNote = `; redis-benchmark ran ${requests.toLocaleString('en-US')} EVALSHA once after the rounds (ratio to the floor's median)`;
        } catch (error) {
          checks.push({
            name: `redis-benchmark -P ${inFlight} ${mode}`,
            ok: false,
            detail: String(error),
          });
          log(`  FAIL redis-benchmark: ${error}`);
        }
        surfaces.push({
          id: `redis-${inFlight}-${mode}`,
          title: `Redis, one ioredis connection, ${inFlight} in flight, ${mode === 'hot' ? 'one hot key' : '100,000 keys'}`,
          unit: 'ops/s',
          baseline: 'the minimal GCRA script',
          rows,
          note: `${cfg.ms} ms measured after ${cfg.ms / 2} ms warm-up, each in a fresh process with a fresh connection after FLUSHALL; ops/s = median, ratio = median over ${cfg.rounds} interleaved round(s) of limiter ÷ floor of the same round; CPU µs per call of redis-server (INFO cpu) and of the Node client (process.cpuUsage)${benchNote}`,
        });
      }
    }

    const memRows = [];
    for (const name of NAMES) {
      try {
        const r = await child({
          impl: name,
          mode: 'memory',
          port: server.port,
          keys: cfg.memoryKeys,
        });
        memRows.push({ name, label: IMPLS[name].label, value: r.bytesPerKey });
        log(`  used_memory ${name.padEnd(22)} ${r.bytesPerKey.toFixed(1).padStart(7)} B per key`);
        checks.push({
          name: `redis ${name}: stores one key per client key`,
          ok: r.stored === cfg.memoryKeys && r.limited === 0,
          detail: `${r.stored} keys stored for ${cfg.memoryKeys}, ${r.limited} limited`,
        });
      } catch (error) {
        checks.push({ name: `redis ${name}: memory per key`, ok: false, detail: String(error) });
        log(`  FAIL redis ${name} memory: ${error}`);
      }
    }
    const floorBytes = memRows.find((r) => r.name === 'script')?.value;
    for (const row of memRows) row.ratio = row.value / floorBytes;
    surfaces.push({
      id: 'redis-memory',
      title: 'Redis memory per key',
      unit: 'B/key',
      lowerIsBetter: true,
      baseline: 'the minimal GCRA script',
      rows: memRows,
      note: `used_memory after ${cfg.memoryKeys.toLocaleString('en-US')} keys minus before (FLUSHALL first), each limiter with its own default key prefix: gcra:, freqlimit:default:, rl:, rlflx: + a 8–12 character client address`,
    });
  } finally {
    await server.stop();
  }
  return { surfaces, checks };
}
