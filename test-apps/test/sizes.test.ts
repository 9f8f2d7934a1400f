/**
 * Size growth is never silent: the packed tarballs (from test/global-setup.ts) and each
 * `exports` entry stay under GROWTH_LIMIT × the committed baseline (scripts/sizes.json), and
 * the README quotes that baseline.
 */

import { describe, expect, it } from 'vitest';
import {
  compare,
  entriesOf,
  GROWTH_LIMIT,
  measure,
  publishedPackages,
  readBaseline,
  readmeTables,
  renderTables,
} from '../../scripts/sizes.mjs';
import { tarballDir } from './packed.js';

describe('package sizes (scripts/sizes.mjs)', () => {
  it(`no figure is past ${GROWTH_LIMIT}× its baseline in scripts/sizes.json`, async () => {
    const current = await measure({ tarballDir });
    expect(Object.keys(current.entries)).toContain('@freqlimit/core');
    expect(current.entries['@freqlimit/core'].gzip).toBeGreaterThan(0);
    expect(compare(current, readBaseline())).toEqual([]);
  });

  it('the README table quotes the baseline', () => {
    expect(readmeTables()).toBe(renderTables(readBaseline()));
  });

  it('the check reports growth past the limit and an entry without a baseline', () => {
    const baseline = {
      packages: { '@freqlimit/x': { packed: 1000 } },
      entries: { '@freqlimit/x': { files: 1, raw: 900, gzip: 400, minGzip: 300 } },
    };
    const grown = {
      packages: { '@freqlimit/x': { packed: 1000 * GROWTH_LIMIT } }, // at the limit: fine
      entries: {
        '@freqlimit/x': { files: 2, raw: 1800, gzip: 801, minGzip: 300 },
        '@freqlimit/x/adapter': { files: 1, raw: 100, gzip: 90, minGzip: 80 },
      },
    };
    const problems = compare(grown, baseline);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^@freqlimit\/x gzip: 801 B is 2\.00× the baseline 400 B/);
    expect(problems[1]).toMatch(/^@freqlimit\/x\/adapter gzip: no baseline/);
    expect(problems[2]).toMatch(/^@freqlimit\/x\/adapter min\+gzip: no baseline/);
  });

  it('entries come from each package.json `exports` (a new subpath is measured too)', () => {
    const names = publishedPackages().flatMap((p) => entriesOf(p).map(([name]) => name));
    expect(names).toEqual(expect.arrayContaining(['@freqlimit/core', '@freqlimit/core/redis']));
    const fake = {
      dir: '/x',
      manifest: {
        name: '@freqlimit/core',
        exports: {
          '.': { import: { types: './dist/index.d.ts', default: './dist/index.js' } },
          './adapter': { import: './dist/adapter.js', require: './dist/adapter.cjs' },
          './package.json': './package.json',
        },
      },
    };
    expect(entriesOf(fake)).toEqual([
      ['@freqlimit/core', '/x/dist/index.js'],
      ['@freqlimit/core/adapter', '/x/dist/adapter.js'],
    ]);
  });
});
