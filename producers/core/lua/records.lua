-- Every write that creates a message record or moves its status, in one script: creating (one
-- message, or a campaign's records) and every status change (a send, an outcome, a release) go
-- through the same create and transition, and keep their counters with the same code. Loaded by
-- smsq.producers.core.store (keys: smsq.producers.core.keys); ARGV[1] names the operation.

local operation = ARGV[1]

-- Counters -------------------------------------------------------------------------------------
-- Per campaign: <campaign prefix><id>:counts, status -> messages (campaign progress).
-- Per creation hour: <stats prefix><floor(created_ms / 1 h)>, status -> messages created in that
-- hour (summaries over a time range), expiring stats_ttl after its last change.

local function count(counts, status, n)
  if n ~= 0 then redis.call('HINCRBY', counts, status, n) end
end

local function count_hour(hour, status, n, stats_ttl)
  count(hour, status, n)
  redis.call('EXPIRE', hour, stats_ttl)
end

local function hour_of(stats_prefix, created_ms)
  return stats_prefix .. string.format('%d', math.floor((tonumber(created_ms) or 0) / 3600000))
end

-- A status change, counted in the record's campaign (if any) and creation hour (if kept).
local function count_move(record, from_status, to_status, campaign_prefix, stats_prefix, stats_ttl)
  local campaign = redis.call('HGET', record, 'campaign_id')
  if campaign and campaign ~= '' then
    local counts = campaign_prefix .. campaign .. ':counts'
    count(counts, from_status, -1)
    count(counts, to_status, 1)
  end
  if stats_prefix ~= '' then
    local hour = hour_of(stats_prefix, redis.call('HGET', record, 'created_ms'))
    count(hour, from_status, -1)
    count_hour(hour, to_status, 1, stats_ttl)
  end
end

-- Callbacks to the app ----------------------------------------------------------------------------
-- A status change the app hears of (smsq.producers.callbacks.events.CALLBACK_STATUSES) of a message
-- accepted by an API key with a callback URL (the record's key_id, or its campaign's) becomes an
-- event in the same step: the record's callback_seq + 1, a hash under <callbacks>event:<message id>:<seq>,
-- due now in <callbacks>due and listed in <callbacks>log. Workers deliver it (workers/callbacks/);
-- nothing here waits for the app. K.callbacks and K.api_keys are prefixes (CallbackKeys).

local CALLBACK_STATUSES = {
  sent = true, delivered = true, failed = true, undeliverable = true, expired = true, blocked = true,
  cancelled = true, unknown = true,
}

local function emit_callback(K, c, record, id, from_status, to_status, now_ms)
  if not K.callbacks or not CALLBACK_STATUSES[to_status] then return end
  local found = redis.call('HMGET', record, 'key_id', 'campaign_id', 'last_error_code', 'last_error_detail', 'test',
    'traceparent')
  local key_id, campaign = found[1], found[2]
  if (not key_id or key_id == '') and campaign and campaign ~= '' then
    key_id = redis.call('HGET', c.campaign_prefix .. campaign, 'key_id')
  end
  if not key_id or key_id == '' then return end
  local url = redis.call('HGET', K.api_keys .. key_id, 'callback_url')
  if not url or url == '' then return end
  local seq = redis.call('HINCRBY', record, 'callback_seq', 1)
  local event_id = id .. ':' .. seq
  redis.call('HSET', K.callbacks .. 'event:' .. event_id, 'kind', 'message', 'message_id', id,
    'key_id', key_id, 'seq', seq, 'status', to_status, 'previous', from_status, 'at_ms', now_ms,
    'campaign_id', campaign or '', 'error_code', found[3] or '', 'error_detail', found[4] or '',
    'test', found[5] or '', 'state', 'pending', 'attempts', 0, 'window_ms', now_ms)
  -- Tracing (smsq.telemetry.tracing): the delivery's span joins the trace the message was accepted in.
  if found[6] then redis.call('HSET', K.callbacks .. 'event:' .. event_id, 'traceparent', found[6]) end
  redis.call('ZADD', K.callbacks .. 'due', now_ms, event_id)
  redis.call('ZADD', K.callbacks .. 'log', now_ms, event_id)
end

-- The one create path ----------------------------------------------------------------------------
-- A new record with its fields (status among them). A record created in a final status (blocked)
-- expires after the retention (expire_s), as one that reaches a final status by a transition does.
-- Counting is the caller's: one record counts 1, a campaign chunk counts its records at once.

local function push(t, ...)
  for i = 1, select('#', ...) do t[#t + 1] = select(i, ...) end
end

local function create(record, expire_s, ...)
  redis.call('HSET', record, ...)
  if expire_s ~= '' then redis.call('EXPIRE', record, expire_s) end
end

-- The one transition path -----------------------------------------------------------------------
-- Moves a record to `to` if its status is among `sources` (",a,b,") and, with a lease token, only
-- while the caller holds the lease; applies its side effects in the same step.
-- t: the transition's arguments by name (see transition_args); c: record/campaign/stats prefixes
-- and the stats ttl, the same for every transition of a call.
-- Returns {ok (1|0), previous status or '', [record fields when asked]}.

local function transition(K, c, t)
  local record = c.record_prefix .. t.id
  local current = redis.call('HGET', record, 'status')
  if not current then return {0, ''} end
  if not string.find(t.sources, ',' .. current .. ',', 1, true) then return {0, current} end
  if t.lease_token ~= '' and redis.call('HGET', record, 'lease_token') ~= t.lease_token then
    return {0, current}
  end
  redis.call('HSET', record, 'status', t.to, 'updated_ms', t.now_ms)
  if t.fields then redis.call('HSET', record, unpack(t.fields)) end
  if t.attempt ~= '' then
    local log = redis.call('HGET', record, 'attempt_log')
    if log and log ~= '' then log = log .. ',' .. t.attempt else log = t.attempt end
    redis.call('HSET', record, 'attempt_log', log)
  end
  if t.to == 'sending' and t.lease_until ~= '' then
    redis.call('ZADD', K.leases, t.lease_until, t.id)
  elseif current == 'sending' then
    redis.call('ZREM', K.leases, t.id)
  end
  if t.schedule_at ~= '' then redis.call('ZADD', K.schedule, t.schedule_at, t.id) end
  if t.unschedule == '1' then redis.call('ZREM', K.schedule, t.id) end
  -- A final status expires the record after the retention and takes it out of the poll schedule.
  if t.expire_s ~= '' then
    redis.call('EXPIRE', record, t.expire_s)
    redis.call('ZREM', K.polls, t.id)
  end
  -- A first status poll; an earlier entry is kept.
  if t.poll_at ~= '' then redis.call('ZADD', K.polls, 'LT', t.poll_at, t.id) end
  count_move(record, current, t.to, c.campaign_prefix, c.stats_prefix, c.stats_ttl)
  emit_callback(K, c, record, t.id, current, t.to, t.now_ms)
  if t.return_record == '1' then return {1, current, redis.call('HGETALL', record)} end
  return {1, current}
end

-- A transition's n arguments from ARGV[i + 1]: id, to, sources, now_ms, expire seconds ('' none:
-- not final), lease token required ('' none), lease deadline ms for a new 'sending' ('' none),
-- schedule at ms ('' none), unschedule ('1'|'0'), attempt entry JSON to append ('' none), return
-- the record ('1'|'0'), first status poll at ms ('' none), then field, value pairs.
local function transition_args(i, n)
  local t = {
    id = ARGV[i + 1], to = ARGV[i + 2], sources = ARGV[i + 3], now_ms = ARGV[i + 4],
    expire_s = ARGV[i + 5], lease_token = ARGV[i + 6], lease_until = ARGV[i + 7],
    schedule_at = ARGV[i + 8], unschedule = ARGV[i + 9], attempt = ARGV[i + 10],
    return_record = ARGV[i + 11], poll_at = ARGV[i + 12],
  }
  if n > 12 then t.fields = {unpack(ARGV, i + 13, i + n)} end
  return t
end

-- Operations ---------------------------------------------------------------------------------------

local operations = {}

-- Spend caps and velocity limits (smsq.producers.cost.caps): counters charged in the same script
-- that accepts, so producers racing each other can never take a counter past its limit. Each
-- charge is a counter key (KEYS[first_key + i - 1]) and amount, limit and expiry (unix s) in ARGV
-- from first_arg. Either every counter is charged or none is.
-- Returns 0 and the counters' new values, or the 1-based index of the first that would pass its
-- limit and its current value.

local function charge_all(items)
  local current = {}
  for i, item in ipairs(items) do
    current[i] = tonumber(redis.call('GET', item.key) or '0')
    if current[i] + tonumber(item.amount) > tonumber(item.limit) then return {i, current[i]} end
  end
  local after = {}
  for i, item in ipairs(items) do
    after[i] = redis.call('INCRBY', item.key, item.amount)
    redis.call('EXPIREAT', item.key, item.expire_at)
  end
  return {0, after}
end

local function charge(first_key, first_arg, n)
  local items = {}
  for i = 1, n do
    local at = first_arg + (i - 1) * 3
    items[i] = {key = KEYS[first_key + i - 1], amount = ARGV[at], limit = ARGV[at + 1], expire_at = ARGV[at + 2]}
  end
  return charge_all(items)
end

-- One message. KEYS: record, idempotency key (the record key again when none), schedule zset, then
-- the charges' counter keys. ARGV: 'create', id, the idempotency key's lifetime s ('0': no key), due
-- ms ('' not scheduled), stats prefix ('' none), stats ttl s, expire s ('' none: not final), the
-- number of charges n, n x (amount, limit, expire at), then field, value pairs (status among them).
-- Returns {1, id, counters after} created, {0, existing id} when the idempotency key was taken (nothing
-- charged), or {-1, index of the refusing charge, its value} (nothing written).
function operations.create()
  local record, idempotency, schedule = KEYS[1], KEYS[2], KEYS[3]
  local id, idempotency_ttl, due_ms = ARGV[2], ARGV[3], ARGV[4]
  local stats_prefix, stats_ttl, expire_s = ARGV[5], ARGV[6], ARGV[7]
  local charges = tonumber(ARGV[8])
  local first_field = 9 + charges * 3
  if idempotency_ttl ~= '0' then
    local existing = redis.call('GET', idempotency)
    if existing then return {0, existing} end
  end
  local charged = charge(4, 9, charges)
  if charged[1] ~= 0 then return {-1, charged[1], charged[2]} end
  if idempotency_ttl ~= '0' then redis.call('SET', idempotency, id, 'EX', idempotency_ttl) end
  create(record, expire_s, unpack(ARGV, first_field))
  if due_ms ~= '' then redis.call('ZADD', schedule, due_ms, id) end
  if stats_prefix ~= '' then
    local hour = hour_of(stats_prefix, redis.call('HGET', record, 'created_ms'))
    count_hour(hour, redis.call('HGET', record, 'status'), 1, stats_ttl)
  end
  return {1, id, charged[2]}
end

-- Many single messages (Smsq.send_many, the API's batch): each through create's steps on its own
-- and in order (idempotency key, charges, record, outbox entry), in one call; hour counts once.
-- KEYS: schedule zset, then each charge counter key once (records name them by index).
-- ARGV: 'create_many', record key prefix, stats prefix ('' none), stats ttl s, created ms (all
-- records' hour), shapes as JSON [[field, value, ...], ...] (the fields records of one shape share),
-- records as JSON [[id, idempotency key ('' none), its lifetime s, due ms ('' none), status, shape
-- (1-based), [counter key index (1-based, after the schedule), amount, limit, expire at, ...],
-- field, value, ...], ...].
-- Returns one reply per record: {1, id, counters after}, {0, existing id, its status} (the
-- idempotency key was taken; nothing charged) or {-1, index of the refusing charge, its value}.
function operations.create_many()
  local schedule = KEYS[1]
  local record_prefix, stats_prefix, stats_ttl, created_ms = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
  local shapes, records = cjson.decode(ARGV[6]), cjson.decode(ARGV[7])
  local counted, out, entries = {}, {}, {}  -- entries: the outbox (schedule) entries, added at once
  for i, r in ipairs(records) do
    local id, idempotency, idempotency_ttl, due_ms, status = r[1], r[2], r[3], r[4], r[5]
    local existing = idempotency ~= '' and redis.call('GET', idempotency)
    if existing then
      out[i] = {0, existing, redis.call('HGET', record_prefix .. existing, 'status') or ''}
    else
      local items, listed = {}, r[7]
      for j = 1, #listed, 4 do
        items[#items + 1] = {key = KEYS[listed[j] + 1], amount = listed[j + 1], limit = listed[j + 2],
          expire_at = listed[j + 3]}
      end
      local charged = charge_all(items)
      if charged[1] ~= 0 then
        out[i] = {-1, charged[1], charged[2]}
      else
        if idempotency ~= '' then redis.call('SET', idempotency, id, 'EX', idempotency_ttl) end
        -- One HSET with the shape's fields and its own (a command costs more than the table).
        local fields = {'status', status, unpack(shapes[r[6]])}
        push(fields, unpack(r, 8))
        create(record_prefix .. id, '', unpack(fields))
        if due_ms ~= '' then
          entries[#entries + 1] = due_ms
          entries[#entries + 1] = id
        end
        counted[status] = (counted[status] or 0) + 1
        out[i] = {1, id, charged[2]}
      end
    end
  end
  if #entries > 0 then redis.call('ZADD', schedule, unpack(entries)) end
  if stats_prefix ~= '' then
    local hour = hour_of(stats_prefix, created_ms)
    for status, n in pairs(counted) do count_hour(hour, status, n, stats_ttl) end
  end
  return out
end

-- A whole campaign's charges at once, at its creation (before any of its batches is queued).
-- KEYS: the counter keys. ARGV: 'charge', n, n x (amount, limit, expire at). Returns charge's reply.
function operations.charge()
  local charges = tonumber(ARGV[2])
  return charge(1, 3, charges)
end

-- A campaign's records, one argument of tab-separated lines instead of thousands of HSET commands
-- packed by the client. KEYS: campaign counts, the creation hour's status counts.
-- ARGV: 'store_campaign', record key prefix, campaign id, priority, channels, created ms, initial
-- status, blocked code, blocked detail, lines "id\tposition\tnumber\t(q|b)\tvars-json", stats ttl s,
-- retention s (a blocked record is final from the start), test ('1': a test key's campaign, whose
-- records carry test=1 so that the simulated provider alone sends them; '' or absent: live).
-- Returns how many records were stored.
function operations.store_campaign()
  local campaign_counts, hour = KEYS[1], KEYS[2]
  local record_prefix, campaign_id, priority, channels = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
  local created_ms, initial, blocked_code, blocked_detail = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
  local lines, stats_ttl, retention_s = ARGV[10], ARGV[11], ARGV[12]
  local test = ARGV[13] == '1'
  local pending, blocked = 0, 0
  for line in string.gmatch(lines, '[^\n]+') do
    local id, position, number, flag, vars = string.match(line, '^(.-)\t(.-)\t(.-)\t(.-)\t(.*)$')
    -- One HSET per record: a command costs more than building the table.
    local fields = {'status', initial, 'to', number, 'campaign_id', campaign_id, 'priority', priority,
      'channels', channels, 'created_ms', created_ms, 'position', position}
    local expire_s = ''
    if flag == 'b' then
      fields[2], expire_s, blocked = 'blocked', retention_s, blocked + 1
      push(fields, 'last_error_code', blocked_code, 'last_error_detail', blocked_detail, 'final_ms', created_ms)
    else
      pending = pending + 1
    end
    if vars ~= '' then push(fields, 'vars', vars) end
    if test then push(fields, 'test', '1') end
    create(record_prefix .. id, expire_s, unpack(fields))
  end
  count(campaign_counts, initial, pending)
  count(campaign_counts, 'blocked', blocked)
  count(hour, initial, pending)
  count_hour(hour, 'blocked', blocked, stats_ttl)
  return pending + blocked
end

-- Any number of transitions in one call: a chunk's claims or outcomes cost one command instead of
-- hundreds. Each is checked and applied on its own. KEYS: leases, schedule, polls (zsets), the
-- callbacks and API key prefixes (emit_callback).
-- ARGV: 'transition', record key prefix, campaign key prefix, stats prefix ('' none), stats ttl s,
-- then for each transition its argument count n and its n arguments (transition_args).
-- Returns one reply per transition.
function operations.transition()
  local K = {leases = KEYS[1], schedule = KEYS[2], polls = KEYS[3], callbacks = KEYS[4], api_keys = KEYS[5]}
  local c = {record_prefix = ARGV[2], campaign_prefix = ARGV[3], stats_prefix = ARGV[4], stats_ttl = ARGV[5]}
  local first = 6
  local results, i = {}, first
  while i <= #ARGV do
    local n = tonumber(ARGV[i])
    table.insert(results, transition(K, c, transition_args(i, n)))
    i = i + n + 1
  end
  return results
end

-- Release due entries of the schedule: a due scheduled message becomes queued (a transition like
-- any other); a due queued one (a retry's backoff) is handed out as it is. The entry stays, its score
-- pushed out by a claim lease, until the releaser confirms it published it (mark_published.lua,
-- remove_if_score.lua): a releaser that dies between claim and publish loses nothing. Published, the
-- entry is the message's watch (recovery deadline) until a worker claims it. A due watch
-- (published_ms >= queued_ms) is a recovery check: published before the oldest task still waiting
-- in its FIFO lane, its task left the queue unclaimed and it is handed out again; else it waits
-- behind others and is looked at a limit later (smsq.workers.sending.recovery).
-- KEYS: leases, schedule, polls (zsets), callbacks and API key prefixes. ARGV: 'claim_due', record
-- key prefix, campaign key prefix, stats prefix ('' none), stats ttl s, now ms, limit, claim lease
-- ms, watch ('1' check watches, '0' hand them out), then with a watch: the oldest waiting publish
-- ms of high, regular, low, and their recovery limits ms.
-- Returns a flat list: id, priority, claim score, recovered ('1' handed out again after a stall), ...
function operations.claim_due()
  local K = {leases = KEYS[1], schedule = KEYS[2], polls = KEYS[3], callbacks = KEYS[4], api_keys = KEYS[5]}
  local c = {record_prefix = ARGV[2], campaign_prefix = ARGV[3], stats_prefix = ARGV[4], stats_ttl = ARGV[5]}
  local now_ms, limit, claim_lease_ms, watching = ARGV[6], ARGV[7], ARGV[8], ARGV[9] == '1'
  local lanes = {high = 0, regular = 1, low = 2}
  local oldest_waiting_at, limit_at = 10, 13  -- ARGV[oldest_waiting_at + lane], ARGV[limit_at + lane]
  local due = redis.call('ZRANGEBYSCORE', K.schedule, '-inf', now_ms, 'LIMIT', 0, tonumber(limit))
  local until_ms = tostring(tonumber(now_ms) + tonumber(claim_lease_ms))
  local out = {}
  for _, id in ipairs(due) do
    local record = c.record_prefix .. id
    local found = redis.call('HMGET', record, 'status', 'priority', 'queued_ms', 'published_ms')
    local status, priority = found[1], found[2] or 'regular'
    local recovered = '0'
    local published = tonumber(found[4] or '')
    if watching and status == 'queued' and published and published >= (tonumber(found[3] or '') or 0) then
      local lane = lanes[priority] or 1
      if published < tonumber(ARGV[oldest_waiting_at + lane]) then
        recovered = '1'
      else
        redis.call('ZADD', K.schedule, tonumber(now_ms) + tonumber(ARGV[limit_at + lane]), id)
        status = 'waiting'  -- still in its queue: nothing to hand out
      end
    end
    if status == 'waiting' then
      -- looked at again a limit later
    elseif status == 'scheduled' then
      transition(K, c, {
        id = id, to = 'queued', sources = ',scheduled,', now_ms = now_ms, expire_s = '',
        lease_token = '', lease_until = '', schedule_at = until_ms, unschedule = '0', attempt = '',
        return_record = '0', poll_at = '', fields = {'queued_ms', now_ms},
      })
    elseif status == 'queued' then
      redis.call('ZADD', K.schedule, until_ms, id)
    end
    if status == 'scheduled' or status == 'queued' then
      table.insert(out, id)
      table.insert(out, priority)
      table.insert(out, until_ms)
      table.insert(out, recovered)
    elseif status ~= 'waiting' then
      -- cancelled, already sending or finished, or expired away: nothing to release.
      redis.call('ZREM', K.schedule, id)
    end
  end
  return out
end

-- Take records that are being deleted unsent (an undone campaign) out of their hour's counts; a
-- count that reaches 0 is removed, and the hash with its last field.
-- KEYS: the hour's counts. ARGV: 'uncount', then status, n pairs.
function operations.uncount()
  local hour = KEYS[1]
  for i = 2, #ARGV, 2 do
    if redis.call('HINCRBY', hour, ARGV[i], -tonumber(ARGV[i + 1])) == 0 then
      redis.call('HDEL', hour, ARGV[i])
    end
  end
  return 1
end

local run = operations[operation]
if not run then return redis.error_reply('records.lua: unknown operation ' .. tostring(operation)) end
return run()
