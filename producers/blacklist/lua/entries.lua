-- Adding and removing blacklist entries (smsq.producers.blacklist.store), in one script so both
-- read "is this number blocked now" with the same function. ARGV[1] names the operation.
--
-- KEYS (both): entries hash, active zset, tombstones zset, tombstone_info hash.
-- add:    ARGV 'add', now ms, cutoff ms or '', then (number, meta JSON, score) triples. Adds each
--         number not already active (an expired entry is replaced) and clears its tombstone. With a
--         cutoff, a number removed after it is left alone: the sync planned from an older snapshot
--         and must not undo a removal made while it ran. Returns 1|0 per number (added or not).
-- remove: ARGV 'remove', now ms, cutoff ms or '', then (number, tombstone JSON) pairs. Always leaves
--         a tombstone, even for a number not listed here: it may be listed at a provider, and the
--         sync must remove it there. With a cutoff, an entry added after it is left alone (the
--         mirror of add's cutoff). Returns 1|0 per number (it was active here or not).
local entries, active_scores, tombstones, tombstone_info = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local operation, now, cutoff = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local first = 4

-- A score is active when it is +inf (forever) or later than now. ZSCORE hands +inf to Lua as "inf".
local function active(number)
  local score = redis.call('ZSCORE', active_scores, number)
  return score ~= false and (score == 'inf' or tonumber(score) > now)
end

local function add()
  local added = {}
  for i = first, #ARGV, 3 do
    local number, meta, score = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    local removed_at = cutoff and redis.call('ZSCORE', tombstones, number)
    if active(number) or (removed_at and tonumber(removed_at) > cutoff) then
      added[#added + 1] = 0
    else
      redis.call('HSET', entries, number, meta)
      redis.call('ZADD', active_scores, score, number)
      redis.call('ZREM', tombstones, number)
      redis.call('HDEL', tombstone_info, number)
      added[#added + 1] = 1
    end
  end
  return added
end

local function remove()
  local removed = {}
  for i = first, #ARGV, 2 do
    local number, info = ARGV[i], ARGV[i + 1]
    local meta = cutoff and redis.call('HGET', entries, number)
    if meta and (cjson.decode(meta).added_ms or 0) > cutoff then
      removed[#removed + 1] = 0
    else
      removed[#removed + 1] = active(number) and 1 or 0
      redis.call('HDEL', entries, number)
      redis.call('ZREM', active_scores, number)
      redis.call('ZADD', tombstones, now, number)
      redis.call('HSET', tombstone_info, number, info)
    end
  end
  return removed
end

if operation == 'add' then return add() end
if operation == 'remove' then return remove() end
return redis.error_reply('entries.lua: unknown operation ' .. tostring(operation))
