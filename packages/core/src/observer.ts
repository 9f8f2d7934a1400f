/**
 * @module observer
 * Calling the user's `onDecision` safely: synchronously, once per decision; a throw is
 * reported (at most once a minute), never passed on to the request.
 */

import { REPORT_EVERY_MS } from './failover.js';
import type { DecisionEvent } from './instruction.js';

/** Calls `onDecision(event, ctx)`; never throws. `undefined` when there is no `onDecision`. */
export function createObserver<Ctx>(
  onDecision: ((event: DecisionEvent, ctx: Ctx) => void) | undefined,
  where: string,
): ((event: DecisionEvent, ctx: Ctx) => void) | undefined {
  if (onDecision === undefined) return undefined;
  let reportedAt = Number.NEGATIVE_INFINITY;
  return (event, ctx) => {
    try {
      onDecision(event, ctx);
    } catch (error) {
      const now = performance.now();
      if (now - reportedAt < REPORT_EVERY_MS) return;
      reportedAt = now;
      console.error(`${where}: onDecision threw (reported at most once a minute):`, error);
    }
  };
}
