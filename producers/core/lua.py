"""Lua scripts of the state store. Each runs atomically in Redis, so no two clients interleave."""

# Counts per status of the messages created in each hour (for summaries over a time range), kept
# in step with every status change: the hour's hash, named stats prefix .. floor(created_ms / 1 h).
# Needs `record` (the record key); uses `stats_prefix` and `stats_ttl`, declared by each script.
_COUNT_BY_HOUR = """
local function count_by_hour(record, from_status, to_status)
  if stats_prefix == '' then return end
  local created = tonumber(redis.call('HGET', record, 'created_ms') or '0') or 0
  local bucket = stats_prefix .. string.format('%d', math.floor(created / 3600000))
  if from_status then redis.call('HINCRBY', bucket, from_status, -1) end
  redis.call('HINCRBY', bucket, to_status, 1)
  redis.call('EXPIRE', bucket, stats_ttl)
end
"""

# KEYS: record, idempotency key (or the record key again when none), schedule zset
# ARGV: id, idempotency key's lifetime in seconds ('0' = no key), due_ms ('' = not scheduled),
#       stats prefix ('' = none), stats ttl seconds, field, value, ...
CREATE = (
    """
local stats_prefix, stats_ttl = ARGV[4], ARGV[5]
"""
    + _COUNT_BY_HOUR
    + """
if ARGV[2] ~= '0' then
  local existing = redis.call('GET', KEYS[2])
  if existing then return {0, existing} end
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1]) end
count_by_hour(KEYS[1], nil, redis.call('HGET', KEYS[1], 'status'))
return {1, ARGV[1]}
"""
)

# One transition, as a Lua function over K (keys) and A (arguments), so the single and the many-at-once
# scripts run the very same code.
# K: record, leases zset, schedule zset, poll schedule zset
# A: 1 id, 2 new status, 3 allowed sources (",a,b,"), 4 now_ms, 5 expire seconds ('' none),
#    6 lease token required ('' none), 7 lease deadline ms for new 'sending' ('' none),
#    8 schedule at ms ('' none), 9 unschedule ('1'|'0'), 10 campaign counter key prefix,
#    11 attempt entry JSON to append ('' none), 12 return record ('1'|'0'),
#    13 first status poll at ms ('' none; an earlier entry is kept), 14 stats prefix ('' none),
#    15 stats ttl seconds, 16.. field, value pairs
# A final status (A[5] set) also takes the message out of the poll schedule.
# Returns {ok (1|0), previous status or '', [record fields when asked]}.
_TRANSITION_FUNCTION = (
    """
local stats_prefix, stats_ttl = '', 0
"""
    + _COUNT_BY_HOUR
    + """
local function transition(K, A)
  stats_prefix, stats_ttl = A[14], A[15]
  local current = redis.call('HGET', K[1], 'status')
  if not current then return {0, ''} end
  if not string.find(A[3], ',' .. current .. ',', 1, true) then return {0, current} end
  if A[6] ~= '' and redis.call('HGET', K[1], 'lease_token') ~= A[6] then
    return {0, current}
  end
  redis.call('HSET', K[1], 'status', A[2], 'updated_ms', A[4])
  if #A > 15 then redis.call('HSET', K[1], unpack(A, 16)) end
  if A[11] ~= '' then
    local log = redis.call('HGET', K[1], 'attempt_log')
    if log and log ~= '' then log = log .. ',' .. A[11] else log = A[11] end
    redis.call('HSET', K[1], 'attempt_log', log)
  end
  if A[2] == 'sending' and A[7] ~= '' then
    redis.call('ZADD', K[2], A[7], A[1])
  elseif current == 'sending' then
    redis.call('ZREM', K[2], A[1])
  end
  if A[8] ~= '' then redis.call('ZADD', K[3], A[8], A[1]) end
  if A[9] == '1' then redis.call('ZREM', K[3], A[1]) end
  if A[5] ~= '' then
    redis.call('EXPIRE', K[1], A[5])
    redis.call('ZREM', K[4], A[1])
  end
  if A[13] ~= '' then redis.call('ZADD', K[4], 'LT', A[13], A[1]) end
  count_by_hour(K[1], current, A[2])
  local campaign = redis.call('HGET', K[1], 'campaign_id')
  if campaign and campaign ~= '' then
    local counts = A[10] .. campaign .. ':counts'
    redis.call('HINCRBY', counts, current, -1)
    redis.call('HINCRBY', counts, A[2], 1)
  end
  if A[12] == '1' then return {1, current, redis.call('HGETALL', K[1])} end
  return {1, current}
end
"""
)

# KEYS: record, leases zset, schedule zset, poll schedule zset   ARGV: as A above
TRANSITION = _TRANSITION_FUNCTION + "return transition(KEYS, ARGV)\n"

# Many transitions in one call: a chunk's claims or outcomes cost one command instead of hundreds
# (the client-side cost of packing each was most of a bulk send's CPU). Each is still checked and
# applied on its own, exactly as TRANSITION does.
# KEYS: leases zset, schedule zset, poll schedule zset
# ARGV: record key prefix, then for each transition: its argument count n, then its n arguments (A).
TRANSITION_MANY = (
    _TRANSITION_FUNCTION
    + """
local results, i = {}, 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local A = {unpack(ARGV, i + 1, i + n)}
  table.insert(results, transition({ARGV[1] .. A[1], KEYS[1], KEYS[2], KEYS[3]}, A))
  i = i + n + 1
end
return results
"""
)

