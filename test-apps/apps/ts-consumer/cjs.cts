// Type-only consumer, CommonJS side (require conditions, .d.cts types).
import { FreqLimit, InMemoryBackend } from '@freqlimit/core';
import type { RedisBackend } from '@freqlimit/core/redis';
import { freqLimit as expressLimit } from '@freqlimit/express';
import { freqLimit as honoLimit } from '@freqlimit/hono';
import { freqLimit as koaLimit } from '@freqlimit/koa';

export const limiter = new FreqLimit(
  { limit: 1, period: 1000 },
  { backend: new InMemoryBackend() },
);
export const middlewares = [
  expressLimit({ limit: 5, period: 1000 }),
  koaLimit({ limit: 5, period: 1000 }),
  honoLimit({ limit: 5, period: 1000, keyFn: () => 'k' }),
];
export type Redis = typeof RedisBackend;
