-- Remove a schedule entry only if nobody moved it since we claimed it (a retry may have re-added
-- it): the releaser's confirmation that it published what records.lua's claim_due handed out.
-- Returns 1 when removed.
local schedule = KEYS[1]
local id, expected_score = ARGV[1], ARGV[2]

local score = redis.call('ZSCORE', schedule, id)
if score and tonumber(score) == tonumber(expected_score) then
  redis.call('ZREM', schedule, id)
  return 1
end
return 0
