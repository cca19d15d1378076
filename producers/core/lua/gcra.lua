-- Take `cost` tokens from a rate limit (an API key's: smsq.producers.keys.limits; the providers' pace
-- with their own script, smsq.workers.limits pace.lua): GCRA on Redis server time, so every process and host agrees on one
-- clock. Returns 0 when allowed, else the µs to wait before asking again (nothing was taken).
local arrival_key = KEYS[1]  -- the theoretical arrival time, µs
local interval, tolerance, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])

local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local tat = tonumber(redis.call('GET', arrival_key) or now_us)
if tat < now_us then tat = now_us end
local new_tat = tat + interval * cost
local allow_at = new_tat - tolerance
if allow_at > now_us then return allow_at - now_us end
redis.call('SET', arrival_key, string.format('%d', new_tat), 'PX', math.ceil((new_tat - now_us) / 1000) + 1000)
return 0
