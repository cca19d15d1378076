-- Entries whose time is up become tombstones dated when they expired, so the sync removes them at
-- the providers. Returns the expired numbers (at most limit; call again while it returns limit).
local entries, active_scores, tombstones, tombstone_info = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])

local due = redis.call('ZRANGEBYSCORE', active_scores, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
local numbers = {}
for i = 1, #due, 2 do
  local number, at = due[i], due[i + 1]
  redis.call('HDEL', entries, number)
  redis.call('ZREM', active_scores, number)
  redis.call('ZADD', tombstones, at, number)
  redis.call('HSET', tombstone_info, number,
    cjson.encode({source = 'expiry', reason = 'expired', removed_ms = tonumber(at)}))
  numbers[#numbers + 1] = number
end
return numbers
