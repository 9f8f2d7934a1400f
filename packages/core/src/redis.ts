/**
 * @module @freqlimit/core/redis
 * `RedisBackend`: one rate limit shared by every host that talks to the same Redis or Redis
 * Cluster. `ioredis` (or iovalkey) is an optional peer dependency; this entry only refers to
 * its types.
 */

export {
  RedisBackend,
  type RedisBackendOptions,
  type RedisClientLike,
  type RedisNodeLike,
  type RedisReserveManyEntry,
} from './backends/redis.js';
export { clusterSlot, MAX_KEY_BYTES } from './backends/redis-keys.js';
export {
  BLOCK_SCRIPT,
  PEEK_SCRIPT,
  REDIS_SCRIPTS,
  REFUND_SCRIPT,
  RESERVE_MANY_SCRIPT,
  RESERVE_SCRIPT,
  RESET_SCRIPT,
  type RedisScript,
} from './backends/redis-scripts.js';
