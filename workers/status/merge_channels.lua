-- Merge each channel's status into a message record (the ch:<channel> fields), only where it ranks
-- at least as high as what is stored: a late or repeated report never replaces better knowledge
-- (smsq.workers.status.settle). A channel entry is replaced by one of higher rank, or of equal rank
-- while not final (rank <= 2); the record must belong to the expected provider and message id.
-- Returns {0} no record | {2, what differs, stored value} mismatch | {1, record fields...}.
local record = KEYS[1]
local expected = {provider = ARGV[1], provider_message_id = ARGV[2]}  -- '' = any
local first = 3  -- then (channel, rank, entry JSON) triples

if redis.call('EXISTS', record) == 0 then return {0} end
for _, field in ipairs({'provider', 'provider_message_id'}) do
  local stored = redis.call('HGET', record, field)
  if expected[field] ~= '' and stored and stored ~= '' and stored ~= expected[field] then
    return {2, field, stored}
  end
end
for i = first, #ARGV, 3 do
  local field, new_rank, entry = 'ch:' .. ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local old = redis.call('HGET', record, field)
  local replace = true
  if old then
    local old_rank = tonumber(cjson.decode(old)['rank']) or 0
    replace = new_rank > old_rank or (new_rank == old_rank and new_rank <= 2)
  end
  if replace then redis.call('HSET', record, field, entry) end
end
return {1, redis.call('HGETALL', record)}
