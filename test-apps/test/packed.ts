/**
 * Packs the four publishable packages with `pnpm pack`, installs the tarballs with npm into a
 * scratch app outside the workspace's node_modules, and copies the apps there — so the tests
 * see exactly what an npm user gets.
 */

import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const root = resolve(here, '..');
export const work = join(here, '.packed');
export const appDir = join(work, 'app');
export const tarballDir = join(work, 'tarballs');
export const PACKAGES = ['core', 'express', 'koa', 'hono'] as const;
export const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

export function tarballOf(pkg: string): string {
  const file = readdirSync(tarballDir).find((f) => f.startsWith(`freqlimit-${pkg}-`));
  if (!file) throw new Error(`no tarball for @freqlimit/${pkg} in ${tarballDir}`);
  return join(tarballDir, file);
}

/** Pack, install and copy the apps; returns when the scratch app is ready. */
export function preparePackedApp(): void {
  for (const pkg of PACKAGES) {
    if (!existsSync(join(root, 'packages', pkg, 'dist', 'index.js'))) {
      throw new Error(`packages/${pkg}/dist is missing: run \`pnpm build\` first`);
    }
  }
  rmSync(work, { recursive: true, force: true });
  mkdirSync(tarballDir, { recursive: true });
  mkdirSync(appDir, { recursive: true });
  for (const pkg of PACKAGES) {
    execFileSync('pnpm', ['pack', '--pack-destination', tarballDir], {
      cwd: join(root, 'packages', pkg),
      stdio: 'pipe',
    });
  }
  const dependencies: Record<string, string> = {
    '@hono/node-server': '^1.19.0',
    // The same app under node-server's next major (test/runtimes.test.ts runs both).
    '@hono/node-server-2': 'npm:@hono/node-server@^2.1.0',
    '@types/express': '^5.0.0',
    '@types/koa': '^3.0.0',
    '@types/node': '^20',
    express: '^5.1.0',
    hono: '^4.6.0',
    koa: '^3.0.0',
  };
  for (const pkg of PACKAGES) dependencies[`@freqlimit/${pkg}`] = `file:${tarballOf(pkg)}`;
  writeFileSync(
    join(appDir, 'package.json'),
    JSON.stringify({ name: 'freqlimit-packed-consumer', private: true, dependencies }, null, 2),
  );
  execFileSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'],
    { cwd: appDir, stdio: 'pipe', timeout: 240_000 },
  );
  cpSync(join(here, 'apps'), appDir, { recursive: true });
}

/** A running app process. */
export interface RunningApp {
  port: number;
  pid: number;
  output: () => string;
  stop: () => Promise<void>;
}

/** How to run an app file: `node <file>` unless another command is given. */
export interface StartOptions {
  /** The executable (default: this Node). */
  command?: string;
  /** Arguments before the file (e.g. `run --allow-net=127.0.0.1` for Deno). */
  args?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** Start `<command> <args> <file>` in the scratch app and wait for its "listening <port>" line. */
export function startApp(file: string, options: StartOptions = {}): Promise<RunningApp> {
  const { command = process.execPath, args = [], env = {} } = options;
  const child = spawn(command, [...args, file], {
    cwd: appDir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolvePort, reject) => {
    // Generous: a runtime's first start on a loaded machine compiles and caches.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} did not start within 30 s:\n${out}`));
    }, 30_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePort({
          port: Number(m[1]),
          pid: child.pid!,
          output: () => out,
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done();
              child.once('exit', () => done());
              process.kill(child.pid!, 'SIGTERM');
            }),
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with ${code} before listening:\n${out}`));
    });
  });
}
