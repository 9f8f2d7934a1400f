/**
 * @module backends/redis-script
 * The one Lua script of `RedisBackend`: the GCRA arithmetic of `gcra.ts` (`gcraReserveMany`,
 * which is `gcraReserve` for one key, and `gcraRefund`) around `GET`/`SET PX`, so that a
 * reservation on any number of co-located keys is one atomic round trip.
 *
 * Calling convention (all arguments are strings):
 *
 * - `KEYS`: the Redis keys, one per limit (exactly one for `refund`).
 * - `ARGV[1]`: `'reserve'` or `'refund'`.
 * - `ARGV[2]`: `now` in ms as JS wrote it, or `''` for the server's `TIME` (read once).
 * - `ARGV[3]`: `maxDelay` in ms, or `''` for no cap (ignored by `refund`).
 * - then four per key: `interval` (ms), `tau` (ms), `burst`, `cost`.
 *
 * The stored value is the TAT in integer microseconds since the epoch, written with
 * `string.format('%d')` (never `tostring`, which keeps 14 significant digits and switches to
 * exponent notation). Arithmetic on times is done relative to `now`, in ms, in the same order
 * as `gcra.ts`, so both give the same floats whenever the stored TAT is exact.
 *
 * A key expires (`PX`) when its state becomes empty: at the TAT, counted on the server's clock
 * from `min(now, TIME)`, so an injected `now` that runs ahead of the server never loses state.
 *
 * `reserve` answers `{allowed, delay, retryAfter}` for the request, then
 * `{allowed, delay, retryAfter, remaining, resetAfter}` per key, flattened; `refund` answers
 * nothing. Numbers travel as strings (`%.17g` round-trips a double; `'inf'` is Infinity),
 * because Redis truncates Lua numbers to integers.
 */

/** The Lua source. Its SHA-1 is computed once by `RedisBackend`. */
export const GCRA_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end

local NOISE = 1e-6
local op = ARGV[1]
local t = redis.call('TIME')
local server_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now_us = server_us
if ARGV[2] ~= '' then now_us = tonumber(ARGV[2]) * 1000 end
-- Keys expire on the server's clock: with an injected now ahead of it (a replay), keep the
-- key until the server's clock reaches the TAT too, so a fast replay never loses its state.
-- As in gcraStep: below about one ulp of now (epoch ms), a delay is rounding, not a wait.
local noise = math.max(NOISE, math.abs(now_us / 1000) * 2.220446049250313e-16)
local expiry_from_us = now_us
if server_us < expiry_from_us then expiry_from_us = server_us end

local function num(x)
  if x == math.huge then return 'inf' end
  return string.format('%.17g', x)
end

-- The live TAT (integer us) of key i, or nil when the key is empty (absent or not after now).
local function live(i)
  local v = tonumber(redis.call('GET', KEYS[i]))
  if v ~= nil and v > now_us then return v end
  return nil
end

-- Store a TAT (us, maybe fractional): rounded to the nearest us, expiring exactly when the
-- state becomes empty. floor_us: the stored value may not be at or below it (a reservation
-- always moves the TAT forward, even when cost * interval is below the 1 us resolution).
local function store(key, tat_us, floor_us)
  local stored = math.floor(tat_us + 0.5)
  if floor_us ~= nil and stored <= floor_us then stored = floor_us + 1 end
  local ttl = math.ceil((stored - expiry_from_us) / 1000)
  if stored <= now_us or ttl < 1 then
    redis.call('DEL', key)
  else
    redis.call('SET', key, string.format('%d', stored), 'PX', string.format('%d', ttl))
  end
  return stored
end

-- As remainingAt in gcra.ts: unit-cost requests that pass now with no delay on a key rel ms
-- ahead; the first is decided by the delay test itself, with the same noise.
local function remaining_at(rel, interval, tau)
  if rel + interval - (tau + interval) > noise then return 0 end
  local more = math.floor((tau + interval - rel + noise) / interval)
  if more > 1 then return more end
  return 1
end

if op == 'refund' then
  local interval, cost = tonumber(ARGV[4]), tonumber(ARGV[7])
  local tat = live(1)
  if tat ~= nil then store(KEYS[1], tat - cost * interval * 1000, nil) end
  return {}
end

local max_delay = math.huge
if ARGV[3] ~= '' then max_delay = tonumber(ARGV[3]) end

local n = #KEYS
local interval, tau, cost, tats, rels, delays = {}, {}, {}, {}, {}, {}
local delay, impossible = 0, false
for i = 1, n do
  local b = 3 + (i - 1) * 4
  interval[i] = tonumber(ARGV[b + 1])
  tau[i] = tonumber(ARGV[b + 2])
  local burst = tonumber(ARGV[b + 3])
  cost[i] = tonumber(ARGV[b + 4])
  local tat = live(i)
  tats[i] = tat
  if tat ~= nil then rels[i] = (tat - now_us) / 1000 else rels[i] = 0 end
  if cost[i] > burst then
    impossible = true
    delays[i] = math.huge
  else
    local d = rels[i] + cost[i] * interval[i] - (tau[i] + interval[i])
    if d <= noise then d = 0 end
    delays[i] = d
    if d > delay then delay = d end
  end
end
if impossible then delay = math.huge end

local out = {}
if impossible or delay > max_delay then
  local retry = math.huge
  if not impossible then retry = delay - max_delay end
  out[1], out[2], out[3] = '0', num(delay), num(retry)
  for i = 1, n do
    local d = delays[i]
    local r = 0
    if d == math.huge then r = d elseif d > max_delay then r = d - max_delay end
    local b = 3 + (i - 1) * 5
    out[b + 1], out[b + 2], out[b + 3], out[b + 4], out[b + 5] = '0', num(d), num(r), '0', num(rels[i])
  end
  return out
end

out[1], out[2], out[3] = '1', num(delay), '0'
for i = 1, n do
  local ahead = delay
  if tats[i] ~= nil and rels[i] > delay then ahead = rels[i] end
  ahead = ahead + cost[i] * interval[i]
  local base_us = now_us
  if tats[i] ~= nil then base_us = tats[i] end
  local stored = store(KEYS[i], now_us + ahead * 1000, math.floor(base_us))
  -- Counted on the TAT as stored, the one the next call will see.
  local remaining = remaining_at((stored - now_us) / 1000, interval[i], tau[i])
  local b = 3 + (i - 1) * 5
  out[b + 1], out[b + 2], out[b + 3], out[b + 4], out[b + 5] = '1', num(delays[i]), '0', num(remaining), num(ahead)
end
return out
`;
