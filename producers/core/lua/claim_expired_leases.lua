-- Claim send leases that ran out (the worker was killed mid-call): each claimed entry's score is
-- pushed to recheck_ms, so another pass does not claim it again meanwhile. Returns the claimed ids.
local leases = KEYS[1]
local now_ms, limit, recheck_ms = ARGV[1], ARGV[2], ARGV[3]

local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now_ms, 'LIMIT', 0, tonumber(limit))
for _, id in ipairs(expired) do redis.call('ZADD', leases, recheck_ms, id) end
return expired