# Release due entries of the schedule. An entry stays in the schedule with its score pushed out by a
# claim lease until the releaser confirms it published it (MARK_PUBLISHED), so a releaser that dies
# between claim and publish loses nothing: the entry comes due again.
# After a publish the entry stays as the message's watch (its deadline: published + the lane's recovery
# limit) until a worker claims the message (queued -> sending removes it). A watch that comes due is a
# recovery check: the message was published for this queueing (published_ms >= queued_ms) and is still
# unclaimed. If its task has left the lane's queue (it was published before the oldest task still waiting
# there: the queue is FIFO) a worker took it and was lost, so it is published again; otherwise it is
# still waiting behind others and is looked at again one limit later.
# KEYS: schedule zset   ARGV: now_ms, limit, claim lease ms, record key prefix, campaign key prefix,
#                             stats prefix ('' none), stats ttl seconds,
#                             watch ('1' check published entries, '0' release them as before),
#                             oldest waiting publish ms of high, regular, low, their recovery limits ms
# Returns a flat list: id, priority, claim score, recovered ('1' published again after a stall), ...
CLAIM_DUE = (
    """
local stats_prefix, stats_ttl = ARGV[6] or '', ARGV[7]
local watching = ARGV[8] == '1'
local lanes = {high = 1, regular = 2, low = 3}
"""
    + _COUNT_BY_HOUR
    + """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
local until_ms = tonumber(ARGV[1]) + tonumber(ARGV[3])
for _, id in ipairs(due) do
  local record = ARGV[4] .. id
  local found = redis.call('HMGET', record, 'status', 'priority', 'queued_ms', 'published_ms')
  local status, priority = found[1], found[2] or 'regular'
  if status == 'scheduled' or status == 'queued' then
    local release, recovered = true, '0'
    local published = tonumber(found[4] or '')
    if watching and status == 'queued' and published and published >= (tonumber(found[3] or '') or 0) then
      local lane = lanes[priority] or 2
      if published < tonumber(ARGV[8 + lane]) then
        recovered = '1'
      else
        release = false
        redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[11 + lane]), id)
      end
    end
    if release then
      if status == 'scheduled' then
        redis.call('HSET', record, 'status', 'queued', 'queued_ms', ARGV[1], 'updated_ms', ARGV[1])
        local campaign = redis.call('HGET', record, 'campaign_id')
        if campaign and campaign ~= '' then
          local counts = ARGV[5] .. campaign .. ':counts'
          redis.call('HINCRBY', counts, 'scheduled', -1)
          redis.call('HINCRBY', counts, 'queued', 1)
        end
        count_by_hour(record, 'scheduled', 'queued')
      end
      redis.call('ZADD', KEYS[1], until_ms, id)
      table.insert(out, id)
      table.insert(out, priority)
      table.insert(out, tostring(until_ms))
      table.insert(out, recovered)
    end
  else
    -- cancelled, already sending or finished, or expired away: nothing to release.
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"""
)

# Take records that are being deleted unsent (an undone campaign) out of their hour's counts; a count
# that reaches 0 is removed, and the hash with its last field.  KEYS: hour hash  ARGV: status, n, ...
UNCOUNT = """
for i = 1, #ARGV, 2 do
  if redis.call('HINCRBY', KEYS[1], ARGV[i], -tonumber(ARGV[i + 1])) == 0 then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return 1
"""

# Remove a schedule entry only if nobody moved it since we claimed it (a retry may have re-added it).
# KEYS: schedule zset   ARGV: id, expected score
REMOVE_IF_SCORE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
"""

# Claim expired leases (worker killed mid-call): KEYS: leases zset  ARGV: now_ms, limit, new score
CLAIM_EXPIRED_LEASES = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(expired) do redis.call('ZADD', KEYS[1], ARGV[3], id) end
return expired
"""

# A published message's schedule entry becomes its watch: moved to its recovery deadline, with the
# publish time on the record, but only if nobody touched the entry since the claim (a fast worker's
# claim removed it; a retry re-added it with another score). One that is no longer queued is removed.
# KEYS: schedule zset   ARGV: record key prefix, published ms, then id, claim score, deadline ms, ...
MARK_PUBLISHED = """
local marked = 0
for i = 3, #ARGV, 3 do
  local id = ARGV[i]
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    local record = ARGV[1] .. id
    if redis.call('HGET', record, 'status') == 'queued' then
      redis.call('ZADD', KEYS[1], ARGV[i + 2], id)
      redis.call('HSET', record, 'published_ms', ARGV[2])
      marked = marked + 1
    else
      redis.call('ZREM', KEYS[1], id)
    end
  end
end
return marked
"""

# Just before the request leaves: the records a worker still holds (its lease token) name the provider
# being called. A lease that expires on a record without it means the request had certainly not
# started, so the message goes back to queued instead of `unknown`.
# ARGV: record key prefix, lease token, provider, id, ...   Returns how many were marked.
MARK_CALLING = """
local marked = 0
for i = 4, #ARGV do
  local record = ARGV[1] .. ARGV[i]
  if redis.call('HGET', record, 'lease_token') == ARGV[2] then
    redis.call('HSET', record, 'call_provider', ARGV[3])
    marked = marked + 1
  end
end
return marked
"""
