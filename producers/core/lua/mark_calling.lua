-- Just before a request leaves: the records a worker still holds (its lease token) name the provider
-- being called. A lease that expires on a record without it means the request had certainly not
-- started, so the message goes back to queued instead of `unknown`
-- (smsq.workers.sending.release.settle_expired_leases). Returns the ids marked: a record no longer
-- held with this token (its lease expired and another worker may have it) must not be sent.
local record_prefix, lease_token, provider = ARGV[1], ARGV[2], ARGV[3]
local first = 4  -- then the message ids

local marked = {}
for i = first, #ARGV do
  local record = record_prefix .. ARGV[i]
  if redis.call('HGET', record, 'lease_token') == lease_token then
    redis.call('HSET', record, 'call_provider', provider)
    marked[#marked + 1] = ARGV[i]
  end
end
return marked
