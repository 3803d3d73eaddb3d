-- Forget rows whose results are in the ledger; drop the journal once nothing else is in it.
-- A sealed journal is kept (until it expires) so that a late write is still refused.
--
-- KEYS[1]   the owner's journal
-- ARGV      the row ids to forget

for i = 1, #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
end
if redis.call('HLEN', KEYS[1]) == 1 and redis.call('HEXISTS', KEYS[1], '_open') == 1 then
  redis.call('DEL', KEYS[1])
end
return 0
