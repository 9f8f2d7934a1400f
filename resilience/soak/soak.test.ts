/**
 * The 60 s soak (`pnpm test:soak`, not part of `pnpm test`): 60 s of steady load over a sliding
 * window of 10,000 keys on an Express app in its own process; RSS, heap after GC and live keys
 * in the first 10 s against the last 10 s.
 */

import { describe, it } from 'vitest';
import { runSoak } from '../test/support/soak.js';
import { checkSoak } from '../test/support/soak-checks.js';

describe('soak (60 s)', () => {
  it('60 s of load over 10,000 sliding keys: RSS, heap and live keys stay flat', async () => {
    checkSoak(await runSoak(60), [0, 10], [50, 60.5]);
  }, 120_000);
});
