-- Take the dispatcher's lock (KEYS[1]) for ARGV[2] ms under the token ARGV[1], and a fencing
-- token (KEYS[2]) at once; 0 if another tick holds the lock. The fence only grows: Redis's
-- clock in microseconds, or one more than the last fence if that is larger, so it keeps
-- growing even after Redis restarts empty.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local fence = math.max(now, last + 1)
redis.call('SET', KEYS[2], string.format('%d', fence))
return fence
