/**
 * @module bench/memory/suite
 * In-process memory stores: ops/s on a hot key and over 100,000 keys, and heap bytes per live
 * key. Every measurement runs in a fresh process pinned to one core; rounds are interleaved in a
 * rotated order, and each figure is a ratio to the floor of the same kind (sync stores to the
 * sync `Map` GCRA, awaited ones to the awaited one) measured in the same round.
 */

import { fileURLToPath } from 'node:url';
import { runNode } from '../lib/proc.mjs';
import { median, rotation } from '../lib/stats.mjs';
import { STORES } from './stores.mjs';

const CHILD = fileURLToPath(new URL('./child.mjs', import.meta.url));
const NAMES = Object.keys(STORES);

/** @param {object} job */
function child(job) {
  return runNode(CHILD, [JSON.stringify(job)], {
    role: 'client',
    nodeArgs: ['--expose-gc'],
    deadlineMs: 120_000,
  });
}

const floorOf = (name) => (STORES[name].awaited ? 'map-await' : 'map-sync');

/**
 * @param {{ rounds: number, ms: number, heapKeys: number }} cfg
 * @param {(line: string) => void} log
 */
export async function memorySuite(cfg, log) {
  const checks = [];
  for (const name of NAMES) {
    const check = { name: `memory ${name}: really limits (second call over a limit of one)` };
    try {
      const { first, second } = await child({ store: name, mode: 'check' });
      check.ok = first === false && second === true;
      check.detail = `first call limited: ${first}, second: ${second}`;
    } catch (error) {
      check.ok = false;
      check.detail = String(error);
    }
    checks.push(check);
    log(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`);
  }

  const surfaces = [];
  for (const mode of ['hot', 'many']) {
    /** name → per-round ops/s */
    const runs = Object.fromEntries(NAMES.map((n) => [n, []]));
    for (let round = 0; round < cfg.rounds; round++) {
      for (const name of rotation(NAMES, round)) {
        try {
          const r = await child({ store: name, mode, ms: cfg.ms });
          runs[name][round] = r.opsPerSec;
          log(
            `  round ${round + 1}/${cfg.rounds} ${mode.padEnd(4)} ${name.padEnd(22)} ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(12)} ops/s`,
          );
        } catch (error) {
          checks.push({
            name: `memory ${name} ${mode}: measured run`,
            ok: false,
            detail: String(error),
          });
          log(`  FAIL memory ${name} ${mode}: ${error}`);
        }
      }
    }
    const rows = NAMES.map((name) => {
      const floor = runs[floorOf(name)];
      const ratios = [];
      for (let round = 0; round < cfg.rounds; round++) {
        if (runs[name][round] && floor[round]) ratios.push(runs[name][round] / floor[round]);
      }
      return {
        name,
        label: STORES[name].label,
        value: median(runs[name].filter(Boolean)),
        ratio: median(ratios),
        rounds: ratios.length,
      };
    });
    surfaces.push({
      id: `memory-${mode}`,
      title:
        mode === 'hot' ? 'In-process store, one hot key' : 'In-process store, 100,000 keys in turn',
      unit: 'ops/s',
      baseline: 'the Map GCRA of the same kind (sync or awaited)',
      rows,
      note: `calls per CPU second of the measuring process (alone on its core: calls per second on a quiet machine, without the time other processes take on a busy one), in batches of 10,000 for ${cfg.ms} ms of CPU after a ${cfg.ms / 2} ms warm-up, each store in a fresh process; ops/s = median, ratio = median over ${cfg.rounds} interleaved round(s) of store ÷ floor of the same round`,
    });
  }

  const heapRows = [];
  for (const name of NAMES) {
    try {
      const r = await child({ store: name, mode: 'heap', keys: cfg.heapKeys });
      heapRows.push({ name, label: STORES[name].label, value: r.bytesPerKey, live: r.live });
      log(`  heap ${name.padEnd(22)} ${r.bytesPerKey.toFixed(1).padStart(7)} B per live key`);
      if (name.startsWith('freqlimit') || name.startsWith('map')) {
        checks.push({
          name: `memory ${name}: all ${cfg.heapKeys} keys still live when the heap is measured`,
          ok: r.live === cfg.heapKeys,
          detail: `${r.live} live`,
        });
      }
    } catch (error) {
      checks.push({ name: `memory ${name}: heap per key`, ok: false, detail: String(error) });
      log(`  FAIL memory ${name} heap: ${error}`);
    }
  }
  const floorBytes = heapRows.find((r) => r.name === 'map-sync')?.value;
  for (const row of heapRows) row.ratio = row.value / floorBytes;
  surfaces.push({
    id: 'memory-heap',
    title: 'Heap per live key (in memory)',
    unit: 'B/key',
    lowerIsBetter: true,
    baseline: 'the Map GCRA (`Map<string, number>`)',
    rows: heapRows.filter((r) => r.name !== 'map-await' && r.name !== 'freqlimit-await'),
    note: `${cfg.heapKeys.toLocaleString('en-US')} distinct keys reserved once each and kept live, heap used after global.gc() minus before (key strings allocated before); ratio = bytes ÷ the Map's bytes`,
  });
  return { surfaces, checks };
}
