/**
 * @module bench/lib/proc
 * The bench's child processes: pinned to a core with `taskset` where the machine has two or
 * more, talking to the orchestrator over IPC, stopped by their own pid, and never left behind
 * (killed when the orchestrator exits, and each child exits by itself when its IPC channel
 * closes — see `lib/child.mjs`).
 */

import { execFileSync, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** Every child still running, by pid. */
const running = new Map();

function killAll() {
  for (const pid of running.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  running.clear();
}
process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killAll();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
}

function hasTaskset() {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Cores this process may use. */
export const CORES = availableParallelism();

/**
 * Whether children are pinned: with two or more cores and `taskset`, a server (or Redis) runs
 * on core 0 and its load generator (or client) on core 1, so the two never steal each other's
 * core. The orchestrator itself is not pinned (it is idle while a measurement runs).
 */
export const PINNED = CORES >= 2 && hasTaskset();

/** Core of each role when {@link PINNED}. */
export const CORE = { server: 0, client: 1 };

/**
 * The command line that runs `argv` on the core of `role` (unchanged when not pinned).
 *
 * @param {'server' | 'client' | undefined} role
 * @param {string[]} argv
 * @returns {string[]}
 */
export function pinned(role, argv) {
  if (!PINNED || role === undefined) return argv;
  return ['taskset', '-c', String(CORE[role]), ...argv];
}

/**
 * A Node child running `file` with an IPC channel.
 *
 * @typedef {object} Child
 * @property {number} pid
 * @property {(type: string, ms?: number) => Promise<any>} next the next message of `type`
 * @property {(message: object) => void} send
 * @property {() => Promise<void>} stop SIGTERM, then SIGKILL after 2 s; resolves once it exited
 * @property {Promise<{ code: number | null, signal: string | null }>} exited
 * @property {() => string} stderr the last 8 kB it wrote to stderr
 */

/**
 * Start `node [nodeArgs] file [args]`, pinned to the core of `role`. The child is killed when
 * `deadlineMs` passes (every child of the bench is bounded in time), and pending `next()`
 * waits then reject.
 *
 * @param {string} file
 * @param {string[]} args
 * @param {{ role?: 'server' | 'client', nodeArgs?: string[], deadlineMs?: number, cwd?: string }} [options]
 * @returns {Child}
 */
export function startNode(file, args, options = {}) {
  const { role, nodeArgs = [], deadlineMs = 120_000, cwd } = options;
  const argv = pinned(role, [process.execPath, ...nodeArgs, file, ...args]);
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    cwd,
    env: { ...process.env, NODE_ENV: 'production' },
  });
  let err = '';
  child.stderr.on('data', (chunk) => {
    err = (err + chunk.toString('utf8')).slice(-8192);
  });
  const waiters = [];
  const inbox = [];
  let failure;
  const fail = (error) => {
    failure ??= error;
    for (const w of waiters.splice(0)) w.reject(failure);
  };
  child.on('message', (message) => {
    const i = waiters.findIndex((w) => w.type === message?.type);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(message);
    else inbox.push(message);
    if (message?.type === 'error') fail(new Error(`${file}: ${message.message}`));
  });
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child.pid);
      clearTimeout(deadline);
      fail(
        new Error(
          `${file} ${args.join(' ')} exited (code ${code}, signal ${signal})${err ? `:\n${err.trim()}` : ''}`,
        ),
      );
      resolve({ code, signal });
    });
  });
  child.once('error', (error) => fail(error));
  if (child.pid !== undefined) running.set(child.pid, child);
  const deadline = setTimeout(() => {
    fail(new Error(`${file} ${args.join(' ')}: still running after ${deadlineMs} ms, killed`));
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {}
  }, deadlineMs);
  deadline.unref();

  return {
    pid: child.pid,
    next(type, ms = deadlineMs) {
      const i = inbox.findIndex((m) => m?.type === type);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const j = waiters.indexOf(waiter);
          if (j >= 0) waiters.splice(j, 1);
          reject(new Error(`${file}: no '${type}' message within ${ms} ms`));
        }, ms);
        const waiter = {
          type,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        waiters.push(waiter);
      });
    },
    send(message) {
      if (child.connected) child.send(message);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {}
      const timer = setTimeout(() => {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {}
      }, 2000);
      await exited;
      clearTimeout(timer);
    },
    exited,
    stderr: () => err,
  };
}

/**
 * Run `node file args` to completion and return its one `result` message.
 *
 * @param {string} file
 * @param {string[]} args
 * @param {{ role?: 'server' | 'client', nodeArgs?: string[], deadlineMs?: number }} [options]
 */
export async function runNode(file, args, options) {
  const child = startNode(file, args, options);
  try {
    const message = await child.next('result');
    return message.value;
  } finally {
    await child.stop();
  }
}

/**
 * Run a program to completion (bounded by `deadlineMs`), pinned to the core of `role`.
 *
 * @param {string[]} argv
 * @param {{ role?: 'server' | 'client', deadlineMs?: number }} [options]
 * @returns {Promise<string>} its stdout
 */
export function runProgram(argv, options = {}) {
  const { role, deadlineMs = 60_000 } = options;
  const full = pinned(role, argv);
  return new Promise((resolve, reject) => {
    const child = spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    running.set(child.pid, child);
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => {
      out += c.toString('utf8');
    });
    child.stderr.on('data', (c) => {
      err = (err + c.toString('utf8')).slice(-4096);
    });
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {}
    }, deadlineMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      running.delete(child.pid);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      running.delete(child.pid);
      if (code === 0) resolve(out);
      else reject(new Error(`${argv.join(' ')} failed (code ${code}, signal ${signal}): ${err}`));
    });
  });
}

/**
 * Pids of children still running (the orchestrator checks it is empty at the end).
 *
 * @returns {number[]}
 */
export function runningPids() {
  return [...running.keys()];
}
