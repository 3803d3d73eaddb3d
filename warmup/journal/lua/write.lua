-- Apply a batch's entries to its wire journal, unless the journal is sealed or gone; marks
-- ("w") are also refused while the scope's throttle signal is up. One script, so a seal or a
-- throttle cannot land between the check and the write: every mark the seal does not see was
-- refused, and none is taken once a throttle is known to Redis.
--
-- KEYS[1]   the owner's journal (a hash: row id -> value, plus the _open and _sealed markers;
--           its time to live was set when it was opened)
-- KEYS[2]   optional: the scope's throttle key (unix seconds until which nothing may leave)
-- ARGV[1]   unused (kept so that callers' arguments keep their places)
-- ARGV[2]   now, in seconds, or "server" for Redis's own clock (TIME); ignored without KEYS[2]
-- ARGV[3..] pairs of row id and value; an empty value deletes the row's entry
--
-- Returns 1 (written), 2 (held: the results written, the marks refused), 0 (sealed: nothing
-- written) or -1 (gone: nothing written).

local markers = redis.call('HMGET', KEYS[1], '_sealed', '_open')
if markers[1] then
  return 0
end
if not markers[2] then
  return -1
end
local held = false
if #KEYS > 1 then
  local now
  if ARGV[2] == 'server' then
    local t = redis.call('TIME')
    now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  else
    now = tonumber(ARGV[2])
  end
  held = tonumber(redis.call('GET', KEYS[2]) or '0') > now
end
-- One HSET and one HDEL for the whole write, not one command a row.
local sets, dels = {}, {}
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    dels[#dels + 1] = ARGV[i]
  elseif not (held and ARGV[i + 1] == 'w') then
    sets[#sets + 1] = ARGV[i]
    sets[#sets + 1] = ARGV[i + 1]
  end
end
-- In chunks: unpack() is bounded by Lua's stack (about 8,000 values).
for i = 1, #dels, 1000 do
  redis.call('HDEL', KEYS[1], unpack(dels, i, math.min(i + 999, #dels)))
end
for i = 1, #sets, 1000 do
  redis.call('HSET', KEYS[1], unpack(sets, i, math.min(i + 999, #sets)))
end
if held then
  return 2
end
return 1
