-- RabbitMQ lanes: count the tasks smsq just published into a lane and mark the count with their publish
-- time, so the recovery check can tell the publish time of the oldest task still waiting from the
-- queue's depth alone (smsq.producers.amqp_lanes). Only the last `keep` marks are kept; `floor` is the
-- highest count trimmed away, below which the marks tell nothing. Both keys live `ttl` seconds past
-- the last publish. Returns the new total.
local published, marks = KEYS[1], KEYS[2]
local count, published_ms, keep, ttl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

local total = redis.call('HINCRBY', published, 'total', count)
redis.call('ZADD', marks, total, total .. ':' .. published_ms)
local extra = redis.call('ZCARD', marks) - keep
if extra > 0 then
  local cut = redis.call('ZRANGE', marks, extra - 1, extra - 1, 'WITHSCORES')
  redis.call('ZREMRANGEBYRANK', marks, 0, extra - 1)
  redis.call('HSET', published, 'floor', cut[2])
end
redis.call('EXPIRE', published, ttl)
redis.call('EXPIRE', marks, ttl)
return total
