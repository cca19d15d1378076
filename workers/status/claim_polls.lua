-- Claim due entries of the status-poll schedule (smsq.workers.status.schedule): each claimed entry's
-- score is pushed out by the claim lease, so a lost poll task loses nothing: it comes due again.
-- Returns the claimed ids.
local polls = KEYS[1]
local now_ms, limit, claim_lease_ms = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

local due = redis.call('ZRANGEBYSCORE', polls, '-inf', now_ms, 'LIMIT', 0, limit)
local until_ms = tonumber(now_ms) + claim_lease_ms
for _, id in ipairs(due) do redis.call('ZADD', polls, until_ms, id) end
return due
