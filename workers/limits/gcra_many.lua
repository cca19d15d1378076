-- As many single tokens as are allowed now, up to `wanted`, in one call: the same grants as that
-- many calls of gcra.lua one after another, for a fraction of Redis's time.
-- Returns {tokens granted, µs to wait before asking for the next one (0 when all were granted)}.
local arrival_key = KEYS[1]  -- the theoretical arrival time, µs
local interval, tolerance, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])

local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local tat = tonumber(redis.call('GET', arrival_key) or now_us)
if tat < now_us then tat = now_us end
local granted = math.floor((now_us + tolerance - tat) / interval)
if granted > wanted then granted = wanted end
if granted < 0 then granted = 0 end
if granted > 0 then
  local new_tat = tat + interval * granted
  redis.call('SET', arrival_key, string.format('%d', new_tat), 'PX', math.ceil((new_tat - now_us) / 1000) + 1000)
end
if granted == wanted then return {granted, 0} end
return {granted, tat + interval * (granted + 1) - tolerance - now_us}
