-- Forget tombstones older than the cutoff (every provider has long been told). Returns how many.
local tombstones, tombstone_info = KEYS[1], KEYS[2]
local cutoff_ms, limit = ARGV[1], tonumber(ARGV[2])

local old = redis.call('ZRANGEBYSCORE', tombstones, '-inf', cutoff_ms, 'LIMIT', 0, limit)
for _, number in ipairs(old) do
  redis.call('ZREM', tombstones, number)
  redis.call('HDEL', tombstone_info, number)
end
return #old
