-- Grant up to N permits under several limits at once: a conservative bucketed sliding window.
-- (The algorithm is explained in warmup/ratelimit/base.py; memory.py is its twin in Python.)
--
-- KEYS[1]        the throttle key of the scope: unix seconds until which nothing is granted
-- KEYS[2..k+1]   one hash per limit: field = bucket index, value = permits granted in it
-- ARGV[1]        now, in seconds, or "server": Redis's own clock (TIME), one clock for every
--                worker whatever its host's skew; a number only for accelerated or test clocks
-- ARGV[2]        permits wanted
-- ARGV[3..]      per limit, three values: limit, bucket size (seconds), span (buckets counted)
--
-- Returns {granted, retry_after_ms, throttled (0|1)}.

local now
if ARGV[1] == 'server' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[1])
end
local wanted = tonumber(ARGV[2])

local until_ = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > now then
  return {0, math.ceil((until_ - now) * 1000), 1}
end

local granted = wanted
local state = {}
for i = 2, #KEYS do
  local base = 3 + 3 * (i - 2)
  local limit = tonumber(ARGV[base])
  local size = tonumber(ARGV[base + 1])
  local span = tonumber(ARGV[base + 2])
  local current = math.floor(now / size)
  local oldest_allowed = current - span + 1
  local fields = redis.call('HGETALL', KEYS[i])
  local used = 0
  local oldest = nil
  for j = 1, #fields, 2 do
    local index = tonumber(fields[j])
    if index < oldest_allowed then
      redis.call('HDEL', KEYS[i], fields[j])
    elseif index <= current then
      used = used + tonumber(fields[j + 1])
      if oldest == nil or index < oldest then oldest = index end
    end
  end
  local left = limit - used
  if left < 0 then left = 0 end
  if left < granted then granted = left end
  state[i] = {limit, size, span, current, used, oldest}
end

local retry = 0
if granted < wanted then
  for i = 2, #KEYS do
    local s = state[i]
    if s[5] + granted >= s[1] and s[6] ~= nil then
      local free_at = (s[6] + s[3]) * s[2]
      if free_at - now > retry then retry = free_at - now end
    end
  end
end

if granted > 0 then
  for i = 2, #KEYS do
    local s = state[i]
    redis.call('HINCRBY', KEYS[i], tostring(s[4]), granted)
    redis.call('PEXPIRE', KEYS[i], math.ceil((s[3] + 1) * s[2] * 1000))
  end
end

return {granted, math.ceil(retry * 1000), 0}
