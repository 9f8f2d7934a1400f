// Type-only consumer, ESM side: every public entry must resolve with types.
import {
  FreqLimit,
  type FreqLimitBackend,
  FreqLimitParams,
  InMemoryBackend,
  type Reservation,
} from '@freqlimit/core';
import type { RedisBackend } from '@freqlimit/core/redis';
import { freqLimit as expressLimit } from '@freqlimit/express';
import { freqLimit as honoLimit } from '@freqlimit/hono';
import { freqLimit as koaLimit } from '@freqlimit/koa';

const params: FreqLimitParams = new FreqLimitParams({ limit: 1, period: 1000 });
const backend: FreqLimitBackend = new InMemoryBackend();
const limiter = new FreqLimit(params, { backend });
export const done: Promise<Reservation | unknown> = limiter.acquire('chat');
export const middlewares = [
  expressLimit({ limit: 5, period: 1000 }),
  koaLimit({ limit: 5, period: 1000 }),
  honoLimit({ limit: 5, period: 1000, keyFn: () => 'k' }),
];
export type Redis = typeof RedisBackend;
