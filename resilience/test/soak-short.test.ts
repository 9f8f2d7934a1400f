/**
 * The short soak (the 60 s one is `pnpm test:soak`): 10 s of steady load over a sliding window
 * of 10,000 keys on an Express app in its own process; RSS, heap after GC and live keys stay
 * flat — the window at 3–6 s against the one at 7–10 s (the first seconds are warm-up).
 */

import { describe, it } from 'vitest';
import { runSoak } from './support/soak.js';
import { checkSoak } from './support/soak-checks.js';

describe('soak (short)', () => {
  it('10 s of load over 10,000 sliding keys: RSS, heap and live keys stay flat', async () => {
    checkSoak(await runSoak(10), [3, 6], [7, 10.5]);
  }, 60_000);
});
