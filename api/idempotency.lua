-- One API key's Idempotency-Key (smsq.api.idempotency): a hash holding the request's digest, the
-- token of the request answering it while in flight, then its first answer.
--   begin   ARGV: token, request digest, in-flight seconds -> {} when begun, else the entry's fields
--   finish  ARGV: token, status, body, location, seconds   -> 1 when stored (still ours), else 0
--   release ARGV: token                                     -> 1 when deleted (still ours), else 0
local entry = KEYS[1]
local op, token = ARGV[1], ARGV[2]
local third, fourth, fifth, sixth = ARGV[3], ARGV[4], ARGV[5], ARGV[6]

if op == 'begin' then
  local request, in_flight_seconds = third, tonumber(fourth)
  if redis.call('EXISTS', entry) == 1 then return redis.call('HGETALL', entry) end
  redis.call('HSET', entry, 'token', token, 'request', request, 'state', 'in_flight')
  redis.call('EXPIRE', entry, in_flight_seconds)
  return {}
end

if redis.call('HGET', entry, 'token') ~= token then return 0 end
if op == 'finish' then
  local status, body, location, seconds = third, fourth, fifth, tonumber(sixth)
  redis.call('HSET', entry, 'state', 'done', 'status', status, 'body', body, 'location', location)
  redis.call('EXPIRE', entry, seconds)
else
  redis.call('DEL', entry)
end
return 1
