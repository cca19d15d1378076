"""Lua scripts of the local blacklist (``smsq.producers.blacklist.store``): each write is one
atomic script."""

# A score is active when it is +inf (forever) or later than now. ZSCORE hands +inf to Lua as "inf".
ACTIVE = """
local function active(score, now)
  return score ~= false and (score == 'inf' or tonumber(score) > now)
end
"""

# KEYS: entries, active, tombstones, tombstone_info. ARGV: now_ms, cutoff_ms or '', then
# (number, meta JSON, score)... Adds each number not already active (an expired entry is replaced) and
# clears its tombstone. With a cutoff, a number removed after it is left alone: the sync planned from
# an older snapshot and must not undo a removal made while it ran.
ADD = (
    ACTIVE
    + """
local now, cutoff = tonumber(ARGV[1]), tonumber(ARGV[2])
local added = {}
for i = 3, #ARGV, 3 do
  local number = ARGV[i]
  local removed_at = cutoff and redis.call('ZSCORE', KEYS[3], number)
  if active(redis.call('ZSCORE', KEYS[2], number), now) or (removed_at and tonumber(removed_at) > cutoff) then
    added[#added + 1] = 0
  else
    redis.call('HSET', KEYS[1], number, ARGV[i + 1])
    redis.call('ZADD', KEYS[2], ARGV[i + 2], number)
    redis.call('ZREM', KEYS[3], number)
    redis.call('HDEL', KEYS[4], number)
    added[#added + 1] = 1
  end
end
return added
"""
)

# Same KEYS. ARGV: now_ms, cutoff_ms or '', then (number, tombstone JSON)... Always leaves a tombstone,
# even for a number not listed here: it may be listed at a provider, and the sync must remove it there.
# With a cutoff, an entry added after it is left alone (the mirror of _ADD's cutoff).
REMOVE = (
    ACTIVE
    + """
local now, cutoff = tonumber(ARGV[1]), tonumber(ARGV[2])
local removed = {}
for i = 3, #ARGV, 2 do
  local number = ARGV[i]
  local meta = cutoff and redis.call('HGET', KEYS[1], number)
  if meta and (cjson.decode(meta).added_ms or 0) > cutoff then
    removed[#removed + 1] = 0
  else
    removed[#removed + 1] = active(redis.call('ZSCORE', KEYS[2], number), now) and 1 or 0
    redis.call('HDEL', KEYS[1], number)
    redis.call('ZREM', KEYS[2], number)
    redis.call('ZADD', KEYS[3], now, number)
    redis.call('HSET', KEYS[4], number, ARGV[i + 1])
  end
end
return removed
"""
)

# Same KEYS. ARGV: now_ms, limit. Expired entries become tombstones dated when they expired.
EXPIRE_DUE = """
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local numbers = {}
for i = 1, #due, 2 do
  local number, at = due[i], due[i + 1]
  redis.call('HDEL', KEYS[1], number)
  redis.call('ZREM', KEYS[2], number)
  redis.call('ZADD', KEYS[3], at, number)
  redis.call('HSET', KEYS[4], number,
    cjson.encode({source = 'expiry', reason = 'expired', removed_ms = tonumber(at)}))
  numbers[#numbers + 1] = number
end
return numbers
"""

# KEYS: tombstones, tombstone_info. ARGV: cutoff_ms, limit.
PRUNE_TOMBSTONES = """
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, number in ipairs(old) do
  redis.call('ZREM', KEYS[1], number)
  redis.call('HDEL', KEYS[2], number)
end
return #old
"""
