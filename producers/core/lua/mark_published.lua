-- A published message's schedule entry becomes its watch: moved to its recovery deadline, with the
-- publish time on the record, but only if nobody touched the entry since the claim (a fast worker's
-- claim removed it; a retry re-added it with another score). One no longer queued is removed.
-- (smsq.workers.sending.recovery.) Returns how many became watches.
local schedule = KEYS[1]
local record_prefix, published_ms = ARGV[1], ARGV[2]
local first = 3  -- then id, claim score, deadline ms, for each message

local marked = 0
for i = first, #ARGV, 3 do
  local id, claim_score, deadline_ms = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local score = redis.call('ZSCORE', schedule, id)
  if score and tonumber(score) == tonumber(claim_score) then
    local record = record_prefix .. id
    if redis.call('HGET', record, 'status') == 'queued' then
      redis.call('ZADD', schedule, deadline_ms, id)
      redis.call('HSET', record, 'published_ms', published_ms)
      marked = marked + 1
    else
      redis.call('ZREM', schedule, id)
    end
  end
end
return marked
