-- Hold back every worker of a scope until a deadline, keeping the later of two deadlines.
-- One script, so two workers throttled at once can never let a shorter wait overwrite a longer.
--
-- KEYS[1]   the throttle key of the scope: unix seconds until which nothing is granted
-- KEYS[2]   the scope's counter of throttle signals (for metrics)
-- ARGV[1]   now, in seconds, or "server" for Redis's own clock (TIME)
-- ARGV[2]   seconds to hold back
--
-- Returns the deadline in force afterwards, as a string (seconds).

local now
if ARGV[1] == 'server' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[1])
end
local seconds = tonumber(ARGV[2])
local until_ = now + seconds
redis.call('INCR', KEYS[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > current then
  -- Expire with a margin: the value itself is what workers compare with their clock.
  local ttl = math.ceil(math.max(seconds, 1) * 1000) + 60000
  redis.call('SET', KEYS[1], string.format('%.6f', until_), 'PX', ttl)
  return string.format('%.6f', until_)
end
return string.format('%.6f', current)
