-- Seal a lease's wire journal and read it: no write is taken after this.
--
-- KEYS[1]   the owner's journal
-- ARGV[1]   how long the sealed journal is kept, in milliseconds
--
-- Returns the journal's fields and values (HGETALL) as they were before the seal, or false
-- when the journal was gone (never opened, expired, or lost with a Redis restart).

local opened = redis.call('HEXISTS', KEYS[1], '_open') == 1
local entries = false
if opened then
  entries = redis.call('HGETALL', KEYS[1])
end
redis.call('HSET', KEYS[1], '_sealed', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return entries
