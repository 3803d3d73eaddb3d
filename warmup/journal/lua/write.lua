-- Apply a batch's entries to its wire journal, unless the journal is sealed or gone.
-- One script, so a seal cannot land between the check and the write: every write the seal
-- does not see was refused.
--
-- KEYS[1]   the owner's journal (a hash: row id -> value, plus the _open and _sealed markers)
-- ARGV[1]   the journal's time to live, in milliseconds
-- ARGV[2..] pairs of row id and value; an empty value deletes the row's entry
--
-- Returns 1 (written), 0 (sealed: nothing written) or -1 (gone: nothing written).

if redis.call('HEXISTS', KEYS[1], '_open') == 0 then
  if redis.call('HEXISTS', KEYS[1], '_sealed') == 1 then
    return 0
  end
  return -1
end
if redis.call('HEXISTS', KEYS[1], '_sealed') == 1 then
  return 0
end
for i = 2, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
