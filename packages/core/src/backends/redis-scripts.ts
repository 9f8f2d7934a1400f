/**
 * @module backends/redis-scripts
 * The Lua scripts of `RedisBackend`, one per operation. Each mirrors a pure function of
 * `gcra.ts` around `GET` / `SET PX` on one key (several for `reserveMany`), so every operation
 * is one atomic round trip.
 *
 * Conventions shared by every script:
 *
 * - Arguments are strings. `now` is ms as JS wrote it, or `''` for the server's `TIME` (read
 *   once per script: Redis 7.0 does not freeze it inside a script). Either way the script
 *   works on `now_us`, an integer count of µs (an injected `now` is rounded to the µs).
 * - The stored value is the TAT in integer µs since the epoch, written with
 *   `string.format('%d')` (never `tostring`, which switches to exponent notation); Redis keeps
 *   such a value int-encoded. A key expires (`PX`) when its state becomes empty: at the TAT,
 *   counted on the server's clock from `min(now, TIME)`, so an injected `now` that runs ahead
 *   of the server never loses state.
 * - Times relative to now are computed in whole µs (`rel_us = tat − now_us`, exact), and the
 *   GCRA arithmetic in ms in the same order as `gcra.ts`, so JS can repeat it bit for bit.
 * - Replies are integers only: the key's TAT relative to `now_us`, in µs. From it and the
 *   arguments, `RedisBackend` derives every figure of the answer with the same arithmetic
 *   (`redis-answers.ts`), so no float ever crosses the wire (Redis would truncate a Lua float).
 */

/** A Lua script and the SHA-1 of its text (what `EVALSHA` takes; checked by a test). */
export interface RedisScript {
  /** The Lua source. */
  readonly lua: string;
  /** SHA-1 of `lua`, lowercase hex. */
  readonly sha1: string;
}

/**
 * Single-key reservations, `gcraReserve`. Several independent reservations may share one call
 * (the backend batches the calls made in one tick on a standalone Redis); each is decided on
 * its own, in order.
 *
 * - `KEYS[i]`: the key of reservation `i`.
 * - `ARGV`, six per reservation: `now`, `max_delay` (ms, `''`: none), `interval` (ms), `tau`
 *   (ms), `burst`, `cost`.
 * - Reply: one integer per reservation: `rel_us` (the TAT before the call, relative to now,
 *   0 for an empty key) when it was reserved, `−rel_us − 1` when it was not.
 */
export const RESERVE_SCRIPT: RedisScript = {
  lua: `local EPSILON = 2.220446049250313e-16
local clock = redis.call('TIME')
local server_us = clock[1] * 1000000 + clock[2]
local replies = {}
for i = 1, #KEYS do
  local base = (i - 1) * 6
  local now_us = server_us
  if ARGV[base + 1] ~= '' then now_us = math.floor(tonumber(ARGV[base + 1]) * 1000 + 0.5) end
  local interval = tonumber(ARGV[base + 3])
  local tau = tonumber(ARGV[base + 4])
  local burst = tonumber(ARGV[base + 5])
  local cost = tonumber(ARGV[base + 6])
  local tat_us = tonumber(redis.call('GET', KEYS[i]))
  local rel_us = 0
  if tat_us ~= nil and tat_us > now_us then rel_us = tat_us - now_us end
  local reserved = false
  if cost <= burst then
    local ahead = rel_us / 1000 + cost * interval
    local delay = ahead - (tau + interval)
    local noise = math.max(1e-6, math.abs(now_us / 1000) * EPSILON)
    if delay <= noise then delay = 0 end
    if ARGV[base + 2] == '' or delay <= tonumber(ARGV[base + 2]) then
      reserved = true
      local next_rel_us = math.floor(ahead * 1000 + 0.5)
      if next_rel_us <= rel_us then next_rel_us = rel_us + 1 end
      local expiry_from_us = math.min(now_us, server_us)
      redis.call('SET', KEYS[i], string.format('%d', now_us + next_rel_us),
        'PX', math.ceil((now_us + next_rel_us - expiry_from_us) / 1000))
    end
  end
  if reserved then replies[i] = rel_us else replies[i] = -rel_us - 1 end
end
return replies
`,
  sha1: '56d588ecb0ec45fde3bb549181a71238b9045fb3',
};

/**
 * Several limits at once, all or nothing, `gcraReserveMany`: the request is emitted at
 * `E = now + max(delay_i)` and every key is accounted at E.
 *
 * - `KEYS`: one per limit (on a Cluster, all in one slot).
 * - `ARGV`: `now`, `max_delay`, then four per key: `interval`, `tau`, `burst`, `cost`.
 * - Reply: `{reserved (1/0), rel_us_1, …, rel_us_n}`, each key's TAT before the call relative
 *   to now in µs (0: empty).
 */
