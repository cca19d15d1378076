-- Deliver events again from the start: pending and due now, attempts and retry window restarted,
-- no expiry while pending, out of the dead list. Whatever their state: a delivered event is sent
-- again with the same webhook-id (the app asked for it; a receiver that dedupes drops it).
-- KEYS: due, dead (zsets). ARGV: event key prefix, now ms, then event ids.
-- Returns how many of them exist.
local due_key, dead_key = KEYS[1], KEYS[2]
local event_prefix, now_ms = ARGV[1], ARGV[2]
local first_id = 3
local n = 0
for i = first_id, #ARGV do
  local id = ARGV[i]
  local event = event_prefix .. id
  if redis.call('EXISTS', event) == 1 then
    redis.call('HSET', event, 'state', 'pending', 'attempts', 0, 'window_ms', now_ms)
    redis.call('HINCRBY', event, 'claims', 1)  -- an attempt in flight records nothing
    redis.call('PERSIST', event)
    redis.call('ZADD', due_key, now_ms, id)
    redis.call('ZREM', dead_key, id)
    n = n + 1
  end
end
return n
