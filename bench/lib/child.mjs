/**
 * @module bench/lib/child
 * The child side of `lib/proc.mjs`: report over IPC, and exit as soon as the orchestrator's
 * channel closes, so no child outlives the run.
 */

if (typeof process.send !== 'function') {
  throw new Error('bench child: start me through bench/run.mjs (I need an IPC channel)');
}
process.on('disconnect', () => process.exit(0));

/**
 * Send a message to the orchestrator.
 *
 * @param {object} message with a `type`
 */
export function send(message) {
  process.send?.(message);
}

/**
 * Run `work`, send its value as `{ type: 'result', value }` and wait to be stopped; on a throw
 * send `{ type: 'error', message }` and exit 1.
 *
 * @param {() => Promise<unknown>} work
 */
export async function reportResult(work) {
  try {
    send({ type: 'result', value: await work() });
  } catch (error) {
    send({
      type: 'error',
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100);
  }
}
