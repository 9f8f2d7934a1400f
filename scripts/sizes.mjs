#!/usr/bin/env node
/**
 * Package sizes: each published package's packed tarball, and for every entry in each
 * package.json `exports` (so a new subpath is picked up without editing this file) the ESM
 * files a user loads — the entry and the chunks it imports — raw, gzipped, and minified +
 * gzipped (esbuild, dependencies left out).
 *
 *   pnpm sizes            print the table, with the ratio to the committed baseline
 *   pnpm sizes --check    also exit 1 when a figure has grown past GROWTH_LIMIT × baseline,
 *                         or has no baseline
 *   pnpm sizes --update   write the figures to scripts/sizes.json and the README table
 *
 * Needs `pnpm build` first. The check also runs inside `pnpm test` (test-apps/test/sizes.test.ts).
 */

import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BASELINE_FILE = join(root, 'scripts', 'sizes.json');
const README = join(root, 'README.md');
const TABLE_START = '<!-- sizes:start (pnpm sizes --update) -->';
const TABLE_END = '<!-- sizes:end -->';

/** A figure fails the check when it is more than this many times its baseline. */
export const GROWTH_LIMIT = 1.5;

/** The published packages: packages/* that are not private, in directory order. */
export function publishedPackages() {
  const dir = join(root, 'packages');
  return readdirSync(dir)
    .filter((d) => existsSync(join(dir, d, 'package.json')))
    .map((d) => ({
      dir: join(dir, d),
      manifest: JSON.parse(readFileSync(join(dir, d, 'package.json'), 'utf8')),
    }))
    .filter((p) => !p.manifest.private);
}

/** The ESM file of an `exports` value: `import.default`, `import`, `default` or a string. */
function esmTarget(value) {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object') return undefined;
  const picked = value.import ?? value.default;
  if (typeof picked === 'string') return picked;
  return picked && typeof picked === 'object' ? esmTarget(picked) : undefined;
}

/** Every JS entry in the package's `exports` (not `./package.json`), as `[name, file]`. */
export function entriesOf({ dir, manifest }) {
  const exportsField = manifest.exports ?? {};
  const map = typeof exportsField === 'string' ? { '.': exportsField } : exportsField;
  const out = [];
  for (const [subpath, value] of Object.entries(map)) {
    if (!subpath.startsWith('.') || subpath.includes('*')) continue;
    const target = esmTarget(value);
    if (!target || !/\.(m?js)$/.test(target)) continue;
    const name = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
    out.push([name, join(dir, target)]);
  }
  return out;
}

/** The file and, transitively, every relative module it imports (the chunks). */
function moduleGraph(file, seen = new Set()) {
  if (seen.has(file)) return seen;
  if (!existsSync(file))
    throw new Error(`${relative(root, file)} is missing: run \`pnpm build\` first`);
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  const specifier =
    /(?:import|export)\s*(?:[\w*{}\s,$]*?\sfrom\s*)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
  for (const m of source.matchAll(specifier)) moduleGraph(join(dirname(file), m[1] ?? m[2]), seen);
  return seen;
}

const gzipSize = (buffer) => gzipSync(buffer, { level: 9 }).length;

async function measureEntry(file) {
  const files = [...moduleGraph(file)];
  const shipped = Buffer.concat(files.map((f) => readFileSync(f)));
  const bundled = await build({
    entryPoints: [file],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'neutral',
    packages: 'external',
    external: ['node:*'],
    write: false,
    logLevel: 'silent',
  });
  return {
    files: files.length,
    raw: shipped.length,
    gzip: gzipSize(shipped),
    minGzip: gzipSize(Buffer.from(bundled.outputFiles[0].contents)),
  };
}

