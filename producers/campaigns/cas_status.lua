-- Move a campaign's status only from one of the allowed ones (pause, resume, cancel, start).
-- Returns {1, previous} when moved, {0, current} when not allowed, {0, ''} when there is no campaign.
local campaign = KEYS[1]
local allowed, to = ARGV[1], ARGV[2]  -- allowed: ",running,paused,"

local current = redis.call('HGET', campaign, 'status')
if not current then return {0, ''} end
if not string.find(allowed, ',' .. current .. ',', 1, true) then return {0, current} end
redis.call('HSET', campaign, 'status', to)
return {1, current}
