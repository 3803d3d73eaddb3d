-- Delete the dispatcher's lock (KEYS[1]) only if it still holds our token (ARGV[1]): a tick
-- that outlived its lock must not release the lock of the tick that took over.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
