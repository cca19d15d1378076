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
# ARGV: id, has_idempotency_key ('1'|'0'), due_ms ('' = not scheduled), stats prefix ('' = none),
#       stats ttl seconds, field, value, ...
CREATE = (
    """
local stats_prefix, stats_ttl = ARGV[4], ARGV[5]
"""
    + _COUNT_BY_HOUR
    + """
if ARGV[2] == '1' then
  local existing = redis.call('GET', KEYS[2])
  if existing then return {0, existing} end
  redis.call('SET', KEYS[2], ARGV[1])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1]) end
count_by_hour(KEYS[1], nil, redis.call('HGET', KEYS[1], 'status'))
return {1, ARGV[1]}
"""
)

# KEYS: record, leases zset, schedule zset, poll schedule zset
# ARGV: 1 id, 2 new status, 3 allowed sources (",a,b,"), 4 now_ms, 5 expire seconds ('' none),
#       6 lease token required ('' none), 7 lease deadline ms for new 'sending' ('' none),
#       8 schedule at ms ('' none), 9 unschedule ('1'|'0'), 10 campaign counter key prefix,
#       11 attempt entry JSON to append ('' none), 12 return record ('1'|'0'),
#       13 first status poll at ms ('' none; an earlier entry is kept), 14 stats prefix ('' none),
#       15 stats ttl seconds, 16.. field, value pairs
# A final status (ARGV[5] set) also takes the message out of the poll schedule.
# Returns {ok (1|0), previous status or '', [record fields when asked]}.
TRANSITION = (
    """
local stats_prefix, stats_ttl = ARGV[14], ARGV[15]
"""
    + _COUNT_BY_HOUR
    + """
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return {0, ''} end
if not string.find(ARGV[3], ',' .. current .. ',', 1, true) then return {0, current} end
if ARGV[6] ~= '' and redis.call('HGET', KEYS[1], 'lease_token') ~= ARGV[6] then
  return {0, current}
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updated_ms', ARGV[4])
if #ARGV > 15 then redis.call('HSET', KEYS[1], unpack(ARGV, 16)) end
if ARGV[11] ~= '' then
  local log = redis.call('HGET', KEYS[1], 'attempt_log')
  if log and log ~= '' then log = log .. ',' .. ARGV[11] else log = ARGV[11] end
  redis.call('HSET', KEYS[1], 'attempt_log', log)
end
if ARGV[2] == 'sending' and ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[7], ARGV[1])
elseif current == 'sending' then
  redis.call('ZREM', KEYS[2], ARGV[1])
end
if ARGV[8] ~= '' then redis.call('ZADD', KEYS[3], ARGV[8], ARGV[1]) end
if ARGV[9] == '1' then redis.call('ZREM', KEYS[3], ARGV[1]) end
if ARGV[5] ~= '' then
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  redis.call('ZREM', KEYS[4], ARGV[1])
end
if ARGV[13] ~= '' then redis.call('ZADD', KEYS[4], 'LT', ARGV[13], ARGV[1]) end
count_by_hour(KEYS[1], current, ARGV[2])
local campaign = redis.call('HGET', KEYS[1], 'campaign_id')
if campaign and campaign ~= '' then
  local counts = ARGV[10] .. campaign .. ':counts'
  redis.call('HINCRBY', counts, current, -1)
  redis.call('HINCRBY', counts, ARGV[2], 1)
end
if ARGV[12] == '1' then return {1, current, redis.call('HGETALL', KEYS[1])} end
return {1, current}
"""
)

# Release due entries of the schedule. An entry stays in the schedule with its score pushed out by a
# claim lease until the releaser confirms it published it (COMPLETE_RELEASE), so a releaser that dies
# between claim and publish loses nothing: the entry comes due again.
# KEYS: schedule zset   ARGV: now_ms, limit, claim lease ms, record key prefix, campaign key prefix,
#                             stats prefix ('' none), stats ttl seconds
# Returns a flat list: id, priority, claim score, ...
CLAIM_DUE = (
    """
local stats_prefix, stats_ttl = ARGV[6] or '', ARGV[7]
"""
    + _COUNT_BY_HOUR
    + """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
local until_ms = tonumber(ARGV[1]) + tonumber(ARGV[3])
for _, id in ipairs(due) do
  local record = ARGV[4] .. id
  local status = redis.call('HGET', record, 'status')
  if status == 'scheduled' or status == 'queued' then
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
    table.insert(out, redis.call('HGET', record, 'priority') or 'regular')
    table.insert(out, tostring(until_ms))
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
