-- Renew the blacklist sync lock only while it is still ours (it may have expired and been taken).
-- Returns 1 when renewed.
local lock = KEYS[1]
local token, ttl_ms = ARGV[1], ARGV[2]

if redis.call('GET', lock) == token then return redis.call('PEXPIRE', lock, ttl_ms) end
return 0
