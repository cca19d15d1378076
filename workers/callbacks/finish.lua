-- Record the outcome of one delivery attempt, if the caller holds the event's latest claim (a task
-- whose claim ran out and was claimed again, or replayed, records nothing: the newer one will).
-- Frees the event's slot of its URL. 'retry': pending again, due at next_due_ms. 'delivered' or
-- 'dead': out of the due set, kept for `keep_s` for list and replay; 'dead' joins the dead list.
-- 'handback': a stopping worker gives the event back unanswered: pending, due at next_due_ms, no
-- attempt counted (workers/callbacks/in_flight.py).
-- KEYS: due, dead (zsets), the URL's busy zset. ARGV: event key prefix, event id, claim, outcome,
-- now ms, next due ms, keep s, last result.
-- Returns 1 when recorded, 0 when the claim was not the latest.
local due_key, dead_key, busy = KEYS[1], KEYS[2], KEYS[3]
local event_prefix, id, claim, outcome = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now_ms, next_due_ms, keep_s, last_result = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local event = event_prefix .. id
if redis.call('HGET', event, 'claims') ~= claim then return 0 end
redis.call('ZREM', busy, id)
if outcome == 'handback' then
  redis.call('HSET', event, 'state', 'pending')
  redis.call('ZADD', due_key, next_due_ms, id)
  return 1
end
redis.call('HINCRBY', event, 'attempts', 1)
redis.call('HSET', event, 'last_result', last_result)
if outcome == 'retry' then
  redis.call('HSET', event, 'state', 'pending')
  redis.call('ZADD', due_key, next_due_ms, id)
else
  redis.call('HSET', event, 'state', outcome, 'finished_ms', now_ms)
  redis.call('ZREM', due_key, id)
  redis.call('EXPIRE', event, keep_s)
  if outcome == 'dead' then redis.call('ZADD', dead_key, now_ms, id) end
end
return 1
