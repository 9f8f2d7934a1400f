/**
 * @module bench/lib/keeper
 * Runs one long-lived program that cannot watch its parent (redis-server) and kills it, by
 * pid, as soon as the orchestrator goes away — even when the orchestrator is killed with no
 * chance to clean up (its IPC channel to this keeper then closes). Usage, through
 * `lib/proc.mjs`: `node keeper.mjs <program> [args…]`; reports `{ type: 'started', pid }`.
 */

import { spawn } from 'node:child_process';

const [program, ...args] = process.argv.slice(2);
if (typeof process.send !== 'function' || program === undefined) {
  throw new Error('usage: node keeper.mjs <program> [args…], started with an IPC channel');
}
const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'inherit'] });
const kill = () => {
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch {}
};
/** Kill the program and exit once it is gone (or after 2 s). */
const finish = () => {
  kill();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('disconnect', finish);
process.on('SIGTERM', finish);
child.once('exit', (code, signal) => {
  if (process.connected) process.send({ type: 'exited', code, signal });
  process.exit(0);
});
child.once('error', (error) => {
  process.send?.({ type: 'error', message: String(error) });
  process.exit(1);
});
process.send({ type: 'started', pid: child.pid });
