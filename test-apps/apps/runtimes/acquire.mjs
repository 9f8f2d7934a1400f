// FreqLimit.acquire from @freqlimit/core's main entry: four acquires on one key at 5 per second
// (one every 200 ms) started together, each resolving at its emission time; and in the same
// tick a fifth with maxDelay 0, which must be refused with RateLimitedError (it would need
// ~800 ms).

import { FreqLimit, RateLimitedError } from '@freqlimit/core';

export async function measureAcquire() {
  const limiter = new FreqLimit({ limit: 5, period: 1000 }, { name: 'acquire' });
  const started = performance.now();
  const acquired = [0, 1, 2, 3].map(() =>
    limiter.acquire('k').then(() => performance.now() - started),
  );
  const refused = limiter.acquire('k', { maxDelay: 0 }).then(
    () => ({ refused: false }),
    (error) => ({
      refused: error instanceof RateLimitedError,
      name: error?.name,
      retryAfter: error?.retryAfter,
    }),
  );
  return { waits: await Promise.all(acquired), refused: await refused };
}