export const RESERVE_MANY_SCRIPT: RedisScript = {
  lua: `local EPSILON = 2.220446049250313e-16
local clock = redis.call('TIME')
local server_us = clock[1] * 1000000 + clock[2]
local now_us = server_us
if ARGV[1] ~= '' then now_us = math.floor(tonumber(ARGV[1]) * 1000 + 0.5) end
local noise = math.max(1e-6, math.abs(now_us / 1000) * EPSILON)
local count = #KEYS
local rels_us = {}
local delay = 0
local possible = true
for i = 1, count do
  local base = 2 + (i - 1) * 4
  local interval = tonumber(ARGV[base + 1])
  local tau = tonumber(ARGV[base + 2])
  local burst = tonumber(ARGV[base + 3])
  local cost = tonumber(ARGV[base + 4])
  local tat_us = tonumber(redis.call('GET', KEYS[i]))
  local rel_us = 0
  if tat_us ~= nil and tat_us > now_us then rel_us = tat_us - now_us end
  rels_us[i] = rel_us
  if cost > burst then
    possible = false
  else
    local wait = rel_us / 1000 + cost * interval - (tau + interval)
    if wait > noise and wait > delay then delay = wait end
  end
end
local reserved = possible and (ARGV[2] == '' or delay <= tonumber(ARGV[2]))
local replies = {0}
if reserved then
  replies[1] = 1
  local expiry_from_us = math.min(now_us, server_us)
  for i = 1, count do
    local base = 2 + (i - 1) * 4
    local interval = tonumber(ARGV[base + 1])
    local cost = tonumber(ARGV[base + 4])
    local rel_us = rels_us[i]
    local from = delay
    if rel_us / 1000 > delay then from = rel_us / 1000 end
    local next_rel_us = math.floor((from + cost * interval) * 1000 + 0.5)
    if next_rel_us <= rel_us then next_rel_us = rel_us + 1 end
    redis.call('SET', KEYS[i], string.format('%d', now_us + next_rel_us),
      'PX', math.ceil((now_us + next_rel_us - expiry_from_us) / 1000))
  end
end
for i = 1, count do replies[i + 1] = rels_us[i] end
return replies
`,
  sha1: '24c3ad27f5f3219b7e37a45321b80909db3514d5',
};

/**
 * Give back `cost` cells, `gcraRefund`: the TAT moves back by `cost · interval`, never below
 * now (the key is deleted when its state becomes empty).
 *
 * - `KEYS[1]`: the key. `ARGV`: `now`, `interval`, `cost`.
 * - Reply: the TAT after the call relative to now, in µs (0: empty).
 */
export const REFUND_SCRIPT: RedisScript = {
  lua: `local clock = redis.call('TIME')
local server_us = clock[1] * 1000000 + clock[2]
local now_us = server_us
if ARGV[1] ~= '' then now_us = math.floor(tonumber(ARGV[1]) * 1000 + 0.5) end
local interval = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat_us = tonumber(redis.call('GET', KEYS[1]))
if tat_us == nil or tat_us <= now_us then return 0 end
local next_rel_us = math.floor((tat_us - now_us) - cost * interval * 1000 + 0.5)
if next_rel_us <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
local expiry_from_us = math.min(now_us, server_us)
redis.call('SET', KEYS[1], string.format('%d', now_us + next_rel_us),
  'PX', math.ceil((now_us + next_rel_us - expiry_from_us) / 1000))
return next_rel_us
`,
  sha1: '4847d92bd833ba7c2878210fbba3de9337e4f10e',
};

/**
 * Read a key, `gcraPeek`; writes nothing (not even the expiry).
 *
 * - `KEYS[1]`: the key. `ARGV`: `now`.
 * - Reply: the TAT relative to now, in µs (0: empty).
 */
export const PEEK_SCRIPT: RedisScript = {
  lua: `local now_us
if ARGV[1] ~= '' then
  now_us = math.floor(tonumber(ARGV[1]) * 1000 + 0.5)
else
  local clock = redis.call('TIME')
  now_us = clock[1] * 1000000 + clock[2]
end
local tat_us = tonumber(redis.call('GET', KEYS[1]))
if tat_us == nil or tat_us <= now_us then return 0 end
return tat_us - now_us
`,
  sha1: '7c4dfe467d029383f562176db3e3cb5da6b8c489',
};

/**
 * Forget a key.
 *
 * - `KEYS[1]`: the key. Reply: 1 when it held state, else 0.
 */
export const RESET_SCRIPT: RedisScript = {
  lua: `return redis.call('DEL', KEYS[1])
`,
  sha1: '30285580cec028d85afd3da6be3b0795b0cc3fe6',
};

/**
 * Block a key until `now + ms`, `gcraBlock`: `tat = max(tat, now + ms + tau)`, never earlier
 * than it already is.
 *
 * - `KEYS[1]`: the key. `ARGV`: `now`, `ms`, `tau` (ms).
 * - Reply: the TAT after the call relative to now, in µs (0: empty).
 */
export const BLOCK_SCRIPT: RedisScript = {
  lua: `local clock = redis.call('TIME')
local server_us = clock[1] * 1000000 + clock[2]
local now_us = server_us
if ARGV[1] ~= '' then now_us = math.floor(tonumber(ARGV[1]) * 1000 + 0.5) end
local until_rel_us = math.floor((tonumber(ARGV[2]) + tonumber(ARGV[3])) * 1000 + 0.5)
local tat_us = tonumber(redis.call('GET', KEYS[1]))
local rel_us = 0
if tat_us ~= nil and tat_us > now_us then rel_us = tat_us - now_us end
if until_rel_us <= rel_us then return rel_us end
local expiry_from_us = math.min(now_us, server_us)
redis.call('SET', KEYS[1], string.format('%d', now_us + until_rel_us),
  'PX', math.ceil((now_us + until_rel_us - expiry_from_us) / 1000))
return until_rel_us
`,
  sha1: '8d4dbb41763ec020b3a048ce3135265563a32f0b',
};

/** Every script of `RedisBackend`, by operation. */
export const REDIS_SCRIPTS = {
  reserve: RESERVE_SCRIPT,
  reserveMany: RESERVE_MANY_SCRIPT,
  refund: REFUND_SCRIPT,
  peek: PEEK_SCRIPT,
  reset: RESET_SCRIPT,
  block: BLOCK_SCRIPT,
} as const;