function packedSize(pkg, tarballDir) {
  const expected = `${pkg.manifest.name.replace(/^@/, '').replace('/', '-')}-${pkg.manifest.version}.tgz`;
  if (tarballDir) return statSync(join(tarballDir, expected)).size;
  const out = mkdtempSync(join(tmpdir(), 'freqlimit-sizes-'));
  try {
    execFileSync('pnpm', ['pack', '--pack-destination', out], { cwd: pkg.dir, stdio: 'pipe' });
    return statSync(join(out, expected)).size;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * Measure every published package. `tarballDir`: take the tarballs already packed there
 * (test-apps) instead of packing again.
 */
export async function measure({ tarballDir } = {}) {
  const packages = {};
  const entries = {};
  for (const pkg of publishedPackages()) {
    packages[pkg.manifest.name] = { packed: packedSize(pkg, tarballDir) };
    for (const [name, file] of entriesOf(pkg)) entries[name] = await measureEntry(file);
  }
  return { packages, entries };
}

/** The figures the check guards, as `[label, current, baseline]`. */
function guarded(current, baseline) {
  const rows = [];
  for (const [name, { packed }] of Object.entries(current.packages)) {
    rows.push([`${name} packed`, packed, baseline?.packages?.[name]?.packed]);
  }
  for (const [name, e] of Object.entries(current.entries)) {
    rows.push([`${name} gzip`, e.gzip, baseline?.entries?.[name]?.gzip]);
    rows.push([`${name} min+gzip`, e.minGzip, baseline?.entries?.[name]?.minGzip]);
  }
  return rows;
}

/** Problems of `current` against `baseline`: growth past GROWTH_LIMIT, or no baseline. */
export function compare(current, baseline) {
  const problems = [];
  for (const [label, now, before] of guarded(current, baseline)) {
    if (typeof before !== 'number') {
      problems.push(`${label}: no baseline (${now} B); run \`pnpm sizes --update\` and commit it`);
    } else if (now > before * GROWTH_LIMIT) {
      problems.push(
        `${label}: ${now} B is ${(now / before).toFixed(2)}× the baseline ${before} B (limit ${GROWTH_LIMIT}×); if intended, run \`pnpm sizes --update\` and commit it`,
      );
    }
  }
  return problems;
}

const kB = (bytes) => `${(bytes / 1000).toFixed(1)} kB`;

/** The Markdown tables quoted in the README. */
export function renderTables(sizes) {
  const lines = ['| package | packed tarball |', '| --- | ---: |'];
  for (const [name, { packed }] of Object.entries(sizes.packages)) {
    lines.push(`| \`${name}\` | ${kB(packed)} |`);
  }
  lines.push(
    '',
    '| entry (ESM, with its chunks) | files | raw | gzip | min+gzip |',
    '| --- | ---: | ---: | ---: | ---: |',
  );
  for (const [name, e] of Object.entries(sizes.entries)) {
    lines.push(`| \`${name}\` | ${e.files} | ${kB(e.raw)} | ${kB(e.gzip)} | ${kB(e.minGzip)} |`);
  }
  return lines.join('\n');
}

/** The table between the README markers, or undefined when the markers are missing. */
export function readmeTables(text = readFileSync(README, 'utf8')) {
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start < 0 || end < start) return undefined;
  return text.slice(start + TABLE_START.length, end).trim();
}

export function readBaseline() {
  return existsSync(BASELINE_FILE) ? JSON.parse(readFileSync(BASELINE_FILE, 'utf8')) : undefined;
}

async function main(argv) {
  const current = await measure();
  const baseline = readBaseline();
  console.log(renderTables(current));
  console.log('');
  for (const [label, now, before] of guarded(current, baseline)) {
    const ratio =
      typeof before === 'number' ? `${(now / before).toFixed(2)}× baseline` : 'no baseline';
    console.log(`${label.padEnd(36)} ${String(now).padStart(7)} B  ${ratio}`);
  }
  if (argv.includes('--update')) {
    writeFileSync(BASELINE_FILE, `${JSON.stringify(current, null, 2)}\n`);
    const text = readFileSync(README, 'utf8');
    if (readmeTables(text) === undefined) {
      throw new Error(`README.md has no ${TABLE_START} … ${TABLE_END} markers`);
    }
    const start = text.indexOf(TABLE_START) + TABLE_START.length;
    const end = text.indexOf(TABLE_END);
    writeFileSync(
      README,
      `${text.slice(0, start)}\n\n${renderTables(current)}\n\n${text.slice(end)}`,
    );
    console.log(`\nwrote ${relative(root, BASELINE_FILE)} and the README table`);
    return 0;
  }
  if (argv.includes('--check')) {
    const problems = compare(current, baseline);
    for (const p of problems) console.error(p);
    return problems.length === 0 ? 0 : 1;
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
