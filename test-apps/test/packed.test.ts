import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, PACKAGES, type RunningApp, root, startApp, tarballOf, tsc } from './packed.js';

// The scratch app is packed, installed and compiled once by test/global-setup.ts.

/**
 * Drive an app that limits one client to 1 request / 2000 ms with maxDelay 2900: the first
 * passes, the second is held ~2 s, a third sent 150 ms after the second needs ~3.85 s and gets
 * 429 with `Retry-After: 1` (it would be admitted 1100 − 150 ms later). Only lower bounds and
 * orderings on time: this holds on a loaded machine even if a request is late by most of a
 * second.
 */
async function drive(port: number, name: string): Promise<void> {
  const url = `http://127.0.0.1:${port}/`;
  const first = await fetch(url);
  expect(first.status).toBe(200);
  expect(await first.json()).toEqual({ ok: true, delay: 0 });
  expect(first.headers.get('ratelimit-policy')).toBe(`"${name}";q=1;w=2`);
  expect(first.headers.get('ratelimit')).toBe(`"${name}";r=0;t=2`);
  expect(first.headers.get('server-timing')).toBeNull();

  const started = performance.now();
  const held = fetch(url).then(async (r) => ({
    r,
    ms: performance.now() - started,
    body: await r.json(),
  }));
  await new Promise((r) => setTimeout(r, 150));
  const rejected = await fetch(url);
  expect(rejected.status).toBe(429);
  expect(rejected.headers.get('retry-after')).toBe('1');
  expect(await rejected.json()).toEqual({ error: 'Too Many Requests', retryAfter: 1 });
  expect(rejected.headers.get('ratelimit')).toBe(`"${name}";r=0;t=1`);

  const second = await held;
  expect(second.r.status).toBe(200);
  expect(second.body.ok).toBe(true);
  // Reserved: one period after the first request, less the time between the two.
  expect(second.body.delay).toBeGreaterThan(1000);
  expect(second.body.delay).toBeLessThanOrEqual(2000);
  const timing = /^freqlimit;dur=(\d+(?:\.\d+)?)$/.exec(
    second.r.headers.get('server-timing') ?? '',
  );
  expect(timing).not.toBeNull();
  // Held at least what was reserved; the client waited at least as long as it was held.
  expect(Number(timing![1])).toBeGreaterThanOrEqual(Math.floor(second.body.delay) - 1);
  expect(second.ms).toBeGreaterThanOrEqual(Number(timing![1]) - 1);
}

const apps: Array<[string, string, string]> = [
  ['Express 5, CommonJS require', 'express-cjs/server.cjs', 'express-cjs'],
  ['Express 5, ESM TypeScript (node16)', 'express-esm-ts/server.mjs', 'express-esm-ts'],
  ['Koa 3, ESM', 'koa/server.mjs', 'koa'],
  ['Hono 4 on @hono/node-server', 'hono/server.mjs', 'hono'],
];

describe.each(apps)('packed app: %s', (_label, file, name) => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp(file);
  });
  afterAll(async () => {
    await app?.stop();
  });
  it('passes, holds, then answers 429 with Retry-After over real HTTP', async () => {
    await drive(app.port, name);
  });
});

describe('TypeScript consumers of the packed packages', () => {
  for (const config of ['tsconfig.node16.json', 'tsconfig.bundler.json']) {
    it(`typecheck with ${config}`, () => {
      const r = spawnSync(process.execPath, [tsc, '-p', join(appDir, 'ts-consumer', config)], {
        cwd: appDir,
        encoding: 'utf8',
      });
      // Our declaration files and the consumer must be error-free; third-party typings (e.g.
      // @types/koa against a newer dependency) are not ours to judge here.
      const ours = (r.stdout + r.stderr)
        .split('\n')
        .filter((line) => /error TS\d+/.test(line))
        .filter(
          (line) =>
            !line.startsWith('node_modules/') || line.startsWith('node_modules/@freqlimit/'),
        );
      expect(ours).toEqual([]);
      if (r.status !== 0) expect(r.stdout).toMatch(/^node_modules\//m);
    });
  }
});

describe.each(PACKAGES.map((p) => [p]))('package checks: @freqlimit/%s', (pkg) => {
  it('publint --strict finds nothing', () => {
    const bin = join(root, 'node_modules', 'publint', 'src', 'cli.js');
    const r = spawnSync(process.execPath, [bin, '--strict', join(root, 'packages', pkg)], {
      encoding: 'utf8',
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
  it('@arethetypeswrong/cli finds no problem for node10, node16 and bundler', () => {
    const bin = join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
    const r = spawnSync(process.execPath, [bin, tarballOf(pkg), '--format', 'table-flipped'], {
      encoding: 'utf8',
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});

describe('Web-standard entries import no Node built-ins (Workers, Bun, Deno)', () => {
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
  /** Every module specifier imported by `file` and, transitively, by its relative chunks. */
  function specifiers(file: string, seen = new Set<string>()): string[] {
    if (seen.has(file)) return [];
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    const found = [
      ...source.matchAll(
        /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
      ),
    ].map((m) => (m[1] ?? m[2])!);
    return found.flatMap((s) =>
      s.startsWith('.') ? [s, ...specifiers(join(dirname(file), s), seen)] : [s],
    );
  }
  it.each([
    ['@freqlimit/core', 'core', 'index.js'],
    ['@freqlimit/core/adapter', 'core', 'adapter.js'],
    ['@freqlimit/hono', 'hono', 'index.js'],
  ])('%s (ESM build)', (_name, pkg, file) => {
    const entry = join(appDir, 'node_modules', '@freqlimit', pkg, 'dist', file);
    const imported = specifiers(entry);
    expect(imported.length).toBeGreaterThan(0);
    expect(imported.filter((s) => builtins.has(s))).toEqual([]);
  });
  it('the check sees a built-in where there is one (@freqlimit/core/redis)', () => {
    const entry = join(appDir, 'node_modules', '@freqlimit', 'core', 'dist', 'redis.js');
    expect(specifiers(entry).filter((s) => builtins.has(s)).length).toBeGreaterThan(0);
  });
});
