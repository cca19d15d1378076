-- Push the arrival time out so nobody is allowed for `pause` µs (a provider's 429 / Retry-After).
local arrival_key = KEYS[1]  -- the theoretical arrival time, µs
local pause_us, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])  -- tolerance: the high tier's

local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local target = now_us + pause_us + tolerance
local tat = tonumber(redis.call('GET', arrival_key) or 0)
if target > tat then
  redis.call('SET', arrival_key, string.format('%d', target), 'PX', math.ceil((target - now_us) / 1000) + 1000)
end
return 1
