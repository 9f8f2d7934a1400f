/**
 * @module @freqlimit/core/redis
 * `RedisBackend`: one rate limit shared by every host that talks to the same Redis or Redis
 * Cluster. `ioredis` (or iovalkey) is an optional peer dependency; this entry only refers to
 * its types.
 */

export {
  clusterSlot,
  MAX_KEY_BYTES,
  RedisBackend,
  type RedisBackendOptions,
  type RedisClientLike,
  type RedisNodeLike,
  type RedisReserveManyEntry,
} from './backends/redis.js';
export { GCRA_SCRIPT } from './backends/redis-script.js';
