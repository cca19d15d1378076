-- Count a provider's call outcomes in the current time bucket and open its circuit when the error
-- rate over the window reaches the threshold (smsq.workers.limits.health). Returns 1 when these
-- outcomes opened the circuit.
local circuit = KEYS[1]
local bucket_prefix, current, buckets = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])  -- buckets in the window
local ok_n, error_n = tonumber(ARGV[4]), tonumber(ARGV[9])
local min_requests, threshold, cooldown_ms, bucket_ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], ARGV[8]

local bucket = bucket_prefix .. current
if ok_n > 0 then redis.call('HINCRBY', bucket, 'ok', ok_n) end
if error_n > 0 then redis.call('HINCRBY', bucket, 'error', error_n) end
redis.call('EXPIRE', bucket, bucket_ttl)
if error_n == 0 or redis.call('EXISTS', circuit) == 1 then return 0 end
local ok, errors = 0, 0
for i = current - buckets + 1, current do
  local counts = redis.call('HMGET', bucket_prefix .. i, 'ok', 'error')
  ok = ok + (tonumber(counts[1]) or 0)
  errors = errors + (tonumber(counts[2]) or 0)
end
local total = ok + errors
if total >= min_requests and errors / total >= threshold then
  redis.call('SET', circuit, 'open', 'PX', cooldown_ms)
  for i = current - buckets + 1, current do redis.call('DEL', bucket_prefix .. i) end
  return 1
end
return 0
