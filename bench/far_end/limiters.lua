-- The common limiter algorithms a provider may run, for the nginx far end (bench/far_end/nginx.py):
-- the same three as bench/far_end/limiters.py, run inside nginx's C event loop by its Lua module,
-- which reads the clock per request. The Python far end reads the time only when its event loop
-- gets to a request: a far end not scheduled for 40 ms reads evenly spaced arrivals as a clump and
-- refuses what a provider's limiter would have let through; nginx's loop seldom stalls that long.
-- A refused request is not counted against the limit, as nginx's limit_req does not count it.
-- Plain Lua 5.1 with locals only, so tests/bench/test_far_end_limiters.py runs this very file in
-- Redis's Lua interpreter. new(kind, rate, capacity) returns a function allow(now) -> boolean.

local M = {}

-- rate tokens a second into a bucket of capacity; a request takes one or is refused.
local function token_bucket(rate, capacity)
  local tokens, last = capacity, nil
  return function(now)
    if last then tokens = math.min(capacity, tokens + (now - last) * rate) end
    last = now
    if tokens >= 1 then
      tokens = tokens - 1
      return true
    end
    return false
  end
end

-- At most limit requests in each calendar second (a counter reset on the second).
local function fixed_window(limit)
  local window, count = -1, 0
  return function(now)
    local second = math.floor(now)
    if second ~= window then window, count = second, 0 end
    if count >= limit then return false end
    count = count + 1
    return true
  end
end

-- At most limit requests in any one-second span: a ring of the last limit accepted times, whose
-- oldest must have left the span before another is accepted.
local function sliding_window(limit)
  local ring, oldest = {}, 1
  for i = 1, limit do ring[i] = -1e18 end
  return function(now)
    if ring[oldest] > now - 1 then return false end
    ring[oldest] = now
    oldest = oldest % limit + 1
    return true
  end
end

function M.new(kind, rate, capacity)
  if kind == 'token-bucket' then return token_bucket(rate, capacity) end
  if kind == 'fixed-window' then return fixed_window(math.floor(rate)) end
  if kind == 'sliding-window' then return sliding_window(math.floor(rate)) end
  error('unknown limiter ' .. tostring(kind))
end

return M
