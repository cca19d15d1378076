-- Claim due callback events for delivery, at most `cap` in flight per callback URL across every
-- worker. A claimed event's due score is pushed out by the claim lease, so an event whose task or
-- worker is lost comes due again (issue 12's leases); its `claims` counter goes up, and only the
-- task holding the latest claim may record an outcome (finish.lua). An event over its URL's cap is
-- looked at again later, at the back of its URL's line: a slow receiver holds `cap` slots, never the
-- others' turn.
-- KEYS: due (zset). ARGV: event key prefix, API key prefix, busy key prefix, now ms, claim at most,
-- look at most, lease ms, cap per URL, busy delay ms.
-- Returns a flat list: event id, claim number, URL id ('' when the key has no callback URL), ...
local due_key = KEYS[1]
local event_prefix, api_key_prefix, busy_prefix = ARGV[1], ARGV[2], ARGV[3]
local now_ms, limit, scan = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local lease_ms, cap, busy_delay_ms = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local until_ms = now_ms + lease_ms
local due = redis.call('ZRANGEBYSCORE', due_key, '-inf', now_ms, 'LIMIT', 0, scan)
local out, claimed = {}, 0
local in_flight = {}  -- URL id -> requests in flight (read once per pass)
-- URL id -> {at ms, n}: the back of its line, where its next put-off event goes: slices of `cap`
-- events a busy delay apart, about what the URL can take. Kept between passes (<busy>:tail), so a
-- backlog of 100,000 for one slow URL is put off once, to its place in the line, instead of every
-- event that comes due again being put off a slice ahead and read again on the next pass.
local tails = {}
for _, id in ipairs(due) do
  if claimed >= limit then break end
  local event = event_prefix .. id
  local key_id = redis.call('HGET', event, 'key_id')
  if not key_id then
    redis.call('ZREM', due_key, id)  -- expired or removed: nothing to deliver
  else
    local url = redis.call('HGET', api_key_prefix .. key_id, 'callback_url') or ''
    local url_id, busy = '', nil
    if url ~= '' then
      url_id = redis.sha1hex(url)
      busy = busy_prefix .. url_id
      if in_flight[url_id] == nil then
        redis.call('ZREMRANGEBYSCORE', busy, '-inf', now_ms)  -- slots of lost tasks
        in_flight[url_id] = redis.call('ZCARD', busy)
      end
    end
    if busy and in_flight[url_id] >= cap then
      local tail = tails[url_id]
      if tail == nil then
        local stored = redis.call('GET', busy .. ':tail')
        local at, n = string.match(stored or '', '^(%d+):(%d+)$')
        tail = {at = tonumber(at) or 0, n = tonumber(n) or 0}
        tails[url_id] = tail
      end
      if tail.at < now_ms + busy_delay_ms then tail.at, tail.n = now_ms + busy_delay_ms, 0 end
      redis.call('ZADD', due_key, tail.at, id)
      tail.n = tail.n + 1
      if tail.n >= cap then tail.at, tail.n = tail.at + busy_delay_ms, 0 end
    else
      local claim = redis.call('HINCRBY', event, 'claims', 1)
      redis.call('HSET', event, 'state', 'delivering')
      redis.call('ZADD', due_key, until_ms, id)
      if busy then
        redis.call('ZADD', busy, until_ms, id)
        redis.call('PEXPIRE', busy, lease_ms)
        in_flight[url_id] = in_flight[url_id] + 1
      end
      table.insert(out, id)
      table.insert(out, claim)
      table.insert(out, url_id)
      claimed = claimed + 1
    end
  end
end
for url_id, tail in pairs(tails) do
  redis.call('SET', busy_prefix .. url_id .. ':tail', string.format('%d:%d', tail.at, tail.n), 'PX',
    tail.at - now_ms + busy_delay_ms)
end
return out
