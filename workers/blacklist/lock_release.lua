-- Release the blacklist sync lock only while it is still ours (it may have expired and been taken).
-- Returns 1 when released.
local lock = KEYS[1]
local token = ARGV[1]

if redis.call('GET', lock) == token then return redis.call('DEL', lock) end
return 0
