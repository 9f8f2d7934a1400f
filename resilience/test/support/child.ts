/**
 * Runs a TypeScript file of this package in a child Node process (through tsx), bounded in
 * time, killed by its pid if it overruns, and resolves with its last stdout line parsed as JSON.
 */

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (where tsx is installed). */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ChildOptions {
  /** Flags for node itself, e.g. `['--expose-gc']`. */
  nodeArgs?: string[];
  /** Kill the child (SIGKILL, by pid) after this many ms. */
  timeoutMs: number;
  /** Called with each stdout line before the last (progress lines). */
  onLine?: (line: string) => void;
}

/** Runs `file` (relative to the package root) with `args`. */
export function runChild<T>(file: string, args: string[], options: ChildOptions): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...(options.nodeArgs ?? []), '--import', 'tsx', join(ROOT, file), ...args],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    const lines: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      let nl = out.indexOf('\n');
      while (nl >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (lines.length > 0) options.onLine?.(lines[lines.length - 1]!);
        lines.push(line);
        nl = out.indexOf('\n');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, options.timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const last = lines[lines.length - 1];
      if (code !== 0 || last === undefined) {
        reject(new Error(`${file} exited with ${code ?? signal}: ${err.slice(-2_000)}`));
        return;
      }
      try {
        resolve(JSON.parse(last) as T);
      } catch (error) {
        reject(
          new Error(`${file}: last line is not JSON (${String(error)}): ${last.slice(0, 200)}`),
        );
      }
    });
  });
}
