/**
 * InMemoryBackend memory is a hard bound in bytes, not only in keys: 2,000,000 distinct keys
 * through a backend with `maxKeys: 100_000` leave at most about 100 B per stored key on the
 * heap (after GC) besides the key strings themselves, whatever the clock does. Measured in a
 * child process run with `--expose-gc`.
 */

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const child = fileURLToPath(new URL('./memory-heap-child.ts', import.meta.url));

interface HeapReport {
  mode: string;
  stored: number;
  grown: number;
  keyStrings: number;
}

async function flood(mode: string, keys = 2_000_000, maxKeys = 100_000): Promise<HeapReport> {
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', child], {
    env: { ...process.env, MODE: mode, KEYS: String(keys), MAX_KEYS: String(maxKeys) },
    timeout: 120_000,
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  return JSON.parse(stdout.trim()) as HeapReport;
}

const PER_KEY = 100;

describe('InMemoryBackend heap under a flood of distinct keys (maxKeys 100,000)', () => {
  it.each(['frozen', 'advancing', 'jumping', 'spread'])(
    '2,000,000 keys, %s clock: ≤ 100 B per stored key besides the key strings',
    async (mode) => {
      const r = await flood(mode);
      expect(r.stored).toBeLessThanOrEqual(100_000);
      expect(r.stored).toBeGreaterThan(50_000); // the cap, not an empty backend, is measured
      expect(r.grown - r.keyStrings).toBeLessThanOrEqual(100_000 * PER_KEY);
    },
    180_000,
  );

  it('keys reset right after their reservation leave nothing behind (frozen clock)', async () => {
    const r = await flood('reset');
    expect(r.stored).toBe(0);
    expect(r.grown).toBeLessThanOrEqual(100_000 * PER_KEY);
  }, 180_000);

  it('one key moving through 2,000,000 buckets costs no more than one key', async () => {
    const r = await flood('hot');
    expect(r.stored).toBe(1);
    // Fixed costs only (code, small arrays): 2,000,000 buckets would be hundreds of MB.
    expect(r.grown).toBeLessThanOrEqual(1024 * 1024);
  }, 180_000);
});
