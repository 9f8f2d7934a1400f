/**
 * The runtimes the packed apps run on, taken from npm packages (devDependencies of test-apps):
 * Bun (`bun`), Deno (`deno`) and workerd (`miniflare`). Plus a small HTTP client that can pick
 * its source address, so a server sees two different clients on one machine.
 */

import { execFile, spawnSync } from 'node:child_process';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { work } from './packed.js';

const require = createRequire(import.meta.url);

/** Under CI a runtime that cannot be found fails the run; elsewhere its suite is skipped. */
export const CI = process.env.CI === 'true' || process.env.CI === '1';

/** A runtime binary that answered `--version`. */
export interface Runtime {
  /** Absolute path of the executable. */
  command: string;
  /** Its version, as it reports it. */
  version: string;
  /** Which build was picked, e.g. `bun-linux-x64-baseline`. */
  build: string;
}

/** Either the runtime, or why it is missing. */
export type Located =
  | { runtime: Runtime; missing?: undefined }
  | { runtime?: undefined; missing: string };

function versionOf(command: string): { version?: string; problem?: string } {
  const r = spawnSync(command, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) return { problem: r.error.message };
  if (r.status !== 0) {
    return {
      problem: `exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`,
    };
  }
  return { version: r.stdout.trim() };
}

function isMusl(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } };
  return process.platform === 'linux' && !report?.header?.glibcVersionRuntime;
}

/**
 * Bun's binary for this machine. The `bun` package's own postinstall accepts only the AVX2
 * build (its baseline builds are aliases it never tries), so on a CPU without AVX2 that build
 * dies with SIGILL and the install fails. We do not run that script (pnpm
 * `ignoredBuiltDependencies`) and pick the binary here: the regular build if it runs, else
 * `@oven/bun-<target>-baseline`, an optional dependency of test-apps.
 */
export function findBun(): Located {
  let expected: string;
  let fromBun: NodeRequire;
  try {
    expected = (require('bun/package.json') as { version: string }).version;
    fromBun = createRequire(require.resolve('bun/package.json'));
  } catch (error) {
    return { missing: `the bun package is not installed: ${(error as Error).message}` };
  }
  const arch = process.arch === 'arm64' ? 'aarch64' : process.arch;
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const target = `${os}-${arch}${isMusl() ? '-musl' : ''}`;
  const exe = process.platform === 'win32' ? 'bin/bun.exe' : 'bin/bun';
  const problems: string[] = [];
  for (const build of [`bun-${target}`, `bun-${target}-baseline`]) {
    let command: string;
    try {
      const pkg = `@oven/${build}/package.json`;
      let manifest: string;
      try {
        manifest = fromBun.resolve(pkg);
      } catch {
        manifest = require.resolve(pkg);
      }
      command = join(dirname(manifest), exe);
    } catch {
      problems.push(`@oven/${build} is not installed`);
      continue;
    }
    const { version, problem } = versionOf(command);
    if (version === expected) return { runtime: { command, version, build } };
    problems.push(`@oven/${build}: ${problem ?? `reports ${version}, expected ${expected}`}`);
  }
  return { missing: `no working Bun ${expected} binary (${problems.join('; ')})` };
}

/** Deno's binary, from the `deno` package's optional platform dependency. */
export function findDeno(): Located {
  let command: string;
  try {
    const api = require('deno/install_api.cjs') as { runInstall: () => string };
    command = api.runInstall();
  } catch (error) {
    return { missing: `no Deno binary from the deno package: ${(error as Error).message}` };
  }
  const { version, problem } = versionOf(command);
  const m = version && /^deno (\S+)/.exec(version);
  if (!m) return { missing: `Deno at ${command} does not run: ${problem ?? version}` };
  return { runtime: { command, version: m[1]!, build: 'deno' } };
}

/** How a test-app runs under Deno: node_modules as installed by npm, loopback only. */
export function denoArgs(): { args: string[]; env: Record<string, string> } {
  return {
    args: ['run', '--no-prompt', '--node-modules-dir=manual', '--allow-net=127.0.0.1'],
    env: { DENO_DIR: join(work, 'deno-dir'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
  };
}

/** workerd's version, from the copy Miniflare depends on. */
export function findWorkerd(): Located {
  try {
    const fromMiniflare = createRequire(require.resolve('miniflare'));
    const { version } = fromMiniflare('workerd/package.json') as { version: string };
    const command = (fromMiniflare('workerd') as { default: string }).default;
    return { runtime: { command, version, build: 'workerd' } };
  } catch (error) {
    return { missing: `workerd (through miniflare) is not installed: ${(error as Error).message}` };
  }
}

/** Run `command args file` in `cwd` and return its stdout (rejects on a non-zero exit). */
export function runScript(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, env: { ...process.env, ...env }, timeout: 60_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

/** One HTTP answer, with the time from sending the request to the end of the body. */
export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
  ms: number;
}

/** A client of a server on 127.0.0.1: its source address picks which client it is. */
export interface ClientOptions {
  /** Source address (any of 127.0.0.0/8 on Linux); default: the kernel's choice, 127.0.0.1. */
  localAddress?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

/** GET `path` on 127.0.0.1:`port` with a fresh connection (no keep-alive between clients). */
export function get(port: number, path: string, options: ClientOptions = {}): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        agent: false,
        localAddress: options.localAddress,
        headers: options.headers,
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: keep the text, the assertion will show it
          }
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body,
            ms: performance.now() - started,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * GET `path` and close the connection after `ms` without reading an answer. Resolves with the
 * status if an answer came first (the request was not held as long as expected), else
 * `'left'`.
 */
export function getAndLeave(port: number, path: string, ms: number): Promise<number | 'left'> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      clearTimeout(timer);
      res.resume();
      resolve(res.statusCode!);
    });
    const timer = setTimeout(() => {
      req.destroy();
      resolve('left');
    }, ms);
    req.on('error', () => {
      // the destroy above, or the server closing: either way the client is gone
    });
    req.end();
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
