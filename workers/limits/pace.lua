-- A provider account's global rate limit (smsq.workers.limits.ratelimit), on one clock for every
-- worker and host: Redis server time (a test passes its own, ARGV[4]). Operations, named by ARGV[1]:
--   take      up to `wanted` single tokens (GCRA). Each granted token is a slot: the time its request
--             may leave, one interval after the one before, so requests are paced at the wire instead
--             of leaving in a clump when a group is granted. Returns {granted, µs to wait before
--             asking for the next one (0 when all were granted), µs from now to the first slot,
--             interval µs, now µs (the server time the slots count from)}.
--   throttle  the provider said 429: no slot before `pause` µs from now, and the rate is cut
--             (multiplicative decrease), at most once per `hold` µs so the 429s of requests that
--             were already on their way count as one signal. Returns the rate now, as text.
--   rate      {the rate now as text, µs time of the last cut or 0}.
-- The rate is `paced` (the configured rate less a safety margin) unless a 429 cut it; it then climbs
-- back by `recover` requests/s every second (additive increase). That is computed whenever the rate
-- is read, so nothing has to run for it to happen, and the cut's key expires once it is back.
local arrival_key, aimd_key = KEYS[1], KEYS[2]  -- the next free slot (µs); {rate, at} of the last cut
local op, paced, recover, now_us = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if now_us == 0 then
  local now = redis.call('TIME')
  now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
end

local rate, cut_at = paced, nil
local state = redis.call('HMGET', aimd_key, 'rate', 'at')
if state[1] then
  local climbed = tonumber(state[1]) + recover * (now_us - tonumber(state[2])) / 1000000
  if climbed < paced then rate, cut_at = climbed, tonumber(state[2]) end
end
local interval = math.ceil(1000000 / rate)

local function set_slot(tat)
  redis.call('SET', arrival_key, string.format('%d', tat), 'PX', math.ceil((tat - now_us) / 1000) + 1000)
end

if op == 'take' then
  -- share: how many intervals ahead this tier may reserve (>= 1, so a lone request goes at once)
  local share, wanted = tonumber(ARGV[5]), tonumber(ARGV[6])
  local tolerance = math.floor(interval * share)
  local tat = tonumber(redis.call('GET', arrival_key) or now_us)
  if tat < now_us then tat = now_us end
  local granted = math.floor((now_us + tolerance - tat) / interval)
  if granted > wanted then granted = wanted end
  if granted < 0 then granted = 0 end
  if granted > 0 then set_slot(tat + interval * granted) end
  local wait = 0
  if granted < wanted then wait = tat + interval * (granted + 1) - tolerance - now_us end
  return {granted, wait, tat - now_us, interval, now_us}
end

if op == 'throttle' then
  local pause_us, factor, floor_rate, hold_us = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
  local target = now_us + pause_us
  if target > tonumber(redis.call('GET', arrival_key) or 0) then set_slot(target) end
  if cut_at == nil or now_us - cut_at >= hold_us then
    local cut = rate * factor
    if cut < floor_rate then cut = floor_rate end
    if cut < paced then
      redis.call('HSET', aimd_key, 'rate', string.format('%.6f', cut), 'at', string.format('%d', now_us))
      redis.call('PEXPIRE', aimd_key, math.ceil((paced - cut) / recover * 1000) + 1000)
    end
    rate = cut
  end
  return string.format('%.3f', rate)
end

if op == 'rate' then
  return {string.format('%.3f', rate), cut_at or 0}
end
return redis.error_reply('pace.lua: unknown operation ' .. tostring(op))
